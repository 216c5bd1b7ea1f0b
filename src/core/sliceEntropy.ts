/**
 * Where a model is least certain, slice by slice: the entropy of its class probabilities,
 * averaged over each slice along each voxel axis. Suggest Next Slice moves the editor to the
 * most uncertain slice of each axis that carries no labels yet, so the next stroke teaches the
 * model most. Pure (no vscode, no Node): unit-tested.
 */
import type { Vec3 } from './geometry';
import type { LabelArray } from './editDeltas';
import { findAnnotatedSlices } from './sparseSplit';

/** x·log2(x) for the quantized probabilities 0..255 (0·log 0 = 0). */
const X_LOG_X = Float64Array.from({ length: 256 }, (_, v) => (v === 0 ? 0 : v * Math.log2(v)));

/** Mean entropy (bits) of each slice perpendicular to x, y and z. */
export type SliceEntropy = [Float64Array, Float64Array, Float64Array];

/**
 * Mean entropy per slice along each axis, from uint8 class probabilities (`classes` volumes one
 * after another, each dims[0]·dims[1]·dims[2] voxels x fastest, probability × 255). Each voxel's
 * values are renormalized by their sum (rounding makes it differ from 255); a voxel whose values
 * are all 0 counts as uniform (log2 K bits).
 */
export function sliceEntropy(probabilities: Uint8Array, dims: Vec3, classes: number): SliceEntropy {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (!(Number.isInteger(classes) && classes >= 2)) throw new RangeError(`probabilities need at least 2 classes, not ${classes}`);
  if (probabilities.length !== n * classes) throw new RangeError(`${probabilities.length} probability values do not make ${classes} volumes of ${dims.join('×')}`);
  const sums: SliceEntropy = [new Float64Array(nx), new Float64Array(ny), new Float64Array(nz)];
  const uniform = Math.log2(classes);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        let s = 0;
        let sxlogx = 0;
        for (let k = 0, j = i; k < classes; k++, j += n) {
          const v = probabilities[j];
          s += v;
          sxlogx += X_LOG_X[v];
        }
        // H = −Σ p log p with p = v/S: log2 S − Σ v log2 v / S.
        const h = s === 0 ? uniform : Math.max(0, Math.log2(s) - sxlogx / s);
        sums[0][x] += h;
        sums[1][y] += h;
        sums[2][z] += h;
      }
    }
  }
  const perSlice = [ny * nz, nx * nz, nx * ny];
  for (let a = 0; a < 3; a++) for (let s = 0; s < dims[a]; s++) sums[a][s] /= perSlice[a];
  return sums;
}

/**
 * Per axis, the slices that are annotated: the planes that hold the labeled voxels (the engine's
 * findAnnotatedSlices, so a fully labeled slice does not make every slice crossing it count).
 */
export function annotatedSliceSets(labels: LabelArray, dims: Vec3): [Set<number>, Set<number>, Set<number>] {
  const out: [Set<number>, Set<number>, Set<number>] = [new Set(), new Set(), new Set()];
  for (const s of findAnnotatedSlices(labels, dims)) out[s.axis].add(s.index);
  return out;
}

/** A suggested slice: perpendicular to voxel axis `axis` (0 = x, 1 = y, 2 = z), at `index`. */
export interface SuggestedSlice {
  axis: 0 | 1 | 2;
  index: number;
  /** Mean entropy over the slice, bits. */
  entropy: number;
}

/**
 * Per axis, the slice with the highest mean entropy, leaving out `exclude[axis]` (slices
 * already labeled); an axis whose slices are all excluded gives none.
 */
export function mostUncertainSlices(entropy: SliceEntropy, exclude?: readonly ReadonlySet<number>[]): SuggestedSlice[] {
  const out: SuggestedSlice[] = [];
  for (const axis of [0, 1, 2] as const) {
    let best = -1;
    for (let s = 0; s < entropy[axis].length; s++) {
      if (exclude?.[axis]?.has(s)) continue;
      if (best < 0 || entropy[axis][s] > entropy[axis][best]) best = s;
    }
    if (best >= 0) out.push({ axis, index: best, entropy: entropy[axis][best] });
  }
  return out;
}
