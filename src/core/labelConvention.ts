/**
 * Reading a label or segmentation file whatever its convention, into the editor's:
 * 0 = unlabeled, 1 = background, 2.. = the other classes.
 *
 * Two conventions exist (see LabelConvention in segmentationConvention.ts): `labels` (the
 * editor's sparse `NAME.labels.nii.gz`, and 0.1's predictions, dense 1..K) and `mask` (0 =
 * background: our dense segmentations `NAME.seg.nii.gz` / `.seg.nrrd`, manual masks such as
 * `*_seg-manual.nii.gz`, 3D Slicer `.seg.nrrd`), read as value + 1.
 *
 * The header cannot tell them apart (both are NIfTI intent LABEL, or plain NRRD), so `auto`
 * decides from the name, the sidecar and the content: a `.labels.*` file (or the editor's Slicer
 * export `.labels.seg.nrrd`) is `labels`; a file with
 * a `.json` sidecar of the same base name follows it (conventionOf: a segmentation sidecar
 * states its `labelValues`, any other marks the editor's convention); otherwise a file with no 0
 * voxel is `labels` (a 0.1 prediction: reading it as a mask would shift every class) and any
 * other is `mask`.
 */
import * as fs from 'node:fs';
import type { Vec3, Mat4 } from './geometry';
import { readVolumeFile } from './readVolume';
import { conventionOf, parseSegmentationSidecar, toEditorLabels, type ConventionChoice, type LabelConvention, type ParsedSegmentationSidecar } from './segmentationConvention';
import type { SegmentInfo, Volume } from './volume';

export type { LabelConvention } from './segmentationConvention';

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

/** The text of the `.json` sidecar beside a label file (`X.json` for `X.nii.gz`), or undefined. */
function sidecarOf(file: string): { name: string; text: string | undefined } {
  const sidecar = `${file.replace(VOLUME_EXTENSION, '')}.json`;
  const name = sidecar.slice(Math.max(sidecar.lastIndexOf('/'), sidecar.lastIndexOf('\\')) + 1);
  return { name, text: fs.existsSync(sidecar) ? fs.readFileSync(sidecar, 'utf8') : undefined };
}

/** The editor's own label files, NAME.labels.nii.gz and its Slicer export NAME.labels.seg.nrrd: sparse labels, never a mask. */
export function isEditorLabelFile(file: string): boolean {
  return /\.labels(\.seg)?$/i.test(file.replace(VOLUME_EXTENSION, ''));
}

/** The convention `auto` picks for a file and its voxels, with the reason. */
export function detectLabelConvention(file: string, data: ArrayLike<number>): ConventionChoice {
  if (isEditorLabelFile(file)) return { convention: 'labels', reason: 'a .labels file: 0 = unlabeled, 1 = background' };
  const sidecar = sidecarOf(file);
  return conventionOf(sidecar.name, sidecar.text, data);
}

/**
 * The class list beside a label or segmentation file (`X.json` for `X.nii.gz`: the editor's
 * `NAME.labels.json`, a segmentation's `NAME.seg.json` of this version or 0.1's), read with its
 * convention and its classes in editor labels; undefined when there is none or it is unusable.
 */
export function classListBeside(file: string): ParsedSegmentationSidecar | undefined {
  const { text } = sidecarOf(file);
  if (text === undefined) return undefined;
  try {
    return parseSegmentationSidecar(text);
  } catch {
    return undefined;
  }
}

/** Reads a label file and converts it to the editor's convention (`auto` detects, see the module comment). */
export function readLabelsAs(file: string, convention: LabelConvention | 'auto' = 'auto'): ConvertedLabels {
  const volume = readVolumeFile(file);
  if (volume.sclSlope !== 1 || volume.sclInter !== 0) {
    throw new RangeError(`${file} has intensity scaling (× ${volume.sclSlope} + ${volume.sclInter}): not a label file`);
  }
  const chosen = convention === 'auto' ? detectLabelConvention(file, volume.data) : { convention, reason: 'as asked' };
  const data = toEditorLabels(volume.data, chosen.convention);
  const shift = chosen.convention === 'mask' ? 1 : 0;
  // The names a segmentation's sidecar gives, then those of a Slicer file's segments.
  const names: Record<string, string> = Object.fromEntries((classListBeside(file)?.classes ?? []).map((c) => [String(c.value), c.name]));
  for (const s of volume.segments ?? ([] as SegmentInfo[])) if (s.layer === 0) names[String(s.value + shift)] = s.name;
  return { data, dims: volume.dims, affine: volume.affine, spacing: volume.spacing, convention: chosen.convention, reason: chosen.reason, names, volume };
}
