/**
 * `unet3d bench step`: one training step on a real set, taken apart. The run is set up as
 * `unet3d train` sets it up (the set's protocol labels, the default network, patch and loss), then
 * steps are timed by phase (sampling with augmentation and annotation fields, forward, loss,
 * backward, optimizer), and every kernel inside them: the engine's SIMD kernels by kind and shape,
 * and TensorFlow.js's own kernels by name (the overhead between ours). The first steps warm up and
 * are not counted. Wall and CPU time per step (CPU time, of every thread, says more than the wall
 * clock on a busy machine).
 */
import * as path from 'node:path';
import { parseCommandArgs, parseNumber } from '../args';
import { UsageError } from '../command';
import { sharedDataDir } from './benchVolume';
import type { BenchKind } from './kind';

/** Milliseconds per step spent in one thing, and its calls per step. */
export interface StepShare {
  name: string;
  ms: number;
  calls: number;
}

/** What `unet3d bench step --json` prints. */
export interface StepBenchJson {
  set: string;
  backend: string;
  threads: number;
  geometry: { input: number[]; output: number[] };
  channels: number;
  classes: number;
  steps: number;
  /** Per step: wall and CPU milliseconds, and steps per second (wall). */
  wallMs: number;
  cpuMs: number;
  stepsPerSecond: number;
  phases: StepShare[];
  simd: StepShare[];
  tfjs: StepShare[];
}

const USAGE = `Usage: unet3d bench step [--set NAME] [--steps N] [--warmup W] [--backend B] [--data DIR] [--json]

A training step on a semi/ set of the shared data, set up as unet3d train sets it up (3 annotated
slices per axis from the manual labels, every default), timed by phase and by kernel.

  --set NAME     spinalcord, spleen or ctchest (default spinalcord)
  --steps N      timed steps (default 8), after --warmup W untimed ones (default 2)
  --backend B    wasm (default) or cpu
  --data DIR     the shared data folder (default $UNET3D_DATA, else ../shared/data)
  --json         print one JSON object
UNET3D_THREADS sets the threads of the engine's kernels (default: every core).`;

type Tally = Map<string, { ms: number; calls: number }>;

function add(tally: Tally, name: string, ms: number, calls = 1): void {
  const e = tally.get(name) ?? { ms: 0, calls: 0 };
  e.ms += ms;
  e.calls += calls;
  tally.set(name, e);
}

const perStep = (tally: Tally, steps: number): StepShare[] =>
  [...tally].map(([name, e]) => ({ name, ms: e.ms / steps, calls: e.calls / steps })).sort((a, b) => b.ms - a.ms);

export const step: BenchKind = {
  summary: 'one training step on a real set, by phase and by kernel',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { set: { type: 'string' }, steps: { type: 'string' }, warmup: { type: 'string' }, backend: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const steps = parseNumber(values.steps, '--steps', 1, 1000) ?? 8;
    const warmup = parseNumber(values.warmup, '--warmup', 0, 100) ?? 2;
    const backendName = values.backend ?? 'wasm';
    if (backendName !== 'wasm' && backendName !== 'cpu') throw new UsageError(`--backend must be wasm or cpu (the engine's own kernels), not "${backendName}"`);
    const set = values.set ?? 'spinalcord';
    const dataDir = values.data ? path.resolve(values.data) : sharedDataDir();
    if (!dataDir) throw new UsageError('the shared data folder was not found: give --data DIR (or set UNET3D_DATA)');
    const { SEMI_SETS } = await import('../../experiments/timeToQuality');
    const files = SEMI_SETS[set];
    if (!files) throw new UsageError(`unknown set "${set}" (${Object.keys(SEMI_SETS).join(', ')})`);
    const fs = await import('node:fs');
    const os = await import('node:os');
    const { readVolumeFile } = await import('../../core/readVolume');
    const { readLabelsAs } = await import('../../core/labelConvention');
    const { chooseAnnotatedSlices, sparseLabels } = await import('../../core/sparseLabels');
    const { writeLabelMapNifti } = await import('../../core/labelMapIO');
    const { trainSettings } = await import('../../protocol/settings');
    const { initBackend } = await import('../../engine/backends');
    const { createUNet } = await import('../../engine/model');
    const { loadTrainingData } = await import('../../engine/trainingData');
    const { networkConfig, patchGeometry } = await import('../../engine/train');
    const { PatchSampler } = await import('../../engine/sampler');
    const { Random } = await import('../../core/random');
    const { classWeights, resolveLossKind, trainingLoss } = await import('../../engine/loss');
    const { Optimizer } = await import('../../engine/optimizer');
    const { simdRuntime } = await import('../../engine/ops/simd/runtime');
    const { learningRateAt } = await import('../../engine/schedule');
    const { tf } = await import('../../engine/tf');

    const image = path.join(dataDir, files.image);
    const volume = readVolumeFile(image);
    const truth = readLabelsAs(path.join(dataDir, files.labels)).data;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unet3d-bench-step-'));
    const labels = path.join(dir, 'sparse.labels.nii.gz');
    writeLabelMapNifti(labels, { dims: volume.dims, affine: volume.affine, data: sparseLabels(truth, volume.dims, chooseAnnotatedSlices(truth, volume.dims)) }, 'sparse');
    const backend = await initBackend(backendName);
    const settings = trainSettings({ volumes: [{ image, labels }], outDir: dir, validation: { fraction: 0 } });
    const data = loadTrainingData(settings);
    fs.rmSync(dir, { recursive: true, force: true });
    settings.coordinateChannels = data.coordinateChannels;
    settings.annotationChannels = data.annotationChannels;
    const net = createUNet(networkConfig(settings, data.channels, data.classes), settings.seed);
    const geometry = patchGeometry(net, settings, data);
    const sampler = new PatchSampler(
      data.volumes.flatMap((v) => v.sampled),
      { geometry, classes: data.classes, foregroundFraction: settings.foregroundFraction, augmentation: settings.augmentation },
      new Random(settings.seed),
    );
    const weights = classWeights(sampler.classCounts(), settings.classWeighting);
    const lossKind = resolveLossKind(settings.loss, data.classes);
    const optimizer = new Optimizer(settings.optimizer);
    const [ix, iy, iz] = geometry.input;
    const [ox, oy, oz] = geometry.output;

    // Every tfjs kernel, timed where the engine dispatches it.
    const engine = tf.engine() as unknown as { runKernel(...args: unknown[]): unknown };
    const runKernel = engine.runKernel;
    const tfjs: Tally = new Map();
    let counting = false;
    engine.runKernel = function (this: unknown, name: unknown, ...rest: unknown[]) {
      if (!counting) return runKernel.call(this, name, ...rest);
      const t0 = performance.now();
      try {
        return runKernel.call(this, name, ...rest);
      } finally {
        add(tfjs, String(name), performance.now() - t0);
      }
    };
    // The SIMD kernels, by kind and the shape that decides their speed.
    const rt = simdRuntime();
    const simd: Tally = new Map();
    const phases: Tally = new Map();
    let wall = 0;
    let cpu = 0;
    try {
      for (let s = 0; s < warmup + steps; s++) {
        counting = s >= warmup;
        rt.profile = counting ? new Map() : undefined;
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const batch = sampler.batch(settings.batchSize);
        const t1 = performance.now();
        const x = tf.tensor5d(batch.image, [settings.batchSize, iz, iy, ix, data.channels]);
        const y = tf.tensor4d(batch.labels, [settings.batchSize, oz, oy, ox], 'int32');
        let forwardStart = 0;
        let forwardEnd = 0;
        let lossEnd = 0;
        const { value, grads } = tf.variableGrads(() => {
          forwardStart = performance.now();
          const logits = net.apply(x, true);
          forwardEnd = performance.now();
          const loss = trainingLoss(lossKind, logits, y, weights);
          lossEnd = performance.now();
          return loss;
        }, net.trainableVariables);
        value.dataSync();
        const t2 = performance.now();
        const present = net.trainableVariables.filter((v) => grads[v.name] !== undefined);
        optimizer.apply(present, present.map((v) => grads[v.name]), learningRateAt(settings.schedule, 0.5));
        tf.dispose([x, y, value, ...Object.values(grads)]);
        const t3 = performance.now();
        if (!counting) continue;
        const used = process.cpuUsage(c0);
        cpu += (used.user + used.system) / 1000;
        wall += t3 - t0;
        add(phases, 'sampling (patches, augmentation, annotation fields)', t1 - t0);
        add(phases, 'forward', forwardEnd - forwardStart);
        add(phases, 'loss', lossEnd - forwardEnd);
        add(phases, 'backward', t2 - lossEnd);
        add(phases, 'optimizer', t3 - t2);
        add(phases, 'tensors in', forwardStart - t1);
        for (const [name, e] of rt.profile ?? []) add(simd, name, e.ms, e.calls);
      }
    } finally {
      engine.runKernel = runKernel;
      rt.profile = undefined;
      optimizer.dispose();
      net.dispose();
    }
    const result: StepBenchJson = {
      set,
      backend: backend.active,
      threads: rt.threads,
      geometry,
      channels: data.channels,
      classes: data.classes,
      steps,
      wallMs: wall / steps,
      cpuMs: cpu / steps,
      stepsPerSecond: (1000 * steps) / wall,
      phases: perStep(phases, steps),
      simd: perStep(simd, steps),
      tfjs: perStep(tfjs, steps),
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    const list = (shares: StepShare[]) => shares.map((e) => `${e.name} ${e.ms.toFixed(0)} ms${e.calls !== 1 ? ` (${+e.calls.toFixed(1)} calls)` : ''}`).join(', ');
    const total = (shares: StepShare[]) => shares.reduce((t, e) => t + e.ms, 0);
    process.stdout.write(
      [
        `${set}: a training step on ${backend.active} (${rt.threads} thread${rt.threads === 1 ? '' : 's'}), patch ${geometry.input.join('×')} → ${geometry.output.join('×')}, ${data.channels} input channel(s), ${data.classes} classes`,
        `${result.wallMs.toFixed(0)} ms wall (${result.stepsPerSecond.toFixed(3)} steps/s), ${result.cpuMs.toFixed(0)} ms CPU, mean of ${steps} after ${warmup} warm-up`,
        `phases: ${list(result.phases)}`,
        `SIMD kernels ${total(result.simd).toFixed(0)} ms: ${list(result.simd)}`,
        `TensorFlow.js kernels ${total(result.tfjs).toFixed(0)} ms: ${list(result.tfjs)}`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};
