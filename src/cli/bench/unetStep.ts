/**
 * `unet3d bench train` and `bench infer`: one training step as the engine trains (forward, its
 * softmax cross-entropy, backward, its SGD-momentum update) or one inference pass of the benchmark 3D U-Net (docs/benchmarks.md)
 * (3 levels, 16,16 | 32,32 | 64,64 filters, 'same' padding, BN + ReLU, 2 classes) at size³,
 * batch 1, on one or more backends, against the same network in PyTorch measured in the same run:
 * the engines take turns (never at once), each first warmed up at the measured size (PyTorch's
 * first steps at a new size are slow while its allocator and kernels settle, and so are ours while
 * the kernels' memory grows); medians of at least 5 are reported.
 */
import type { Tensor5D } from '@tensorflow/tfjs-core';
import { DEFAULT_OPTIMIZER } from '../../protocol/settings';
import { parseCommandArgs, parseNumber } from '../args';
import { UsageError } from '../command';
import { median } from './stats';
import { startTorchPeer, type TorchPeer } from './torchPeer';
import { isBackendName } from '../../protocol/backends';
import { describeNetwork, PRESETS, resolveFilters } from '../../protocol/network';

export type StepKind = 'train' | 'infer';

/** One timed step: wall-clock seconds and CPU seconds of the process (every thread). */
interface StepTiming {
  seconds: number;
  cpuSeconds: number;
}

/** One backend's result; what `unet3d bench train|infer --json` prints (an array for several backends). */
export interface UnetBenchJson {
  kind: StepKind;
  backend: string;
  /** Median seconds per step. */
  seconds: number;
  /** Output voxels per second. */
  voxelsPerSecond: number;
  /** GFLOP/s, counting a training step as 3 forward passes. */
  gflops: number;
  size: number;
  repeats: number;
  /** Untimed steps of each engine at `size` before the timed ones. */
  warmup: number;
  /** Every timed step's seconds, in order. */
  times: number[];
  /**
   * Median CPU seconds per step of this process, every thread (the kernels' threads included):
   * a busy machine inflates them far less than the wall clock.
   */
  cpuSeconds: number;
  /** What ran the convolutions: 'simd' (the engine's kernels, with `threads`) or 'tfjs'. */
  kernels: string;
  threads: number;
  /** The PyTorch peer's median seconds, when it ran, and every timed step's. */
  pytorchSeconds?: number;
  pytorchTimes?: number[];
  /** The peer's median CPU seconds per step, every thread of its process. */
  pytorchCpuSeconds?: number;
  pytorch?: string;
  /** seconds / pytorchSeconds. */
  ratio?: number;
  /** cpuSeconds / pytorchCpuSeconds. */
  cpuRatio?: number;
  /** Why no PyTorch figure, when it did not run. */
  peerMissing?: string;
}

/** Timed steps per engine by default: a figure is the median of at least this many. */
const DEFAULT_REPEATS = 5;
/** Untimed steps per engine at the measured size first. */
const DEFAULT_WARMUP = 2;

export const stepUsage = (kind: StepKind) => `Usage: unet3d bench ${kind} [--backend B[,B...]] [--size N] [--repeats R] [--warmup W] [--no-peer] [--python PATH] [--json]

  --backend B   auto (default), tensorflow-gpu, webgpu, tensorflow, wasm or cpu; a comma list runs each in turn
  --size N      the cube's edge in voxels (default 64; a multiple of 4)
  --repeats R   timed steps per engine, taking turns (default ${DEFAULT_REPEATS}); the median is reported
  --warmup W    untimed steps per engine at the measured size first (default ${DEFAULT_WARMUP}), taking turns too
  --profile     also print the time spent in each SIMD kernel (last repeat)
  --no-peer     skip the PyTorch peer (by default: Debian's /usr/bin/python3 with python3-torch,
                or $UNET3D_PYTHON, or --python), which runs the same network with as many threads
UNET3D_THREADS sets the threads of the engine's kernels (default: every core).`;

export async function runUnetBench(kind: StepKind, argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    argv,
    {
      backend: { type: 'string' },
      size: { type: 'string' },
      repeats: { type: 'string' },
      warmup: { type: 'string' },
      'no-peer': { type: 'boolean' },
      profile: { type: 'boolean' },
      python: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  const size = parseNumber(values.size, '--size', 4, 256) ?? 64;
  if (!Number.isInteger(size) || size % 4 !== 0) throw new UsageError(`--size must be a multiple of 4, not ${size}`);
  const repeats = parseNumber(values.repeats, '--repeats', 1, 50) ?? DEFAULT_REPEATS;
  const warmup = parseNumber(values.warmup, '--warmup', 0, 20) ?? DEFAULT_WARMUP;
  if (!Number.isInteger(repeats) || !Number.isInteger(warmup)) throw new UsageError('--repeats and --warmup take whole numbers');
  // The engine loads TensorFlow.js: only when a benchmark runs.
  const { initBackend } = await import('../../engine/backends');
  const { createUNet } = await import('../../engine/model');
  const { activeFormulation } = await import('../../engine/ops');
  const { simdRuntime } = await import('../../engine/ops/simd/runtime');
  const { tf } = await import('../../engine/tf');
  const { Optimizer } = await import('../../engine/optimizer');
  const { trainingLoss } = await import('../../engine/loss');

  const requested = (values.backend ?? 'auto').split(',').map((b) => b.trim());
  for (const b of requested) if (b !== 'auto' && !isBackendName(b)) throw new UsageError(`unknown backend "${b}"`);
  const backends: string[] = [];
  for (const b of requested) backends.push((await initBackend(b as Parameters<typeof initBackend>[0])).active);

  const config = PRESETS.bench;
  // One network and optimizer per backend, made on it: tensors then never move between backends
  // (tfjs's lazy moves between wasm and cpu while a customGrad op saves tensors fail).
  const setBackend = (b: string) => tf.setBackend(b === 'tensorflow-gpu' ? 'tensorflow' : b);
  // The engine's own training step: its loss and its optimizer (SGD, momentum 0.99, as the peer's).
  const sgd = { ...DEFAULT_OPTIMIZER, kind: 'sgd' as const, momentum: 0.99, nesterov: false, weightDecay: 0, clipNorm: 0 };
  const engines = new Map<string, { net: ReturnType<typeof createUNet>; optimizer: InstanceType<typeof Optimizer> }>();
  for (const b of backends) {
    await setBackend(b);
    engines.set(b, { net: createUNet(config, 1), optimizer: new Optimizer(sgd) });
  }
  const forwardFlops = describeNetwork(config, [size, size, size]).reduce((s, r) => s + r.flops, 0);
  const flops = kind === 'train' ? 3 * forwardFlops : forwardFlops;
  const threads = simdRuntime().threads;

  let peer: TorchPeer | undefined;
  let peerMissing: string | undefined;
  if (values['no-peer']) {
    peerMissing = 'skipped (--no-peer)';
  } else {
    const started = await startTorchPeer(
      { filters: resolveFilters(config), inChannels: config.inChannels, classes: config.classes, batchNorm: config.batchNorm },
      threads,
      values.python,
    );
    if ('missing' in started) peerMissing = started.missing;
    else peer = started;
  }

  /** One timed step on the active backend, inputs made outside the timing; results read back asynchronously (webgpu cannot read synchronously under Node). */
  const step = async (b: string, s: number): Promise<StepTiming> => {
    const { net, optimizer } = engines.get(b)!;
    const x = tf.randomNormal([1, s, s, s, config.inChannels], 0, 1, 'float32') as Tensor5D;
    // Every voxel labeled (label value c + 1 for class c), as the peer's dense cross-entropy.
    const labels = tf.add(tf.randomUniform([1, s, s, s], 0, config.classes, 'int32'), tf.scalar(1, 'int32'));
    const weights = new Array<number>(config.classes).fill(1);
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    if (kind === 'train') {
      const { value, grads } = tf.variableGrads(() => trainingLoss('ce', net.apply(x, true), labels, weights), net.trainableVariables);
      await value.data();
      const present = net.trainableVariables.filter((v) => grads[v.name] !== undefined);
      optimizer.apply(present, present.map((v) => grads[v.name]), 0.01);
      tf.dispose([value, ...Object.values(grads)]);
    } else {
      const y = net.apply(x, false);
      await y.data();
      y.dispose();
    }
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuStart);
    tf.dispose([x, labels]);
    return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  };
  const peerStep = (p: TorchPeer) => p.run(kind, [size, size, size]);

  const times = new Map<string, StepTiming[]>(backends.map((b) => [b, []]));
  const profiles = new Map<string, Map<string, { ms: number; calls: number }>>();
  const peerTimes: StepTiming[] = [];
  try {
    // Warm-up at the measured size, taking turns as the timed steps do.
    for (let r = 0; r < warmup; r++) {
      for (const b of backends) {
        await setBackend(b);
        await step(b, size);
      }
      if (peer) await peerStep(peer);
    }
    for (let r = 0; r < repeats; r++) {
      for (const b of backends) {
        await setBackend(b);
        if (values.profile) simdRuntime().profile = new Map();
        times.get(b)!.push(await step(b, size));
        if (values.profile) profiles.set(b, simdRuntime().profile!);
        simdRuntime().profile = undefined;
      }
      if (peer) peerTimes.push(await peerStep(peer));
    }
  } finally {
    peer?.close();
  }

  const voxels = size ** 3;
  const peerSeconds = peer ? median(peerTimes.map((t) => t.seconds)) : undefined;
  const peerCpuSeconds = peer ? median(peerTimes.map((t) => t.cpuSeconds)) : undefined;
  const results: UnetBenchJson[] = [];
  for (const b of backends) {
    await setBackend(b);
    const seconds = median(times.get(b)!.map((t) => t.seconds));
    const cpuSeconds = median(times.get(b)!.map((t) => t.cpuSeconds));
    const result: UnetBenchJson = {
      kind,
      backend: b,
      seconds,
      voxelsPerSecond: voxels / seconds,
      gflops: flops / seconds / 1e9,
      size,
      repeats,
      warmup,
      times: times.get(b)!.map((t) => t.seconds),
      cpuSeconds,
      kernels: activeFormulation(),
      threads: activeFormulation() === 'simd' ? threads : 1,
    };
    if (peer && peerSeconds !== undefined) {
      result.pytorchSeconds = peerSeconds;
      result.pytorchTimes = peerTimes.map((t) => t.seconds);
      result.pytorchCpuSeconds = peerCpuSeconds;
      result.pytorch = peer.description;
      result.ratio = seconds / peerSeconds;
      if (peerCpuSeconds) result.cpuRatio = cpuSeconds / peerCpuSeconds;
    } else {
      result.peerMissing = peerMissing;
    }
    results.push(result);
  }
  for (const [b, { net, optimizer }] of engines) {
    await setBackend(b);
    net.dispose();
    optimizer.dispose();
  }

  if (values.json) {
    process.stdout.write(JSON.stringify(results.length === 1 ? results[0] : results) + '\n');
    return 0;
  }
  const what = kind === 'train' ? 'one training step (forward, softmax cross-entropy, backward, SGD momentum)' : 'one inference pass';
  const rows = results.map((r) => {
    const engine = `unet3d ${r.backend}${r.kernels === 'simd' ? ` (SIMD kernels, ${r.threads} thread${r.threads === 1 ? '' : 's'})` : ''}`;
    return [engine, r.seconds, r.cpuSeconds, r.voxelsPerSecond, r.gflops, r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}× (CPU time ${r.cpuRatio?.toFixed(2) ?? '?'}×)`] as const;
  });
  if (peer && peerSeconds !== undefined) rows.push([peer.description, peerSeconds, peerCpuSeconds ?? NaN, voxels / peerSeconds, flops / peerSeconds / 1e9, '1'] as const);
  const width = Math.max(6, ...rows.map((r) => r[0].length));
  const lines = [
    `${what} of the benchmark 3D U-Net (16,16 | 32,32 | 64,64, same padding, BN + ReLU, 2 classes) at ${size}³, batch 1;`,
    `CPU time: of every thread of the process, which a busy machine inflates far less than the wall clock;`,
    `median of ${repeats} after ${warmup} warm-up step${warmup === 1 ? '' : 's'} at that size, engines taking turns; ${(flops / 1e9).toFixed(1)} GFLOP per ${kind === 'train' ? 'step (3 × forward)' : 'pass'}`,
    `${'engine'.padEnd(width)}  ${'time'.padStart(9)}  ${'CPU time'.padStart(9)}  ${'voxels/s'.padStart(10)}  ${'GFLOP/s'.padStart(8)}  vs PyTorch`,
    ...rows.map(([e, s, c, v, g, ratio]) => `${e.padEnd(width)}  ${s.toFixed(2).padStart(7)} s  ${c.toFixed(2).padStart(7)} s  ${Math.round(v).toLocaleString('en-US').padStart(10)}  ${g.toFixed(1).padStart(8)}  ${ratio}`),
  ];
  if (!peer) lines.push(`PyTorch peer missing: ${peerMissing} (no ratio)`);
  for (const [b, profile] of profiles) {
    const entries = [...profile].sort((x, y) => y[1].ms - x[1].ms);
    lines.push(`${b}: time in SIMD kernels ${(entries.reduce((t, [, e]) => t + e.ms, 0) / 1000).toFixed(2)} s: ${entries.map(([k, e]) => `${k} ${(e.ms / 1000).toFixed(2)} s (${e.calls})`).join(', ')}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
