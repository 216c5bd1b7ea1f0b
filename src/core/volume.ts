import type { DataType, VoxelArray } from './datatypes';
import type { Mat4, Vec3 } from './geometry';
import { axisCodes } from './geometry';

/** The file formats the readers understand. */
export type VolumeFormat = 'nifti1' | 'nifti2' | 'nrrd';

/** A named, coloured label value (a 3D Slicer segment, or a class of the editor). */
export interface SegmentInfo {
  /** The voxel value that marks this segment. */
  value: number;
  name: string;
  /** RGB, each 0–1. */
  color: [number, number, number];
  /** For layered (overlapping) Slicer segmentations: which layer holds this segment. */
  layer: number;
  /** Slicer's segment ID, kept so an edited file keeps its identity. */
  id?: string;
}

/**
 * A 3D scalar volume as stored on disk. Voxels stay in their stored type; the intensity a
 * user sees is `data[i] * sclSlope + sclInter`.
 */
export interface Volume {
  format: VolumeFormat;
  /** Voxels along x, y, z (x fastest in memory). A 2D image has z = 1. */
  dims: Vec3;
  /** Distance between voxel centres along each array axis, in mm. */
  spacing: Vec3;
  datatype: DataType;
  /** dims[0]·dims[1]·dims[2] voxels, x fastest; only the first frame of a 4D file. */
  data: VoxelArray;
  sclSlope: number;
  sclInter: number;
  /** Voxel index → RAS+ mm, rows. */
  affine: Mat4;
  /** Frames along the 4th dimension in the file (1 for 3D); only the first is kept in `data`. */
  frames: number;
  /** Every frame, frame after frame (only when read with `allFrames`); `data` is a view of its start. */
  allFrames?: VoxelArray;
  /** Named segments, when the file carries them (3D Slicer `.seg.nrrd`). */
  segments?: SegmentInfo[];
  /**
   * Each layer of a layered `.seg.nrrd` (overlapping segments), same grid as `data`; `data`
   * is layer 0.
   */
  layers?: VoxelArray[];
  /**
   * What the reader had to work around, one sentence each, for the user (e.g. an unusable sform
   * replaced by the qform). The CLI's `info` prints them and the editor shows them. Absent or
   * empty when the file was read as it says.
   */
  warnings?: string[];
  /**
   * A NIfTI file's qform_code and sform_code (what space its affine maps to: 1 scanner, 2 aligned,
   * 3 Talairach, 4 MNI), so files written on its grid say the same; absent for NRRD.
   */
  xformCodes?: XformCodes;
}

/** NIfTI's qform_code and sform_code. */
export interface XformCodes {
  qform: number;
  sform: number;
}

/** Options of the readers. */
export interface ReadOptions {
  /** Keep every frame of a 4D file in `allFrames` (by default only the first is read). */
  allFrames?: boolean;
  /** Refuse, from the header, files whose voxels would need more bytes than this. */
  maxBytes?: number;
  /**
   * Folders a detached header's data file must lie in (symbolic links resolved), by
   * `readVolumeFile`; unset: anywhere. The editor passes the workspace folders in an untrusted
   * workspace.
   */
  dataFileRoots?: readonly string[];
}

export function voxelCount(dims: readonly number[]): number {
  return dims[0] * dims[1] * dims[2];
}

/** Index of voxel (i, j, k) in `data`. */
export function voxelIndex(dims: readonly number[], i: number, j: number, k: number): number {
  return i + dims[0] * (j + dims[1] * k);
}

/** Statistics of the scaled voxels (scaling applied), of the finite ones only. */
export interface VolumeStats {
  /** Smallest, largest, sum and mean of the finite voxels; NaN when none is finite. */
  min: number;
  max: number;
  sum: number;
  mean: number;
  /** Voxels the figures are from (the finite ones). */
  count: number;
  /** Voxels left out: NaN, and +Infinity or −Infinity (float volumes only). */
  nanCount: number;
  infiniteCount: number;
}

/**
 * Statistics of the scaled intensities, computed on the stored values (no float copy). NaN and
 * ±Infinity are left out of every figure and counted apart.
 */
export function volumeStats(volume: Pick<Volume, 'data' | 'sclSlope' | 'sclInter'>, data = volume.data): VolumeStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let nanCount = 0;
  let infiniteCount = 0;
  const n = data.length;
  const float = data instanceof Float32Array || data instanceof Float64Array;
  for (let i = 0; i < n; i++) {
    const v = data[i];
    if (float && v - v !== 0) {
      // v − v is NaN for NaN and ±Infinity only.
      if (v !== v) nanCount++;
      else infiniteCount++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const count = n - nanCount - infiniteCount;
  if (count === 0) return { min: NaN, max: NaN, sum: 0, mean: NaN, count, nanCount, infiniteCount };
  const { sclSlope: slope, sclInter: inter } = volume;
  const a = min * slope + inter;
  const b = max * slope + inter;
  const scaledSum = sum * slope + inter * count;
  return { min: Math.min(a, b), max: Math.max(a, b), sum: scaledSum, mean: scaledSum / count, count, nanCount, infiniteCount };
}

/** Orientation codes of a volume's voxel axes, e.g. "LPS". */
export function volumeAxisCodes(volume: Pick<Volume, 'affine'>): string {
  return axisCodes(volume.affine);
}
