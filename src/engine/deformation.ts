/**
 * The paper's smooth dense deformation: random displacement vectors on a coarse grid of control
 * points, interpolated to every voxel of a patch by a cubic B-spline (C² smooth).
 */
import type { Vec3 } from '../core/geometry';
import type { Random } from '../core/random';

/**
 * A displacement field over a patch, in voxels of the volume.
 * `data[(x + px*(y + py*z)) * 3 + a]` is the displacement along axis a (0 = x, 1 = y, 2 = z).
 */
export interface DisplacementField {
  /** The patch size along x, y, z. */
  size: Vec3;
  data: Float32Array;
}

/** Cubic B-spline weights of the four control points around fractional position t ∈ [0, 1). */
function bsplineWeights(t: number): [number, number, number, number] {
  const t2 = t * t;
  const t3 = t2 * t;
  const s = 1 - t;
  return [(s * s * s) / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6, t3 / 6];
}

/** Number of control points along an axis of `size` voxels with control spacing `spacing`. */
export function controlPointCount(size: number, spacing: number): number {
  return Math.floor((size - 1) / spacing) + 4;
}

/**
 * Interpolates control values (nc[0]×nc[1]×nc[2], x fastest) to every voxel of `size`, one axis
 * at a time (the B-spline is a tensor product). Control point i sits at voxel (i − 1)·spacing.
 */
export function bsplineUpsample(control: Float32Array, nc: Vec3, size: Vec3, spacing: Vec3): Float32Array {
  let src = control;
  let dims: Vec3 = [...nc];
  for (let axis = 0; axis < 3; axis++) {
    const n = size[axis];
    const index = new Int32Array(n);
    const weights = new Float32Array(n * 4);
    for (let q = 0; q < n; q++) {
      const u = q / spacing[axis];
      const i0 = Math.floor(u);
      index[q] = i0; // control points i0 .. i0+3 (array index; point i0+1 is at or before q)
      weights.set(bsplineWeights(u - i0), q * 4);
    }
    const outDims: Vec3 = [...dims];
    outDims[axis] = n;
    const out = new Float32Array(outDims[0] * outDims[1] * outDims[2]);
    const strideIn = axis === 0 ? 1 : axis === 1 ? dims[0] : dims[0] * dims[1];
    const strideOut = axis === 0 ? 1 : axis === 1 ? outDims[0] : outDims[0] * outDims[1];
    // Iterate over every line along `axis`.
    const [a, b] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
    for (let j = 0; j < outDims[b]; j++) {
      for (let i = 0; i < outDims[a]; i++) {
        const coords = [0, 0, 0];
        coords[a] = i;
        coords[b] = j;
        const baseIn = coords[0] + dims[0] * (coords[1] + dims[1] * coords[2]);
        const baseOut = coords[0] + outDims[0] * (coords[1] + outDims[1] * coords[2]);
        for (let q = 0; q < n; q++) {
          const p = baseIn + index[q] * strideIn;
          const w = q * 4;
          out[baseOut + q * strideOut] =
            weights[w] * src[p] + weights[w + 1] * src[p + strideIn] + weights[w + 2] * src[p + 2 * strideIn] + weights[w + 3] * src[p + 3 * strideIn];
        }
      }
    }
    src = out;
    dims = outDims;
  }
  return src;
}

/**
 * A random smooth displacement field over a patch of `size` voxels: control points every
 * `gridSpacing` voxels (per axis), each displaced by a normal draw with standard deviation
 * `sigma` voxels (per axis), B-spline interpolated.
 */
export function randomDisplacementField(size: Vec3, gridSpacing: Vec3, sigma: Vec3, rng: Random): DisplacementField {
  const spacing: Vec3 = [0, 1, 2].map((a) => Math.max(1, gridSpacing[a])) as Vec3;
  const nc: Vec3 = [0, 1, 2].map((a) => controlPointCount(size[a], spacing[a])) as Vec3;
  const controls = nc[0] * nc[1] * nc[2];
  const voxels = size[0] * size[1] * size[2];
  const data = new Float32Array(voxels * 3);
  for (let axis = 0; axis < 3; axis++) {
    const control = new Float32Array(controls);
    if (sigma[axis] > 0) for (let i = 0; i < controls; i++) control[i] = rng.normal() * sigma[axis];
    const dense = bsplineUpsample(control, nc, size, spacing);
    for (let i = 0; i < voxels; i++) data[i * 3 + axis] = dense[i];
  }
  return { size: [...size], data };
}
