/**
 * `unet3d bench gpu`'s kernel table: each operation of the network on the engine's WGSL kernels
 * (src/engine/ops/webgpuOps.ts) against the same operation on tfjs-backend-webgpu's kernels
 * (src/engine/ops/tfjsOps.ts), on layers shaped like the paper network's, forward and forward +
 * backward, on the webgpu backend (initialised by the caller). Each timing ends with a read of a
 * scalar sum of the outputs (the same for both).
 */
import type { Tensor, Tensor1D, Tensor5D } from '@tensorflow/tfjs-core';
import type { GpuKernelRow } from './gpu';
import { median } from './stats';

interface Layer {
  name: string;
  op: 'conv' | 'bnRelu' | 'maxPool' | 'upConv';
  /** Input [N, D, H, W, C]. */
  x: [number, number, number, number, number];
  cout: number;
}

/**
 * Layers of the paper network (its levels' channel counts) on cubes of edge `size` (level 0),
 * size/2 (level 2) and size/4 (level 3): small enough for a quick table at the default 64.
 */
export function kernelLayers(size = 64): Layer[] {
  const [s0, s2, s3] = [size, Math.max(2, size >> 1), Math.max(2, size >> 2)];
  return [
    { name: `level 0 conv 32→64, ${s0}³`, op: 'conv', x: [1, s0, s0, s0, 32], cout: 64 },
    { name: `level 2 conv 128→256, ${s2}³`, op: 'conv', x: [1, s2, s2, s2, 128], cout: 256 },
    { name: `level 3 conv 256→512, ${s3}³`, op: 'conv', x: [1, s3, s3, s3, 256], cout: 512 },
    { name: `level 0 batch norm + ReLU, 64 channels, ${s0}³`, op: 'bnRelu', x: [1, s0, s0, s0, 64], cout: 64 },
    { name: `level 0 max pool, 64 channels, ${s0}³`, op: 'maxPool', x: [1, s0, s0, s0, 64], cout: 64 },
    { name: `up-conv 512→512, ${s3}³ → ${2 * s3}³`, op: 'upConv', x: [1, s3, s3, s3, 512], cout: 512 },
  ];
}

/**
 * The table; stops starting measurements at `deadline` (performance.now() ms), and a kernel whose
 * first (warm-up) run takes over 5 s is timed by that run alone.
 */
export async function compareWithTfjs(repeats: number, log: (message: string) => void, layers: Layer[] = kernelLayers(), deadline = Infinity): Promise<GpuKernelRow[]> {
  const { networkOps, setFormulation } = await import('../../engine/ops');
  const { tf } = await import('../../engine/tf');
  const rows: GpuKernelRow[] = [];
  try {
    for (const layer of layers) {
      if (performance.now() > deadline) {
        log(`kernels: stopped at ${layer.name} (budget)`);
        break;
      }
      const [n, d, h, w, c] = layer.x;
      const x = tf.randomNormal(layer.x) as Tensor5D;
      const weight =
        layer.op === 'conv'
          ? tf.mul(tf.randomNormal([3, 3, 3, c, layer.cout]), 0.05)
          : layer.op === 'upConv'
            ? tf.mul(tf.randomNormal([2, 2, 2, layer.cout, c]), 0.05)
            : tf.zeros([1]);
      const bias = tf.zeros([layer.cout]);
      const bn = { gamma: tf.variable(tf.ones([c])), beta: tf.variable(tf.zeros([c])), movingMean: tf.variable(tf.zeros([c]), false), movingVariance: tf.variable(tf.ones([c]), false) };
      const apply = (a: Tensor, b: Tensor): Tensor => {
        const ops = networkOps();
        if (layer.op === 'conv') return ops.conv([a as Tensor5D], b as Tensor5D, bias as Tensor1D, 'same');
        if (layer.op === 'upConv') return ops.upConv(a as Tensor5D, b as Tensor5D);
        if (layer.op === 'maxPool') return ops.maxPool(a as Tensor5D);
        return ops.batchNormRelu(a as Tensor5D, bn, true);
      };
      const outShape = layer.op === 'maxPool' ? [n, d >> 1, h >> 1, w >> 1, c] : layer.op === 'upConv' ? [n, 2 * d, 2 * h, 2 * w, layer.cout] : [n, d, h, w, layer.cout];
      const r = tf.randomNormal(outShape);
      const runs = {
        forward: () => tf.tidy(() => tf.sum(apply(x, weight))),
        'forward + backward': () =>
          tf.tidy(() => {
            // Pooling and batch norm have no filter: their gradient is the input's alone.
            const hasFilter = layer.op === 'conv' || layer.op === 'upConv';
            const grads = tf.grads((a: Tensor, b?: Tensor) => tf.sum(tf.mul(apply(a, b ?? weight), r)))(hasFilter ? [x, weight] : [x]);
            return tf.addN(grads.map((g) => tf.sum(g)));
          }),
      };
      for (const [op, run] of Object.entries(runs)) {
        const time = async (formulation: 'webgpu' | 'tfjs'): Promise<number> => {
          setFormulation(formulation);
          const once = async () => {
            const start = performance.now();
            const s = run();
            await s.data();
            s.dispose();
            return performance.now() - start;
          };
          const first = await once();
          if (first > 5000 || performance.now() > deadline) return first;
          const samples: number[] = [];
          for (let i = 0; i < repeats; i++) samples.push(await once());
          return median(samples);
        };
        const engineMs = await time('webgpu');
        const row: GpuKernelRow = { layer: layer.name, op, engineMs, tfjsMs: null, speedup: null };
        try {
          row.tfjsMs = await time('tfjs');
          row.speedup = row.tfjsMs / engineMs;
        } catch (error) {
          row.tfjsError = (error as Error).message.split('\n')[0];
        }
        rows.push(row);
        log(`kernels: ${layer.name}, ${op}: engine ${engineMs.toFixed(1)} ms, tfjs ${row.tfjsMs === null ? `failed (${row.tfjsError})` : `${row.tfjsMs.toFixed(1)} ms (${row.speedup!.toFixed(1)}×)`}`);
      }
      tf.dispose([x, weight, bias, r, ...Object.values(bn)]);
    }
  } finally {
    setFormulation('auto');
  }
  return rows;
}
