/**
 * The files beside a volume `NAME.nii.gz` (or `.nii`, `.nrrd`, `.nhdr`), in one place for the
 * extension (which writes through `vscode.workspace.fs`), the engine and the CLI (Node's fs):
 * - what they are called (`labelFileNames` in labels.ts; a label map `X.nii.gz` keeps its class
 *   list in `X.json`),
 * - what they hold (`encodeLabelFiles`),
 * - how a set of them is written so that readers see all the old files or all the new ones
 *   (`writeFileSet`),
 * - whether a label map lies on the volume's grid (`labelsOnGrid`, one tolerance for everyone).
 * Pure: the caller hands in the file operations (FileSetIO).
 */
import type { LabelArray } from './editDeltas';
import { VolumeError } from './errors';
import { labelFileNames, makeLabelsFile, segmentsOfClasses, serializeLabelsFile, type LabelClass } from './labels';
import { encodeNiftiGz, encodeNiftiGzAsync, type NiftiWriteOptions } from './niftiWriter';
import { encodeSegNrrd, encodeSegNrrdAsync, type SegNrrdWriteOptions } from './nrrdWriter';
import type { Volume } from './volume';

/** How far two voxel-to-world matrices may differ (mm, per entry) and still be one grid: float32 headers round. */
export const GRID_TOLERANCE_MM = 1e-2;

/** A file to write: its name (no folder) and its bytes. */
export interface NamedFile {
  name: string;
  bytes: Uint8Array;
}

/** The name of the class list that goes with a label map `X.nii.gz` / `X.nii` / `X.nrrd`: `X.json`. */
export function classesFileName(labelMapName: string): string {
  return labelMapName.replace(/\.(nii\.gz|nii|nrrd|nhdr)$/i, '') + '.json';
}

/**
 * The label files of a volume: `NAME.labels.nii.gz` (0 = unlabeled, 1.. the classes),
 * `NAME.labels.json` (the class list) and, for an NRRD volume, `NAME.labels.seg.nrrd` for 3D Slicer.
 */
export function encodeLabelFiles(volumeFileName: string, volume: Pick<Volume, 'dims' | 'affine' | 'format' | 'xformCodes'>, labels: LabelArray, classes: readonly LabelClass[]): NamedFile[] {
  return labelFiles(volumeFileName, volume, labels, classes, { nifti: encodeNiftiGz, segNrrd: encodeSegNrrd, text: (bytes) => bytes });
}

/**
 * encodeLabelFiles with the compression on Node's thread pool: for the extension host, which
 * must stay responsive while a large label map is saved (a 512³ map takes seconds to compress).
 */
export async function encodeLabelFilesAsync(volumeFileName: string, volume: Pick<Volume, 'dims' | 'affine' | 'format' | 'xformCodes'>, labels: LabelArray, classes: readonly LabelClass[]): Promise<NamedFile[]> {
  const files = labelFiles(volumeFileName, volume, labels, classes, { nifti: encodeNiftiGzAsync, segNrrd: encodeSegNrrdAsync, text: async (bytes) => bytes });
  return Promise.all(files.map(async (f) => ({ name: f.name, bytes: await f.bytes })));
}

/** The files of a label set and how each is encoded (`T`: bytes, or their promise). */
function labelFiles<T>(
  volumeFileName: string,
  volume: Pick<Volume, 'dims' | 'affine' | 'format' | 'xformCodes'>,
  labels: LabelArray,
  classes: readonly LabelClass[],
  encode: { nifti: (options: NiftiWriteOptions) => T; segNrrd: (options: SegNrrdWriteOptions) => T; text: (bytes: Uint8Array) => T },
): { name: string; bytes: T }[] {
  const names = labelFileNames(volumeFileName);
  const grid = { dims: volume.dims, affine: volume.affine, data: labels };
  const files = [
    { name: names.labelMap, bytes: encode.nifti({ ...grid, xformCodes: volume.xformCodes, description: 'unet3d labels: 0 unlabeled, 1.. classes' }) },
    { name: names.classes, bytes: encode.text(new TextEncoder().encode(serializeLabelsFile(makeLabelsFile(volumeFileName, classes)))) },
  ];
  if (volume.format === 'nrrd') files.push({ name: names.segNrrd, bytes: encode.segNrrd({ ...grid, segments: segmentsOfClasses(classes) }) });
  return files;
}

/** Why `other` (named `otherName`) does not lie on `volume`'s grid, or undefined when it does. */
export function gridMismatch(volume: Pick<Volume, 'dims' | 'affine'>, other: Pick<Volume, 'dims' | 'affine'>, otherName: string, volumeName = 'the volume'): string | undefined {
  if (other.dims.join() !== volume.dims.join()) return `${otherName} is ${other.dims.join('×')} voxels but ${volumeName} is ${volume.dims.join('×')}: it is not on the volume's grid`;
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      if (!(Math.abs(volume.affine[r][c] - other.affine[r][c]) <= GRID_TOLERANCE_MM)) {
        return `${otherName} has the size of ${volumeName} but another voxel-to-world matrix: it is not on the volume's grid`;
      }
    }
  }
  return undefined;
}

/** Converts any voxel array to the smallest label array that holds its values (which must be integers 0..65535). */
export function toLabelArray(data: ArrayLike<number>): LabelArray {
  if (data instanceof Uint8Array) return data;
  let max = 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < 0 || v > 65535 || !Number.isInteger(v)) throw new RangeError(`value ${v} at voxel ${i} is not a label (0..65535)`);
    if (v > max) max = v;
  }
  const out = max > 255 ? new Uint16Array(data.length) : new Uint8Array(data.length);
  out.set(data);
  return out;
}

/**
 * The labels of `labelVolume` (read from the file `labelName`) as a label array on `image`'s grid.
 * Throws a VolumeError saying why when it is layered, on another grid, or holds no labels.
 */
export function labelsOnGrid(image: Pick<Volume, 'dims' | 'affine'>, labelVolume: Volume, labelName: string, imageName?: string): LabelArray {
  if (labelVolume.layers && labelVolume.layers.length > 1) {
    throw new VolumeError('layered-segmentation', `${labelName} has overlapping segments (${labelVolume.layers.length} layers); a label file needs one label per voxel`);
  }
  const mismatch = gridMismatch(image, labelVolume, labelName, imageName);
  if (mismatch) throw new VolumeError('grid-mismatch', mismatch);
  try {
    return toLabelArray(labelVolume.data);
  } catch (error) {
    throw new VolumeError('bad-header', `${labelName} does not hold labels: ${(error as Error).message}`);
  }
}

// ---- writing a set of files ----

/**
 * The file operations a set is written with, on locations of type L (a path, a vscode.Uri).
 * `rename` replaces an existing target in one step.
 */
export interface FileSetIO<L> {
  /** The location of `name` in the folder of `location`. */
  sibling(location: L, name: string): L;
  /** The file name (no folder) of a location. */
  baseName(location: L): string;
  exists(location: L): Promise<boolean>;
  writeFile(location: L, bytes: Uint8Array): Promise<void>;
  copy(from: L, to: L): Promise<void>;
  rename(from: L, to: L): Promise<void>;
  remove(location: L): Promise<void>;
}

/** One file of a set: where it goes and what it holds. */
export interface FileSetEntry<L> {
  target: L;
  bytes: Uint8Array;
}

function scratchName(name: string, kind: 'tmp' | 'bak'): string {
  return `.${name}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.${kind}`;
}

/**
 * Writes several files as one: every new file goes to a temporary file beside its target first;
 * only when all are written are they renamed over their targets, each old file copied aside
 * before. If any step fails, the targets already replaced get their old content back (or are
 * removed when they did not exist), the temporary files go, and the error is thrown: a reader
 * then sees the whole old set, and after success the whole new one.
 */
export async function writeFileSet<L>(io: FileSetIO<L>, entries: readonly FileSetEntry<L>[]): Promise<void> {
  const staged: { entry: FileSetEntry<L>; tmp: L }[] = [];
  const swapped: { target: L; backup?: L }[] = [];
  const removeQuietly = (location: L) => io.remove(location).then(undefined, () => undefined);
  try {
    for (const entry of entries) {
      const tmp = io.sibling(entry.target, scratchName(io.baseName(entry.target), 'tmp'));
      staged.push({ entry, tmp });
      await io.writeFile(tmp, entry.bytes);
    }
    for (const { entry, tmp } of staged) {
      let backup: L | undefined;
      if (await io.exists(entry.target)) {
        backup = io.sibling(entry.target, scratchName(io.baseName(entry.target), 'bak'));
        await io.copy(entry.target, backup);
      }
      swapped.push({ target: entry.target, backup });
      await io.rename(tmp, entry.target);
    }
  } catch (error) {
    for (const { target, backup } of swapped.reverse()) {
      try {
        if (backup) await io.rename(backup, target);
        else await io.remove(target);
      } catch {
        // Keep going: restore as much of the old set as can be restored.
      }
    }
    for (const { tmp } of staged) await removeQuietly(tmp);
    throw error;
  }
  for (const { backup } of swapped) if (backup) await removeQuietly(backup);
}
