/**
 * The training options that every command which trains takes (`unet3d train` and `unet3d
 * crossval`): their parseArgs spec, usage lines, and the
 * conversion into the engine's TrainSettingsInput (everything but volumes, run folder and
 * validation split, which each command decides).
 */
import { BACKEND_ORDER, isBackendName } from '../protocol/backends';
import { isPresetName, PRESETS } from '../protocol/network';
import { AUTO_UNWEIGHTED_SHARE, DEFAULT_LEARNING_RATE, DEFAULT_NORMALIZATION, isLossSetting, TRAIN_DEFAULTS as D, type ClassWeighting, type TrainSettingsInput } from '../protocol/settings';
import * as path from 'node:path';
import { parseNumber, parseTriple } from './args';
import { UsageError } from './command';

/** The parseArgs spec of the training options. */
export const TRAIN_OPTIONS = {
  preset: { type: 'string' },
  levels: { type: 'string' },
  'base-filters': { type: 'string' },
  padding: { type: 'string' },
  patch: { type: 'string' },
  'patch-voxels': { type: 'string' },
  batch: { type: 'string' },
  iterations: { type: 'string' },
  minutes: { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  schedule: { type: 'string' },
  warmup: { type: 'string' },
  'class-weights': { type: 'string' },
  loss: { type: 'string' },
  'foreground-fraction': { type: 'string' },
  'logit-adjustment': { type: 'string' },
  augment: { type: 'boolean' },
  'no-augment': { type: 'boolean' },
  'no-deform': { type: 'boolean' },
  flips: { type: 'boolean' },
  coordinates: { type: 'boolean' },
  'no-coordinates': { type: 'boolean' },
  'no-position-skip': { type: 'boolean' },
  annotations: { type: 'boolean' },
  'no-annotations': { type: 'boolean' },
  'no-annotation-residual': { type: 'boolean' },
  'all-components': { type: 'boolean' },
  percentiles: { type: 'string' },
  'bn-calibration': { type: 'string' },
  backend: { type: 'string' },
  seed: { type: 'string' },
  init: { type: 'string' },
} as const;

/** The presets and backends as the help lists them. */
export const PRESET_LIST = Object.keys(PRESETS).join(', ');
export const BACKEND_LIST = ['auto', ...BACKEND_ORDER].join(' | ');

export const TRAIN_OPTIONS_USAGE = `  --preset P            network preset: ${PRESET_LIST} (default ${D.preset})
  --levels L            resolution levels (changes the preset)
  --base-filters F      filters of the first level, doubling per level
  --padding P           valid | same
  --patch X,Y,Z         output patch size in voxels (default: chosen from the spacing)
  --patch-voxels N      voxels of the chosen patch (default ${D.patchVoxels}, e.g. 128×128×8 on thick slices)
  --batch N             patches per step (default ${D.batchSize})
  --iterations N        steps per training (default ${D.iterations} unless --minutes is given)
  --minutes M           minutes per training (with --iterations: whichever comes first)
  --optimizer O         adam (default) | sgd (momentum 0.99, Nesterov: the paper's)
  --lr R                peak learning rate (default ${DEFAULT_LEARNING_RATE.adam} for adam, ${DEFAULT_LEARNING_RATE.sgd} for sgd)
  --schedule S          poly | cosine | constant (default ${D.scheduleKind})
  --warmup F            share of the budget over which the learning rate ramps up from 0 (default ${D.warmup})
  --class-weights W     auto (default: none; when a class has under ${AUTO_UNWEIGHTED_SHARE * 100} % of the labeled voxels, sqrt with one
                        foreground class, balanced with several) | sqrt | balanced | none |
                        comma-separated weights, background first
  --loss L              auto (default: ce+dice with several foreground classes, else ce) | ce (weighted
                        cross-entropy, the paper's) | ce+dice (plus soft Dice over the labeled voxels)
  --foreground-fraction F  share of patches centred on a foreground voxel (default ${D.foregroundFraction})
  --logit-adjustment A  prediction lowers each class's logit by A × log(its class weight), taking back
                        part of the weights' push toward rare classes: 0 to 1 (default: chosen per
                        run among 0, 0.25 … 1 on slices the network was not given; 0 without such)
  --augment             the paper's augmentation: elastic deformation, rotation, scaling, gray values
                        (default: none, which learned faster in a budget of minutes)
  --no-deform           with --augment: without the elastic deformation
  --flips               add random flips
  --no-augment          no augmentation (the default)
  --percentiles LO,HI   clip intensities at these percentiles before standardizing (default ${DEFAULT_NORMALIZATION.lowPercentile},${DEFAULT_NORMALIZATION.highPercentile};
                        a fill value such as CT padding is left out)
  --coordinates         give the network 3 more input channels: each voxel's position (mm from the
                        centre); default: only with several foreground classes
  --no-coordinates      never give the coordinate channels
  --no-position-skip    with coordinates: only the first layer reads them (default: every synthesis
                        block reads them again)
  --annotations         annotation channels: the network also reads, for every voxel, the class of the
                        nearest annotated voxel and how near it is (trained leaving slices out);
                        segmenting then needs the volume's labels. Default: with one training volume
                        and several foreground classes
  --no-annotations      never give the annotation channels
  --no-annotation-residual  with annotations: only the first layer reads them (default: a learned trust
                        map also adds the nearest annotation's class to the logits)
  --all-components      keep every predicted island (default: a class drawn as one object keeps
                        only its largest 3D component)
  --bn-calibration N    batch-norm statistics re-estimated over N plain patches before saving (default ${D.batchNormCalibration})
  --backend B           ${BACKEND_LIST} (default auto)
  --seed S              random seed (default ${D.seed})
  --init RUN_DIR        warm start: begin from that run's network (its best checkpoint, else its last)
                        instead of random weights; same network, channels and classes (or classes added)`;

type Values = { [K in keyof typeof TRAIN_OPTIONS]?: (typeof TRAIN_OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

function integer(text: string | undefined, what: string, min = 1): number | undefined {
  const n = parseNumber(text, what, min);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${what} must be an integer, not "${text}"`);
  return n;
}

/** The training settings the options ask for (undefined fields left out, so the engine's defaults apply). */
export function trainInputFromOptions(values: Values): Omit<TrainSettingsInput, 'volumes' | 'outDir'> {
  const input: Omit<TrainSettingsInput, 'volumes' | 'outDir'> = { network: {} };
  if (values.preset !== undefined) {
    if (!isPresetName(values.preset)) throw new UsageError(`unknown preset "${values.preset}" (${PRESET_LIST})`);
    input.network!.preset = values.preset;
  }
  const levels = integer(values.levels, '--levels');
  if (levels !== undefined) input.network!.levels = levels;
  const base = integer(values['base-filters'], '--base-filters');
  if (base !== undefined) input.network!.baseFilters = base;
  if (values.padding !== undefined) {
    if (values.padding !== 'valid' && values.padding !== 'same') throw new UsageError(`--padding must be valid or same, not "${values.padding}"`);
    input.network!.padding = values.padding;
  }
  if (values.patch !== undefined) input.patchSize = parseTriple(values.patch, '--patch');
  input.patchVoxels = integer(values['patch-voxels'], '--patch-voxels');
  input.batchSize = integer(values.batch, '--batch');
  input.iterations = integer(values.iterations, '--iterations');
  input.minutes = parseNumber(values.minutes, '--minutes', 0.01);
  if (values.optimizer !== undefined) {
    if (values.optimizer !== 'sgd' && values.optimizer !== 'adam') throw new UsageError(`--optimizer must be sgd or adam, not "${values.optimizer}"`);
    input.optimizer = { kind: values.optimizer };
  }
  const lr = parseNumber(values.lr, '--lr', 1e-8, 10);
  const schedule = values.schedule;
  if (schedule !== undefined && schedule !== 'poly' && schedule !== 'cosine' && schedule !== 'constant') {
    throw new UsageError(`--schedule must be poly, cosine or constant, not "${schedule}"`);
  }
  input.schedule = {};
  if (lr !== undefined) input.schedule.initial = lr;
  if (schedule !== undefined) input.schedule.kind = schedule;
  const warmup = parseNumber(values.warmup, '--warmup', 0, 0.99);
  if (warmup !== undefined) input.schedule.warmup = warmup;
  if (values['class-weights'] !== undefined) {
    const w = values['class-weights'];
    if (w === 'sqrt' || w === 'balanced' || w === 'none') input.classWeighting = w satisfies ClassWeighting;
    else {
      const weights = w.split(',').map((t) => Number(t.trim()));
      if (weights.some((x) => !Number.isFinite(x) || x < 0)) throw new UsageError(`--class-weights must be sqrt, balanced, none or non-negative numbers, not "${w}"`);
      input.classWeighting = weights;
    }
  }
  if (values.loss !== undefined) {
    if (!isLossSetting(values.loss)) throw new UsageError(`--loss must be auto, ce or ce+dice, not "${values.loss}"`);
    input.loss = values.loss;
  }
  input.foregroundFraction = parseNumber(values['foreground-fraction'], '--foreground-fraction', 0, 1);
  input.logitAdjustment = parseNumber(values['logit-adjustment'], '--logit-adjustment', 0, 1);
  if (values.augment && values['no-augment']) throw new UsageError('--augment and --no-augment contradict each other');
  // Training augments nothing unless asked (see TRAINING_AUGMENTATION); --augment turns on the paper's.
  const on = !!values.augment;
  input.augmentation = { deformation: { enabled: on && !values['no-deform'] }, rotation: { enabled: on }, scaling: { enabled: on }, grayValue: { enabled: on }, flips: { enabled: !!values.flips } };
  if (values.coordinates && values['no-coordinates']) throw new UsageError('--coordinates and --no-coordinates contradict each other');
  if (values.coordinates) input.coordinateChannels = true;
  if (values['no-coordinates']) input.coordinateChannels = false;
  if (values['no-position-skip']) input.network!.positionSkip = false;
  if (values.annotations && values['no-annotations']) throw new UsageError('--annotations and --no-annotations contradict each other');
  if (values.annotations) input.annotationChannels = true;
  if (values['no-annotations']) input.annotationChannels = false;
  if (values['no-annotation-residual']) input.network!.annotationResidual = false;
  if (values['all-components']) input.keepLargestComponent = false;
  if (values.percentiles !== undefined) {
    const [low, high] = values.percentiles.split(',').map((t) => Number(t.trim()));
    if (!(low >= 0 && high <= 100 && low < high)) throw new UsageError(`--percentiles must be LOW,HIGH with 0 ≤ LOW < HIGH ≤ 100, not "${values.percentiles}"`);
    input.normalization = { lowPercentile: low, highPercentile: high };
  }
  input.batchNormCalibration = integer(values['bn-calibration'], '--bn-calibration', 0);
  if (values.backend !== undefined && values.backend !== 'auto') {
    if (!isBackendName(values.backend)) throw new UsageError(`unknown backend "${values.backend}" (${BACKEND_LIST})`);
    input.backend = values.backend;
  }
  input.seed = integer(values.seed, '--seed', 0);
  if (values.init !== undefined) {
    if (!values.init) throw new UsageError('--init needs a run folder');
    input.init = path.resolve(values.init);
  }
  for (const key of Object.keys(input) as (keyof typeof input)[]) if (input[key] === undefined) delete input[key];
  return input;
}
