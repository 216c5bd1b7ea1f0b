/**
 * Reading a label or segmentation file whatever its convention, into the editor's:
 * 0 = unlabeled, 1 = background, 2.. = the other classes.
 *
 * Two conventions exist in the wild:
 * - `labels` (ours): 0 = unlabeled, 1 = background. Our `NAME.labels.nii.gz` (beside its
 *   `NAME.labels.json`) and our predictions `NAME.seg.nii.gz` (dense 1..K, no 0).
 * - `mask`: 0 = background, 1.. = classes; nothing is unlabeled. Manual segmentations such as
 *   `*_seg-manual.nii.gz` and 3D Slicer `.seg.nrrd` (0 = no segment). Read as value + 1.
 *
 * The header cannot tell them apart (both are NIfTI intent LABEL, or plain NRRD), so `auto`
 * decides from the name and the content: a `.labels.*` file or one with a `.json` sidecar of the
 * same base name is `labels`; a file with no 0 voxel is `labels` (a dense prediction: reading it
 * as a mask would shift every class); any other file is `mask`.
 */
import * as fs from 'node:fs';
import type { Vec3, Mat4 } from './geometry';
import { toLabelArray } from './volumeFiles';
import { readVolumeFile } from './readVolume';
import { maskToLabels } from './sparseLabels';
import type { SegmentInfo, Volume } from './volume';

/** How a file's voxel values map to classes. */
export type LabelConvention = 'labels' | 'mask';

/** A label file read into the editor's convention. */
export interface ConvertedLabels {
  /** Editor convention: 0 = unlabeled, 1 = background, 2.. classes. */
  data: Uint8Array | Uint16Array;
  dims: Vec3;
  affine: Mat4;
  spacing: Vec3;
  convention: LabelConvention;
  /** Why that convention (for the user). */
  reason: string;
  /** Segment names by label value in the editor's convention, when the file carries them. */
  names: Record<string, string>;
  volume: Volume;
}

const VOLUME_EXTENSION = /\.(nii\.gz|nii|nrrd|nhdr)$/i;

/** The convention `auto` picks for a file and its voxels, with the reason. */
export function detectLabelConvention(file: string, data: ArrayLike<number>): { convention: LabelConvention; reason: string } {
  const base = file.replace(VOLUME_EXTENSION, '');
  if (/\.labels$/i.test(base)) return { convention: 'labels', reason: 'a .labels file: 0 = unlabeled, 1 = background' };
  if (fs.existsSync(`${base}.json`)) return { convention: 'labels', reason: `its sidecar ${base}.json marks an editor label file: 0 = unlabeled` };
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) return { convention: 'mask', reason: 'a plain segmentation holding 0 voxels: 0 = background, read as value + 1' };
  }
  return { convention: 'labels', reason: 'no 0 voxel: a dense map of classes 1..K (1 = background)' };
}

/** Reads a label file and converts it to the editor's convention (`auto` detects, see the module comment). */
export function readLabelsAs(file: string, convention: LabelConvention | 'auto' = 'auto'): ConvertedLabels {
  const volume = readVolumeFile(file);
  if (volume.sclSlope !== 1 || volume.sclInter !== 0) {
    throw new RangeError(`${file} has intensity scaling (× ${volume.sclSlope} + ${volume.sclInter}): not a label file`);
  }
  const chosen = convention === 'auto' ? detectLabelConvention(file, volume.data) : { convention, reason: 'as asked' };
  const data = chosen.convention === 'mask' ? maskToLabels(volume.data) : toLabelArray(volume.data);
  const shift = chosen.convention === 'mask' ? 1 : 0;
  const names: Record<string, string> = {};
  for (const s of volume.segments ?? ([] as SegmentInfo[])) if (s.layer === 0) names[String(s.value + shift)] = s.name;
  return { data, dims: volume.dims, affine: volume.affine, spacing: volume.spacing, convention: chosen.convention, reason: chosen.reason, names, volume };
}
