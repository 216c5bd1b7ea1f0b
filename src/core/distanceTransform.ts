/**
 * Exact Euclidean distance transform with anisotropic voxel spacing, carrying the index of the
 * nearest feature voxel (a feature transform): Felzenszwalb & Huttenlocher's lower envelope of
 * parabolas, one 1D pass per axis (Theory of Computing 8, 2012). O(voxels), exact in mm.
 */
import type { Vec3 } from './geometry';

/** The result over a dims-sized grid, x fastest. */
export interface FeatureTransform {
  /** Squared distance to the nearest feature voxel, mm² (Infinity where there is no feature at all). */
  distanceSquared: Float64Array;
  /** Voxel index of that nearest feature voxel; −1 where there is none. Ties go to one of them, consistently. */
  nearest: Int32Array;
}

/**
 * One line: d[q] = min_p (pos(q) − pos(p))² + f[p], positions spaced `step` mm apart, carrying
 * `feature[p]` of the minimizing p. v and z are scratch (length n and n + 1).
 */
function transformLine(
  f: Float64Array,
  feature: Int32Array,
  n: number,
  step: number,
  outD: Float64Array,
  outFeature: Int32Array,
  v: Int32Array,
  z: Float64Array,
): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q];
    if (fq === Infinity) continue;
    const pq = q * step;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    // Drop the parabolas the new one hides; z[0] = −∞ stops this at the first.
    let r = v[k];
    let s = (fq + pq * pq - (f[r] + r * step * r * step)) / (2 * (pq - r * step));
    while (s <= z[k]) {
      k--;
      r = v[k];
      s = (fq + pq * pq - (f[r] + r * step * r * step)) / (2 * (pq - r * step));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    outD.fill(Infinity, 0, n);
    outFeature.fill(-1, 0, n);
    return;
  }
  let j = 0;
  for (let q = 0; q < n; q++) {
    const pq = q * step;
    while (z[j + 1] < pq) j++;
    const r = v[j];
    const d = pq - r * step;
    outD[q] = d * d + f[r];
    outFeature[q] = feature[r];
  }
}

/**
 * Feature transform of the voxels where `isFeature` is non-zero, with `spacing` mm between
 * voxel centres along x, y, z.
 */
export function featureTransform(isFeature: ArrayLike<number>, dims: Vec3, spacing: Vec3): FeatureTransform {
  const [nx, ny, nz] = dims;
  const count = nx * ny * nz;
  if (isFeature.length !== count) throw new RangeError(`feature map has ${isFeature.length} voxels, dims ${dims.join('×')} need ${count}`);
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) throw new RangeError(`spacing must be positive, not [${spacing.join(', ')}]`);
  const distanceSquared = new Float64Array(count);
  const nearest = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const feature = isFeature[i] !== 0;
    distanceSquared[i] = feature ? 0 : Infinity;
    nearest[i] = feature ? i : -1;
  }
  const longest = Math.max(nx, ny, nz);
  const f = new Float64Array(longest);
  const feat = new Int32Array(longest);
  const outD = new Float64Array(longest);
  const outFeat = new Int32Array(longest);
  const v = new Int32Array(longest);
  const z = new Float64Array(longest + 1);
  const strides = [1, nx, nx * ny];
  for (let axis = 0; axis < 3; axis++) {
    const n = dims[axis];
    const stride = strides[axis];
    // The two other axes enumerate the lines along `axis`.
    const [a, b] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
    for (let jb = 0; jb < dims[b]; jb++) {
      for (let ja = 0; ja < dims[a]; ja++) {
        const base = ja * strides[a] + jb * strides[b];
        for (let q = 0, i = base; q < n; q++, i += stride) {
          f[q] = distanceSquared[i];
          feat[q] = nearest[i];
        }
        transformLine(f, feat, n, spacing[axis], outD, outFeat, v, z);
        for (let q = 0, i = base; q < n; q++, i += stride) {
          distanceSquared[i] = outD[q];
          nearest[i] = outFeat[q];
        }
      }
    }
  }
  return { distanceSquared, nearest };
}
