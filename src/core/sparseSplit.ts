/**
 * Finding the annotated slices of a sparse label map and holding some of them out for
 * validation. A slice here is a plane of the voxel array (axis, index) that carries labels.
 */
import type { LabelArray } from './editDeltas';
import type { Vec3 } from './geometry';
import type { Axis } from './slices';
import type { AnnotatedSlice as SlicePlane } from './sparseLabels';

/** One annotated plane: perpendicular to `axis` at `index`, with `voxels` labeled voxels on it. */
export interface AnnotatedSlice extends SlicePlane {
  voxels: number;
}

/**
 * The planes that together hold every labeled voxel, found greedily: repeatedly take the plane
 * with the most labeled voxels not yet covered. Fully painted slices come out as themselves (the
 * lines where they cross are not counted twice); scattered strokes come out as the planes that
 * hold them. Sorted by axis, then index.
 */
export function findAnnotatedSlices(labels: LabelArray, dims: Vec3): AnnotatedSlice[] {
  const [nx, ny, nz] = dims;
  if (labels.length !== nx * ny * nz) throw new RangeError(`labels have ${labels.length} voxels, the grid ${nx * ny * nz}`);
  const offsets = [0, nx, nx + ny];
  const counts = new Int32Array(nx + ny + nz);
  const plane = nx * ny;
  for (let k = 0, i = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let x = 0; x < nx; x++, i++) {
        if (labels[i] === 0) continue;
        counts[x]++;
        counts[nx + j]++;
        counts[nx + ny + k]++;
      }
    }
  }
  const full = counts.slice();
  const covered = new Uint8Array(labels.length);
  const slices: AnnotatedSlice[] = [];
  for (;;) {
    let best = -1;
    for (let s = 0; s < counts.length; s++) if (counts[s] > 0 && (best < 0 || counts[s] > counts[best])) best = s;
    if (best < 0) break;
    const axis: Axis = best < nx ? 0 : best < nx + ny ? 1 : 2;
    const index = best - offsets[axis];
    slices.push({ axis, index, voxels: full[best] });
    // Cover the plane's labeled voxels and take them off the other planes' counts.
    forEachOnPlane(dims, axis, index, (i) => {
      if (labels[i] === 0 || covered[i]) return;
      covered[i] = 1;
      counts[i % nx]--;
      counts[nx + (Math.floor(i / nx) % ny)]--;
      counts[nx + ny + Math.floor(i / plane)]--;
    });
  }
  return slices.sort((a, b) => a.axis - b.axis || a.index - b.index);
}

/** Which annotated slices are held out: a fraction of them, or fold `fold` of a `folds`-fold split. */
export type HoldOut = { fraction: number } | { fold: number; folds: number };

/**
 * The held-out positions in a list of `n` slices (ordered axis by axis). A k-fold split deals the
 * slices round-robin into folds (QUALITY.md); a fraction takes evenly spread positions, so the
 * held-out slices come from every axis. At least one slice always stays for training.
 */
export function heldOutPositions(n: number, holdOut: HoldOut): number[] {
  if ('folds' in holdOut) {
    const { fold, folds } = holdOut;
    if (!Number.isInteger(folds) || folds < 2) throw new RangeError(`folds must be an integer ≥ 2, not ${folds}`);
    if (!Number.isInteger(fold) || fold < 0 || fold >= folds) throw new RangeError(`fold must be 0..${folds - 1}, not ${fold}`);
    if (n < folds) throw new RangeError(`${n} annotated slices cannot be split into ${folds} folds`);
    return Array.from({ length: n }, (_, i) => i).filter((i) => i % folds === fold);
  }
  const { fraction } = holdOut;
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`the validation fraction must be in [0, 1), not ${fraction}`);
  if (fraction === 0) return [];
  if (n < 2) throw new RangeError(`only ${n} annotated slice${n === 1 ? '' : 's'}: none can be held out for validation (use a validation fraction of 0)`);
  const count = Math.min(n - 1, Math.max(1, Math.round(fraction * n)));
  return Array.from({ length: count }, (_, j) => Math.floor(((j + 0.5) * n) / count));
}

/** Training labels and what validation scores, for one volume. */
export interface LabelSplit {
  /** The labels of the training slices only (0 elsewhere). */
  training: LabelArray;
  /**
   * Which held-out slice scores each voxel: 0 = none, s + 1 = `validationSlices[s]`. Labeled
   * voxels on a held-out slice that also lie on a training slice (the crossing lines) are not
   * scored; a voxel on two held-out slices is scored once.
   */
  validationMask: Uint16Array;
  trainingSlices: AnnotatedSlice[];
  validationSlices: AnnotatedSlice[];
}

/** Visits the index of every voxel of the plane perpendicular to `axis` at `index`. */
export function forEachOnPlane(dims: Vec3, axis: Axis, index: number, visit: (i: number) => void): void {
  const [nx, ny] = dims;
  const [ua, va] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  const p = [0, 0, 0];
  p[axis] = index;
  for (let b = 0; b < dims[va]; b++) {
    for (let a = 0; a < dims[ua]; a++) {
      p[ua] = a;
      p[va] = b;
      visit(p[0] + nx * (p[1] + ny * p[2]));
    }
  }
}

/**
 * Splits a sparse label map into training labels and held-out validation slices. With
 * `eligible` (one flag per slice), only the flagged slices may be held out (the split is made
 * among them) and the others always train: a warm-started run never holds out the slices added
 * since its parent.
 */
export function splitLabels(labels: LabelArray, dims: Vec3, holdOut: HoldOut, slices = findAnnotatedSlices(labels, dims), eligible?: readonly boolean[]): LabelSplit {
  const candidates = eligible ? slices.map((_, i) => i).filter((i) => eligible[i]) : slices.map((_, i) => i);
  // Among fewer than two eligible slices (others always train) nothing is held out.
  const none = eligible !== undefined && candidates.length < 2;
  const held = new Set(none ? [] : heldOutPositions(candidates.length, holdOut).map((p) => candidates[p]));
  const trainingSlices = slices.filter((_, i) => !held.has(i));
  const validationSlices = slices.filter((_, i) => held.has(i));
  const Ctor = labels instanceof Uint16Array ? Uint16Array : Uint8Array;
  const training = new Ctor(labels.length);
  for (const s of trainingSlices) {
    forEachOnPlane(dims, s.axis, s.index, (i) => {
      training[i] = labels[i];
    });
  }
  const validationMask = new Uint16Array(labels.length);
  validationSlices.forEach((s, ordinal) => {
    forEachOnPlane(dims, s.axis, s.index, (i) => {
      if (labels[i] !== 0 && training[i] === 0 && validationMask[i] === 0) validationMask[i] = ordinal + 1;
    });
  });
  return { training, validationMask, trainingSlices, validationSlices };
}
