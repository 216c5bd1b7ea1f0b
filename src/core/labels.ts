/**
 * Label-file conventions and the class list of a label map. Pure (no Node imports): the
 * webview, the editor host and the engine share it.
 *
 * Beside a volume `NAME.nii.gz` (or `.nii`, `.nrrd`, `.nhdr`) live:
 * - `NAME.labels.nii.gz`: the label map on the volume's grid, uint8 or uint16;
 *   0 = unlabeled, 1 = the first class ("background" by default), 2.. the others;
 * - `NAME.labels.json`: the class list (names and colours), see `LabelsFile`;
 * - `NAME.labels.seg.nrrd`: for NRRD volumes, the same labels as a 3D Slicer segmentation;
 * - `NAME.seg.nii.gz`: a dense predicted segmentation, shown as an overlay; it follows the
 *   ecosystem (0 = background, 1..K−1 the classes; see segmentationConvention.ts).
 */
import type { SegmentInfo } from './volume';

/** The label value of a voxel nobody has labeled (it weighs nothing in training). */
export const UNLABELED = 0;

/** The most classes a uint16 label map can hold (value 0 is "unlabeled"). */
export const MAX_CLASS_VALUE = 65535;

/** One class of the label map. */
export interface LabelClass {
  /** The voxel value that marks this class, 1..65535 (1 = the first class, "background" by default). */
  value: number;
  name: string;
  /** Display colour, `#rrggbb`. */
  color: string;
}

/** The content of `NAME.labels.json`. */
export interface LabelsFile {
  format: 'unet3d-labels';
  version: 1;
  /** The volume's file name (no folder), for people reading the file. */
  volume: string;
  /** The label map's file name (no folder). */
  labelMap: string;
  /** Classes by ascending value, values 1..K without gaps. */
  classes: LabelClass[];
}

const VOLUME_SUFFIX = /\.(nii\.gz|nii|nrrd|nhdr)$/i;

/** The file name without folder and without `.nii.gz`, `.nii`, `.nrrd` or `.nhdr`. */
export function volumeBaseName(fileName: string): string {
  const name = fileName.slice(Math.max(fileName.lastIndexOf('/'), fileName.lastIndexOf('\\')) + 1);
  return name.replace(VOLUME_SUFFIX, '');
}

/** The names (no folder) of the files that belong to a volume. */
export interface LabelFileNames {
  /** `NAME.labels.nii.gz` */
  labelMap: string;
  /** `NAME.labels.json` */
  classes: string;
  /** `NAME.labels.seg.nrrd` (written for NRRD volumes) */
  segNrrd: string;
  /** `NAME.seg.nii.gz`, the predicted segmentation */
  prediction: string;
}

export function labelFileNames(volumeFileName: string): LabelFileNames {
  const base = volumeBaseName(volumeFileName);
  return {
    labelMap: `${base}.labels.nii.gz`,
    classes: `${base}.labels.json`,
    segNrrd: `${base}.labels.seg.nrrd`,
    prediction: `${base}.seg.nii.gz`,
  };
}

/**
 * Which of a volume's own label files `fileName` (no folder) is, by its name in `LabelFileNames`
 * (`labelMap`, `classes` or `segNrrd`), or undefined. Compared without case: on a
 * case-insensitive disk both spellings are one file.
 */
export function labelFileKindOf(volumeFileName: string, fileName: string): 'labelMap' | 'classes' | 'segNrrd' | undefined {
  const names = labelFileNames(volumeFileName);
  const lower = fileName.toLowerCase();
  return (['labelMap', 'classes', 'segNrrd'] as const).find((kind) => names[kind].toLowerCase() === lower);
}

/** True for a file that is one of the editor's own outputs (labels or prediction), not a volume to label. */
export function isLabelOrPredictionFile(fileName: string): boolean {
  return /\.(labels\.nii\.gz|labels\.seg\.nrrd|seg\.nii\.gz|seg\.nrrd)$/i.test(fileName);
}

/** Colours for classes 2.. (class 1, background, has its own); distinct on dark and light themes. */
export const CLASS_PALETTE: readonly string[] = [
  '#e6194b', '#3cb44b', '#ffe119', '#f58231', '#911eb4', '#42d4f4', '#f032e6', '#bfef45',
  '#fabed4', '#469990', '#dcbeff', '#9a6324', '#fffac8', '#800000', '#aaffc3', '#808000',
  '#ffd8b1', '#000075', '#a9a9a9',
];

/** The colour of background (class value 1). */
export const BACKGROUND_COLOR = '#3b6fb6';

/** The default colour of the class with `value`. */
export function defaultClassColor(value: number): string {
  return value === 1 ? BACKGROUND_COLOR : CLASS_PALETTE[(value - 2) % CLASS_PALETTE.length];
}

/** A new document's classes: background and one foreground class. */
export function defaultClasses(): LabelClass[] {
  return [
    { value: 1, name: 'background', color: defaultClassColor(1) },
    { value: 2, name: 'foreground', color: defaultClassColor(2) },
  ];
}

/** Classes for values 1..count, keeping the names and colours of `known` where they exist. */
export function classesUpTo(known: readonly LabelClass[], count: number): LabelClass[] {
  const byValue = new Map(known.map((c) => [c.value, c]));
  const out: LabelClass[] = [];
  for (let value = 1; value <= count; value++) {
    const k = byValue.get(value);
    out.push(k ? { ...k } : { value, name: value === 1 ? 'background' : `class ${value}`, color: defaultClassColor(value) });
  }
  return out;
}

const HEX_COLOR = /^#[0-9a-f]{6}$/i;

export function isHexColor(text: unknown): text is string {
  return typeof text === 'string' && HEX_COLOR.test(text);
}

/** `#rrggbb` → [r, g, b], each 0–255. */
export function hexToRgb(hex: string): [number, number, number] {
  if (!isHexColor(hex)) throw new RangeError(`"${hex}" is not a #rrggbb colour`);
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** [r, g, b] (0–255) → `#rrggbb`. */
export function rgbToHex(rgb: readonly number[]): string {
  return '#' + rgb.map((v) => Math.max(0, Math.min(255, Math.round(v))).toString(16).padStart(2, '0')).join('');
}

/** The longest class name we keep (longer ones are cut). */
export const MAX_CLASS_NAME = 64;

/** A class name cleaned for display and files: one line, trimmed, at most `MAX_CLASS_NAME` characters. */
export function cleanClassName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, MAX_CLASS_NAME);
}

/** Why a class list is not usable, or undefined when it is: values 1..K in order, valid names and colours. */
export function checkClasses(classes: readonly LabelClass[]): string | undefined {
  if (classes.length === 0) return 'there must be at least one class';
  if (classes.length > MAX_CLASS_VALUE) return `at most ${MAX_CLASS_VALUE} classes fit in a uint16 label map`;
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    if (c.value !== i + 1) return `class ${i + 1} has value ${c.value}: values must run 1..${classes.length} in order`;
    if (typeof c.name !== 'string' || cleanClassName(c.name) === '') return `class ${c.value} has no name`;
    if (!isHexColor(c.color)) return `class ${c.value} has colour ${JSON.stringify(c.color)}, not #rrggbb`;
  }
  return undefined;
}

/** Builds the content of `NAME.labels.json`. */
export function makeLabelsFile(volumeFileName: string, classes: readonly LabelClass[]): LabelsFile {
  const name = volumeFileName.slice(Math.max(volumeFileName.lastIndexOf('/'), volumeFileName.lastIndexOf('\\')) + 1);
  return {
    format: 'unet3d-labels',
    version: 1,
    volume: name,
    labelMap: labelFileNames(name).labelMap,
    classes: classes.map((c) => ({ value: c.value, name: c.name, color: c.color.toLowerCase() })),
  };
}

export function serializeLabelsFile(file: LabelsFile): string {
  return JSON.stringify(file, null, 2) + '\n';
}

/**
 * Parses `NAME.labels.json`. Throws an Error with a one-line reason when the text is not a
 * labels file we can use.
 */
export function parseLabelsFile(text: string): LabelsFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null) throw new Error('not a JSON object');
  const o = raw as Record<string, unknown>;
  if (o.format !== 'unet3d-labels') throw new Error(`"format" is ${JSON.stringify(o.format)}, expected "unet3d-labels"`);
  if (o.version !== 1) throw new Error(`"version" ${JSON.stringify(o.version)} is not supported (expected 1)`);
  if (!Array.isArray(o.classes)) throw new Error('"classes" is not a list');
  const classes: LabelClass[] = o.classes.map((c: unknown, i: number) => {
    if (typeof c !== 'object' || c === null) throw new Error(`class ${i + 1} is not an object`);
    const k = c as Record<string, unknown>;
    if (typeof k.value !== 'number' || typeof k.name !== 'string' || typeof k.color !== 'string') {
      throw new Error(`class ${i + 1} needs a numeric "value", a "name" and a "color"`);
    }
    return { value: k.value, name: cleanClassName(k.name), color: k.color.toLowerCase() };
  });
  const problem = checkClasses(classes);
  if (problem) throw new Error(problem);
  return {
    format: 'unet3d-labels',
    version: 1,
    volume: typeof o.volume === 'string' ? o.volume : '',
    labelMap: typeof o.labelMap === 'string' ? o.labelMap : '',
    classes,
  };
}

/** The classes as 3D Slicer segments (for `.seg.nrrd`), colours 0–1. */
export function segmentsOfClasses(classes: readonly LabelClass[]): SegmentInfo[] {
  return classes.map((c) => ({
    value: c.value,
    name: c.name,
    color: hexToRgb(c.color).map((v) => v / 255) as [number, number, number],
    layer: 0,
    id: `Segment_${c.value}`,
  }));
}
