/**
 * Everything a training run can be told, with the defaults. Pure data and pure functions: the
 * extension host and the CLI build settings with this module without loading TensorFlow.js.
 */
import type { Vec3 } from '../core/geometry';
import { augmentationSettings, TRAINING_AUGMENTATION, type AugmentationSettings, type DeepPartial } from './augment';
import type { BackendName } from './backends';
import type { ClassWeighting, LossKind } from './loss';
import type { Padding, PresetName } from './model';
import { DEFAULT_NORMALIZATION, type NormalizationSettings } from './normalize';
import type { LearningRateSchedule } from './schedule';

export type OptimizerKind = 'sgd' | 'adam';

export interface OptimizerSettings {
  kind: OptimizerKind;
  /** SGD: momentum (the paper used 0.99). */
  momentum: number;
  /** SGD: Nesterov momentum. */
  nesterov: boolean;
  /** Adam: decay rates of the first and second moment estimates, and ε. */
  beta1: number;
  beta2: number;
  epsilon: number;
  /** L2 weight decay added to the gradient. */
  weightDecay: number;
  /** Clip the gradients to this global L2 norm (0 = no clipping). */
  clipNorm: number;
}

/**
 * Adam by default: in the 10-minute CPU budget the paper's SGD with momentum 0.99 (with its
 * augmentation and class weights) reached spleen dense IoU 0.52, Adam at 0.002 without them 0.58
 * (both before the largest-component clean-up; see the README's quality table). SGD stays one
 * setting away (`optimizer.kind`).
 */
export const DEFAULT_OPTIMIZER: OptimizerSettings = {
  kind: 'adam',
  momentum: 0.99,
  nesterov: true,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-8,
  weightDecay: 3e-5,
  clipNorm: 12,
};

/** Default peak learning rate per optimizer. */
export const DEFAULT_LEARNING_RATE: Record<OptimizerKind, number> = { sgd: 0.01, adam: 0.002 };

/** The network to build: a preset with optional changes. The input channels and classes follow the data. */
export interface NetworkSettings {
  preset: PresetName;
  levels?: number;
  baseFilters?: number;
  padding?: Padding;
  batchNorm?: boolean;
  /**
   * With coordinate channels, feed them again to every synthesis block (UNetConfig
   * positionChannels). Default true.
   */
  positionSkip?: boolean;
  /**
   * With annotation channels, add trust × the nearest annotation's one-hot to the logits
   * (UNetConfig annotationResidual). Default true.
   */
  annotationResidual?: boolean;
}

/** Whether `text` names a loss setting: a LossKind or 'auto'. (Here, not in loss.ts: the extension host reads settings and must not load TensorFlow.js.) */
export function isLossSetting(text: unknown): text is LossKind | 'auto' {
  return text === 'auto' || text === 'ce' || text === 'ce+dice';
}

/** Which annotated slices are held out for validation: a fraction of them, or one fold of a k-fold split. */
export type ValidationSplit = { fraction: number } | { fold: number; folds: number };

/** One training volume: an image file and its sparse label file on the same grid. */
export interface VolumeFiles {
  image: string;
  labels: string;
}

/** A training run, every field resolved. Paths are absolute or relative to the process's folder. */
export interface TrainSettings {
  volumes: VolumeFiles[];
  /** The run folder to create (absent or empty). */
  outDir: string;
  network: NetworkSettings;
  /** Output patch size (x, y, z) in voxels; absent: chosen from the voxel spacing to hold about `patchVoxels` voxels. */
  patchSize?: Vec3;
  patchVoxels: number;
  batchSize: number;
  /** Stop after this many iterations, or after `minutes`, whichever comes first (at least one is set). */
  iterations?: number;
  minutes?: number;
  validation: ValidationSplit;
  /** Validate every this many iterations (and at the end). */
  validateEvery: number;
  /** Also validate the untrained network (iteration 0), a baseline in the metrics. */
  validateAtStart: boolean;
  /** Stop after this many validations without improvement (0: never stop early). */
  patience: number;
  /**
   * Before validating or saving, re-estimate batch-norm statistics over this many plain batches
   * drawn uniformly from the volumes (0: keep the moving averages of training).
   */
  batchNormCalibration: number;
  /** Score at most this many held-out slices per validation (spread over them). */
  maxValidationSlices: number;
  optimizer: OptimizerSettings;
  schedule: LearningRateSchedule;
  classWeighting: ClassWeighting | number[];
  /**
   * `ce`: the paper's weighted cross-entropy; `ce+dice`: plus soft Dice over the labeled voxels
   * (see sparseSoftDiceLoss); `auto` (the default): see resolveLossKind. Training resolves `auto`
   * and run.json records what it became.
   */
  loss: LossKind | 'auto';
  /**
   * The fraction (0–1) of the class weights' shift that prediction takes back: each class's logit
   * is lowered by this × log(its weight) (see logitAdjustment in loss.ts). No effect with equal
   * weights (the default for one foreground class). `auto` (the default): chosen at the end of
   * training among 0, ¼, ½, ¾ and 1 by the IoU on slices the network was not given — the
   * left-out slices with annotation channels, and the validation slices — and 0 when there are
   * none; validations before that use 0. run.json records the fraction chosen.
   */
  logitAdjustment: number | 'auto';
  /** Probability that a patch is centred on a foreground voxel. */
  foregroundFraction: number;
  augmentation: AugmentationSettings;
  normalization: NormalizationSettings;
  /**
   * Give the network each voxel's position as three more input channels (see
   * withCoordinateChannels; prediction adds them too). `auto` (the default): with several
   * foreground classes, which may differ only by where they lie (left and right lung, the levels
   * of the spine); not with one, where position let the network memorise the annotated slices
   * (spleen dense IoU 0.91 without, 0.78 with). Training resolves `auto` to true or false, and
   * run.json records that.
   */
  coordinateChannels: boolean | 'auto';
  /**
   * Give the network the annotations of the volume it segments as input channels: for every
   * voxel, the class of the nearest annotated voxel and its nearness (src/core/annotationField.ts).
   * Training leaves slices out so that the network never reads the annotation it is scored on
   * (leaveOutVolumes); segmenting then needs the volume's label file. `auto` (the default): see
   * useAnnotationChannels. Training resolves `auto`, and run.json records what it became.
   */
  annotationChannels: boolean | 'auto';
  /**
   * After prediction, keep only the largest 3D component of each class the user drew as one
   * object (see singleObjectClasses in src/core/components.ts); the rest becomes background.
   */
  keepLargestComponent: boolean;
  /** Class names, background first; default from the label file's segments, else "background", "class 1", … */
  classNames?: string[];
  /** Number of classes including background (label values 1..classes); default: the largest label value found. */
  classes?: number;
  seed: number;
  backend: BackendName | 'auto';
}

/** What a caller gives: the volumes and the folder, and whatever it wants to change. */
export type TrainSettingsInput = Pick<TrainSettings, 'volumes' | 'outDir'> &
  Partial<Omit<TrainSettings, 'volumes' | 'outDir' | 'augmentation' | 'optimizer' | 'schedule' | 'network'>> & {
    augmentation?: DeepPartial<AugmentationSettings>;
    optimizer?: Partial<OptimizerSettings>;
    schedule?: Partial<LearningRateSchedule>;
    network?: Partial<NetworkSettings>;
  };

/** The defaults filled in, and the settings checked (a RangeError names the bad one). */
export function trainSettings(input: TrainSettingsInput): TrainSettings {
  const optimizer: OptimizerSettings = { ...DEFAULT_OPTIMIZER, ...input.optimizer };
  const schedule: LearningRateSchedule = {
    kind: 'poly',
    initial: DEFAULT_LEARNING_RATE[optimizer.kind],
    warmup: 0.02,
    finalFraction: 0.02,
    ...input.schedule,
  };
  const settings: TrainSettings = {
    volumes: input.volumes.map((v) => ({ ...v })),
    outDir: input.outDir,
    network: { preset: 'fast', ...input.network },
    patchSize: input.patchSize,
    patchVoxels: input.patchVoxels ?? 128 * 128 * 8,
    batchSize: input.batchSize ?? 1,
    iterations: input.iterations,
    minutes: input.minutes,
    validation: input.validation ?? { fraction: 0.2 },
    validateEvery: input.validateEvery ?? 50,
    validateAtStart: input.validateAtStart ?? false,
    patience: input.patience ?? 8,
    maxValidationSlices: input.maxValidationSlices ?? 9,
    batchNormCalibration: input.batchNormCalibration ?? 16,
    optimizer,
    schedule,
    classWeighting: input.classWeighting ?? 'auto',
    loss: input.loss ?? 'auto',
    logitAdjustment: input.logitAdjustment ?? 'auto',
    foregroundFraction: input.foregroundFraction ?? 0.5,
    augmentation: augmentationSettings(input.augmentation, TRAINING_AUGMENTATION),
    normalization: { ...DEFAULT_NORMALIZATION, ...input.normalization },
    coordinateChannels: input.coordinateChannels ?? 'auto',
    annotationChannels: input.annotationChannels ?? 'auto',
    keepLargestComponent: input.keepLargestComponent ?? true,
    classNames: input.classNames,
    classes: input.classes,
    seed: input.seed ?? 1,
    backend: input.backend ?? 'auto',
  };
  if (settings.iterations === undefined && settings.minutes === undefined) settings.iterations = 1000;
  checkSettings(settings);
  return settings;
}

function positiveInteger(value: number | undefined, what: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new RangeError(`${what} must be a positive integer, not ${value}`);
}

/** Throws a RangeError naming the first bad setting. */
export function checkSettings(s: TrainSettings): void {
  if (s.volumes.length === 0) throw new RangeError('no training volumes: give at least one image with its label file');
  if (!s.outDir) throw new RangeError('no run folder given');
  positiveInteger(s.iterations, 'iterations');
  if (s.minutes !== undefined && !(s.minutes > 0 && Number.isFinite(s.minutes))) throw new RangeError(`minutes must be a positive number, not ${s.minutes}`);
  positiveInteger(s.patchVoxels, 'patch voxels');
  positiveInteger(s.batchSize, 'batch size');
  positiveInteger(s.validateEvery, 'validate every');
  positiveInteger(s.maxValidationSlices, 'max validation slices');
  positiveInteger(s.classes, 'classes');
  if (!(Number.isInteger(s.batchNormCalibration) && s.batchNormCalibration >= 0)) throw new RangeError(`batch-norm calibration must be an integer ≥ 0, not ${s.batchNormCalibration}`);
  if (!(Number.isInteger(s.patience) && s.patience >= 0)) throw new RangeError(`patience must be an integer ≥ 0, not ${s.patience}`);
  if (s.patchSize) s.patchSize.forEach((n) => positiveInteger(n, 'patch size'));
  if (s.logitAdjustment !== 'auto' && !(s.logitAdjustment >= 0 && s.logitAdjustment <= 1)) throw new RangeError(`the logit adjustment must be in [0, 1], not ${s.logitAdjustment}`);
  if (s.annotationChannels !== 'auto' && typeof s.annotationChannels !== 'boolean') throw new RangeError(`annotation channels must be true, false or 'auto', not ${String(s.annotationChannels)}`);
  if (!isLossSetting(s.loss)) throw new RangeError(`the loss must be 'auto', 'ce' or 'ce+dice', not '${String(s.loss)}'`);
  if (!(s.foregroundFraction >= 0 && s.foregroundFraction <= 1)) throw new RangeError(`the foreground fraction must be in [0, 1], not ${s.foregroundFraction}`);
  if (!(s.schedule.initial > 0)) throw new RangeError(`the learning rate must be positive, not ${s.schedule.initial}`);
  if (!['constant', 'poly', 'cosine'].includes(s.schedule.kind)) throw new RangeError(`unknown learning-rate schedule "${s.schedule.kind}"`);
  if (!['sgd', 'adam'].includes(s.optimizer.kind)) throw new RangeError(`unknown optimizer "${s.optimizer.kind}"`);
  if ('folds' in s.validation) {
    const { fold, folds } = s.validation;
    if (!(Number.isInteger(folds) && folds >= 2)) throw new RangeError(`folds must be an integer ≥ 2, not ${folds}`);
    if (!(Number.isInteger(fold) && fold >= 0 && fold < folds)) throw new RangeError(`fold must be 0..${folds - 1}, not ${fold}`);
  } else if (!(s.validation.fraction >= 0 && s.validation.fraction < 1)) {
    throw new RangeError(`the validation fraction must be in [0, 1), not ${s.validation.fraction}`);
  }
}

/**
 * An output patch size (x, y, z) of about `voxels` voxels, no larger than the volume (rounded up
 * to `multiple`), each side a multiple of `multiple` (2^(levels−1) for a 'same' network, so every
 * pooling divides it). The sides go as (finest spacing / spacing)^1.5: equal on an isotropic
 * grid, and across thick slices fewer voxels than an isotropic extent in millimetres would give,
 * because the context that tells structures apart lies mostly in the slice plane (on the spleen
 * CT, 0.8 × 0.8 × 5 mm, 128×128×8 learned far better than 96×96×16 or smaller patches).
 */
export function choosePatchSize(dims: Vec3, spacing: Vec3, voxels: number, multiple: number): Vec3 {
  const finest = Math.min(...spacing);
  const shape = spacing.map((s) => Math.pow(finest / s, 1.5));
  const cap = dims.map((n) => Math.max(multiple, Math.ceil(n / multiple) * multiple));
  const size = [0, 0, 0];
  const free = new Set([0, 1, 2]);
  let budget = voxels;
  // Axes that reach their cap are fixed there and the others share the rest of the budget.
  for (let round = 0; round < 3; round++) {
    const axes = [...free];
    const c = Math.pow(budget / axes.reduce((p, a) => p * shape[a], 1), 1 / axes.length);
    let capped = false;
    for (const a of axes) {
      const want = c * shape[a];
      if (want >= cap[a]) {
        size[a] = cap[a];
        free.delete(a);
        budget /= cap[a];
        capped = true;
      } else size[a] = want;
    }
    if (!capped) break;
  }
  return size.map((s, a) => Math.min(cap[a], Math.max(multiple, Math.round(s / multiple) * multiple))) as Vec3;
}
