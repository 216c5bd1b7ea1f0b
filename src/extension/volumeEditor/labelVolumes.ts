/**
 * Label volumes on the host, without VS Code: converting a label or prediction file to a label
 * array in the editor's convention (the grid check is volumeFiles.ts's), and the hot-exit backup
 * format.
 */
import { dataTypeOf } from '../../core/datatypes';
import type { LabelArray } from '../../core/editDeltas';
import { gridMismatch, toLabelArray } from '../../core/volumeFiles';
import type { LabelClass } from '../../core/labels';
import { encodeNiftiGz } from '../../core/niftiWriter';
import { conventionOf, toEditorLabels } from '../../core/segmentationConvention';
import { readVolumeBytesAsync } from '../../core/readVolume';
import type { Volume } from '../../core/volume';

/** Converts a volume of label values to a label array; throws on values that are not labels. */
export function labelArrayOf(volume: Volume, name: string): { labels: LabelArray; maxValue: number } {
  let labels: LabelArray;
  try {
    labels = toLabelArray(volume.data);
  } catch (error) {
    throw new Error(`${name} does not hold labels: ${(error as Error).message}`);
  }
  return { labels, maxValue: maxOf(labels) };
}

/**
 * A dense segmentation (a prediction) as editor labels for the overlay: 1 = background, 2.. the
 * classes, whichever convention the file uses (see conventionOf: its sidecar `sidecarName`,
 * whose text is `sidecarText` or undefined when there is none, else its content decides).
 */
export function predictionLabelsOf(volume: Volume, name: string, sidecarName: string, sidecarText: string | undefined): { labels: LabelArray; maxValue: number; reason: string } {
  const chosen = conventionOf(sidecarName, sidecarText, volume.data);
  let labels: LabelArray;
  try {
    labels = toEditorLabels(volume.data, chosen.convention);
  } catch (error) {
    throw new Error(`${name} does not hold labels: ${(error as Error).message}`);
  }
  return { labels, maxValue: maxOf(labels), reason: chosen.reason };
}

function maxOf(labels: LabelArray): number {
  let maxValue = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > maxValue) maxValue = labels[i];
  return maxValue;
}

/** The label array type's name. */
export function labelTypeOf(labels: LabelArray): 'uint8' | 'uint16' {
  return dataTypeOf(labels) === 'uint16' ? 'uint16' : 'uint8';
}

const BACKUP_MAGIC = 'UNET3D-LABELS-BACKUP-1\n';

/** What a backup holds besides the label voxels. */
interface BackupHeader {
  volume: string;
  classes: LabelClass[];
}

/** A backup file: a magic line, a JSON header line, then the labels as NIfTI (gzip, fast level). */
export function encodeBackup(volume: Pick<Volume, 'dims' | 'affine'>, volumeName: string, labels: LabelArray, classes: readonly LabelClass[]): Uint8Array {
  const header: BackupHeader = { volume: volumeName, classes: [...classes] };
  const head = new TextEncoder().encode(BACKUP_MAGIC + JSON.stringify(header) + '\n');
  const body = encodeNiftiGz({ dims: volume.dims, affine: volume.affine, data: labels, level: 1 });
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** Reads a backup written by `encodeBackup` for `volume` (inflating off the event loop); throws with the reason when it does not fit. */
export async function decodeBackup(bytes: Uint8Array, volume: Pick<Volume, 'dims' | 'affine'>): Promise<{ labels: LabelArray; classes: LabelClass[] }> {
  const magic = new TextEncoder().encode(BACKUP_MAGIC);
  if (bytes.length < magic.length || magic.some((b, i) => bytes[i] !== b)) throw new Error('not a 3D U-Net labels backup');
  const end = bytes.indexOf(0x0a, magic.length);
  if (end < 0) throw new Error('the backup header is cut short');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(magic.length, end))) as BackupHeader;
  const labelsVolume = await readVolumeBytesAsync(bytes.subarray(end + 1), 'backup.nii.gz');
  const mismatch = gridMismatch(volume, labelsVolume, 'the backup');
  if (mismatch) throw new Error(mismatch);
  const { labels } = labelArrayOf(labelsVolume, 'the backup');
  return { labels, classes: header.classes };
}

