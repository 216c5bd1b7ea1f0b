/**
 * Sparse annotations the way a user makes them, and the masks that score a densifier on them
 * (the protocol of ../shared/QUALITY.md, after the paper's §4.1):
 * - per axis of the voxel array, the slices holding any foreground; of those, the ones nearest
 *   the quarter, middle and three-quarter points of their range are annotated in full
 *   (background included), every other voxel is unlabeled;
 * - slice-wise k-fold: the annotated slices, listed axis by axis, are dealt round-robin into k
 *   folds; a fold is scored on its own slices less the lines where they cross a slice of the
 *   other (training) folds;
 * - dense: a model trained on every annotated slice is scored on every voxel that lies on none.
 *
 * Labels use the editor's convention: 0 = unlabeled, 1 = background, 2.. = the other classes.
 */
import type { Vec3 } from './geometry';
import type { Axis } from './slices';

type Labels = ArrayLike<number>;

/** A fully annotated slice: the plane `index` perpendicular to array axis `axis`. */
export interface AnnotatedSlice {
  axis: Axis;
  index: number;
}

/** The paper-like default: three slices per axis, at the quarter, middle and three-quarter points. */
export const DEFAULT_SLICE_FRACTIONS: readonly number[] = [0.25, 0.5, 0.75];

/**
 * Converts a dense label file that uses 0 for background (a plain mask such as a
 * `*_seg-manual.nii.gz`, or a Slicer segmentation: 0 = no segment) to the editor's convention:
 * value v becomes v + 1, so background = 1 and nothing is unlabeled.
 */
export function maskToLabels(mask: Labels): Uint8Array | Uint16Array {
  let max = 0;
  for (let i = 0; i < mask.length; i++) {
    const v = mask[i];
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`value ${v} at voxel ${i} is not a label (a non-negative integer)`);
    if (v > max) max = v;
  }
  if (max + 1 > 65535) throw new RangeError(`label ${max} does not fit in 16 bits once shifted by one`);
  const out = max + 1 > 255 ? new Uint16Array(mask.length) : new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = mask[i] + 1;
  return out;
}

/** Indices of the slices perpendicular to `axis` that hold a foreground voxel (label ≥ 2). */
export function foregroundSlices(truth: Labels, dims: Vec3, axis: Axis): number[] {
  const [nx, ny, nz] = dims;
  const has = new Uint8Array(dims[axis]);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (truth[i] >= 2) has[axis === 0 ? x : axis === 1 ? y : z] = 1;
      }
    }
  }
  const out: number[] = [];
  has.forEach((h, s) => h && out.push(s));
  return out;
}

/**
 * The protocol's annotated slices, axis by axis (x, then y, then z): per axis, the distinct
 * foreground slices nearest to `fractions` of the range from the first to the last foreground
 * slice (ties go to the lower index). An axis with fewer foreground slices than fractions gives
 * all of them. Throws when the truth holds no foreground.
 */
export function chooseAnnotatedSlices(truth: Labels, dims: Vec3, fractions: readonly number[] = DEFAULT_SLICE_FRACTIONS): AnnotatedSlice[] {
  if (truth.length !== dims[0] * dims[1] * dims[2]) throw new RangeError(`labels have ${truth.length} voxels, dims ${dims.join('×')} need ${dims[0] * dims[1] * dims[2]}`);
  const slices: AnnotatedSlice[] = [];
  for (const axis of [0, 1, 2] as Axis[]) {
    const candidates = foregroundSlices(truth, dims, axis);
    if (candidates.length === 0) throw new RangeError('the labels hold no foreground (no label ≥ 2): there is nothing to annotate');
    const lo = candidates[0];
    const hi = candidates[candidates.length - 1];
    const chosen: number[] = [];
    for (const f of fractions) {
      const target = lo + f * (hi - lo);
      let best = -1;
      for (const s of candidates) {
        if (chosen.includes(s)) continue;
        if (best < 0 || Math.abs(s - target) < Math.abs(best - target)) best = s;
      }
      if (best >= 0) chosen.push(best);
    }
    for (const index of chosen.sort((a, b) => a - b)) slices.push({ axis, index });
  }
  return slices;
}

/** Calls `visit(voxelIndex)` for every voxel of a slice. */
function forEachVoxelOfSlice(dims: Vec3, slice: AnnotatedSlice, visit: (i: number) => void): void {
  const [nx, ny, nz] = dims;
  const { axis, index } = slice;
  if (!Number.isInteger(index) || index < 0 || index >= dims[axis]) throw new RangeError(`slice ${index} is outside 0..${dims[axis] - 1} along axis ${axis}`);
  const plane = nx * ny;
  if (axis === 2) {
    for (let v = 0; v < plane; v++) visit(index * plane + v);
  } else if (axis === 1) {
    for (let z = 0; z < nz; z++) for (let x = 0; x < nx; x++) visit(x + nx * index + plane * z);
  } else {
    for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) visit(index + nx * y + plane * z);
  }
}

/** 1 on every voxel of the given slices, 0 elsewhere. */
export function slicesMask(dims: Vec3, slices: readonly AnnotatedSlice[]): Uint8Array {
  const mask = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const s of slices) forEachVoxelOfSlice(dims, s, (i) => (mask[i] = 1));
  return mask;
}

/** The labels of `truth` on the given slices, 0 (unlabeled) everywhere else. */
export function sparseLabels(truth: Labels, dims: Vec3, slices: readonly AnnotatedSlice[]): Uint8Array | Uint16Array {
  let max = 0;
  for (let i = 0; i < truth.length; i++) if (truth[i] > max) max = truth[i];
  const out = max > 255 ? new Uint16Array(truth.length) : new Uint8Array(truth.length);
  for (const s of slices) forEachVoxelOfSlice(dims, s, (i) => (out[i] = truth[i]));
  return out;
}

/** Deals the slices (in their order, axis by axis) round-robin into k folds: slice n goes to fold n mod k. */
export function sliceFolds(slices: readonly AnnotatedSlice[], k = 3): AnnotatedSlice[][] {
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`folds must be an integer ≥ 2, not ${k}`);
  if (slices.length < k) throw new RangeError(`${slices.length} annotated slices cannot make ${k} folds`);
  const folds: AnnotatedSlice[][] = Array.from({ length: k }, () => []);
  slices.forEach((s, n) => folds[n % k].push(s));
  return folds;
}

/**
 * The voxels that score a fold: on a held-out slice and on no training slice (the lines where
 * a held-out slice crosses a training slice were seen in training).
 */
export function sliceScoringMask(dims: Vec3, heldOut: readonly AnnotatedSlice[], training: readonly AnnotatedSlice[]): Uint8Array {
  const mask = slicesMask(dims, heldOut);
  for (const s of training) forEachVoxelOfSlice(dims, s, (i) => (mask[i] = 0));
  return mask;
}

/** The voxels that score the dense result: those on no annotated slice. */
export function unannotatedMask(dims: Vec3, slices: readonly AnnotatedSlice[]): Uint8Array {
  const mask = slicesMask(dims, slices);
  for (let i = 0; i < mask.length; i++) mask[i] ^= 1;
  return mask;
}

/** One fold of the slice-wise cross-validation. */
export interface SliceFold {
  /** The slices a model learns from (every other fold). */
  training: AnnotatedSlice[];
  heldOut: AnnotatedSlice[];
  /** The truth on the training slices only (0 elsewhere). */
  sparse: Uint8Array | Uint16Array;
  /** 1 where this fold is scored (see sliceScoringMask). */
  mask: Uint8Array;
}

/** The k folds of a set of annotated slices, with their training labels and scoring masks. */
export function crossValidationFolds(truth: Labels, dims: Vec3, slices: readonly AnnotatedSlice[], k = 3): SliceFold[] {
  const folds = sliceFolds(slices, k);
  return folds.map((heldOut, f) => {
    const training = folds.filter((_, g) => g !== f).flat();
    return { training, heldOut, sparse: sparseLabels(truth, dims, training), mask: sliceScoringMask(dims, heldOut, training) };
  });
}

/** Fraction of the volume's voxels that lie on the slices. */
export function annotatedFraction(dims: Vec3, slices: readonly AnnotatedSlice[]): number {
  const mask = slicesMask(dims, slices);
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i];
  return n / mask.length;
}
