/**
 * The label values of a dense segmentation file, in one place: what `unet3d segment`, the
 * editor's Segment and crossval write, and how every reader of a prediction (the editor's
 * overlay, `unet3d evaluate`, the experiments) turns a file back into editor labels. Pure (no
 * Node imports).
 *
 * A dense segmentation `NAME.seg.nii.gz` follows the ecosystem (ITK-SNAP, FSLeyes, nnU-Net,
 * MONAI, 3D Slicer): voxel value 0 = background, 1..K−1 = the other classes. For NRRD sources
 * `NAME.seg.nrrd` holds the same values as a 3D Slicer segmentation with one segment per class
 * and none for background (Slicer's 0 = no segment). Inside the product (the editor, training,
 * the metrics) a class keeps its editor label: 0 = unlabeled, 1 = background, 2..K the classes.
 * So file value v is editor label v + 1, and only the files' writers and readers convert. The
 * sparse label file `NAME.labels.nii.gz` stays in the editor's convention: it needs 0 for
 * "unlabeled" as well as a background class.
 *
 * `NAME.seg.json`, beside the segmentation (see `segmentationCompanions`), names its classes and
 * states the convention in `labelValues`:
 *
 *     { "format": "unet3d-segmentation", "version": 1, "labelValues": "0-background",
 *       "volume": "NAME.nii.gz", "labelMap": "NAME.seg.nii.gz",
 *       "classes": [{ "value": 0, "name": "background", "color": "#3b6fb6" },
 *                   { "value": 1, "name": "foreground", "color": "#e6194b" }],
 *       "prediction": { "run": ..., ... } }
 *
 * Class values are the file's voxel values. Version 0.1 wrote its predictions with 1 =
 * background (values 1..K, no 0) and a sidecar in the `NAME.labels.json` format
 * (`"format": "unet3d-labels"`, no `labelValues`): such a file reads as `1-background`, whose
 * values already are editor labels.
 */
import type { LabelArray } from './editDeltas';
import { checkClasses, cleanClassName, hexToRgb, type LabelClass } from './labels';
import { maskToLabels } from './sparseLabels';
import type { SegmentInfo } from './volume';
import { toLabelArray } from './volumeFiles';

/**
 * How a label file's voxel values map to classes, as `readLabelsAs` and the editor read them:
 * - `labels` (the editor's): 0 = unlabeled, 1 = background, 2.. the other classes; our sparse
 *   `NAME.labels.nii.gz`, and predictions written by version 0.1 (dense 1..K, no 0);
 * - `mask` (the ecosystem's): 0 = background, 1.. the classes, nothing unlabeled; our dense
 *   segmentations `NAME.seg.nii.gz` / `NAME.seg.nrrd`, manual masks such as
 *   `*_seg-manual.nii.gz`, 3D Slicer `.seg.nrrd` (0 = no segment). Read as value + 1.
 */
export type LabelConvention = 'labels' | 'mask';

/** What `labelValues` in `NAME.seg.json` says: which voxel value is background. */
export type SegmentationLabelValues = '0-background' | '1-background';

/** The label values this version writes in a dense segmentation: 0 = background, 1..K−1 the classes. */
export const SEGMENTATION_LABEL_VALUES: SegmentationLabelValues = '0-background';

/** `format` of `NAME.seg.json`. */
export const SEGMENTATION_FORMAT = 'unet3d-segmentation';

/** `version` of `NAME.seg.json`. */
export const SEGMENTATION_VERSION = 1;

/** The NIfTI `descrip` of a written segmentation (at most 80 characters). */
export const SEGMENTATION_DESCRIPTION = 'unet3d segmentation: 0 background, 1.. classes';

/** The NIfTI `descrip` of a probability map: frame c is the probability of segmentation value c. */
export const PROBABILITIES_DESCRIPTION = 'unet3d probabilities x255, frame c = value c (0 = background)';

/** The convention a `labelValues` stands for. */
export function conventionOfLabelValues(labelValues: SegmentationLabelValues): LabelConvention {
  return labelValues === '0-background' ? 'mask' : 'labels';
}

/** One class of `NAME.seg.json`: `value` is the voxel value in the file. */
export interface SegmentationClass {
  value: number;
  name: string;
  /** Display colour, `#rrggbb`. */
  color: string;
}

/** The content of `NAME.seg.json` (see the module comment). */
export interface SegmentationSidecar {
  format: typeof SEGMENTATION_FORMAT;
  version: typeof SEGMENTATION_VERSION;
  labelValues: SegmentationLabelValues;
  /** The image's file name (no folder). */
  volume: string;
  /** The segmentation's file name (no folder). */
  labelMap: string;
  /** Classes by ascending value: 0 = background, then 1..K−1. */
  classes: SegmentationClass[];
  /** Which run, checkpoint and backend made it, when a network did (free form, for people and the Runs view). */
  prediction?: Record<string, unknown>;
}

/** A class's voxel value in a segmentation file, from its editor label (1 = background → 0). */
export function segmentationValueOf(label: number): number {
  return label - 1;
}

/** Builds `NAME.seg.json` for classes given in editor labels (1 = background, values 1..K). */
export function makeSegmentationSidecar(volumeName: string, labelMapName: string, classes: readonly LabelClass[], prediction?: Record<string, unknown>): SegmentationSidecar {
  return {
    format: SEGMENTATION_FORMAT,
    version: SEGMENTATION_VERSION,
    labelValues: SEGMENTATION_LABEL_VALUES,
    volume: volumeName,
    labelMap: labelMapName,
    classes: classes.map((c) => ({ value: segmentationValueOf(c.value), name: c.name, color: c.color.toLowerCase() })),
    ...(prediction ? { prediction } : {}),
  };
}

export function serializeSegmentationSidecar(sidecar: SegmentationSidecar): string {
  return JSON.stringify(sidecar, null, 2) + '\n';
}

/** A segmentation sidecar read back: its convention and its classes in editor labels. */
export interface ParsedSegmentationSidecar {
  labelValues: SegmentationLabelValues;
  /** Classes in editor labels: 1 = background, 2..K. */
  classes: LabelClass[];
  /** True for a sidecar written by version 0.1 (`unet3d-labels`, no `labelValues`). */
  legacy: boolean;
}

const LABEL_VALUES: readonly SegmentationLabelValues[] = ['0-background', '1-background'];

/**
 * Parses `NAME.seg.json`, this version's or 0.1's (a `unet3d-labels` file: 1 = background).
 * Throws an Error with a one-line reason when the text is neither.
 */
export function parseSegmentationSidecar(text: string): ParsedSegmentationSidecar {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) throw new Error('not a JSON object');
  const o = raw as Record<string, unknown>;
  let labelValues: SegmentationLabelValues;
  let legacy = false;
  if (o.format === SEGMENTATION_FORMAT) {
    if (o.version !== SEGMENTATION_VERSION) throw new Error(`"version" ${JSON.stringify(o.version)} is not supported (expected ${SEGMENTATION_VERSION})`);
    if (!LABEL_VALUES.includes(o.labelValues as SegmentationLabelValues)) throw new Error(`"labelValues" is ${JSON.stringify(o.labelValues)}, expected one of ${LABEL_VALUES.join(', ')}`);
    labelValues = o.labelValues as SegmentationLabelValues;
  } else if (o.format === 'unet3d-labels' && (o.labelValues === undefined || o.labelValues === '1-background')) {
    labelValues = '1-background';
    legacy = true;
  } else {
    throw new Error(`"format" is ${JSON.stringify(o.format)}, expected "${SEGMENTATION_FORMAT}"`);
  }
  if (!Array.isArray(o.classes)) throw new Error('"classes" is not a list');
  const shift = labelValues === '0-background' ? 1 : 0;
  const classes: LabelClass[] = o.classes.map((c: unknown, i: number) => {
    if (typeof c !== 'object' || c === null) throw new Error(`class ${i + 1} is not an object`);
    const k = c as Record<string, unknown>;
    if (typeof k.value !== 'number' || typeof k.name !== 'string' || typeof k.color !== 'string') {
      throw new Error(`class ${i + 1} needs a numeric "value", a "name" and a "color"`);
    }
    return { value: k.value + shift, name: cleanClassName(k.name), color: k.color.toLowerCase() };
  });
  const problem = checkClasses(classes);
  if (problem) throw new Error(shift ? `${problem} (in editor labels: file value + 1)` : problem);
  return { labelValues, classes, legacy };
}

/** A file's convention and why (for the user). */
export interface ConventionChoice {
  convention: LabelConvention;
  reason: string;
}

/**
 * The convention of a label or segmentation file whose `.json` sidecar (`X.json` beside
 * `X.nii.gz`) holds `sidecarText`:
 * - a segmentation sidecar of this version says it in `labelValues`;
 * - any other sidecar (the editor's `NAME.labels.json`, a 0.1 `NAME.seg.json`) marks the
 *   editor's convention (`labels`);
 * - with no sidecar (`undefined`), the content decides: a file with a 0 voxel is `mask` (0 =
 *   background, ours or any tool's), one without is a 0.1 prediction (1..K, `labels`). A file
 *   of ours copied without its sidecar and holding no background voxel at all reads wrong: keep
 *   the sidecar beside it.
 */
export function conventionOf(sidecarName: string, sidecarText: string | undefined, data: ArrayLike<number>): ConventionChoice {
  if (sidecarText !== undefined) {
    let parsed: ParsedSegmentationSidecar | undefined;
    try {
      parsed = parseSegmentationSidecar(sidecarText);
    } catch {
      parsed = undefined;
    }
    if (parsed && !parsed.legacy) {
      return parsed.labelValues === '0-background'
        ? { convention: 'mask', reason: `its sidecar ${sidecarName} says 0 = background: read as value + 1` }
        : { convention: 'labels', reason: `its sidecar ${sidecarName} says 1 = background` };
    }
    return {
      convention: 'labels',
      reason: parsed
        ? `its sidecar ${sidecarName} is in the labels.json format (as 0.1 wrote predictions): 1 = background`
        : `its sidecar ${sidecarName} marks an editor label file: 0 = unlabeled, 1 = background`,
    };
  }
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) return { convention: 'mask', reason: 'a segmentation holding 0 voxels: 0 = background, read as value + 1' };
  }
  return { convention: 'labels', reason: 'no 0 voxel: a dense map of classes 1..K (1 = background, as 0.1 wrote predictions)' };
}

/** A file's voxels as editor labels (0 = unlabeled, 1 = background, 2..): `mask` values + 1, `labels` as they are. */
export function toEditorLabels(data: ArrayLike<number>, convention: LabelConvention): LabelArray {
  return convention === 'mask' ? maskToLabels(data) : toLabelArray(data);
}

/**
 * A dense prediction in editor labels (1 = background, 1..K, no 0) as the voxel values of a
 * segmentation file (0 = background, 0..K−1), in the smallest type that holds them. Throws on
 * an unlabeled (0) voxel: a dense segmentation has a class everywhere.
 */
export function toSegmentationValues(labels: ArrayLike<number>): LabelArray {
  let max = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === 0) throw new RangeError(`voxel ${i} is unlabeled (0): a dense segmentation needs a class at every voxel`);
    if (v > max) max = v;
  }
  const out = max - 1 > 255 ? new Uint16Array(labels.length) : new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] - 1;
  return out;
}

/**
 * The classes (editor labels, 1 = background) as the 3D Slicer segments of a segmentation
 * file: one per class but background, each with its file value (label − 1); background is
 * Slicer's 0, "no segment".
 */
export function segmentationSegments(classes: readonly LabelClass[]): SegmentInfo[] {
  return classes
    .filter((c) => c.value !== 1)
    .map((c) => {
      const value = segmentationValueOf(c.value);
      return { value, name: c.name, color: hexToRgb(c.color).map((v) => v / 255) as [number, number, number], layer: 0, id: `Segment_${value}` };
    });
}

const NIFTI_SUFFIX = /\.nii(\.gz)?$/i;

/** The sidecar and Slicer file that go with a segmentation `X.nii.gz`: `X.json` and `X.nrrd` (`X.seg.nrrd` when X does not end in `.seg`). */
export function segmentationCompanions(out: string): { classesFile: string; segNrrd: string } {
  const base = out.replace(NIFTI_SUFFIX, '');
  return { classesFile: `${base}.json`, segNrrd: /\.seg$/i.test(base) ? `${base}.nrrd` : `${base}.seg.nrrd` };
}
