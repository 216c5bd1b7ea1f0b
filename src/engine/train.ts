/**
 * The training loop: sparse labels in, a run folder out. Runs in whatever process calls it (the
 * worker, or the CLI in-process); reports through `hooks.onEvent` and stops after the current
 * step when `hooks.shouldStop()` says so.
 */
import * as path from 'node:path';
import type { Vec3 } from '../core/geometry';
import type { RunSummary, StopReason, TrainEvent, ValidationResult } from '../protocol/worker';
import { assertBackendHealthy, initBackend, releaseCachedMemory } from './backends';
import { fitTrainingGeometry } from './webgpu/fit';
import { recalibrateBatchNorm } from './batchNormCalibration';
import { singleObjectClasses } from '../core/components';
import { classWeights, logitAdjustment, resolveLossKind, trainingLoss, type LossKind } from './loss';
import { createUNet, PRESETS, type UNet, type UNetConfig } from './model';
import { Optimizer } from './optimizer';
import { Random } from './random';
import { createRunFolder, writeCheckpoint, writeRunRecord, RUN_SCHEMA_VERSION, type RunRecord } from './runFolder';
import { PatchSampler, type PatchGeometry } from './sampler';
import { learningRateAt } from './schedule';
import { choosePatchSize, type TrainSettings } from './settings';
import { tf } from './tf';
import { loadTrainingData, type TrainingData } from './trainingData';
import { ADJUSTMENT_FRACTIONS, calibrateLogitAdjustment, validate, type ValidationVolume } from './validation';

export interface TrainHooks {
  onEvent?(event: TrainEvent): void;
  /** Asked after every step; true ends the run as 'cancelled' (the best checkpoint is kept). */
  shouldStop?(): boolean;
}

/** The network a run builds: the preset with the settings' changes, channels and classes from the data. */
export function networkConfig(settings: TrainSettings, channels: number, classes: number): UNetConfig {
  const { preset, ...changes } = settings.network;
  const config: UNetConfig = { ...structuredClone(PRESETS[preset]), inChannels: channels, classes };
  if (changes.levels !== undefined) config.levels = changes.levels;
  if (changes.baseFilters !== undefined) config.baseFilters = changes.baseFilters;
  if (changes.padding !== undefined) config.padding = changes.padding;
  if (changes.batchNorm !== undefined) config.batchNorm = changes.batchNorm;
  if (changes.levels !== undefined || changes.baseFilters !== undefined) delete config.filters;
  // Coordinate channels come after the image's (withCoordinateChannels): the last three inputs.
  if (settings.coordinateChannels === true && changes.positionSkip !== false) config.positionChannels = 3;
  // Annotation channels come first: the nearest annotation's one-hot, then its nearness.
  if (settings.annotationChannels === true && changes.annotationResidual !== false) config.annotationResidual = classes;
  return config;
}

const xyz = (zyx: readonly number[]): Vec3 => [zyx[2], zyx[1], zyx[0]];
const zyx = (v: readonly number[]): [number, number, number] => [v[2], v[1], v[0]];

/** The patch geometry (x, y, z) for a network: the output patch asked for or chosen, and the input it needs. */
export function patchGeometry(net: UNet, settings: TrainSettings, data: TrainingData): PatchGeometry {
  const first = data.volumes[0].record;
  const multiple = 2 ** (net.config.levels - 1);
  let output = settings.patchSize ?? choosePatchSize(first.dims, first.spacing, settings.patchVoxels, multiple);
  if (net.config.padding === 'same') output = output.map((n) => Math.ceil(n / multiple) * multiple) as Vec3;
  const input = xyz(net.inputSizeFor(zyx(output)));
  // A valid network's input may give a slightly larger output than asked: use what it gives.
  output = xyz(net.outputSize(zyx(input)));
  return { input, output };
}

/** Trains a network on the settings' volumes; writes the run folder; resolves with how it ended. */
export async function runTraining(settings: TrainSettings, hooks: TrainHooks = {}): Promise<RunSummary> {
  const runDir = path.resolve(settings.outDir);
  createRunFolder(runDir);
  const now = new Date().toISOString();
  const record: RunRecord = {
    schemaVersion: RUN_SCHEMA_VERSION,
    status: 'running',
    createdAt: now,
    updatedAt: now,
    settings,
    volumes: [],
    loss: [],
    validation: [],
    checkpoints: {},
  };
  writeRunRecord(runDir, record);
  let net: UNet | undefined;
  let optimizer: Optimizer | undefined;
  try {
    const backend = await initBackend(settings.backend);
    record.backend = backend.active;
    const adapter = backend.statuses.find((s) => s.name === backend.active)?.adapter;
    if (adapter) record.adapter = adapter;
    const data = loadTrainingData(settings);
    // run.json records what `auto` became: prediction must give the network the same inputs.
    settings.coordinateChannels = data.coordinateChannels;
    settings.annotationChannels = data.annotationChannels;
    const lossKind = resolveLossKind(settings.loss, data.classes);
    settings.loss = lossKind;
    record.volumes = data.volumes.map((v) => v.record);
    record.classes = data.classInfo;
    record.network = networkConfig(settings, data.channels, data.classes);
    net = createUNet(record.network, settings.seed);
    record.parameters = net.parameterCount();
    // On a GPU the patch must fit its memory: checked (or, when chosen here, shrunk) before allocating.
    const geometry = fitTrainingGeometry(net, patchGeometry(net, settings, data), settings.batchSize, settings.patchSize !== undefined);
    record.geometry = geometry;
    const rng = new Random(settings.seed);
    const sampler = new PatchSampler(
      data.volumes.flatMap((v) => v.sampled),
      { geometry, classes: data.classes, foregroundFraction: settings.foregroundFraction, augmentation: settings.augmentation },
      rng,
    );
    const weights = classWeights(sampler.classCounts(), settings.classWeighting);
    record.classWeights = weights;
    record.singleObjectClasses =
      settings.keepLargestComponent === false ? [] : singleObjectClasses(data.volumes.map((v) => ({ labels: v.training.labels, dims: v.training.image.dims })), data.classes);
    const validationVolumes = data.volumes.flatMap((v) => (v.validation ? [v.validation] : []));
    writeRunRecord(runDir, record);
    const emit = (event: TrainEvent) => hooks.onEvent?.(event);
    emit({
      type: 'started',
      runDir,
      backend,
      network: record.network,
      parameters: record.parameters,
      geometry,
      classes: data.classInfo,
      trainingVoxels: sampler.classCounts().reduce((a, b) => a + b, 0),
      validationVoxels: countValidationVoxels(validationVolumes),
    });
    optimizer = new Optimizer(settings.optimizer);
    const summary = await trainLoop({ settings, net, optimizer, sampler, weights, lossKind, geometry, validationVolumes, data, record, runDir, emit, hooks });
    record.status = summary.status;
    record.summary = summary;
    record.finishedAt = new Date().toISOString();
    writeRunRecord(runDir, record);
    emit({ type: 'finished', runDir, summary });
    return summary;
  } catch (error) {
    record.status = 'failed';
    record.error = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    record.finishedAt = new Date().toISOString();
    writeRunRecord(runDir, record);
    throw error;
  } finally {
    optimizer?.dispose();
    net?.dispose();
  }
}

function countValidationVoxels(volumes: readonly ValidationVolume[]): number {
  let n = 0;
  for (const v of volumes) {
    for (let i = 0; i < v.mask.length; i++) {
      const m = v.mask[i];
      if (m !== 0 && (!v.scored || v.scored.includes(m - 1))) n++;
    }
  }
  return n;
}

interface LoopContext {
  settings: TrainSettings;
  net: UNet;
  optimizer: Optimizer;
  sampler: PatchSampler;
  weights: number[];
  lossKind: LossKind;
  geometry: PatchGeometry;
  validationVolumes: ValidationVolume[];
  data: TrainingData;
  record: RunRecord;
  runDir: string;
  emit(event: TrainEvent): void;
  hooks: TrainHooks;
}

/** How often (iterations) the smoothed loss goes into run.json, and how often (ms) run.json is rewritten between validations. */
const LOSS_RECORD_EVERY = 5;
const RECORD_WRITE_MS = 15_000;

async function trainLoop(ctx: LoopContext): Promise<RunSummary> {
  const { settings, net, optimizer, sampler, weights, lossKind, geometry, validationVolumes, data, record, runDir, emit, hooks } = ctx;
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const budget = settings.minutes !== undefined ? settings.minutes * 60 : Infinity;
  const maxIterations = settings.iterations ?? Infinity;
  const progressOf = (iteration: number) => Math.min(1, Math.max(iteration / maxIterations, elapsed() / budget));
  const [ix, iy, iz] = geometry.input;
  const [ox, oy, oz] = geometry.output;
  const B = settings.batchSize;
  const channels = data.channels;
  const validating = validationVolumes.length > 0;

  let best: ValidationResult | undefined;
  let latest: ValidationResult | undefined;
  let sinceBest = 0;
  let smoothed: number | undefined;
  let smoothedWeight = 0;
  let stepSeconds: number | undefined;
  let lastWrite = performance.now();
  let iteration = 0;
  let stopReason: StopReason = 'iterations';

  /** Batch-norm statistics over plain patches from the whole volumes, before the network is validated or saved. */
  const calibrate = async () => {
    const passes = settings.batchNormCalibration;
    if (passes <= 0) return;
    function* batches() {
      for (let p = 0; p < passes; p++) {
        const x = tf.tensor5d(sampler.uniformBatch(B), [B, iz, iy, ix, channels]);
        try {
          yield x;
        } finally {
          x.dispose();
        }
      }
    }
    await recalibrateBatchNorm(net, batches());
  };

  // `auto` is chosen at the end (calibrateLogitAdjustment, below); validations before that use none.
  const adjustment = () => logitAdjustment(weights, typeof settings.logitAdjustment === 'number' ? settings.logitAdjustment : 0);
  const runValidation = async (recalibrate = true): Promise<boolean> => {
    if (recalibrate) await calibrate();
    const scores = await validate(net, validationVolumes, geometry, data.classes, adjustment());
    const result: ValidationResult = { iteration, iou: scores.iou, meanForegroundIoU: scores.meanForegroundIoU, seconds: elapsed() };
    latest = result;
    record.validation.push(result);
    const metric = (r: ValidationResult) => r.meanForegroundIoU ?? r.iou[0] ?? 0;
    const improved = iteration > 0 && (!best || metric(result) > metric(best) + 1e-4);
    if (iteration > 0) sinceBest = improved ? 0 : sinceBest + 1;
    emit({ type: 'validation', result, improved });
    if (improved) {
      best = result;
      const dir = await writeCheckpoint(runDir, 'best', (d) => net.save(d));
      record.checkpoints.best = { dir: 'best', iteration, meanForegroundIoU: result.meanForegroundIoU };
      emit({ type: 'checkpoint', kind: 'best', dir, iteration, meanForegroundIoU: result.meanForegroundIoU });
    }
    writeRunRecord(runDir, record);
    lastWrite = performance.now();
    // Validation tiles have other sizes than the training patch: free their pooled buffers.
    releaseCachedMemory();
    return improved;
  };

  if (validating && settings.validateAtStart) await runValidation();

  for (;;) {
    if (iteration >= maxIterations) {
      stopReason = 'iterations';
      break;
    }
    if (elapsed() >= budget) {
      stopReason = 'time';
      break;
    }
    const t0 = performance.now();
    const learningRate = learningRateAt(settings.schedule, progressOf(iteration));
    const batch = sampler.batch(B);
    const x = tf.tensor5d(batch.image, [B, iz, iy, ix, channels]);
    const y = tf.tensor4d(batch.labels, [B, oz, oy, ox], 'int32');
    const variables = net.trainableVariables;
    const { value, grads } = tf.variableGrads(() => trainingLoss(lossKind, net.apply(x, true), y, weights), variables);
    // Read back asynchronously (the webgpu backend cannot read synchronously under Node); the
    // loss is read while the update is queued.
    const lossRead = value.data();
    const present = variables.filter((v) => grads[v.name] !== undefined);
    let loss: number;
    try {
      await optimizer.apply(present, present.map((v) => grads[v.name]), learningRate);
      loss = (await lossRead)[0];
    } finally {
      tf.dispose([x, y, value, ...Object.values(grads)]);
    }
    assertBackendHealthy();
    if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at iteration ${iteration + 1}; lower the learning rate`);
    iteration++;
    const seconds = (performance.now() - t0) / 1000;
    stepSeconds = stepSeconds === undefined ? seconds : 0.8 * stepSeconds + 0.2 * seconds;
    // Bias-corrected exponential moving average of the loss.
    smoothedWeight = 0.9 * smoothedWeight + 0.1;
    smoothed = ((smoothed ?? 0) * (smoothedWeight - 0.1) + 0.1 * loss) / smoothedWeight;
    if (iteration % LOSS_RECORD_EVERY === 0 || iteration === 1) record.loss.push({ iteration, seconds: elapsed(), loss: smoothed, learningRate });

    const doValidate = validating && iteration % settings.validateEvery === 0 && iteration < maxIterations;
    if (doValidate) await runValidation();
    const remainingIterations = (maxIterations - iteration) * stepSeconds;
    emit({
      type: 'progress',
      iteration,
      totalIterations: Number.isFinite(maxIterations) ? maxIterations : undefined,
      loss,
      smoothedLoss: smoothed,
      learningRate,
      voxelsPerSecond: (B * ox * oy * oz) / stepSeconds,
      elapsedSeconds: elapsed(),
      etaSeconds: Math.max(0, Math.min(remainingIterations, budget - elapsed())),
      backend: record.backend ?? 'cpu',
      validation: latest,
      bestValidation: best,
    });
    if (performance.now() - lastWrite > RECORD_WRITE_MS) {
      writeRunRecord(runDir, record);
      lastWrite = performance.now();
    }
    // Let the event loop turn once per step: a worker's 'cancel' message (and the CLI's Ctrl-C)
    // arrives as a macrotask, which a loop of resolved awaits would never let run.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (hooks.shouldStop?.()) {
      stopReason = 'cancelled';
      break;
    }
    if (doValidate && settings.patience > 0 && sinceBest >= settings.patience) {
      stopReason = 'early-stop';
      break;
    }
  }
  // The final model is validated too (unless it just was, or the run was cancelled), with the
  // logit adjustment chosen for it.
  if (latest?.iteration !== iteration) await calibrate();
  let adjusted = false;
  if (settings.logitAdjustment === 'auto' && stopReason !== 'cancelled' && iteration > 0) {
    const checks = [...data.volumes.flatMap((v) => v.leftOut), ...validationVolumes];
    if (checks.length > 0 && weights.some((w) => w !== weights[0])) {
      const chosen = await calibrateLogitAdjustment(net, checks, geometry, data.classes, weights);
      record.logitCalibration = { fractions: ADJUSTMENT_FRACTIONS, meanIoU: chosen.meanIoU, voxels: chosen.voxels };
      settings.logitAdjustment = chosen.fraction;
      adjusted = chosen.fraction !== 0;
    } else settings.logitAdjustment = 0;
  }
  if (validating && stopReason !== 'cancelled' && iteration > 0 && (latest?.iteration !== iteration || adjusted)) {
    // A validation of this very iteration made before the adjustment is replaced.
    if (latest?.iteration === iteration) record.validation.pop();
    await runValidation(false);
  }
  const lastDir = await writeCheckpoint(runDir, 'last', (d) => net.save(d));
  record.checkpoints.last = { dir: 'last', iteration, meanForegroundIoU: latest?.iteration === iteration ? latest.meanForegroundIoU : undefined };
  emit({ type: 'checkpoint', kind: 'last', dir: lastDir, iteration });
  const modelDir = record.checkpoints.best ? path.join(runDir, record.checkpoints.best.dir) : lastDir;
  return {
    status: stopReason === 'cancelled' ? 'cancelled' : 'succeeded',
    stopReason,
    iterations: iteration,
    seconds: elapsed(),
    finalLoss: smoothed ?? null,
    best,
    modelDir,
  };
}
