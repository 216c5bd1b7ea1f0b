/**
 * The files of a dense segmentation, encoded in one place for everyone who writes one
 * (`unet3d segment` and the editor's Segment through src/engine/segmentFile.ts, crossval):
 * `X.json` (the classes and the convention), `X.nii.gz` (0 = background, 1..K−1 the classes),
 * and for NRRD sources `X.seg.nrrd` for 3D Slicer. The convention: segmentationConvention.ts.
 */
import type { LabelClass } from './labels';
import { encodeNiftiGz } from './niftiWriter';
import { encodeSegNrrd } from './nrrdWriter';
import {
  SEGMENTATION_DESCRIPTION,
  makeSegmentationSidecar,
  segmentationCompanions,
  segmentationSegments,
  serializeSegmentationSidecar,
  toSegmentationValues,
} from './segmentationConvention';
import type { Volume } from './volume';
import type { FileSetEntry } from './volumeFiles';

/** What a segmentation's files are made of. */
export interface SegmentationFilesInput {
  /** The segmentation's path, `X.nii.gz` or `X.nii`; the companions go beside it. */
  out: string;
  /** The image's file name (no folder), for people reading the sidecar. */
  volumeName: string;
  /** The image's grid; an NRRD image (`format: 'nrrd'`) also gets the Slicer file. */
  volume: Pick<Volume, 'dims' | 'affine' | 'format' | 'xformCodes'>;
  /** The dense prediction in editor labels: 1 = background, 2..K the classes, no 0. */
  labels: ArrayLike<number>;
  /** The classes, editor labels 1..K. */
  classes: readonly LabelClass[];
  /** Who made it (run, checkpoint, backend, ...), kept in the sidecar. */
  prediction?: Record<string, unknown>;
}

/** The encoded files and where they go. */
export interface SegmentationFiles {
  /** Sidecar first: a reader woken by the new segmentation finds the new sidecar already there. */
  files: FileSetEntry<string>[];
  classesFile: string;
  /** The Slicer file, for NRRD images. */
  segNrrd?: string;
}

function baseName(file: string): string {
  return file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
}

/** Encodes a segmentation's files (write them as one set, e.g. with writeFilesAtomic). */
export function encodeSegmentationFiles(input: SegmentationFilesInput): SegmentationFiles {
  const { out, volume, classes } = input;
  const companions = segmentationCompanions(out);
  const values = toSegmentationValues(input.labels);
  const grid = { dims: volume.dims, affine: volume.affine, data: values };
  const sidecar = makeSegmentationSidecar(input.volumeName, baseName(out), classes, input.prediction);
  const files: FileSetEntry<string>[] = [
    { target: companions.classesFile, bytes: new TextEncoder().encode(serializeSegmentationSidecar(sidecar)) },
    { target: out, bytes: encodeNiftiGz({ ...grid, xformCodes: volume.xformCodes, description: SEGMENTATION_DESCRIPTION }) },
  ];
  if (volume.format !== 'nrrd') return { files, classesFile: companions.classesFile };
  files.push({ target: companions.segNrrd, bytes: encodeSegNrrd({ ...grid, segments: segmentationSegments(classes) }) });
  return { files, classesFile: companions.classesFile, segNrrd: companions.segNrrd };
}
