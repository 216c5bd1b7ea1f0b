import type { VoxelArray } from './datatypes';
import type { Vec3 } from './geometry';

/** A voxel array axis: 0 = x, 1 = y, 2 = z. */
export type Axis = 0 | 1 | 2;

/**
 * A 2D slice cut perpendicular to `axis` at `index`. Its columns run along the lower of the
 * two remaining axes and its rows along the higher (for axis 2: columns x, rows y), in array
 * order; display orientation is applied by the viewer.
 */
export interface Slice<T extends VoxelArray = VoxelArray> {
  width: number;
  height: number;
  /** width·height values, row-major. */
  data: T;
  /** The array axes of the columns and the rows. */
  axes: [Axis, Axis];
}

/** The two in-plane axes of a slice perpendicular to `axis`. */
export function sliceAxes(axis: Axis): [Axis, Axis] {
  return axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
}

/**
 * Where voxel `index` (x fastest) lies in the slice across `axis` that holds it, laid out as
 * `extractSlice` lays it out (column + width · row).
 */
export function offsetInSlice(index: number, dims: readonly number[], axis: Axis): number {
  const [nx, ny] = dims;
  const x = index % nx;
  const y = Math.floor(index / nx) % ny;
  const z = Math.floor(index / (nx * ny));
  return axis === 0 ? y + ny * z : axis === 1 ? x + nx * z : x + nx * y;
}

/** Number of slices along `axis`. */
export function sliceCount(dims: Vec3, axis: Axis): number {
  return dims[axis];
}

/** Copies the slice at `index` perpendicular to `axis` out of a volume's voxels. */
export function extractSlice<T extends VoxelArray>(data: T, dims: Vec3, axis: Axis, index: number): Slice<T> {
  if (!Number.isInteger(index) || index < 0 || index >= dims[axis]) {
    throw new RangeError(`slice ${index} is outside 0..${dims[axis] - 1} along axis ${axis}`);
  }
  const [u, v] = sliceAxes(axis);
  const width = dims[u];
  const height = dims[v];
  const Ctor = data.constructor as new (n: number) => T;
  const out = new Ctor(width * height);
  const [nx, ny] = dims;
  const plane = nx * ny;
  if (axis === 2) {
    out.set(data.subarray(index * plane, (index + 1) * plane) as ArrayLike<number>);
  } else if (axis === 1) {
    for (let z = 0; z < height; z++) {
      const src = index * nx + z * plane;
      out.set(data.subarray(src, src + nx) as ArrayLike<number>, z * width);
    }
  } else {
    let o = 0;
    for (let z = 0; z < height; z++) {
      for (let y = 0; y < width; y++) out[o++] = data[index + y * nx + z * plane];
    }
  }
  return { width, height, data: out, axes: [u, v] };
}

/** Writes a slice back into a volume's voxels (the inverse of `extractSlice`). */
export function writeSlice<T extends VoxelArray>(data: T, dims: Vec3, axis: Axis, index: number, slice: ArrayLike<number>): void {
  const [u, v] = sliceAxes(axis);
  const width = dims[u];
  const height = dims[v];
  if (slice.length !== width * height) throw new RangeError(`slice has ${slice.length} values, expected ${width * height}`);
  const [nx, ny] = dims;
  const plane = nx * ny;
  // The same layout as extractSlice: axis 2 x then y; axis 1 x then z; axis 0 y then z.
  if (axis === 2) {
    data.set(slice, index * plane);
  } else if (axis === 1) {
    for (let z = 0, o = 0; z < height; z++) for (let x = 0, at = index * nx + z * plane; x < width; x++) data[at + x] = slice[o++];
  } else {
    for (let z = 0, o = 0; z < height; z++) for (let y = 0, at = index + z * plane; y < width; y++, at += nx) data[at] = slice[o++];
  }
}
