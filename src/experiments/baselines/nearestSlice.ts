/** Baseline: every voxel copies the label straight across from the nearest annotated slice. */
import type { Vec3 } from '../../core/geometry';
import type { Axis } from '../../core/slices';
import type { AnnotatedSlice } from '../../core/sparseLabels';

/**
 * Dense labels from fully annotated slices: each voxel takes the label at its perpendicular
 * projection onto the nearest annotated slice, distance in mm (|offset| × spacing along the
 * slice's axis). By default slices of every axis compete; `axes` restricts the propagation to
 * the slices of those axes (one axis: plain slice-to-slice propagation along it). Ties go to the
 * lower axis, then the lower slice index.
 */
export function nearestSliceLabels(
  sparse: Uint8Array | Uint16Array,
  dims: Vec3,
  spacing: Vec3,
  allSlices: readonly AnnotatedSlice[],
  axes: readonly Axis[] = [0, 1, 2],
): Uint8Array | Uint16Array {
  const [nx, ny, nz] = dims;
  const slices = allSlices.filter((s) => axes.includes(s.axis));
  if (slices.length === 0) throw new RangeError(`no annotated slice across axis ${axes.join(', ')} to copy from`);
  // Per axis and coordinate: the nearest annotated slice on that axis and its distance in mm.
  const nearest = [0, 1, 2].map((axis) => {
    const on = slices.filter((s) => s.axis === axis).map((s) => s.index).sort((a, b) => a - b);
    const index = new Int32Array(dims[axis]).fill(-1);
    const distance = new Float64Array(dims[axis]).fill(Infinity);
    for (let c = 0; c < dims[axis]; c++) {
      for (const s of on) {
        const d = Math.abs(c - s) * spacing[axis];
        if (d < distance[c]) {
          distance[c] = d;
          index[c] = s;
        }
      }
    }
    return { index, distance };
  });
  const out = sparse instanceof Uint16Array ? new Uint16Array(sparse.length) : new Uint8Array(sparse.length);
  const plane = nx * ny;
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const dx = nearest[0].distance[x];
        const dy = nearest[1].distance[y];
        const dz = nearest[2].distance[z];
        let from: number;
        if (dx <= dy && dx <= dz) from = nearest[0].index[x] + nx * y + plane * z;
        else if (dy <= dz) from = x + nx * nearest[1].index[y] + plane * z;
        else from = x + nx * y + plane * nearest[2].index[z];
        out[i] = sparse[from];
      }
    }
  }
  return out;
}
