/**
 * Everything a training run can be told, with the defaults: the one place they live. Pure data
 * and pure functions, part of the engine's contract: the extension host, the CLI and the worker
 * build and check settings with this module, and none of them loads TensorFlow.js through it.
 * The figures behind the defaults are in docs/quality.md.
 */
import type { Vec3 } from '../core/geometry';
import type { LabelConvention } from '../core/segmentationConvention';
import type { BackendChoice } from './backends';
import type { Padding, PresetName } from './network';

// ---- augmentation ----

/** Every augmentation, each one switchable. Distances are voxels at the volume's finest spacing. */
export interface AugmentationSettings {
  /** Smooth dense deformation: control points every `gridSpacing` voxels, displaced with std `sigma` voxels. */
  deformation: { enabled: boolean; gridSpacing: number; sigma: number };
  /**
   * Rotation about each axis, uniform in ±`maxDegrees`, in millimetres. In a plane whose two
   * spacings differ (thick slices) the range shrinks by their ratio, so slices tilt little.
   */
  rotation: { enabled: boolean; maxDegrees: number };
  /** Isotropic zoom, the factor uniform in [min, max]. */
  scaling: { enabled: boolean; min: number; max: number };
  /**
   * Per channel: brightness (added, normal with std `brightness`, in normalized units), contrast
   * (multiplied around the patch mean, uniform in `contrast`), gamma (on the patch's range,
   * uniform in `gamma`).
   */
  grayValue: { enabled: boolean; brightness: number; contrast: [number, number]; gamma: [number, number] };
  /** Mirror along each listed axis (x, y, z) with probability ½. */
  flips: { enabled: boolean; axes: [boolean, boolean, boolean] };
  /** Probability that a patch gets the spatial augmentations at all (the rest are drawn plain). */
  spatialProbability: number;
}

/**
 * The paper's augmentation: smooth dense deformation, rotation, scaling and gray-value changes
 * (`--augment`). Training does without it by default (see TRAINING_AUGMENTATION).
 */
export const DEFAULT_AUGMENTATION: AugmentationSettings = {
  deformation: { enabled: true, gridSpacing: 32, sigma: 4 },
  rotation: { enabled: true, maxDegrees: 15 },
  scaling: { enabled: true, min: 0.85, max: 1.15 },
  grayValue: { enabled: true, brightness: 0.1, contrast: [0.8, 1.2], gamma: [0.8, 1.25] },
  flips: { enabled: false, axes: [true, true, true] },
  spatialProbability: 0.8,
};

/** Augmentation switched off entirely. */
export const NO_AUGMENTATION: AugmentationSettings = {
  deformation: { ...DEFAULT_AUGMENTATION.deformation, enabled: false },
  rotation: { ...DEFAULT_AUGMENTATION.rotation, enabled: false },
  scaling: { ...DEFAULT_AUGMENTATION.scaling, enabled: false },
  grayValue: { ...DEFAULT_AUGMENTATION.grayValue, enabled: false },
  flips: { ...DEFAULT_AUGMENTATION.flips, enabled: false },
  spatialProbability: 0,
};

/**
 * What training uses unless told otherwise: every part off, with the paper's parameters for any
 * part switched on. In a CPU budget of a few hundred steps augmentation slowed learning more than
 * it helped: the network sees each annotated voxel too few times to overfit (docs/quality.md).
 */
export const TRAINING_AUGMENTATION: AugmentationSettings = { ...NO_AUGMENTATION, spatialProbability: DEFAULT_AUGMENTATION.spatialProbability };

/** Settings merged over `base` (each group merged field by field); by default over the paper's. */
export function augmentationSettings(partial: DeepPartial<AugmentationSettings> = {}, base: AugmentationSettings = DEFAULT_AUGMENTATION): AugmentationSettings {
  const d = base;
  return {
    deformation: { ...d.deformation, ...partial.deformation },
    rotation: { ...d.rotation, ...partial.rotation },
    scaling: { ...d.scaling, ...partial.scaling },
    grayValue: { ...d.grayValue, ...partial.grayValue } as AugmentationSettings['grayValue'],
    flips: { ...d.flips, ...partial.flips } as AugmentationSettings['flips'],
    spatialProbability: partial.spatialProbability ?? d.spatialProbability,
  };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

// ---- intensity normalization ----

/** Which percentiles (0–100) clip the intensities before standardization. */
export interface NormalizationSettings {
  lowPercentile: number;
  highPercentile: number;
}

export const DEFAULT_NORMALIZATION: NormalizationSettings = { lowPercentile: 0.5, highPercentile: 99.5 };

// ---- learning rate, loss ----

/** `constant`, `poly` (nnU-Net's (1 − p)^0.9) or `cosine` decay, each after an optional linear warm-up. */
export type ScheduleKind = 'constant' | 'poly' | 'cosine';

export interface LearningRateSchedule {
  kind: ScheduleKind;
  /** The peak learning rate. */
  initial: number;
  /** Fraction of training (0–1) spent ramping up linearly from 0. */
  warmup: number;
  /** The rate at the end, as a fraction of `initial` (poly and cosine). */
  finalFraction: number;
}

/** The share of the labeled voxels below which a class counts as rare for `auto` class weighting. */
export const AUTO_UNWEIGHTED_SHARE = 0.05;

/** How class weights are derived from the labeled voxel counts (see classWeights in the engine's loss). */
export type ClassWeighting = 'auto' | 'balanced' | 'sqrt' | 'none';

/** Which loss training minimises: the paper's weighted cross-entropy, or that plus soft Dice. */
export type LossKind = 'ce' | 'ce+dice';

// ---- optimizer ----

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
 * Adam by default: in a CPU budget of minutes it learned faster than the paper's SGD with
 * momentum 0.99 (docs/quality.md). SGD stays one setting away (`optimizer.kind`).
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

/**
 * A warm-started run's peak learning rate by default, as a share of DEFAULT_LEARNING_RATE: it
 * refines a trained network, which the full rate would first shake (docs/quality.md).
 */
export const WARM_START_LEARNING_RATE_SHARE = 0.5;

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

/** Whether `text` names a loss setting: a LossKind or 'auto'. */
export function isLossSetting(text: unknown): text is LossKind | 'auto' {
  return text === 'auto' || text === 'ce' || text === 'ce+dice';
}

/** How a training's time is counted (TrainSettings.clock). */
export type TrainingClock = 'wall' | 'cpu';

/** Which annotated slices are held out for validation: a fraction of them, or one fold of a k-fold split. */
export type ValidationSplit = { fraction: number } | { fold: number; folds: number };

/** One training volume: an image file and its label file on the same grid. */
export interface VolumeFiles {
  image: string;
  labels: string;
  /**
   * How the label file's values read. Absent: as its `.json` sidecar says, else the editor's
   * sparse labels (0 = unlabeled, 1 = background, 2.. classes). `mask`: a dense segmentation
   * where 0 = background (nnU-Net's and MONAI's masks, `*_seg-manual.nii.gz`), read as value + 1,
   * every voxel labeled.
   */
  labelsConvention?: LabelConvention;
}

/** A training run, every field resolved. Paths are absolute or relative to the process's folder. */
export interface TrainSettings {
  volumes: VolumeFiles[];
  /** The run folder to create (absent or empty). */
  outDir: string;
  /**
   * Warm start: a run folder whose network this run starts from (its best checkpoint, else its
   * last) instead of random weights. It must have the same network, input channels and classes,
   * or fewer classes (a class added since gets a fresh output channel); normalization, class
   * weights and annotation fields are computed anew from this run's labels.
   */
  init?: string;
  /**
   * With `init`: when the parent cannot be used (it differs from this run), train from scratch
   * instead of failing, and record why (run.json `warmStartSkipped`). What the editor's Train does
   * when it picks the parent itself.
   */
  initOptional?: boolean;
  network: NetworkSettings;
  /** Output patch size (x, y, z) in voxels; absent: chosen from the voxel spacing to hold about `patchVoxels` voxels. */
  patchSize?: Vec3;
  patchVoxels: number;
  batchSize: number;
  /** Stop after this many iterations, or after `minutes`, whichever comes first (at least one is set). */
  iterations?: number;
  minutes?: number;
  /**
   * What `minutes` (and the schedule's progress, and the times in run.json) count: the wall clock
   * (the default), or the CPU time of the training process, every thread (`cpu`), which a busy
   * machine inflates far less: benchmarks on a shared machine use it, as a conservative stand-in
   * for the wall time the training would take alone (docs/benchmarks.md).
   */
  clock?: TrainingClock;
  validation: ValidationSplit;
  /**
   * The share (0–1) of the budget spent at the end training on every annotated slice, the
   * held-out ones included (a refit), so that the network the run leaves learns from every slice
   * the user annotated. The held-out IoU the run reports is the one of the network before the
   * refit, which had not seen those slices; run.json records the refit (`refit`). No effect when
   * nothing is held out. 0: no refit (the network used is the one validated).
   */
  refit: number;
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
  /**
   * With `init` (a warm start): the probability that a patch is centred on a labeled voxel of a
   * slice the parent run did not have (a correction), so that it is learned in the few steps a
   * correction gets; such slices are never held out either. No effect without new slices.
   */
  newSliceFraction: number;
  augmentation: AugmentationSettings;
  normalization: NormalizationSettings;
  /**
   * Give the network each voxel's position as three more input channels (see
   * withCoordinateChannels; prediction adds them too). `auto` (the default): with several
   * foreground classes, which may differ only by where they lie (left and right lung, the levels
   * of the spine); not with one, where position let the network memorise the annotated slices
   * (docs/quality.md). Training resolves `auto` to true or false, and run.json records that.
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
  backend: BackendChoice;
}

/** What a caller gives: the volumes and the folder, and whatever it wants to change. */
export type TrainSettingsInput = Pick<TrainSettings, 'volumes' | 'outDir'> &
  Partial<Omit<TrainSettings, 'volumes' | 'outDir' | 'augmentation' | 'optimizer' | 'schedule' | 'network'>> & {
    augmentation?: DeepPartial<AugmentationSettings>;
    optimizer?: Partial<OptimizerSettings>;
    schedule?: Partial<LearningRateSchedule>;
    network?: Partial<NetworkSettings>;
  };

/**
 * The defaults of the settings that have a plain value: the one place they are written. The CLI's
 * help, the extension's settings (package.json, checked by a test) and its quick picks read them.
 */
export const TRAIN_DEFAULTS = {
  preset: 'fast' as PresetName,
  /** Iterations when neither an iteration nor a time budget is given. */
  iterations: 1000,
  /** The time budget the editor offers first (minutes). */
  minutes: 10,
  /** The share of the annotated slices held out for validation. */
  validationFraction: 0.2,
  /** The share of the budget spent on every annotated slice at the end (see TrainSettings.refit). */
  refit: 0.2,
  patchVoxels: 128 * 128 * 8,
  batchSize: 1,
  validateEvery: 50,
  validateAtStart: false,
  patience: 8,
  maxValidationSlices: 9,
  batchNormCalibration: 16,
  foregroundFraction: 0.5,
  newSliceFraction: 0.5,
  keepLargestComponent: true,
  seed: 1,
  scheduleKind: 'poly' as ScheduleKind,
  warmup: 0.02,
  finalFraction: 0.02,
} as const;

/** The defaults filled in, and the settings checked (a RangeError names the bad one). */
export function trainSettings(input: TrainSettingsInput): TrainSettings {
  const d = TRAIN_DEFAULTS;
  const optimizer: OptimizerSettings = { ...DEFAULT_OPTIMIZER, ...input.optimizer };
  const schedule: LearningRateSchedule = {
    kind: d.scheduleKind,
    initial: DEFAULT_LEARNING_RATE[optimizer.kind] * (input.init !== undefined ? WARM_START_LEARNING_RATE_SHARE : 1),
    warmup: d.warmup,
    finalFraction: d.finalFraction,
    ...input.schedule,
  };
  const settings: TrainSettings = {
    volumes: input.volumes.map((v) => ({ ...v })),
    outDir: input.outDir,
    ...(input.init !== undefined ? { init: input.init } : {}),
    ...(input.initOptional !== undefined ? { initOptional: input.initOptional } : {}),
    network: { preset: d.preset, ...input.network },
    patchSize: input.patchSize,
    patchVoxels: input.patchVoxels ?? d.patchVoxels,
    batchSize: input.batchSize ?? d.batchSize,
    iterations: input.iterations,
    minutes: input.minutes,
    ...(input.clock !== undefined ? { clock: input.clock } : {}),
    validation: input.validation ?? { fraction: d.validationFraction },
    refit: input.refit ?? d.refit,
    validateEvery: input.validateEvery ?? d.validateEvery,
    validateAtStart: input.validateAtStart ?? d.validateAtStart,
    patience: input.patience ?? d.patience,
    maxValidationSlices: input.maxValidationSlices ?? d.maxValidationSlices,
    batchNormCalibration: input.batchNormCalibration ?? d.batchNormCalibration,
    optimizer,
    schedule,
    classWeighting: input.classWeighting ?? 'auto',
    loss: input.loss ?? 'auto',
    logitAdjustment: input.logitAdjustment ?? 'auto',
    foregroundFraction: input.foregroundFraction ?? d.foregroundFraction,
    newSliceFraction: input.newSliceFraction ?? d.newSliceFraction,
    augmentation: augmentationSettings(input.augmentation, TRAINING_AUGMENTATION),
    normalization: { ...DEFAULT_NORMALIZATION, ...input.normalization },
    coordinateChannels: input.coordinateChannels ?? 'auto',
    annotationChannels: input.annotationChannels ?? 'auto',
    keepLargestComponent: input.keepLargestComponent ?? d.keepLargestComponent,
    classNames: input.classNames,
    classes: input.classes,
    seed: input.seed ?? d.seed,
    backend: input.backend ?? 'auto',
  };
  if (settings.iterations === undefined && settings.minutes === undefined) settings.iterations = d.iterations;
  checkSettings(settings);
  return settings;
}

function positiveInteger(value: number | undefined, what: string): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1)) throw new RangeError(`${what} must be a positive integer, not ${value}`);
}

/** Throws a RangeError naming the first bad setting. */
export function checkSettings(s: TrainSettings): void {
  if (s.volumes.length === 0) throw new RangeError('no training volumes: give at least one image with its label file');
  for (const v of s.volumes) {
    if (v.labelsConvention !== undefined && v.labelsConvention !== 'labels' && v.labelsConvention !== 'mask') {
      throw new RangeError(`a label file's convention must be 'labels' or 'mask', not '${String(v.labelsConvention)}'`);
    }
  }
  if (!s.outDir) throw new RangeError('no run folder given');
  if (s.init !== undefined && (typeof s.init !== 'string' || s.init === '')) throw new RangeError('init must name a run folder');
  positiveInteger(s.iterations, 'iterations');
  if (s.clock !== undefined && s.clock !== 'wall' && s.clock !== 'cpu') throw new RangeError(`the clock must be 'wall' or 'cpu', not '${String(s.clock)}'`);
  if (s.minutes !== undefined && !(s.minutes > 0 && Number.isFinite(s.minutes))) throw new RangeError(`minutes must be a positive number, not ${s.minutes}`);
  positiveInteger(s.patchVoxels, 'patch voxels');
  positiveInteger(s.batchSize, 'batch size');
  positiveInteger(s.validateEvery, 'validate every');
  positiveInteger(s.maxValidationSlices, 'max validation slices');
  positiveInteger(s.classes, 'classes');
  if (!(Number.isInteger(s.batchNormCalibration) && s.batchNormCalibration >= 0)) throw new RangeError(`batch-norm calibration must be an integer ≥ 0, not ${s.batchNormCalibration}`);
  if (!(Number.isInteger(s.patience) && s.patience >= 0)) throw new RangeError(`patience must be an integer ≥ 0, not ${s.patience}`);
  if (!(s.refit >= 0 && s.refit < 1)) throw new RangeError(`the refit share must be in [0, 1), not ${s.refit}`);
  if (s.patchSize) s.patchSize.forEach((n) => positiveInteger(n, 'patch size'));
  if (s.logitAdjustment !== 'auto' && !(s.logitAdjustment >= 0 && s.logitAdjustment <= 1)) throw new RangeError(`the logit adjustment must be in [0, 1], not ${s.logitAdjustment}`);
  if (s.annotationChannels !== 'auto' && typeof s.annotationChannels !== 'boolean') throw new RangeError(`annotation channels must be true, false or 'auto', not ${String(s.annotationChannels)}`);
  if (!isLossSetting(s.loss)) throw new RangeError(`the loss must be 'auto', 'ce' or 'ce+dice', not '${String(s.loss)}'`);
  if (!(s.newSliceFraction >= 0 && s.newSliceFraction <= 1)) throw new RangeError(`the new-slice fraction must be in [0, 1], not ${s.newSliceFraction}`);
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
