/**
 * The volume editor's document: the volume's grid (its header: no voxels, which only the webview
 * holds) and its label layer, which the host owns. Webviews send label deltas; the document
 * checks them against its grid and labels, applies them, and hands VS Code one undoable edit per
 * stroke or fill. It also saves, reverts and backs up the labels, holds the prediction overlay,
 * and gathers the planes through a voxel for a webview that has just opened.
 */
import * as vscode from 'vscode';
import type { LabelArray, LabelDelta } from '../../core/editDeltas';
import { checkClasses, classesUpTo, defaultClasses, labelFileNames, type LabelClass } from '../../core/labels';
import { readVolumeBytesAsync } from '../../core/readVolume';
import type { Volume } from '../../core/volume';
import type { VolumeGrid } from '../../core/voxelStream';
import type { ClassEdit, EditLabel } from '../../protocol/webview';
import { LabelLayer, type LayerChange, type LayerEdit } from './labelLayer';
import { gridMismatch } from '../../core/volumeFiles';
import { decodeBackup, encodeBackup, labelArrayOf } from './labelVolumes';
import {
  readClassesFile,
  readIfExists,
  siblingUri,
  uriFileName,
  writeFileAtomic,
  writeLabelFiles,
} from './labelFiles';
import { FirstPlanes } from './firstPlanes';
import { readVolumeSource, readVolumeUri, type VolumeSource } from './volumeFile';

/** What changed in a document, for its webviews. */
export type DocumentChange = LayerChange | { kind: 'prediction' };

/** Asks the user whether to ignore a label file that cannot be used; false cancels opening. */
export type AskIgnoreLabels = (problem: string) => Promise<boolean>;

/** The prediction shown over the labels. */
export interface Prediction {
  uri: vscode.Uri;
  values: LabelArray;
  maxValue: number;
  /** The file's modification time and size when read (a file watcher and a direct call may both ask for the same file). */
  stamp: string;
}

export class VolumeDocument implements vscode.CustomDocument {
  private readonly changeEmitter = new vscode.EventEmitter<DocumentChange>();
  /** Fires when the webviews must update. */
  readonly onDidChangeContent = this.changeEmitter.event;
  private readonly editEmitter = new vscode.EventEmitter<LayerEdit>();
  /** Fires for every undoable edit (the provider passes it to VS Code). */
  readonly onDidEdit = this.editEmitter.event;
  private readonly disposeEmitter = new vscode.EventEmitter<void>();
  readonly onDidDispose = this.disposeEmitter.event;
  private predictionValue: Prediction | undefined;
  private readonly layer: LabelLayer;
  /** The volume's grid (dims, spacing, affine, datatype, format, warnings): the header, without voxels. */
  readonly grid: VolumeGrid;
  /** The planes through the voxel a webview opens at, streamed from the file (started as the document opens). */
  readonly firstPlanes: FirstPlanes | undefined;

  private constructor(
    readonly uri: vscode.Uri,
    readonly source: VolumeSource,
    labels: LabelArray,
    classes: LabelClass[],
    private readonly log: vscode.LogOutputChannel,
  ) {
    const { voxels: _voxels, ...grid } = source.header;
    this.grid = grid;
    this.layer = new LabelLayer(grid.dims, labels, classes, (change) => this.changeEmitter.fire(change));
    this.firstPlanes = FirstPlanes.of(source, (error) => log.warn(`${this.fileName}: the first planes could not be streamed (${error.message})`));
  }

  /** The voxels, read whole from the file (where the webview cannot stream them itself); the caller lets go of them once sent. */
  readVolume(): Promise<Volume> {
    return readVolumeUri(this.uri);
  }

  /**
   * Opens a volume with its labels: from a backup when VS Code restores one, else from
   * `NAME.labels.nii.gz` and `NAME.labels.json` beside it (a label file that does not fit the
   * volume's grid is not used: `askIgnore` decides whether to go on without it).
   */
  static async open(uri: vscode.Uri, backupId: string | undefined, log: vscode.LogOutputChannel, askIgnore: AskIgnoreLabels): Promise<VolumeDocument> {
    const source = await readVolumeSource(uri);
    const volume = source.header;
    for (const warning of volume.warnings ?? []) log.warn(`${uriFileName(uri)}: ${warning}`);
    if (backupId) {
      const bytes = await vscode.workspace.fs.readFile(vscode.Uri.parse(backupId));
      const { labels, classes } = await decodeBackup(bytes, volume);
      const problem = checkClasses(classes);
      if (problem) throw new Error(`the backup's classes are not usable: ${problem}`);
      log.info(`${uriFileName(uri)}: labels restored from a backup`);
      return new VolumeDocument(uri, source, labels, classes, log);
    }
    const { labels, classes } = await VolumeDocument.readLabels(uri, volume, log, askIgnore);
    return new VolumeDocument(uri, source, labels, classes, log);
  }

  /** The labels and classes on disk beside the volume (empty labels and default classes when none). */
  private static async readLabels(
    uri: vscode.Uri,
    volume: Pick<VolumeGrid, 'dims' | 'affine'>,
    log: vscode.LogOutputChannel,
    askIgnore: AskIgnoreLabels,
  ): Promise<{ labels: LabelArray; classes: LabelClass[] }> {
    const names = labelFileNames(uriFileName(uri));
    const voxels = volume.dims[0] * volume.dims[1] * volume.dims[2];
    const empty = () => ({ labels: new Uint8Array(voxels) as LabelArray, classes: defaultClasses() });
    let classes: LabelClass[] | undefined;
    try {
      classes = await readClassesFile(uri);
    } catch (error) {
      if (!(await askIgnore(`${(error as Error).message}.`))) throw new vscode.CancellationError();
    }
    const bytes = await readIfExists(siblingUri(uri, names.labelMap));
    if (!bytes) return { labels: empty().labels, classes: classes ?? defaultClasses() };
    let problem: string | undefined;
    try {
      const labelVolume = await readVolumeBytesAsync(bytes, names.labelMap);
      problem = gridMismatch(volume, labelVolume, names.labelMap);
      if (!problem) {
        const { labels, maxValue } = labelArrayOf(labelVolume, names.labelMap);
        log.info(`${uriFileName(uri)}: labels read from ${names.labelMap} (highest value ${maxValue})`);
        return { labels, classes: classesUpTo(classes ?? defaultClasses(), Math.max(maxValue, classes?.length ?? 2)) };
      }
    } catch (error) {
      problem = `${names.labelMap} cannot be read: ${(error as Error).message}`;
    }
    log.warn(`${uriFileName(uri)}: ${problem}`);
    if (!(await askIgnore(problem))) throw new vscode.CancellationError();
    return empty();
  }

  get labels(): LabelArray {
    return this.layer.labels;
  }

  get classes(): readonly LabelClass[] {
    return this.layer.classes;
  }

  get prediction(): Prediction | undefined {
    return this.predictionValue;
  }

  get fileName(): string {
    return uriFileName(this.uri);
  }

  dispose(): void {
    this.firstPlanes?.dispose();
    this.disposeEmitter.fire();
    this.changeEmitter.dispose();
    this.editEmitter.dispose();
    this.disposeEmitter.dispose();
  }

  // ------------------------------------------------------------ edits

  /**
   * Applies a label delta that a webview has already applied to its copy. Returns why it was
   * refused (then nothing changes), or undefined.
   */
  applyWebviewEdit(delta: LabelDelta, label: EditLabel, origin: object): string | undefined {
    const outcome = this.layer.applyViewEdit(delta, label, origin);
    if (outcome.edit) this.editEmitter.fire(outcome.edit);
    return outcome.problem;
  }

  /** Applies a class-list change (checked by the message validation) as one undoable edit. */
  editClasses(edit: ClassEdit): string | undefined {
    const outcome = this.layer.editClasses(edit);
    if (outcome.edit) this.editEmitter.fire(outcome.edit);
    return outcome.problem;
  }

  // ------------------------------------------------------------ save, revert, backup

  async save(token: vscode.CancellationToken): Promise<void> {
    await this.saveAs(this.uri, token);
  }

  /**
   * Saves the labels beside `target`. For another name than the volume's own, the volume
   * file is copied there too (same format only), so the new document is the volume with its labels.
   */
  async saveAs(target: vscode.Uri, token: vscode.CancellationToken): Promise<void> {
    if (target.toString() !== this.uri.toString()) {
      const suffix = (name: string) => (/\.(nii\.gz|nii|nrrd|nhdr)$/i.exec(name)?.[1] ?? '').toLowerCase();
      if (suffix(uriFileName(target)) !== suffix(this.fileName) || suffix(this.fileName) === 'nhdr') {
        throw new Error(`Save As copies the volume with its labels: choose a name ending in .${suffix(this.fileName)} (a detached .nhdr header cannot be copied)`);
      }
      if (token.isCancellationRequested) return;
      await writeFileAtomic(target, await vscode.workspace.fs.readFile(this.uri));
    }
    if (token.isCancellationRequested) return;
    await writeLabelFiles(target, this.grid, this.layer.labels, this.layer.classes);
    this.log.info(`${uriFileName(target)}: labels saved`);
  }

  async revert(_token: vscode.CancellationToken): Promise<void> {
    const { labels, classes } = await VolumeDocument.readLabels(this.uri, this.grid, this.log, async () => true);
    this.layer.replace(labels, classes);
  }

  async backup(destination: vscode.Uri, token: vscode.CancellationToken): Promise<vscode.CustomDocumentBackup> {
    const bytes = encodeBackup(this.grid, this.fileName, this.layer.labels, this.layer.classes);
    if (!token.isCancellationRequested) {
      try {
        await writeFileAtomic(destination, bytes);
        this.log.info(`${this.fileName}: unsaved labels backed up (${bytes.length} bytes)`);
      } catch (error) {
        this.log.error(`${this.fileName}: the backup failed: ${(error as Error).message}`);
        throw error;
      }
    }
    return {
      id: destination.toString(),
      delete: async () => {
        await vscode.workspace.fs.delete(destination).then(undefined, () => undefined);
      },
    };
  }

  // ------------------------------------------------------------ prediction overlay

  /** Loads a dense segmentation on the volume's grid as the overlay. Throws with the reason when it does not fit. */
  async loadPrediction(uri: vscode.Uri): Promise<void> {
    const name = uriFileName(uri);
    const stat = await vscode.workspace.fs.stat(uri);
    const stamp = `${stat.mtime}:${stat.size}`;
    if (this.predictionValue?.uri.toString() === uri.toString() && this.predictionValue.stamp === stamp) return; // shown already
    const volume = await readVolumeUri(uri);
    const mismatch = gridMismatch(this.grid, volume, name);
    if (mismatch) throw new Error(mismatch);
    const { labels, maxValue } = labelArrayOf(volume, name);
    this.predictionValue = { uri, values: labels, maxValue, stamp };
    this.log.info(`${this.fileName}: prediction ${name} shown (classes up to ${maxValue})`);
    this.changeEmitter.fire({ kind: 'prediction' });
  }

  clearPrediction(): void {
    if (!this.predictionValue) return;
    this.predictionValue = undefined;
    this.changeEmitter.fire({ kind: 'prediction' });
  }
}
