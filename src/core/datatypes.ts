/** Scalar voxel types a volume can hold, named like TypedArrays. */
export type DataType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

/** Voxels in the type they were stored in (never widened to float). */
export type VoxelArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

export const BYTES_PER_VOXEL: Record<DataType, number> = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  float64: 8,
};

/** A typed array of `datatype` over `buffer` (which must be aligned for the type). */
export function typedArrayOf(datatype: DataType, buffer: ArrayBuffer, byteOffset = 0, length?: number): VoxelArray {
  switch (datatype) {
    case 'uint8':
      return new Uint8Array(buffer, byteOffset, length);
    case 'int8':
      return new Int8Array(buffer, byteOffset, length);
    case 'uint16':
      return new Uint16Array(buffer, byteOffset, length);
    case 'int16':
      return new Int16Array(buffer, byteOffset, length);
    case 'uint32':
      return new Uint32Array(buffer, byteOffset, length);
    case 'int32':
      return new Int32Array(buffer, byteOffset, length);
    case 'float32':
      return new Float32Array(buffer, byteOffset, length);
    case 'float64':
      return new Float64Array(buffer, byteOffset, length);
  }
}

/** A zeroed typed array of `datatype` with `length` elements. */
export function allocateVoxels(datatype: DataType, length: number): VoxelArray {
  return typedArrayOf(datatype, new ArrayBuffer(length * BYTES_PER_VOXEL[datatype]));
}

/** The datatype of a typed array. */
export function dataTypeOf(array: VoxelArray): DataType {
  if (array instanceof Uint8Array) return 'uint8';
  if (array instanceof Int8Array) return 'int8';
  if (array instanceof Uint16Array) return 'uint16';
  if (array instanceof Int16Array) return 'int16';
  if (array instanceof Uint32Array) return 'uint32';
  if (array instanceof Int32Array) return 'int32';
  if (array instanceof Float32Array) return 'float32';
  return 'float64';
}

/**
 * Copies `byteLength` bytes from `source` at `sourceOffset` into a new, exactly sized and
 * aligned ArrayBuffer, swapping each element's bytes when the source byte order is not this
 * machine's (every machine Node runs on is little-endian).
 */
export function copyVoxels(
  source: Uint8Array,
  sourceOffset: number,
  datatype: DataType,
  count: number,
  littleEndian: boolean,
): VoxelArray {
  const size = BYTES_PER_VOXEL[datatype];
  const bytes = new Uint8Array(count * size);
  bytes.set(source.subarray(sourceOffset, sourceOffset + count * size));
  if (!littleEndian && size > 1) swapBytesInPlace(bytes, size);
  return typedArrayOf(datatype, bytes.buffer);
}

/**
 * Like `copyVoxels`, but for bytes this reader owns (a freshly inflated buffer): returns a view
 * of them without copying where the offset is aligned for the type, swapping bytes in place.
 * The view's `buffer` then also holds the bytes around it; use byteOffset/byteLength.
 */
export function adoptVoxels(
  owned: Uint8Array,
  offset: number,
  datatype: DataType,
  count: number,
  littleEndian: boolean,
): VoxelArray {
  const size = BYTES_PER_VOXEL[datatype];
  const start = owned.byteOffset + offset;
  if (start % size !== 0) return copyVoxels(owned, offset, datatype, count, littleEndian);
  if (!littleEndian && size > 1) swapBytesInPlace(owned.subarray(offset, offset + count * size), size);
  return typedArrayOf(datatype, owned.buffer as ArrayBuffer, start, count);
}

/**
 * The voxels at `offset`: viewed in place (`adoptVoxels`) where the bytes are the reader's own
 * and the voxels are most of their buffer, else copied (`copyVoxels`): a view would keep the
 * whole buffer alive (e.g. every frame of a 4D file for its first one).
 */
export function voxelsOf(
  bytes: Uint8Array,
  offset: number,
  datatype: DataType,
  count: number,
  littleEndian: boolean,
  owned: boolean,
): VoxelArray {
  const mostOfBuffer = 2 * count * BYTES_PER_VOXEL[datatype] >= bytes.buffer.byteLength;
  return (owned && mostOfBuffer ? adoptVoxels : copyVoxels)(bytes, offset, datatype, count, littleEndian);
}

/** Reverses the byte order of every `size`-byte element of `bytes`, in place. */
export function swapBytesInPlace(bytes: Uint8Array, size: number): void {
  if (size === 2) {
    for (let i = 0; i + 1 < bytes.length; i += 2) {
      const t = bytes[i];
      bytes[i] = bytes[i + 1];
      bytes[i + 1] = t;
    }
    return;
  }
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}
