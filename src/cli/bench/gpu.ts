/**
 * `unet3d bench gpu`: the GPU benchmark of issue 12, in one process and one run.
 *  1. For the benchmark network at 64³ and the paper's network at 132×132×116 (3 channels, 3
 *     classes), batch 1: a training step (forward, softmax cross-entropy, backward, SGD momentum)
 *     and an inference pass, on webgpu and in PyTorch with CUDA with TF32 off (fp32) and on: each
 *     engine warmed up at the measured size, then the engines take turns, R times; medians.
 *  2. Segmenting a 512³ volume (3 channels) with the paper's network as `unet3d segment` does:
 *     time, tiles, and the most GPU memory tfjs's buffers held.
 *  3. The engine's WGSL kernels against tfjs-backend-webgpu's own on the paper network's layers.
 * One JSON object on stdout (and in --out FILE); progress on stderr. A time budget keeps the run
 * under 8 minutes: repeats shrink (recorded) and the segmentation is skipped (with the estimate)
 * when a figure would not fit in it. The webgpu figures need a hardware adapter unless
 * --allow-software (the pack's test runs on lavapipe).
 */
import * as os from 'node:os';
import * as fs from 'node:fs';
import type { Scalar, Tensor, Tensor4D, Tensor5D } from '@tensorflow/tfjs-core';
import type { Vec3 } from '../../core/geometry';
import type { Volume } from '../../core/volume';
import { parseCommandArgs, parseNumber, parseTriple } from '../args';
import { UsageError } from '../command';
import type { BenchKind } from './kind';
import { median } from './stats';
import { startTorchPeer, type TorchPeer } from './torchPeer';

type Engine = 'webgpu' | 'pytorch-fp32' | 'pytorch-tf32';
type Kind = 'train' | 'infer';

/** One measured (network, kind, engine). */
export interface GpuBenchRow {
  network: 'bench' | 'paper';
  kind: Kind;
  engine: Engine;
  /** Input size (x, y, z), batch 1. */
  input: number[];
  /** Median seconds per step; null when it did not run (see error). */
  seconds: number | null;
  samples: number[];
  /** GFLOP/s, a training step counted as 3 forward passes. */
  gflops: number | null;
  /** seconds / PyTorch fp32's seconds. */
  vsPytorchFp32: number | null;
  /** The most device memory the engine held, bytes (webgpu: tfjs's buffers; PyTorch: max_memory_allocated). */
  peakBytes?: number;
  error?: string;
}

/** One kernel of the engine against tfjs's on the same layer. */
export interface GpuKernelRow {
  layer: string;
  op: string;
  /** Median milliseconds: the engine's WGSL kernel and tfjs-backend-webgpu's. */
  engineMs: number;
  tfjsMs: number | null;
  /** tfjsMs / engineMs. */
  speedup: number | null;
  tfjsError?: string;
}

export interface GpuBenchJson {
  benchmark: 'unet3d bench gpu';
  date: string;
  node: string;
  host: string;
  adapter: unknown;
  pytorch: string | null;
  pytorchMissing?: string;
  repeats: number;
  budgetSeconds: number;
  rows: GpuBenchRow[];
  segment: {
    dims: number[];
    network: string;
    tile?: number[];
    inputTile?: number[];
    tiles?: number;
    seconds?: number;
    voxelsPerSecond?: number;
    peakGpuBytes?: number;
    skipped?: string;
  };
  kernels: GpuKernelRow[];
  goals: { paperTrainingWithin2xOfPytorchFp32: boolean | null; segment512UnderOneMinute: boolean | null };
  totalSeconds: number;
}

const USAGE = `Usage: unet3d bench gpu [--bench-size N] [--paper-size X,Y,Z] [--volume N] [--repeats R] [--budget S]
                       [--no-peer] [--python PATH] [--allow-software] [--no-kernels] [--kernel-size N] [--out FILE]

  --bench-size N     the benchmark network's cube edge (default 64)
  --paper-size X,Y,Z the paper network's input (default 132,132,116)
  --volume N         the segmented volume's edge (default 512; 0 skips it)
  --segment-network paper|bench  the network that segments it (default paper)
  --repeats R        timed steps per engine after the warm-up (default 5; the median is reported)
  --budget S         seconds the whole run may take (default 420): repeats shrink, the segmentation
                     is skipped, when a figure would not fit
  --no-peer          skip PyTorch (by default the first Python with torch: --python, $UNET3D_PYTHON,
                     /usr/bin/python3, python3), which runs the same networks on CUDA
  --allow-software   run on a software WebGPU adapter (lavapipe) too; its figures say nothing of a GPU
  --no-kernels       skip the per-kernel comparison with tfjs-backend-webgpu
  --kernel-size N    its level-0 cube edge (default 64; levels 2 and 3 at N/2 and N/4)
  --out FILE         also write the JSON there
Prints one JSON object (the table) on stdout; progress goes to stderr.`;

const log = (message: string) => process.stderr.write(`[bench gpu] ${message}\n`);

export const gpu: BenchKind = {
  summary: 'GPU: webgpu training/inference of the bench and paper networks against PyTorch CUDA, 512³ segmentation',
  usage: USAGE,
  run: runGpuBench,
};

async function runGpuBench(argv: string[]): Promise<number> {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const { values } = parseCommandArgs(
    argv,
    {
      'bench-size': { type: 'string' },
      'paper-size': { type: 'string' },
      volume: { type: 'string' },
      repeats: { type: 'string' },
      budget: { type: 'string' },
      'no-peer': { type: 'boolean' },
      python: { type: 'string' },
      'allow-software': { type: 'boolean' },
      'no-kernels': { type: 'boolean' },
      'kernel-size': { type: 'string' },
      'segment-network': { type: 'string' },
      out: { type: 'string' },
    },
    false,
  );
  const benchSize = parseNumber(values['bench-size'], '--bench-size', 4, 512) ?? 64;
  if (!Number.isInteger(benchSize) || benchSize % 4 !== 0) throw new UsageError(`--bench-size must be a multiple of 4, not ${benchSize}`);
  const paperSize: Vec3 = values['paper-size'] ? parseTriple(values['paper-size'], '--paper-size') : [132, 132, 116];
  const volumeSize = parseNumber(values.volume, '--volume', 0, 2048) ?? 512;
  const repeats = parseNumber(values.repeats, '--repeats', 1, 100) ?? 5;
  const budget = parseNumber(values.budget, '--budget', 10, 3600) ?? 420;
  const kernelSize = parseNumber(values['kernel-size'], '--kernel-size', 4, 256) ?? 64;
  const segmentNetwork = values['segment-network'] ?? 'paper';
  if (segmentNetwork !== 'paper' && segmentNetwork !== 'bench') throw new UsageError(`--segment-network must be paper or bench, not ${segmentNetwork}`);

  const { initBackend } = await import('../../engine/backends');
  const { createUNet, describeNetwork, PRESETS, resolveFilters } = await import('../../engine/model');
  const { tf } = await import('../../engine/tf');
  const { activeAdapter, gpuBufferStats, releasePooledGpuBuffers } = await import('../../engine/webgpu/device');
  const { activeGpuBudget } = await import('../../engine/webgpu/fit');
  const { doesNotFit, inferenceBytes, trainingBytes } = await import('../../engine/webgpu/memoryPlan');

  const report = await initBackend('webgpu');
  const adapter = activeAdapter();
  if (!adapter) throw new Error('internal: webgpu loaded without an adapter');
  log(`adapter: ${report.statuses[0]?.detail ?? adapter.description}`);
  if (adapter.software && !values['allow-software']) {
    throw new UsageError(`only a software WebGPU adapter is here (${adapter.description}): its figures say nothing of a GPU. Give --allow-software to run anyway.`);
  }

  const networks = [
    { name: 'bench' as const, config: PRESETS.bench, input: [benchSize, benchSize, benchSize] as Vec3 },
    { name: 'paper' as const, config: PRESETS.paper, input: paperSize },
  ];
  const zyx = (v: readonly number[]): [number, number, number] => [v[2], v[1], v[0]];
  const rows: GpuBenchRow[] = [];
  let pytorch: string | null = null;
  let pytorchMissing: string | undefined = values['no-peer'] ? 'skipped (--no-peer)' : undefined;
  // The segmentation and the kernels get about a third of the budget; the four step measurements share the rest.
  const stepBudget = (budget * 0.62) / 4;
  let paperInferSeconds: number | undefined;

  for (const { name, config, input } of networks) {
    const net = createUNet(config, 1);
    const optimizer = tf.train.momentum(0.01, 0.99);
    const inputZyx = zyx(input);
    const outputZyx = net.outputSize(inputZyx);
    const forwardFlops = describeNetwork(config, inputZyx).reduce((s, r) => s + r.flops, 0);
    let peer: TorchPeer | undefined;
    if (!values['no-peer']) {
      const started = await startTorchPeer(
        { filters: resolveFilters(config), inChannels: config.inChannels, classes: config.classes, batchNorm: config.batchNorm, padding: config.padding },
        Math.max(1, os.cpus().length),
        values.python,
        'cuda',
      );
      if ('missing' in started) pytorchMissing = started.missing;
      else {
        peer = started;
        pytorch = started.description;
      }
    }
    try {
      for (const kind of ['train', 'infer'] as const) {
        releasePooledGpuBuffers();
        let peak = 0;
        /** One webgpu step, inputs made (and uploaded) before the timing, the result read back. */
        const webgpuStep = async (): Promise<number> => {
          const x = tf.randomNormal([1, ...inputZyx, config.inChannels], 0, 1, 'float32') as Tensor5D;
          const labels = tf.oneHot(tf.randomUniform([1, ...outputZyx], 0, config.classes, 'int32') as Tensor4D, config.classes);
          await Promise.all([tf.sum(x).data(), tf.sum(labels).data()]);
          const start = performance.now();
          let result: Tensor | null;
          if (kind === 'train') {
            result = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, net.apply(x, true)) as Scalar, true, net.trainableVariables);
          } else {
            result = net.apply(x, false);
          }
          await result?.data();
          const seconds = (performance.now() - start) / 1000;
          tf.dispose([x, labels, ...(result ? [result] : [])]);
          peak = Math.max(peak, gpuBufferStats()?.bytesAllocated ?? 0);
          return seconds;
        };
        const engines: { engine: Engine; step: () => Promise<number>; peak?: () => number | undefined }[] = [{ engine: 'webgpu', step: webgpuStep, peak: () => peak }];
        if (peer) {
          for (const tf32 of [false, true]) {
            let peerPeak: number | undefined;
            engines.push({
              engine: tf32 ? 'pytorch-tf32' : 'pytorch-fp32',
              step: async () => {
                const r = await peer!.run(kind, inputZyx, tf32);
                peerPeak = Math.max(peerPeak ?? 0, r.peakBytes ?? 0);
                return r.seconds;
              },
              peak: () => peerPeak,
            });
          }
        }
        // Warm-up at the measured size (pipelines compiled, cuDNN's algorithms chosen), then turns.
        const warm = new Map<Engine, number>();
        const failed = new Map<Engine, string>();
        // What cannot fit the adapter is refused before anything is allocated (as training and segmenting do).
        const gpuBudget = activeGpuBudget();
        const tooBig = gpuBudget && doesNotFit(kind === 'train' ? trainingBytes(config, input, 1) : inferenceBytes(config, input), gpuBudget);
        if (tooBig) failed.set('webgpu', `the ${name} network at ${input.join('×')} does not fit this GPU: ${tooBig}`);
        for (const e of engines) {
          if (failed.has(e.engine)) continue;
          try {
            log(`${name} ${kind} ${e.engine}: warming up at ${input.join('×')}`);
            const first = await e.step();
            // A second warm-up step unless the first (with its compilations) already took long.
            warm.set(e.engine, first > stepBudget / 3 ? first : await e.step());
          } catch (error) {
            failed.set(e.engine, (error as Error).message.split('\n')[0]);
            log(`${name} ${kind} ${e.engine}: failed: ${failed.get(e.engine)}`);
          }
        }
        const perRound = [...warm.values()].reduce((a, b) => a + b, 0);
        const rounds = Math.max(1, Math.min(repeats, perRound > 0 ? Math.floor(stepBudget / perRound) : repeats));
        if (rounds < repeats) log(`${name} ${kind}: ${rounds} repeat(s) instead of ${repeats} to stay within the budget`);
        const samples = new Map<Engine, number[]>(engines.map((e) => [e.engine, []]));
        for (let r = 0; r < rounds; r++) {
          for (const e of engines) {
            if (failed.has(e.engine)) continue;
            try {
              samples.get(e.engine)!.push(await e.step());
            } catch (error) {
              failed.set(e.engine, (error as Error).message.split('\n')[0]);
            }
          }
        }
        const flops = kind === 'train' ? 3 * forwardFlops : forwardFlops;
        const fp32 = samples.get('pytorch-fp32')?.length ? median(samples.get('pytorch-fp32')!) : undefined;
        for (const e of engines) {
          const s = samples.get(e.engine)!;
          const seconds = s.length ? median(s) : null;
          const row: GpuBenchRow = {
            network: name,
            kind,
            engine: e.engine,
            input: [...input],
            seconds,
            samples: s,
            gflops: seconds ? flops / seconds / 1e9 : null,
            vsPytorchFp32: seconds && fp32 ? seconds / fp32 : null,
          };
          const peakBytes = e.peak?.();
          if (peakBytes) row.peakBytes = peakBytes;
          if (failed.has(e.engine)) row.error = failed.get(e.engine);
          rows.push(row);
          log(`${name} ${kind} ${e.engine}: ${seconds === null ? `failed (${row.error})` : `${seconds.toFixed(4)} s, ${row.gflops!.toPrecision(3)} GFLOP/s${row.vsPytorchFp32 ? `, ${row.vsPytorchFp32.toFixed(2)}× PyTorch fp32` : ''}`}`);
          if (name === 'paper' && kind === 'infer' && e.engine === 'webgpu' && seconds) paperInferSeconds = seconds;
        }
      }
    } finally {
      peer?.close();
      optimizer.dispose();
      net.dispose();
      releasePooledGpuBuffers();
    }
  }

  const segment = await segmentVolume(volumeSize, segmentNetwork, paperSize, paperInferSeconds, budget - elapsed() - 30);
  const kernels = values['no-kernels'] ? [] : await compareKernels(budget - elapsed() - 15);

  const paperTrain = (engine: Engine) => rows.find((r) => r.network === 'paper' && r.kind === 'train' && r.engine === engine)?.seconds ?? null;
  const ours = paperTrain('webgpu');
  const theirs = paperTrain('pytorch-fp32');
  const json: GpuBenchJson = {
    benchmark: 'unet3d bench gpu',
    date: new Date().toISOString(),
    node: process.version,
    host: `${os.hostname()} (${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB)`,
    adapter,
    pytorch,
    ...(pytorchMissing && !pytorch ? { pytorchMissing } : {}),
    repeats,
    budgetSeconds: budget,
    rows,
    segment,
    kernels,
    goals: {
      paperTrainingWithin2xOfPytorchFp32: ours !== null && theirs !== null ? ours <= 2 * theirs : null,
      segment512UnderOneMinute: segment.seconds !== undefined && volumeSize === 512 && segmentNetwork === 'paper' ? segment.seconds < 60 : null,
    },
    totalSeconds: elapsed(),
  };
  const text = JSON.stringify(json, null, 1);
  if (values.out) fs.writeFileSync(values.out, text + '\n');
  process.stdout.write(text + '\n');
  return 0;

  /** Segments a size³ volume with the paper's network (3 channels; or the benchmark network), untrained: speed does not depend on the weights. */
  async function segmentVolume(size: number, which: 'paper' | 'bench', paperInput: Vec3, paperSeconds: number | undefined, secondsLeft: number): Promise<GpuBenchJson['segment']> {
    const config = PRESETS[which];
    const network = which === 'paper' ? 'paper (3 channels, 3 classes, valid padding)' : 'bench (1 channel, 2 classes, same padding)';
    const inferSeconds = which === 'paper' ? paperSeconds : undefined;
    const dims: Vec3 = [size, size, size];
    if (size === 0) return { dims, network, skipped: 'skipped (--volume 0)' };
    const { planPrediction } = await import('../../engine/predictionPlan');
    const { fitPredictionTiling } = await import('../../engine/webgpu/fit');
    const { predictVolume } = await import('../../engine/predict');
    const net = createUNet(config, 1);
    try {
      const plan = planPrediction(net, dims, fitPredictionTiling(net, dims, {}));
      const voxels = (v: readonly number[]) => v[0] * v[1] * v[2];
      if (inferSeconds !== undefined) {
        const estimate = inferSeconds * plan.tiles.length * (voxels(plan.inputSize) / voxels(paperInput));
        if (estimate > secondsLeft) {
          return { dims, network, tile: plan.tile, inputTile: plan.inputSize, tiles: plan.tiles.length, skipped: `estimated ${estimate.toFixed(0)} s, more than the ${Math.max(0, secondsLeft).toFixed(0)} s left of the budget` };
        }
      }
      log(`segment ${dims.join('×')}: ${plan.tiles.length} tiles of ${plan.tile.join('×')} (input ${plan.inputSize.join('×')})`);
      const volume = syntheticVolume(dims, config.inChannels);
      const normalization = { settings: { lowPercentile: 0.5, highPercentile: 99.5 }, channels: Array.from({ length: config.inChannels }, () => ({ low: -1000, high: 1000, mean: 0, std: 500 })) };
      releasePooledGpuBuffers();
      let peak = 0;
      const start = performance.now();
      const result = await predictVolume(net, volume, normalization, {
        onProgress: (p) => {
          peak = Math.max(peak, gpuBufferStats()?.bytesAllocated ?? 0);
          if (p.done === 1 || p.done === p.total || p.done % 20 === 0) log(`segment: tile ${p.done}/${p.total}, ${p.elapsedSeconds.toFixed(1)} s`);
        },
      });
      const seconds = (performance.now() - start) / 1000;
      return {
        dims,
        network,
        tile: result.plan.tile,
        inputTile: result.plan.inputSize,
        tiles: result.plan.tiles.length,
        seconds,
        voxelsPerSecond: voxels(dims) / seconds,
        peakGpuBytes: peak,
      };
    } catch (error) {
      return { dims, network, skipped: `failed: ${(error as Error).message.split('\n')[0]}` };
    } finally {
      net.dispose();
      releasePooledGpuBuffers();
    }
  }

  /** The engine's kernels against tfjs-backend-webgpu's on layers of the paper network (a 64³ tile of each level's size). */
  async function compareKernels(secondsLeft: number): Promise<GpuKernelRow[]> {
    if (secondsLeft < 30) {
      log('kernels: skipped (budget)');
      return [];
    }
    const { compareWithTfjs, kernelLayers } = await import('./gpuKernels');
    return compareWithTfjs(Math.min(3, repeats), log, kernelLayers(kernelSize), performance.now() + 1000 * secondsLeft);
  }
}

/** A size³ volume of `channels` int16 frames, smooth and varied (speed does not depend on the values). */
function syntheticVolume(dims: Vec3, channels: number): Volume {
  const n = dims[0] * dims[1] * dims[2];
  const all = new Int16Array(n * channels);
  for (let c = 0; c < channels; c++) {
    let i = c * n;
    for (let z = 0; z < dims[2]; z++) {
      for (let y = 0; y < dims[1]; y++) {
        const base = 400 * Math.sin((y + 7 * c) / 23) + 300 * Math.cos(z / 31);
        for (let x = 0; x < dims[0]; x++) all[i++] = Math.round(base + 200 * Math.sin(x / 17));
      }
    }
  }
  return {
    format: 'nifti1',
    dims,
    spacing: [1, 1, 1],
    datatype: 'int16',
    data: all.subarray(0, n),
    sclSlope: 1,
    sclInter: 0,
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
    frames: channels,
    allFrames: all,
  };
}
