/**
 * The training loop: sparse labels in, a run folder out. Runs in whatever process calls it (the
 * worker, or the CLI in-process); reports through `hooks.onEvent` and stops after the current
 * step when `hooks.shouldStop()` says so.
 */
import * as path from 'node:path';
import type { Vec3 } from '../core/geometry';
import type { RunSummary, StopReason, TrainEvent, ValidationResult } from '../protocol/training';
import { assertBackendHealthy, initBackend, releaseCachedMemory } from './backends';
import { fitTrainingGeometry } from './webgpu/fit';
import { recalibrateBatchNorm } from './batchNormCalibration';
import { singleObjectClasses } from '../core/components';
import { classWeights, logitAdjustment, resolveLossKind, trainingLoss } from './loss';
import type { LossKind } from '../protocol/settings';
import { createUNet, loadUNet, type UNet } from './model';
import { PRESETS, type UNetConfig } from '../protocol/network';
import { Optimizer } from './optimizer';
import { Random } from '../core/random';
import { createRunFolder, moveCheckpoint, removeRunLock, writeCheckpoint, writeRunLock, writeRunRecord } from './runFolder';
import { RUN_SCHEMA_VERSION, type RunRecord } from '../protocol/run';
import { PatchSampler } from './sampler';
import type { PatchGeometry } from '../protocol/training';
import { learningRateAt } from './schedule';
import { choosePatchSize } from './sampler';
import type { TrainSettings } from '../protocol/settings';
import { tf } from './tf';
import type { VolumePrediction } from './predict';
import { loadTrainingData, refitVolumes, type TrainingData } from './trainingData';
import { heldOutSeenByParent, parentSlices, warmStart, WarmStartError } from './warmStart';
import { predictPlanes, previewAnnotation, PreviewSchedule, type PreviewSource } from './preview';
import { validate, type ValidationVolume } from './validation';
import { adjustmentFractions, calibrateDecision, chosenScore, type DecisionCalibration } from './decisionCalibration';
import { comparisonChecks, copyWeights, parentScoresHigher, restoreWeights, scoreComparison, type ComparisonChecks, type ComparisonPrediction, type SliceScore } from './parentComparison';

export interface TrainHooks {
  onEvent?(event: TrainEvent): void;
  /**
   * Asked after every step; true ends the run as 'cancelled', 'interrupted' as interrupted (the
   * host went away); either way the checkpoints are kept.
   */
  shouldStop?(): boolean | 'interrupted';
  /**
   * Asked after every step: the training image (path) and voxel whose three planes to preview, or
   * undefined for none. Previews arrive as 'preview' events (see preview.ts for their schedule).
   */
  previewTarget?(): { image: string; voxel: Vec3 } | undefined;
  /**
   * Measurement (`unet3d bench loop`): at each of `seconds` of training, the network as a run of
   * that length would leave it (batch-norm statistics calibrated, the logit adjustment chosen) is
   * handed to `take`. The training clock stands still meanwhile, and the training's random draws
   * are not touched, so the run trains as it would without snapshots.
   */
  snapshots?: { seconds: readonly number[]; take(snapshot: TrainingSnapshot): Promise<void> };
  /**
   * A warm start whose comparison segmented its volumes whole hands on the segmentation of each
   * by the network it leaves (the model folder Segment loads by default), made exactly as
   * Segment makes it: train then segment need not predict again (see segmentVolumeFile).
   */
  onSegmentation?(segmentation: HandedOnSegmentation): void;
}

/** A training volume's segmentation by a run's model, made during the training (TrainHooks.onSegmentation). */
export interface HandedOnSegmentation {
  /** The model folder that made it (the run's best checkpoint, else its last). */
  modelDir: string;
  /** The image's SHA-256 (as run.json records it). */
  imageSha256: string;
  prediction: VolumePrediction;
}

/** A snapshot of a training (see TrainHooks.snapshots). Valid only during `take`. */
export interface TrainingSnapshot {
  net: UNet;
  iteration: number;
  /** Seconds of training so far. */
  seconds: number;
  /** The fraction of the class weights' shift that prediction takes back (see logitAdjustment). */
  logitAdjustment: number;
  /** The annotation offsets prediction adds (see calibrateDecision); absent: none. */
  annotationOffsets?: number[];
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
  // Before run.json says 'running': a reader that sees a running run can always check its process.
  writeRunLock(runDir);
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
  let parentStart: ParentStart | undefined;
  try {
    const backend = await initBackend(settings.backend);
    record.backend = backend.active;
    const adapter = backend.statuses.find((s) => s.name === backend.active)?.adapter;
    if (adapter) record.adapter = adapter;
    // A warm start holds out only slices its parent had: the ones added since always train.
    const known = settings.init !== undefined ? parentSlices(settings.init, settings.volumes.map((v) => v.image)) : undefined;
    const data = loadTrainingData(settings, known);
    // run.json records what `auto` became: prediction must give the network the same inputs.
    settings.coordinateChannels = data.coordinateChannels;
    settings.annotationChannels = data.annotationChannels;
    const lossKind = resolveLossKind(settings.loss, data.classes);
    settings.loss = lossKind;
    record.volumes = data.volumes.map((v) => v.record);
    record.classes = data.classInfo;
    record.network = networkConfig(settings, data.channels, data.classes);
    if (settings.init !== undefined) {
      try {
        const started = await warmStart(
          settings.init,
          { config: record.network, imageChannels: data.volumes[0].record.channels, coordinateChannels: data.coordinateChannels, annotationChannels: data.annotationChannels },
          settings.seed,
        );
        net = started.net;
        record.parent = started.parent;
        const newSlices = data.volumes.reduce((n, v) => n + v.newSlices.length, 0);
        if (newSlices > 0) record.parent.newSlices = newSlices;
        record.parent.heldOutSeen = heldOutSeenByParent(started.record, data.volumes.map((v) => ({ image: v.files.image, validationSlices: v.record.validationSlices })));
        // The slices added since the parent (a correction) get more of the patches.
        for (const v of data.volumes) for (const t of v.sampled) t.focus = v.newSlices;
        // `auto` takes the parent's logit adjustment, chosen on its left-out slices: choosing it
        // again would cost a pass over every left-out group at the end of a run of seconds.
        const inherited = started.record.settings.logitAdjustment;
        if (settings.logitAdjustment === 'auto' && typeof inherited === 'number' && started.parent.classesAdded === 0) settings.logitAdjustment = inherited;
      } catch (error) {
        if (!(settings.initOptional && error instanceof WarmStartError)) throw error;
        record.warmStartSkipped = error.message;
        net = createUNet(record.network, settings.seed);
      }
    } else net = createUNet(record.network, settings.seed);
    record.parameters = net.parameterCount();
    // On a GPU the patch must fit its memory: checked (or, when chosen here, shrunk) before allocating.
    const geometry = fitTrainingGeometry(net, patchGeometry(net, settings, data), settings.batchSize, settings.patchSize !== undefined);
    record.geometry = geometry;
    const rng = new Random(settings.seed);
    const sampler = new PatchSampler(
      data.volumes.flatMap((v) => v.sampled),
      { geometry, classes: data.classes, foregroundFraction: settings.foregroundFraction, augmentation: settings.augmentation, focusFraction: record.parent ? settings.newSliceFraction : 0 },
      rng,
    );
    const weights = classWeights(sampler.classCounts(), settings.classWeighting);
    record.classWeights = weights;
    record.singleObjectClasses =
      settings.keepLargestComponent === false ? [] : singleObjectClasses(data.volumes.map((v) => ({ labels: v.training.labels, dims: v.training.image.dims })), data.classes);
    const validationVolumes = data.volumes.flatMap((v) => (v.validation ? [v.validation] : []));
    writeRunRecord(runDir, record);
    const emit = (event: TrainEvent) => hooks.onEvent?.(event);
    const masks = data.volumes.filter((v) => v.record.labelsConvention === 'mask').map((v) => path.basename(v.files.labels));
    emit({
      type: 'started',
      runDir,
      backend,
      network: record.network,
      parameters: record.parameters,
      geometry,
      classes: data.classInfo,
      ...(record.parent ? { parent: record.parent } : {}),
      trainingVoxels: sampler.classCounts().reduce((a, b) => a + b, 0),
      validationVoxels: countValidationVoxels(validationVolumes),
      ...(masks.length ? { masks } : {}),
    });
    if (record.parent) {
      // Before the first step (and before the training clock starts): the parent's network as it
      // was saved, scored on the slices the end will score the trained one on.
      const checks = comparisonChecks(data.volumes, validationVolumes, settings.logitAdjustment);
      if (checks.kind === 'volumes' || checks.checks.length > 0) {
        const score = await scoreComparison(net, checks, geometry, data.classes, weights, settings.logitAdjustment, comparisonPrediction(record));
        parentStart = { checks, score, weights: copyWeights(net) };
      }
    }
    optimizer = new Optimizer(settings.optimizer);
    const summary = await trainLoop({ settings, net, optimizer, sampler, weights, lossKind, geometry, validationVolumes, data, record, runDir, emit, hooks, parentStart });
    record.status = summary.status;
    if (summary.status === 'interrupted') record.error = 'the process that started the run went away (VS Code or the command line closed or killed); the run stopped after its step';
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
    removeRunLock(runDir);
    if (parentStart) tf.dispose([...parentStart.weights.values()]);
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
  parentStart?: ParentStart;
}

/** A warm start's parent before the first step: what it was scored on, its score, its weights (see parentComparison.ts). */
interface ParentStart {
  checks: ComparisonChecks;
  score: SliceScore;
  weights: Map<string, tf.Tensor>;
}

/** How often (iterations) the smoothed loss goes into run.json, and how often (ms) run.json is rewritten between validations. */
const LOSS_RECORD_EVERY = 5;
const RECORD_WRITE_MS = 15_000;

/** Where a phase of steps stops: a step count and a time on the training clock (s), whichever comes first. */
interface PhaseLimits {
  iterations: number;
  seconds: number;
}

/**
 * How long the held-out phase and the refit take (see TrainSettings.refit): the first
 * (1 − refit) of the budget, then the rest. A held-out phase that stops early (patience) gives
 * the refit the same share of what it used.
 */
export function refitLimits(refit: number, budget: PhaseLimits, heldOut: { iterations: number; seconds: number; stoppedEarly: boolean }): PhaseLimits {
  if (!heldOut.stoppedEarly) return budget;
  const ratio = refit / (1 - refit);
  return { iterations: heldOut.iterations + Math.max(1, Math.round(heldOut.iterations * ratio)), seconds: heldOut.seconds * (1 + ratio) };
}

async function trainLoop(ctx: LoopContext): Promise<RunSummary> {
  const { settings, net, optimizer, weights, lossKind, geometry, validationVolumes, data, record, runDir, emit, hooks } = ctx;
  let sampler = ctx.sampler;
  const clock = settings.clock === 'cpu' ? cpuSeconds : () => performance.now() / 1000;
  const start = clock();
  // Seconds the training clock stood still (snapshots for measurement: not part of training).
  let paused = 0;
  const elapsed = () => clock() - start - paused;
  const budget = settings.minutes !== undefined ? settings.minutes * 60 : Infinity;
  const maxIterations = settings.iterations ?? Infinity;
  const progressOf = (iteration: number) => Math.min(1, Math.max(iteration / maxIterations, elapsed() / budget));
  const [ix, iy, iz] = geometry.input;
  const [ox, oy, oz] = geometry.output;
  const B = settings.batchSize;
  const channels = data.channels;
  const validating = validationVolumes.length > 0;
  // A refit needs something held out to add; it takes the last share of the budget.
  const refitting = validating && settings.refit > 0;
  const heldOutLimits: PhaseLimits = refitting
    ? { iterations: Number.isFinite(maxIterations) ? Math.max(1, Math.round(maxIterations * (1 - settings.refit))) : Infinity, seconds: budget * (1 - settings.refit) }
    : { iterations: maxIterations, seconds: budget };

  let best: ValidationResult | undefined;
  let latest: ValidationResult | undefined;
  let sinceBest = 0;
  let smoothed: number | undefined;
  let smoothedWeight = 0;
  let stepSeconds: number | undefined;
  let lastWrite = performance.now();
  let iteration = 0;
  let stopReason = 'iterations' as StopReason;

  /** Batch-norm statistics over plain patches from the whole volumes, before the network is validated or saved. */
  const calibrate = async (rng?: Random) => {
    const passes = settings.batchNormCalibration;
    if (passes <= 0) return;
    function* batches() {
      for (let p = 0; p < passes; p++) {
        const x = tf.tensor5d(sampler.uniformBatch(B, rng), [B, iz, iy, ix, channels]);
        try {
          yield x;
        } finally {
          x.dispose();
        }
      }
    }
    await recalibrateBatchNorm(net, batches());
  };

  // `auto` and the annotation offsets are chosen at the end (calibrateDecision, below); validations before that use none.
  const adjustment = () => logitAdjustment(weights, typeof settings.logitAdjustment === 'number' ? settings.logitAdjustment : 0);
  const runValidation = async (recalibrate = true): Promise<boolean> => {
    if (recalibrate) await calibrate();
    const scores = await validate(net, validationVolumes, geometry, data.classes, adjustment(), { annotationOffsets: record.annotationOffsets });
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

  /** Where the decision is chosen (the logit adjustment `auto`, the annotation offsets): slices the network was not given (left-out groups, held-out slices). */
  const adjustmentChecks = () => [...data.volumes.flatMap((v) => v.leftOut), ...validationVolumes];
  /**
   * Where the run's end chooses it: a warm run's comparison slices when it has them (a subset of
   * the left-out groups, the new slices' first: the same pass then scores it against its parent),
   * else every left-out group and held-out slice.
   */
  const decisionChecks = () => (ctx.parentStart?.checks.kind === 'slices' ? [...ctx.parentStart.checks.checks] : adjustmentChecks());
  const chooseDecision = (checks: ValidationVolume[]) => {
    const fractions = adjustmentFractions(settings.logitAdjustment, weights);
    // Nothing to choose: one fraction and no trust map.
    if (checks.length === 0 || (fractions.length === 1 && !net.config.annotationResidual)) return undefined;
    return calibrateDecision(net, checks, geometry, data.classes, weights, fractions);
  };

  // Snapshots (measurement): the network as it would be left at these seconds of training.
  const snapshotSeconds = [...(hooks.snapshots?.seconds ?? [])].sort((a, b) => a - b);
  let snapshotsTaken = 0;
  const takeSnapshot = async () => {
    const t0 = clock();
    await calibrate(new Random(settings.seed + 7919 * ++snapshotsTaken));
    const chosen = await chooseDecision(adjustmentChecks());
    const fraction = chosen?.fraction ?? (typeof settings.logitAdjustment === 'number' ? settings.logitAdjustment : 0);
    const seconds = elapsed();
    await hooks.snapshots!.take({ net, iteration, seconds, logitAdjustment: fraction, ...(chosen?.offsets ? { annotationOffsets: chosen.offsets } : {}) });
    paused += clock() - t0;
  };

  if (validating && settings.validateAtStart) await runValidation();

  // Live previews: within their share of the time, sooner when a better checkpoint or a new target asks.
  const schedule = new PreviewSchedule();
  const previewSources = new Map<number, PreviewSource>();
  let previewKey = '';
  let betterSincePreview = false;
  const maybePreview = async () => {
    const target = hooks.previewTarget?.();
    if (!target) return;
    const v = data.volumes.findIndex((p) => path.resolve(p.files.image) === path.resolve(target.image));
    if (v < 0) return;
    const key = `${v}:${target.voxel.map(Math.round).join()}`;
    const now = performance.now() / 1000;
    if (!schedule.due(now, elapsed() - schedule.seconds, betterSincePreview || key !== previewKey, stepSeconds)) return;
    let source = previewSources.get(v);
    if (!source) {
      const prepared = data.volumes[v];
      const image = prepared.training.image;
      source = { image, annotation: data.annotationChannels ? (prepared.validation?.annotation ?? previewAnnotation(prepared.training.labels, image, data.classes)) : undefined };
      previewSources.set(v, source);
    }
    const t0 = performance.now();
    const planes = await predictPlanes(net, source, target.voxel, geometry, adjustment(), { annotationOffsets: ctx.parentStart?.score.offsets });
    const seconds = (performance.now() - t0) / 1000;
    schedule.done(performance.now() / 1000, seconds);
    previewKey = key;
    betterSincePreview = false;
    record.previewSeconds = schedule.seconds;
    emit({ type: 'preview', image: path.resolve(target.image), voxel: [...target.voxel] as Vec3, iteration, planes, seconds, share: schedule.seconds / Math.max(1e-9, elapsed()) });
  };

  /** Training steps until `limits` (or a stop); validates on the held-out slices when `validateNow`. */
  const steps = async (limits: PhaseLimits, validateNow: boolean): Promise<void> => {
    for (;;) {
      if (iteration >= limits.iterations) {
        stopReason = 'iterations';
        break;
      }
      if (elapsed() >= limits.seconds) {
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

      const doValidate = validateNow && iteration % settings.validateEvery === 0 && iteration < limits.iterations;
      if (doValidate && (await runValidation())) betterSincePreview = true;
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
      await maybePreview();
      if (performance.now() - lastWrite > RECORD_WRITE_MS) {
        writeRunRecord(runDir, record);
        lastWrite = performance.now();
      }
      // Let the event loop turn once per step: a worker's 'cancel' message (and the CLI's Ctrl-C)
      // arrives as a macrotask, which a loop of resolved awaits would never let run.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const stop = hooks.shouldStop?.();
      if (stop) {
        stopReason = stop === 'interrupted' ? 'interrupted' : 'cancelled';
        break;
      }
      while (snapshotSeconds.length > 0 && elapsed() >= snapshotSeconds[0]) {
        snapshotSeconds.shift();
        await takeSnapshot();
      }
      if (doValidate && settings.patience > 0 && sinceBest >= settings.patience) {
        stopReason = 'early-stop';
        break;
      }
    }
  };

  await steps(heldOutLimits, validating);
  // The held-out phase's network is validated too (unless it just was, or the run was stopped),
  // with the logit adjustment chosen for it: the figures the run reports come from here.
  const stopped = () => stopReason === 'cancelled' || stopReason === 'interrupted';
  if (latest?.iteration !== iteration) await calibrate();
  let adjusted = false;
  // The decision chosen now, on decisionChecks(): a warm run's comparison reuses its score.
  let endDecision: DecisionCalibration | undefined;
  if (!stopped() && iteration > 0) {
    const chosen = (endDecision = await chooseDecision(decisionChecks()));
    if (chosen) {
      record.logitCalibration = { fractions: chosen.fractions, meanIoU: chosen.meanIoU, voxels: chosen.voxels, ...(chosen.offsets ? { meanIoUWithoutOffsets: chosen.meanIoUWithoutOffsets } : {}) };
      settings.logitAdjustment = chosen.fraction;
      if (chosen.offsets) record.annotationOffsets = chosen.offsets;
      adjusted = chosen.fraction !== 0 || chosen.offsets !== undefined;
    } else if (settings.logitAdjustment === 'auto') settings.logitAdjustment = 0;
  }
  if (validating && !stopped() && iteration > 0 && (latest?.iteration !== iteration || adjusted)) {
    // A validation of this very iteration made before the adjustment is replaced.
    if (latest?.iteration === iteration) record.validation.pop();
    await runValidation(false);
  }
  const refitTo = refitLimits(settings.refit, { iterations: maxIterations, seconds: budget }, { iterations: iteration, seconds: elapsed(), stoppedEarly: stopReason === 'early-stop' });
  // A budget spent by the held-out phase and its validation leaves no refit to make.
  if (refitting && !stopped() && iteration > 0 && iteration < refitTo.iterations && elapsed() < refitTo.seconds) {
    const heldOutStop = stopReason;
    sampler = await refitSampler({ ...ctx, sampler, best, iteration });
    const from = best ?? latest;
    record.refit = {
      share: settings.refit,
      from: { iteration: from?.iteration ?? iteration, meanForegroundIoU: from?.meanForegroundIoU ?? null },
      slices: data.volumes.reduce((n, v) => n + v.allSlices.length, 0),
      heldOutSlices: data.volumes.reduce((n, v) => n + v.record.validationSlices.length, 0),
      iterations: 0,
      seconds: 0,
      done: false,
    };
    writeRunRecord(runDir, record);
    const phaseStart = { iteration, seconds: elapsed() };
    await steps(refitTo, false);
    if (!stopped() && heldOutStop === 'early-stop') stopReason = heldOutStop;
    record.refit.iterations = iteration - phaseStart.iteration;
    record.refit.seconds = elapsed() - phaseStart.seconds;
    await calibrate();
    if (!stopped()) {
      // The network the run leaves is the refit one: the held-out phase's best checkpoint is kept
      // aside (its IoU is the run's held-out figure), so every reader picks the last.
      record.refit.done = true;
      if (record.checkpoints.best) {
        moveCheckpoint(runDir, record.checkpoints.best.dir, HELD_OUT_CHECKPOINT);
        record.refit.heldOutCheckpoint = HELD_OUT_CHECKPOINT;
        delete record.checkpoints.best;
      }
    }
  }
  // A warm start never leaves a network that scores below its parent on the same slices.
  let keptParent = false;
  let trainedScore: SliceScore | undefined;
  if (ctx.parentStart && !stopped() && iteration > 0) {
    const { checks, score: parentScore } = ctx.parentStart;
    // The end's choice of the decision scored the network now on these very checks: reused.
    const chosenOnSame = !record.checkpoints.best && !record.refit?.done && checks.kind === 'slices' && sameChecks(checks.checks, decisionChecks()) ? endDecision : undefined;
    trainedScore = chosenOnSame ? chosenScore(chosenOnSame) : await scoreRunModel(ctx, checks);
    keptParent = parentScoresHigher(parentScore, trainedScore);
    const slices = checks.kind === 'volumes' ? checks.slices : checks.checks.reduce((n, c) => n + (c.scored?.length ?? c.slices.length), 0);
    record.parent!.comparison = { parentIoU: parentScore.meanIoU, trainedIoU: trainedScore.meanIoU, checks: slices, voxels: parentScore.voxels, kept: keptParent ? 'parent' : 'trained' };
    if (keptParent) {
      restoreWeights(net, ctx.parentStart.weights);
      settings.logitAdjustment = parentScore.fraction;
      if (parentScore.offsets) record.annotationOffsets = parentScore.offsets;
      else delete record.annotationOffsets;
      // The held-out phase's best checkpoint is not the run's model any more: kept aside.
      if (record.checkpoints.best) {
        moveCheckpoint(runDir, record.checkpoints.best.dir, TRAINED_BEST_CHECKPOINT);
        delete record.checkpoints.best;
      }
    }
  }
  const lastDir = await writeCheckpoint(runDir, 'last', (d) => net.save(d));
  const validatedNow = latest?.iteration === iteration && !record.refit?.done && !keptParent;
  const lastIteration = keptParent ? 0 : iteration;
  record.checkpoints.last = { dir: 'last', iteration: lastIteration, meanForegroundIoU: validatedNow ? latest?.meanForegroundIoU : undefined };
  emit({ type: 'checkpoint', kind: 'last', dir: lastDir, iteration: lastIteration });
  const modelDir = record.checkpoints.best ? path.join(runDir, record.checkpoints.best.dir) : lastDir;
  // The comparison's segmentations by the network the run leaves (scoreRunModel scored that model).
  const kept = ctx.parentStart && record.parent?.comparison ? (keptParent ? ctx.parentStart.score : trainedScore) : undefined;
  kept?.segmentations?.forEach((prediction, v) => hooks.onSegmentation?.({ modelDir, imageSha256: data.volumes[v].record.image.sha256, prediction }));
  return {
    status: stopReason === 'cancelled' || stopReason === 'interrupted' ? stopReason : 'succeeded',
    // After a refit, why the held-out phase stopped when that was early (the refit ends by its budget).
    stopReason,
    iterations: iteration,
    seconds: elapsed(),
    finalLoss: smoothed ?? null,
    best,
    modelDir,
    ...(record.refit?.done ? { refit: { slices: record.refit.slices, heldOutSlices: record.refit.heldOutSlices, iterations: record.refit.iterations } } : {}),
    ...(keptParent ? { keptParent: { parentIoU: record.parent!.comparison!.parentIoU, trainedIoU: record.parent!.comparison!.trainedIoU } } : {}),
  };
}

/** Where the held-out phase's best checkpoint goes when a warm start keeps its parent's weights. */
const TRAINED_BEST_CHECKPOINT = 'trained-best';

/** How the run's segmentations predict (runPredictOptions): what a whole-volume comparison segments with. */
const comparisonPrediction = (record: RunRecord): ComparisonPrediction => ({ coordinateChannels: record.settings.coordinateChannels === true, singleObjectClasses: record.singleObjectClasses });

const sameChecks = (a: readonly ValidationVolume[], b: readonly ValidationVolume[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/** The run's model (its best checkpoint, else the network now) scored on `checks` with the run's logit adjustment. */
async function scoreRunModel(ctx: LoopContext, checks: ComparisonChecks): Promise<SliceScore> {
  const { net, runDir, record, geometry, data, weights, settings } = ctx;
  const model = record.checkpoints.best ? await loadUNet(path.join(runDir, record.checkpoints.best.dir)) : net;
  try {
    return await scoreComparison(model, checks, geometry, data.classes, weights, settings.logitAdjustment, comparisonPrediction(record));
  } finally {
    if (model !== net) model.dispose();
  }
}

/** CPU seconds of this process, every thread (TrainSettings.clock 'cpu'). */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Where the held-out phase's best checkpoint goes once a refit has replaced it. */
const HELD_OUT_CHECKPOINT = 'held-out';

/**
 * The sampler of a refit: every annotated slice, held-out ones included. The network goes back to
 * the held-out phase's best checkpoint first when it is not the current one (early stopping, a
 * later validation that was worse), so the refit starts from the network the held-out IoU describes.
 */
async function refitSampler(ctx: LoopContext & { best?: ValidationResult; iteration: number }): Promise<PatchSampler> {
  const { net, data, settings, geometry, runDir, record, best, iteration } = ctx;
  if (best && best.iteration !== iteration && record.checkpoints.best) {
    const saved = await loadUNet(path.join(runDir, record.checkpoints.best.dir));
    try {
      for (const [name, variable] of net.namedVariables) variable.assign(saved.namedVariables.get(name)!);
    } finally {
      saved.dispose();
    }
  }
  const volumes = data.volumes.flatMap((v) => refitVolumes(v, data.classes, data.annotationChannels).map((t) => ({ ...t, focus: record.parent ? v.newSlices : undefined })));
  const options = { geometry, classes: data.classes, foregroundFraction: settings.foregroundFraction, augmentation: settings.augmentation, focusFraction: record.parent ? settings.newSliceFraction : 0 };
  return new PatchSampler(volumes, options, new Random(settings.seed + 1));
}
