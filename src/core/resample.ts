import { allocateVoxels, dataTypeOf, type VoxelArray } from './datatypes';
import type { Mat4, Vec3 } from './geometry';

/**
 * Resamples voxels onto a grid of `newDims` covering the same field of view (voxel centres
 * mapped corner to corner), trilinearly, in the input's datatype (integers rounded). Returns
 * the voxels and the affine of the new grid.
 */
export function resampleTrilinear(
  data: VoxelArray,
  dims: Vec3,
  affine: Mat4,
  newDims: Vec3,
): { data: VoxelArray; affine: Mat4 } {
  const [nx, ny, nz] = dims;
  const [mx, my, mz] = newDims;
  const out = allocateVoxels(dataTypeOf(data), mx * my * mz);
  const round = !(out instanceof Float32Array || out instanceof Float64Array);
  const scale = [0, 1, 2].map((a) => (newDims[a] > 1 ? (dims[a] - 1) / (newDims[a] - 1) : 0));
  // Precompute per-axis source indices and weights.
  const axis = (n: number, m: number, s: number) => {
    const i0 = new Int32Array(m);
    const w = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const p = i * s;
      const f = Math.min(Math.floor(p), n - 1);
      i0[i] = f;
      w[i] = p - f;
    }
    return { i0, w };
  };
  const X = axis(nx, mx, scale[0]);
  const Y = axis(ny, my, scale[1]);
  const Z = axis(nz, mz, scale[2]);
  const plane = nx * ny;
  let o = 0;
  for (let k = 0; k < mz; k++) {
    const z0 = Z.i0[k];
    const z1 = Math.min(z0 + 1, nz - 1);
    const wz = Z.w[k];
    for (let j = 0; j < my; j++) {
      const y0 = Y.i0[j];
      const y1 = Math.min(y0 + 1, ny - 1);
      const wy = Y.w[j];
      const r00 = z0 * plane + y0 * nx;
      const r01 = z0 * plane + y1 * nx;
      const r10 = z1 * plane + y0 * nx;
      const r11 = z1 * plane + y1 * nx;
      for (let i = 0; i < mx; i++) {
        const x0 = X.i0[i];
        const x1 = Math.min(x0 + 1, nx - 1);
        const wx = X.w[i];
        const c00 = data[r00 + x0] * (1 - wx) + data[r00 + x1] * wx;
        const c01 = data[r01 + x0] * (1 - wx) + data[r01 + x1] * wx;
        const c10 = data[r10 + x0] * (1 - wx) + data[r10 + x1] * wx;
        const c11 = data[r11 + x0] * (1 - wx) + data[r11 + x1] * wx;
        const c0 = c00 * (1 - wy) + c01 * wy;
        const c1 = c10 * (1 - wy) + c11 * wy;
        const v = c0 * (1 - wz) + c1 * wz;
        out[o++] = round ? Math.round(v) : v;
      }
    }
  }
  const newAffine: Mat4 = affine.map((row, r) =>
    r < 3 ? [row[0] * scale[0], row[1] * scale[1], row[2] * scale[2], row[3]] : [...row],
  );
  return { data: out, affine: newAffine };
}
