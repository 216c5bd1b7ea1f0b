/** Writing one label map to disk, atomically, in NIfTI or Slicer format (a volume's set of label files: volumeFiles.ts). */
import { writeFileAtomic } from './atomicWrite';
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

/** Writes `NAME.nii.gz` (NIfTI-1, intent LABEL, the grid's affine in sform and qform). */
export function writeLabelMapNifti(file: string, labels: LabelMap, description?: string): void {
  writeFileAtomic(file, encodeNiftiGz({ ...labels, description }));
}

/** Writes `NAME.seg.nrrd` with segment names and colours, readable by 3D Slicer. */
export function writeLabelMapSegNrrd(file: string, labels: LabelMap, segments: SegmentInfo[]): void {
  writeFileAtomic(file, encodeSegNrrd({ ...labels, segments }));
}
