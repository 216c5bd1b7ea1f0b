/**
 * The paper's two experiments with the real 3D U-Net (trained with runTraining, predicted tile by
 * tile with predictVolume), scored the way ../shared/QUALITY.md scores the baselines:
 *
 * - Semi-automated (§4.1), one volume: the U-Net is a Densifier for evaluateDensifier, so its
 *   figures compare directly with `unet3d baselines`. From full manual labels the protocol's
 *   sparse labels are made (per axis, the slices with foreground nearest the quarter, middle and
 *   three-quarter points; every other voxel unlabeled): slice IoU by slice-wise k-fold (train on
 *   k−1 folds, score the held-out slices less the lines where they cross a training slice) and
 *   dense IoU (train on every annotated slice, score every voxel on none). From a user's sparse
 *   labels (a label file with unlabeled voxels), the annotated slices are found in it and only the
 *   slice k-fold can be scored (there is no truth off the slices).
 * - Fully-automated (§4.2), several volumes: train on some, segment the others, IoU per volume
 *   against its labels; either given test volumes, or a k-fold rotation over the volumes (the
 *   paper's 3-fold: train on two, segment the third).
 *
 * No validation split: every annotated voxel a fold may use is trained on, for a fixed number of
 * iterations or minutes, and the last checkpoint predicts (held-out data never steers training).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateDensifier, foregroundLabels, type DenseIoU, type DensifyInput, type SliceIoU } from './densifyEvaluation';
import type { Vec3, Mat4 } from '../core/geometry';
import { readLabelsAs, type ConvertedLabels, type LabelConvention } from '../core/labelConvention';
import { makeFolders } from '../core/folders';
import { writeLabelMapNifti } from '../core/labelMapIO';
import { defaultClassColor } from '../core/labels';
import { writeFilesAtomic } from '../core/atomicWrite';
import { encodeSegmentationFiles } from '../core/segmentationFiles';
import { scoreLabels, type ClassScore } from '../core/metrics';
import { readVolumeFile } from '../core/readVolume';
import { annotatedFraction, chooseAnnotatedSlices, sparseLabels, type AnnotatedSlice } from '../core/sparseLabels';
import type { Volume } from '../core/volume';
import { gridMismatch } from '../core/volumeFiles';
import type { ClassInfo, RunSummary, TrainEvent } from '../protocol/training';
import { computeNormalization } from '../engine/normalize';
import { loadRun, predictVolume, runPredictOptions } from '../engine/predict';
import type { TileProgress } from '../protocol/segment';
import type { PredictionTiling } from '../engine/predictionPlan';
import { trainSettings, type TrainSettings, type TrainSettingsInput } from '../protocol/settings';
import { findAnnotatedSlices } from '../core/sparseSplit';
import { runTraining } from '../engine/train';

/** The training settings of every run of an experiment: all but the volumes, run folder and validation split. */
export type TrainingInput = Omit<TrainSettingsInput, 'volumes' | 'outDir' | 'validation'>;

/** An image and its label file on the same grid. */
export interface VolumePair {
  image: string;
  labels: string;
}

/** One training of an experiment and how it went. */
export interface RunOutcome {
  /** 'fold 1', 'dense', ... */
  label: string;
  runDir: string;
  backend?: string;
  iterations: number;
  stopReason: RunSummary['stopReason'];
  trainSeconds: number;
  predictSeconds: number;
  /**
   * CPU seconds of this process (every thread) while training: on a busy machine the wall time
   * says little, and on an idle one a training takes at most this long (and at least this over
   * the thread count).
   */
  trainCpuSeconds: number;
}

export interface CrossvalHooks {
  /** Each training's events, with the run's label. */
  onTrainEvent?(label: string, event: TrainEvent): void;
  /** Each prediction's tiles. */
  onPredictProgress?(label: string, progress: TileProgress): void;
  /** A run finished (trained and predicted). */
  onRunDone?(outcome: RunOutcome): void;
  /** Stops the current training after its step (or prediction between tiles) with an AbortError. */
  signal?: AbortSignal;
}

export interface SemiCrossvalOptions {
  image: string;
  labels: string;
  /** How to read the label file (see readLabelsAs); default auto. */
  labelsConvention?: LabelConvention | 'auto';
  /** Folds of the slice-wise cross-validation (default 3). */
  folds?: number;
  /** With full labels: annotated slices per axis, evenly spread over the foreground (default 3: the quarter, middle and three-quarter points). */
  slicesPerAxis?: number;
  /** Score the slice k-fold (default true) and the dense result (default true; full labels only). */
  slice?: boolean;
  dense?: boolean;
  training: TrainingInput;
  tiling?: PredictionTiling;
  /** A folder for the runs and label files (created; kept: the caller removes it if it wants). */
  workDir: string;
}

/** What `unet3d crossval --json` prints for one volume. IoU keys are label values (2 = first foreground class). */
export interface SemiCrossvalResult {
  mode: 'semi';
  image: string;
  labels: string;
  labelsConvention: LabelConvention;
  /** 'full': manual labels of every voxel (the protocol's slices were made from them); 'sparse': a user's annotated slices. */
  labelsKind: 'full' | 'sparse';
  dims: Vec3;
  spacing: Vec3;
  classes: ClassInfo[];
  slices: AnnotatedSlice[];
  annotatedFraction: number;
  folds: number;
  sliceIoU?: SliceIoU;
  denseIoU?: DenseIoU;
  runs: RunOutcome[];
  trainSeconds: number;
  predictSeconds: number;
  /** The settings of the runs (the first run's, without its paths). */
  settings: Omit<TrainSettings, 'volumes' | 'outDir'>;
}

/** The fractions of the foreground range where `n` slices per axis are annotated: (i + 1)/(n + 1). */
export function sliceFractions(n: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`slices per axis must be a positive integer, not ${n}`);
  return Array.from({ length: n }, (_, i) => (i + 1) / (n + 1));
}

/** Class names background first, for label values 1..classes. */
function classNames(names: Record<string, string>, classes: number): string[] {
  return Array.from({ length: classes }, (_, c) => names[String(c + 1)] ?? (c === 0 ? 'background' : `class ${c}`));
}

function maxLabel(data: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < data.length; i++) if (data[i] > max) max = data[i];
  return max;
}

function hasUnlabeled(data: ArrayLike<number>): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] === 0) return true;
  return false;
}

/** CPU seconds (user + system, every thread) this process has used. */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

function slug(label: string): string {
  return label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
}

function stripPaths(settings: TrainSettings): Omit<TrainSettings, 'volumes' | 'outDir'> {
  const { volumes: _volumes, outDir: _outDir, ...rest } = settings;
  return rest;
}

/** Reads labels in the editor's convention and checks they lie on the image's grid. */
export function readLabelsOnGrid(pair: VolumePair, image: Volume, convention: LabelConvention | 'auto'): ConvertedLabels {
  const labels = readLabelsAs(pair.labels, convention);
  const mismatch = gridMismatch(image, labels, path.basename(pair.labels), path.basename(pair.image));
  if (mismatch) throw new RangeError(`${path.basename(pair.labels)} is not on the voxel grid of ${path.basename(pair.image)}: ${mismatch}`);
  return labels;
}

interface TrainAndPredict {
  label: string;
  dir: string;
  /** Training volumes: images with labels in the editor's convention (written to files here). */
  volumes: { image: string; labels: Uint8Array | Uint16Array; dims: Vec3; affine: Mat4 }[];
  classes: number;
  names: string[];
  training: TrainingInput;
}

/** Trains one run on the given labels (written as label files in the editor's convention); returns the summary and the run folder. */
async function trainRun(job: TrainAndPredict, hooks: CrossvalHooks): Promise<{ summary: RunSummary; runDir: string; settings: TrainSettings }> {
  makeFolders(job.dir);
  const volumes = job.volumes.map((v, i) => {
    const labels = path.join(job.dir, `train-${i + 1}.labels.nii.gz`);
    writeLabelMapNifti(labels, { dims: v.dims, affine: v.affine, data: v.labels }, 'unet3d crossval labels: 0 unlabeled');
    return { image: path.resolve(v.image), labels };
  });
  const runDir = path.join(job.dir, 'run');
  const settings = trainSettings({
    ...job.training,
    volumes,
    outDir: runDir,
    validation: { fraction: 0 },
    classes: job.classes,
    classNames: job.names,
  });
  const summary = await runTraining(settings, {
    onEvent: (event) => hooks.onTrainEvent?.(job.label, event),
    shouldStop: () => hooks.signal?.aborted ?? false,
  });
  if (summary.status === 'cancelled') hooks.signal?.throwIfAborted();
  return { summary, runDir, settings };
}

/**
 * Predicts the volume a run was trained on (semi-automated: the run's only volume), with the
 * normalization stored in its run.json; a run with annotation channels reads `sparse`, the
 * labels it trained on.
 */
async function predictTrainingVolume(
  runDir: string,
  label: string,
  image: Volume,
  sparse: Uint8Array | Uint16Array,
  tiling: PredictionTiling | undefined,
  hooks: CrossvalHooks,
): Promise<{ labels: Uint8Array | Uint16Array; seconds: number }> {
  const run = await loadRun(runDir);
  try {
    const stored = run.record.volumes[0]?.normalization;
    if (!stored) throw new Error(`internal: the run in ${runDir} records no normalization`);
    const predicted = await predictVolume(run.net, image, stored, { ...tiling, ...runPredictOptions(run.record, image, sparse), signal: hooks.signal, onProgress: (p) => hooks.onPredictProgress?.(label, p) });
    return { labels: predicted.labels, seconds: predicted.seconds };
  } finally {
    run.net.dispose();
  }
}

/** The semi-automated experiment on one volume (see the module comment). */
export async function semiAutomatedCrossval(options: SemiCrossvalOptions, hooks: CrossvalHooks = {}): Promise<SemiCrossvalResult> {
  const folds = options.folds ?? 3;
  const image = readVolumeFile(options.image, { allFrames: true });
  const truth = readLabelsOnGrid(options, image, options.labelsConvention ?? 'auto');
  const labelsKind = hasUnlabeled(truth.data) ? 'sparse' : 'full';
  const classes = Math.max(2, maxLabel(truth.data));
  if (foregroundLabels(truth.data).length === 0) throw new RangeError(`${path.basename(options.labels)} holds no foreground class (no label ≥ 2 in the editor's convention)`);
  const names = classNames(truth.names, classes);
  let slices: AnnotatedSlice[];
  if (labelsKind === 'full') {
    slices = chooseAnnotatedSlices(truth.data, image.dims, sliceFractions(options.slicesPerAxis ?? 3));
  } else {
    if (options.slicesPerAxis !== undefined) throw new RangeError(`${path.basename(options.labels)} is a sparse label file (it has unlabeled voxels): its own annotated slices are used, so slices per axis does not apply`);
    slices = findAnnotatedSlices(truth.data, image.dims).map(({ axis, index }) => ({ axis, index }));
  }
  const dense = (options.dense ?? true) && labelsKind === 'full';
  const slice = options.slice ?? true;
  if (!dense && !slice) throw new RangeError(labelsKind === 'sparse' ? 'sparse labels have only the slice k-fold to score, and it is switched off' : 'nothing to score: both the slice k-fold and the dense evaluation are off');
  const runs: RunOutcome[] = [];
  let firstSettings: TrainSettings | undefined;
  makeFolders(options.workDir);
  const densify = async (input: DensifyInput): Promise<Uint8Array | Uint16Array> => {
    const label = input.fold === null ? 'dense' : `fold ${input.fold + 1}`;
    const t0 = performance.now();
    const cpu0 = cpuSeconds();
    const { summary, runDir, settings } = await trainRun(
      { label, dir: path.join(options.workDir, slug(label)), volumes: [{ image: options.image, labels: input.sparse, dims: image.dims, affine: image.affine }], classes, names, training: options.training },
      hooks,
    );
    firstSettings ??= settings;
    const trainSeconds = (performance.now() - t0) / 1000;
    const trainCpuSeconds = cpuSeconds() - cpu0;
    const predicted = await predictTrainingVolume(runDir, label, image, input.sparse, options.tiling, hooks);
    const outcome: RunOutcome = { label, runDir, iterations: summary.iterations, stopReason: summary.stopReason, trainSeconds, predictSeconds: predicted.seconds, trainCpuSeconds };
    try {
      outcome.backend = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8')).backend;
    } catch {
      // run.json unreadable: the backend stays unknown
    }
    runs.push(outcome);
    hooks.onRunDone?.(outcome);
    return predicted.labels;
  };
  const evaluation = await evaluateDensifier(truth.data, image.dims, image.spacing, slices, densify, { folds, slice, dense });
  return {
    mode: 'semi',
    image: options.image,
    labels: options.labels,
    labelsConvention: truth.convention,
    labelsKind,
    dims: [...image.dims],
    spacing: [...image.spacing],
    classes: names.map((name, c) => ({ value: c + 1, name })),
    slices,
    annotatedFraction: annotatedFraction(image.dims, slices),
    folds,
    sliceIoU: evaluation.sliceIoU,
    denseIoU: evaluation.denseIoU,
    runs,
    trainSeconds: runs.reduce((s, r) => s + r.trainSeconds, 0),
    predictSeconds: runs.reduce((s, r) => s + r.predictSeconds, 0),
    settings: stripPaths(firstSettings!),
  };
}

export interface FullEvaluationOptions {
  /** Volumes with labels (full or sparse) to train on; with `test` absent, the volumes rotated through the folds. */
  volumes: VolumePair[];
  /** Volumes to segment and score (their labels are the truth); absent: k-fold rotation over `volumes`. */
  test?: VolumePair[];
  /** Folds of the rotation (default: one per volume, i.e. leave one out); 2..volumes. */
  folds?: number;
  labelsConvention?: LabelConvention | 'auto';
  /**
   * Train on sparse labels made from the training volumes' full labels, this many annotated slices
   * per axis (the protocol of the semi-automated experiment; the paper's §4.2 trained on sparsely
   * annotated volumes). Absent: train on the labels as given. The test volumes are always scored
   * against their full labels.
   */
  slicesPerAxis?: number;
  training: TrainingInput;
  tiling?: PredictionTiling;
  /** Runs, label files and the test volumes' segmentations go here (created, kept). */
  workDir: string;
}

/** Scores of one segmented test volume. */
export interface VolumeScore {
  image: string;
  labels: string;
  /** The fold (1-based) whose run segmented it. */
  fold: number;
  /** The segmentation written on the image's grid (0 = background, 1..K−1, with its `.json` sidecar; see segmentationConvention.ts). */
  segmentation: string;
  meanIoU: number | null;
  meanDice: number | null;
  classes: Record<string, ClassScore>;
  voxels: number;
}

/** What `unet3d crossval --json` prints for the fully-automated experiment. */
export interface FullEvaluationResult {
  mode: 'full';
  classes: ClassInfo[];
  folds: { fold: number; train: string[]; test: string[]; run: RunOutcome }[];
  volumes: VolumeScore[];
  /** Means over the test volumes (of each volume's foreground mean, and per class where defined). */
  meanIoU: number | null;
  meanDice: number | null;
  classIoU: Record<string, number | null>;
  trainSeconds: number;
  predictSeconds: number;
  settings: Omit<TrainSettings, 'volumes' | 'outDir'>;
}

/** Deals `n` volumes round-robin into `k` folds: volume i goes to fold i mod k. */
export function volumeFolds(n: number, k: number): number[][] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`folds must be an integer ≥ 2, not ${k}`);
  if (n < k) throw new RangeError(`${n} volume${n === 1 ? '' : 's'} cannot make ${k} folds: give at least ${k} --image/--labels pairs, or --test volumes`);
  const folds: number[][] = Array.from({ length: k }, () => []);
  for (let i = 0; i < n; i++) folds[i % k].push(i);
  return folds;
}

function mean(values: (number | null)[]): number | null {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : null;
}

/** The fully-automated experiment (see the module comment). */
export async function fullyAutomatedEvaluation(options: FullEvaluationOptions, hooks: CrossvalHooks = {}): Promise<FullEvaluationResult> {
  const convention = options.labelsConvention ?? 'auto';
  const all = [...options.volumes, ...(options.test ?? [])];
  if (options.volumes.length === 0) throw new RangeError('no training volumes');
  // The test volumes come without annotations: a network that reads them has nothing to read.
  if (options.training.annotationChannels === true) throw new RangeError('the fully-automated experiment segments volumes that carry no annotations: annotation channels do not apply to it');
  const training: TrainingInput = { ...options.training, annotationChannels: false };
  const loaded = all.map((pair) => {
    const image = readVolumeFile(pair.image, { allFrames: true });
    return { pair, image, labels: readLabelsOnGrid(pair, image, convention) };
  });
  const classes = Math.max(2, ...loaded.map((l) => maxLabel(l.labels.data)));
  const names = classNames(Object.assign({}, ...loaded.map((l) => l.labels.names).reverse()) as Record<string, string>, classes);
  // The labels each volume trains with: as given, or the protocol's sparse slices of them.
  const trainingLabels = loaded.map(({ labels }) =>
    options.slicesPerAxis === undefined ? labels.data : sparseLabels(labels.data, labels.dims, chooseAnnotatedSlices(labels.data, labels.dims, sliceFractions(options.slicesPerAxis))),
  );
  const plan: { train: number[]; test: number[] }[] = options.test
    ? [{ train: options.volumes.map((_, i) => i), test: options.test.map((_, i) => options.volumes.length + i) }]
    : volumeFolds(options.volumes.length, options.folds ?? options.volumes.length).map((test) => ({ test, train: options.volumes.map((_, i) => i).filter((i) => !test.includes(i)) }));
  const allLabels = Array.from({ length: classes }, (_, c) => c + 1);
  const segmentationClasses = names.map((name, c) => ({ value: c + 1, name, color: defaultClassColor(c + 1) }));
  const folds: FullEvaluationResult['folds'] = [];
  const volumes: VolumeScore[] = [];
  let firstSettings: TrainSettings | undefined;
  makeFolders(options.workDir);
  for (let f = 0; f < plan.length; f++) {
    const { train, test } = plan[f];
    const label = `fold ${f + 1}`;
    const dir = path.join(options.workDir, slug(label));
    const t0 = performance.now();
    const cpu0 = cpuSeconds();
    const { summary, runDir, settings } = await trainRun(
      { label, dir, volumes: train.map((i) => ({ image: loaded[i].pair.image, labels: trainingLabels[i], dims: loaded[i].image.dims, affine: loaded[i].image.affine })), classes, names, training },
      hooks,
    );
    firstSettings ??= settings;
    const trainSeconds = (performance.now() - t0) / 1000;
    const trainCpuSeconds = cpuSeconds() - cpu0;
    let predictSeconds = 0;
    // Test volumes are new to the run: each is normalized by its own statistics (as normalizationFor does).
    const run = await loadRun(runDir);
    try {
      for (const i of test) {
        const { pair, image, labels } = loaded[i];
        const predicted = await predictVolume(run.net, image, computeNormalization(image, settings.normalization), {
          ...options.tiling,
          ...runPredictOptions(run.record, image),
          signal: hooks.signal,
          onProgress: (p) => hooks.onPredictProgress?.(`${label}: ${path.basename(pair.image)}`, p),
        });
        predictSeconds += predicted.seconds;
        const segmentation = path.join(dir, `${path.basename(pair.image).replace(/\.(nii\.gz|nii|nrrd|nhdr)$/i, '')}.seg.nii.gz`);
        // Written as Segment writes it: 0 = background, with its sidecar (and a Slicer file for NRRD images).
        const written = encodeSegmentationFiles({ out: segmentation, volumeName: path.basename(pair.image), volume: image, labels: predicted.labels, classes: segmentationClasses, prediction: { run: runDir, fold: f + 1 } });
        await writeFilesAtomic(written.files);
        const scores = scoreLabels(predicted.labels, labels.data, undefined, allLabels);
        volumes.push({ image: pair.image, labels: pair.labels, fold: f + 1, segmentation, meanIoU: scores.meanIoU, meanDice: scores.meanDice, classes: scores.classes, voxels: scores.voxels });
      }
    } finally {
      run.net.dispose();
    }
    const outcome: RunOutcome = { label, runDir, iterations: summary.iterations, stopReason: summary.stopReason, trainSeconds, predictSeconds, trainCpuSeconds, backend: run.record.backend };
    hooks.onRunDone?.(outcome);
    folds.push({ fold: f + 1, train: train.map((i) => loaded[i].pair.image), test: test.map((i) => loaded[i].pair.image), run: outcome });
  }
  const classIoU = Object.fromEntries(allLabels.filter((l) => l >= 2).map((l) => [String(l), mean(volumes.map((v) => v.classes[String(l)]?.iou ?? null))]));
  return {
    mode: 'full',
    classes: names.map((name, c) => ({ value: c + 1, name })),
    folds,
    volumes,
    meanIoU: mean(volumes.map((v) => v.meanIoU)),
    meanDice: mean(volumes.map((v) => v.meanDice)),
    classIoU,
    trainSeconds: folds.reduce((s, f) => s + f.run.trainSeconds, 0),
    predictSeconds: folds.reduce((s, f) => s + f.run.predictSeconds, 0),
    settings: stripPaths(firstSettings!),
  };
}
