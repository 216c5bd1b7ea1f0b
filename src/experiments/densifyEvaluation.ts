/**
 * Scoring anything that turns sparse annotated slices into a dense segmentation (a baseline,
 * or the 3D U-Net trained on them) by the protocol of ../shared/QUALITY.md: slice IoU by
 * slice-wise k-fold cross-validation, and dense IoU over the voxels that no annotated slice holds.
 */
import type { Vec3 } from '../core/geometry';
import { scoreLabels, type Scores } from '../core/metrics';
import { crossValidationFolds, sparseLabels, unannotatedMask, type AnnotatedSlice } from '../core/sparseLabels';

/** What a densifier gets: sparse labels (0 = unlabeled) that are full on `slices`, none elsewhere. */
export interface DensifyInput {
  sparse: Uint8Array | Uint16Array;
  /** The annotated slices it may learn from. */
  slices: AnnotatedSlice[];
  dims: Vec3;
  /** mm, x, y, z. */
  spacing: Vec3;
  /** The cross-validation fold being held out (0-based), or null when every annotated slice is given. */
  fold: number | null;
}

/** Returns dense labels 1..K on the same grid. */
export type Densifier = (input: DensifyInput) => Promise<Uint8Array | Uint16Array> | Uint8Array | Uint16Array;

/** IoU by label value (foreground labels of the truth), null where undefined. */
export type IoUByClass = Record<string, number | null>;

/** Slice IoU: per fold and class. */
export interface SliceIoU {
  /** Mean over every (fold, foreground class) pair whose IoU is defined (QUALITY.md's figure). */
  meanIoU: number | null;
  /** Per class, the mean over the folds where it is defined. */
  classes: IoUByClass;
  folds: { meanIoU: number | null; classes: IoUByClass; heldOut: AnnotatedSlice[]; voxels: number }[];
}

/** Dense IoU over the unannotated voxels, trained on every annotated slice. */
export interface DenseIoU {
  meanIoU: number | null;
  classes: IoUByClass;
  voxels: number;
}

export interface DensifyEvaluation {
  sliceIoU?: SliceIoU;
  denseIoU?: DenseIoU;
  /** Wall time spent in the densifier, s. */
  seconds: number;
}

export interface DensifyEvaluationOptions {
  /** Folds of the slice-wise cross-validation (default 3). */
  folds?: number;
  /** Run the slice cross-validation (default true). */
  slice?: boolean;
  /** Run the dense evaluation (default true). */
  dense?: boolean;
}

/** The foreground labels (≥ 2) that the truth holds, ascending. */
export function foregroundLabels(truth: ArrayLike<number>): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < truth.length; i++) if (truth[i] >= 2) seen.add(truth[i]);
  return [...seen].sort((a, b) => a - b);
}

function iouByClass(scores: Scores, labels: number[]): IoUByClass {
  return Object.fromEntries(labels.map((l) => [String(l), scores.classes[String(l)]?.iou ?? null]));
}

function mean(values: (number | null)[]): number | null {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : null;
}

/**
 * Dense IoU of a prediction (labels 1..K) against the truth (dense, editor convention), over the
 * voxels on none of `slices`: the mean over the truth's foreground classes, and per class.
 */
export function denseIoU(prediction: ArrayLike<number>, truth: Uint8Array | Uint16Array, dims: Vec3, slices: readonly AnnotatedSlice[]): DenseIoU {
  const labels = foregroundLabels(truth);
  const scores = scoreLabels(prediction, truth, unannotatedMask(dims, slices), [1, ...labels]);
  return { meanIoU: scores.meanIoU, classes: iouByClass(scores, labels), voxels: scores.voxels };
}

/**
 * Scores `densify` on `truth` (editor convention, dense: 1 = background, 2.. classes) with the
 * given annotated slices.
 */
export async function evaluateDensifier(
  truth: Uint8Array | Uint16Array,
  dims: Vec3,
  spacing: Vec3,
  slices: AnnotatedSlice[],
  densify: Densifier,
  options: DensifyEvaluationOptions = {},
): Promise<DensifyEvaluation> {
  const labels = foregroundLabels(truth);
  const allLabels = [1, ...labels];
  let seconds = 0;
  const timed = async (input: DensifyInput) => {
    const t0 = performance.now();
    const out = await densify(input);
    seconds += (performance.now() - t0) / 1000;
    if (out.length !== truth.length) throw new RangeError(`the densifier returned ${out.length} voxels, the volume has ${truth.length}`);
    return out;
  };
  const result: DensifyEvaluation = { seconds: 0 };
  if (options.slice ?? true) {
    const folds = crossValidationFolds(truth, dims, slices, options.folds ?? 3);
    const perFold: SliceIoU['folds'] = [];
    for (let f = 0; f < folds.length; f++) {
      const fold = folds[f];
      const prediction = await timed({ sparse: fold.sparse, slices: fold.training, dims, spacing, fold: f });
      const scores = scoreLabels(prediction, truth, fold.mask, allLabels);
      perFold.push({ meanIoU: scores.meanIoU, classes: iouByClass(scores, labels), heldOut: fold.heldOut, voxels: scores.voxels });
    }
    const classes = Object.fromEntries(labels.map((l) => [String(l), mean(perFold.map((p) => p.classes[String(l)]))]));
    const pairs = perFold.flatMap((p) => Object.values(p.classes));
    result.sliceIoU = { meanIoU: mean(pairs), classes, folds: perFold };
  }
  if (options.dense ?? true) {
    const sparse = sparseLabels(truth, dims, slices);
    const prediction = await timed({ sparse, slices, dims, spacing, fold: null });
    result.denseIoU = denseIoU(prediction, truth, dims, slices);
  }
  result.seconds = seconds;
  return result;
}
