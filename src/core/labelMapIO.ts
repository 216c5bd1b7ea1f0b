/** Writing label maps to disk beside their volume, atomically, in NIfTI and Slicer formats. */
import { writeFileAtomic } from './atomicWrite';
import type { VoxelArray } from './datatypes';
import type { Mat4, Vec3 } from './geometry';
import { encodeNiftiGz } from './niftiWriter';
import { encodeSegNrrd } from './nrrdWriter';
import type { SegmentInfo } from './volume';

/** A label map on a volume's grid. 0 = unlabeled (or no segment), 1..K the classes. */
export interface LabelMap {
  dims: Vec3;
  affine: Mat4;
  data: Uint8Array | Uint16Array;
}

/** The smallest label array for `maxLabel`: uint8 up to 255, uint16 above. */
export function allocateLabels(voxels: number, maxLabel: number): Uint8Array | Uint16Array {
  if (maxLabel > 65535) throw new RangeError(`label ${maxLabel} does not fit in 16 bits`);
  return maxLabel > 255 ? new Uint16Array(voxels) : new Uint8Array(voxels);
}

/** Converts any voxel array to the smallest label array that holds its values (which must be integers 0..65535). */
export function toLabelArray(data: VoxelArray): Uint8Array | Uint16Array {
  if (data instanceof Uint8Array) return data;
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < 0 || v > 65535 || !Number.isInteger(v)) throw new RangeError(`value ${v} at voxel ${i} is not a label (0..65535)`);
    if (v > max) max = v;
  }
  const out = allocateLabels(data.length, max);
  out.set(data);
  return out;
}

/** Writes `NAME.nii.gz` (NIfTI-1, intent LABEL, the grid's affine in sform and qform). */
export function writeLabelMapNifti(file: string, labels: LabelMap, description?: string): void {
  writeFileAtomic(file, encodeNiftiGz({ ...labels, description }));
}

/** Writes `NAME.seg.nrrd` with segment names and colours, readable by 3D Slicer. */
export function writeLabelMapSegNrrd(file: string, labels: LabelMap, segments: SegmentInfo[]): void {
  writeFileAtomic(file, encodeSegNrrd({ ...labels, segments }));
}
