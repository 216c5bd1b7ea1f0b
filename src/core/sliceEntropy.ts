/**
 * Where a model is least certain, slice by slice: the entropy of its class probabilities, over
 * each slice along each voxel axis. Suggest Next Slice moves the editor to the slice of each axis
 * that carries no labels yet where uncertainty can teach most: near what the model predicts as
 * foreground (uncertainty in far background, at the scanner's field-of-view edge or in padding,
 * teaches nothing about the object) and away from the volume's rim. Pure (no vscode, no Node):
 * unit-tested.
 */
import type { Vec3 } from './geometry';
import type { PlaneName } from './planes';
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

/** A suggested slice: perpendicular to voxel axis `axis` (0 = x, 1 = y, 2 = z), at `index` (from 0). */
export interface SuggestedSlice {
  axis: 0 | 1 | 2;
  index: number;
  /** Mean entropy over the slice (or, from teachingScores, over its voxels near the predicted foreground), bits. */
  entropy: number;
}

/** Per slice of each axis: how much there is to teach (a sum of entropies, bits) and the mean entropy behind it. */
export interface SliceScores {
  score: SliceEntropy;
  entropy: SliceEntropy;
  /** False when the model predicts no foreground at all: the scores then cover everything but the rim. */
  foreground: boolean;
}

/** Where uncertainty counts: within `marginMm` of the predicted foreground, and at least `rimFraction` of each axis from its faces. */
export interface TeachingOptions {
  /** Default 10 mm. */
  marginMm?: number;
  /** Default 0.05: 5 % of each axis (at least one voxel) at either end is the rim. */
  rimFraction?: number;
}

/** Voxels at either end of an axis of `n` voxels that form the rim. */
export function rimWidth(n: number, fraction = 0.05): number {
  return Math.min(Math.floor((n - 1) / 2), Math.max(1, Math.round(n * fraction)));
}

/** Marks every voxel within `radius[a]` voxels of a marked one along each axis (a box), in place; `scratch` as large as `mask`. */
function dilateBox(mask: Uint8Array, scratch: Uint8Array, dims: Vec3, radius: Vec3): void {
  const [nx, ny] = dims;
  const strides = [1, nx, nx * ny];
  let from = mask;
  let to = scratch;
  for (let a = 0; a < 3; a++) {
    const n = dims[a];
    const r = radius[a];
    const stride = strides[a];
    const prefix = new Int32Array(n + 1);
    const [u, v] = [0, 1, 2].filter((b) => b !== a);
    for (let j = 0; j < dims[v]; j++) {
      for (let i = 0; i < dims[u]; i++) {
        const base = i * strides[u] + j * strides[v];
        for (let t = 0; t < n; t++) prefix[t + 1] = prefix[t] + from[base + t * stride];
        for (let t = 0; t < n; t++) to[base + t * stride] = prefix[Math.min(n, t + r + 1)] - prefix[Math.max(0, t - r)] > 0 ? 1 : 0;
      }
    }
    [from, to] = [to, from];
  }
  // Three passes end in `scratch`: copy back.
  mask.set(from);
}

/**
 * How much each slice can teach: the entropy of the class probabilities summed over the voxels
 * of the slice that lie within `marginMm` of the predicted foreground (argmax not class 1, the
 * background) and off the rim, and their mean. Without any predicted foreground, every voxel
 * off the rim counts. `probabilities` as for sliceEntropy; `spacing` in mm.
 */
export function teachingScores(probabilities: Uint8Array, dims: Vec3, classes: number, spacing: Vec3, options: TeachingOptions = {}): SliceScores {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  if (!(Number.isInteger(classes) && classes >= 2)) throw new RangeError(`probabilities need at least 2 classes, not ${classes}`);
  if (probabilities.length !== n * classes) throw new RangeError(`${probabilities.length} probability values do not make ${classes} volumes of ${dims.join('×')}`);
  const marginMm = options.marginMm ?? 10;
  const rim = dims.map((d) => rimWidth(d, options.rimFraction)) as Vec3;
  // Where the model predicts foreground (a class above background wins), then grown by the margin.
  const near = new Uint8Array(n);
  let foreground = false;
  for (let i = 0; i < n; i++) {
    const background = probabilities[i];
    for (let k = 1, j = i + n; k < classes; k++, j += n) {
      if (probabilities[j] > background) {
        near[i] = 1;
        foreground = true;
        break;
      }
    }
  }
  if (foreground) dilateBox(near, new Uint8Array(n), dims, spacing.map((s) => Math.ceil(marginMm / Math.max(s, 1e-6))) as Vec3);
  else near.fill(1);
  const score: SliceEntropy = [new Float64Array(nx), new Float64Array(ny), new Float64Array(nz)];
  const counts: SliceEntropy = [new Float64Array(nx), new Float64Array(ny), new Float64Array(nz)];
  const uniform = Math.log2(classes);
  const inside = (t: number, a: number) => t >= rim[a] && t < dims[a] - rim[a];
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (!near[i] || !inside(x, 0) || !inside(y, 1) || !inside(z, 2)) continue;
        let sum = 0;
        let sxlogx = 0;
        for (let k = 0, j = i; k < classes; k++, j += n) {
          const v = probabilities[j];
          sum += v;
          sxlogx += X_LOG_X[v];
        }
        const h = sum === 0 ? uniform : Math.max(0, Math.log2(sum) - sxlogx / sum);
        score[0][x] += h;
        score[1][y] += h;
        score[2][z] += h;
        counts[0][x]++;
        counts[1][y]++;
        counts[2][z]++;
      }
    }
  }
  const entropy = score.map((s, a) => s.map((v, t) => (counts[a][t] > 0 ? v / counts[a][t] : 0))) as SliceEntropy;
  return { score, entropy, foreground };
}

/**
 * Per axis, the slice with the highest score (something to teach: above zero), leaving out
 * `exclude[axis]` (slices already labeled); its mean entropy comes with it.
 */
export function bestTeachingSlices(scores: SliceScores, exclude?: readonly ReadonlySet<number>[]): SuggestedSlice[] {
  const out: SuggestedSlice[] = [];
  for (const axis of [0, 1, 2] as const) {
    let best = -1;
    const s = scores.score[axis];
    for (let t = 0; t < s.length; t++) {
      if (exclude?.[axis]?.has(t) || !(s[t] > 0)) continue;
      if (best < 0 || s[t] > s[best]) best = t;
    }
    if (best >= 0) out.push({ axis, index: best, entropy: scores.entropy[axis][best] });
  }
  return out;
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

/**
 * What the editor's status line and the notification say: each plane's slice as its pane numbers
 * it, its mean entropy, and the one to start with.
 */
export function suggestionMessage(slices: readonly (SuggestedSlice & { plane: PlaneName; count: number })[], top: SuggestedSlice & { plane: PlaneName }, foreground: boolean): string {
  const where = foreground ? 'near the predicted foreground' : 'anywhere (no foreground predicted yet)';
  const list = slices.map((s, i) => `${s.plane} ${s.index + 1} of ${s.count} (${s.entropy.toFixed(2)}${i === 0 ? ' bits' : ''})`).join(', ');
  return `Least certain ${where}: ${list}. Start with ${top.plane} ${top.index + 1}.`;
}
