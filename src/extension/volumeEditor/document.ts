/**
 * The volume editor's document: the volume's grid (its header: no voxels, which only the webview
 * holds) and its label layer, which the host owns. Webviews send label deltas; the document
 * checks them against its grid and labels, applies them, and hands VS Code one undoable edit per
 * stroke or fill. It also saves, reverts and backs up the labels, holds the prediction overlay,
 * and gathers the planes through a voxel for a webview that has just opened.
 */
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import type { LabelArray, LabelDelta } from '../../core/editDeltas';
import { checkClasses, classesUpTo, defaultClasses, labelFileNames, type LabelClass } from '../../core/labels';
import { readVolumeBytesAsync } from '../../core/readVolume';
import type { Volume } from '../../core/volume';
import type { VolumeGrid } from '../../core/voxelStream';
import type { ClassEdit, EditLabel } from '../../protocol/webview';
import { LabelLayer, type LayerChange, type LayerEdit } from './labelLayer';
import { LabelSaver } from './labelSaver';
import { classesFileName, gridMismatch } from '../../core/volumeFiles';
import { decodeBackup, encodeBackup, labelArrayOf, predictionLabelsOf } from './labelVolumes';
import {
  labelMapStamp,
  readClassesFile,
  readIfExists,
  siblingUri,
  uriFileName,
  writeFileAtomic,
  writeLabelFiles,
} from './labelFiles';
import { FirstPlanes } from './firstPlanes';
import { LatestRead } from './latestRead';
import { makeServerAlias, type ServerAlias } from './serverAlias';
import { readVolumeSource, readVolumeUri, type VolumeSource } from './volumeFile';

/**
 * A hash of labels and classes, computed a few megabytes at a time so that a 512³ label map never
 * holds up the extension host for long (the labels are a snapshot nothing else changes).
 */
async function fingerprintOf(labels: LabelArray, classes: readonly LabelClass[]): Promise<string> {
  const hash = createHash('sha1');
  const bytes = new Uint8Array(labels.buffer, labels.byteOffset, labels.byteLength);
  const step = 8 * 1024 * 1024;
  for (let offset = 0; offset < bytes.length; offset += step) {
    hash.update(bytes.subarray(offset, offset + step));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return `${hash.digest('hex')}:${JSON.stringify(classes)}`;
}

/** What a save writes: the labels and classes as they were when the write began. */
interface LabelSnapshot {
  labels: LabelArray;
  classes: LabelClass[];
}

/** What changed in a document, for its webviews. */
export type DocumentChange = LayerChange | { kind: 'prediction' };

/** Asks the user whether to ignore a label file that cannot be used; false cancels opening. */
export type AskIgnoreLabels = (problem: string) => Promise<boolean>;

/** The prediction shown over the labels. */
export interface Prediction {
  uri: vscode.Uri;
  /** In editor labels (1 = background, 2.. the classes), whatever the file's convention. */
  values: LabelArray;
  maxValue: number;
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
  /** The command that wrote a prediction and the watcher that saw it both load it: it is read once. */
  private readonly predictionReads = new LatestRead<ReturnType<typeof predictionLabelsOf>>();
  private readonly layer: LabelLayer;
  /** Bumped by every change of the labels or classes, and when it last happened (ms): what saving goes by. */
  private revision = 0;
  private lastChangeAt = Date.now();
  private readonly saver: LabelSaver<LabelSnapshot>;
  /** The volume's grid (dims, spacing, affine, datatype, format, warnings): the header, without voxels. */
  readonly grid: VolumeGrid;
  /** The planes through the voxel a webview opens at, streamed from the file (started as the document opens). */
  readonly firstPlanes: FirstPlanes | undefined;
  private alias: ServerAlias | undefined | null = null;

  private constructor(
    readonly uri: vscode.Uri,
    readonly source: VolumeSource,
    { labels, classes, empty }: { labels: LabelArray; classes: LabelClass[]; empty?: boolean },
    private readonly log: vscode.LogOutputChannel,
    firstPlanes: FirstPlanes | undefined,
  ) {
    const { voxels: _voxels, ...grid } = source.header;
    this.grid = grid;
    this.firstPlanes = firstPlanes;
    this.layer = new LabelLayer(
      grid.dims,
      labels,
      classes,
      (change) => {
        this.revision++;
        this.lastChangeAt = Date.now();
        this.changeEmitter.fire(change);
      },
      empty,
    );
    const document = this;
    this.saver = new LabelSaver<LabelSnapshot>({
      get revision() {
        return document.revision;
      },
      get lastChangeAt() {
        return document.lastChangeAt;
      },
      snapshot: () => ({ labels: this.layer.labels.slice(), classes: this.layer.classes.map((c) => ({ ...c })) }),
      fingerprint: ({ labels, classes }) => fingerprintOf(labels, classes),
      diskStamp: () => labelMapStamp(this.uri),
      write: ({ labels, classes }) => writeLabelFiles(this.uri, this.grid, labels, classes),
    });
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
    const name = uriFileName(uri);
    for (const warning of volume.warnings ?? []) log.warn(`${name}: ${warning}`);
    // Started before the labels are read: their allocation and reading take the host's thread for a while.
    const firstPlanes = FirstPlanes.of(
      source,
      (error) => log.warn(`${name}: the first planes could not be streamed (${error.message})`),
      (note) => log.info(`${name}: ${note}`),
      // Only a browser workbench's webview fetches over its server's own route, where a copy helps.
      vscode.env.uiKind === vscode.UIKind.Web,
    );
    try {
      if (backupId) {
        const bytes = await vscode.workspace.fs.readFile(vscode.Uri.parse(backupId));
        const { labels, classes } = await decodeBackup(bytes, volume);
        const problem = checkClasses(classes);
        if (problem) throw new Error(`the backup's classes are not usable: ${problem}`);
        log.info(`${name}: labels restored from a backup`);
        // Unsaved labels: the first save writes them, whatever the files hold.
        return new VolumeDocument(uri, source, { labels, classes }, log, firstPlanes);
      }
      const stamp = await labelMapStamp(uri);
      const read = await VolumeDocument.readLabels(uri, volume, log, askIgnore);
      const document = new VolumeDocument(uri, source, read, log, firstPlanes);
      // The files hold these labels: a save with nothing changed writes nothing.
      if (read.fromFile) document.saver.markWritten(0, stamp);
      return document;
    } catch (error) {
      firstPlanes?.dispose();
      throw error;
    }
  }

  /** The labels and classes on disk beside the volume (empty labels and default classes when none). */
  private static async readLabels(
    uri: vscode.Uri,
    volume: Pick<VolumeGrid, 'dims' | 'affine'>,
    log: vscode.LogOutputChannel,
    askIgnore: AskIgnoreLabels,
  ): Promise<{ labels: LabelArray; classes: LabelClass[]; fromFile: boolean; empty: boolean }> {
    const names = labelFileNames(uriFileName(uri));
    const voxels = volume.dims[0] * volume.dims[1] * volume.dims[2];
    const empty = () => ({ labels: new Uint8Array(voxels) as LabelArray, classes: defaultClasses(), fromFile: false, empty: true });
    let classes: LabelClass[] | undefined;
    try {
      classes = await readClassesFile(uri);
    } catch (error) {
      if (!(await askIgnore(`${(error as Error).message}.`))) throw new vscode.CancellationError();
    }
    const bytes = await readIfExists(siblingUri(uri, names.labelMap));
    if (!bytes) return { ...empty(), classes: classes ?? defaultClasses() };
    let problem: string | undefined;
    try {
      const labelVolume = await readVolumeBytesAsync(bytes, names.labelMap);
      problem = gridMismatch(volume, labelVolume, names.labelMap);
      if (!problem) {
        const { labels, maxValue } = labelArrayOf(labelVolume, names.labelMap);
        log.info(`${uriFileName(uri)}: labels read from ${names.labelMap} (highest value ${maxValue})`);
        return { labels, classes: classesUpTo(classes ?? defaultClasses(), Math.max(maxValue, classes?.length ?? 2)), fromFile: classes !== undefined, empty: maxValue === 0 };
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

  /** The labels as runs (what a webview is sent), without reading a map known to be empty. */
  labelRuns(): Uint32Array {
    return this.layer.runs();
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

  /**
   * The path a browser workbench's server sends the voxel file under uncompressed (a link made
   * on first use, removed with the document; the file's own path where no link can be made).
   */
  get serverFetchPath(): string | undefined {
    if (!this.source.voxelFile) return undefined;
    if (this.alias === null) this.alias = makeServerAlias(this.source.voxelFile);
    return this.alias?.path ?? this.source.voxelFile;
  }

  dispose(): void {
    this.firstPlanes?.dispose();
    this.alias?.dispose();
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

  /**
   * Saves the labels beside the volume, through the saver: one write at a time, nothing written
   * when nothing changed, and with auto-save after a delay only once the document is idle (see
   * LabelSaver). The time each write takes goes to the log.
   */
  async save(token: vscode.CancellationToken): Promise<void> {
    const autoSave = vscode.workspace.getConfiguration('files', this.uri).get<string>('autoSave');
    const outcome = await this.saver.save({ waitForIdle: autoSave === 'afterDelay', isCancelled: () => token.isCancellationRequested });
    if (outcome.kind === 'written') {
      const [nx, ny, nz] = this.grid.dims;
      this.log.info(
        `${this.fileName}: labels saved (${nx}×${ny}×${nz}, ${(outcome.bytes / 1024).toFixed(0)} KiB written in ${outcome.ms.toFixed(0)} ms` +
          `${outcome.writes > 1 ? `, ${outcome.writes} writes: edits came during the first` : ''})`,
      );
    } else if (outcome.kind === 'unchanged') {
      this.log.info(`${this.fileName}: nothing to save (the label files hold these labels)`);
    }
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
    await writeLabelFiles(target, this.grid, this.layer.labels.slice(), [...this.layer.classes]);
    this.log.info(`${uriFileName(target)}: labels saved`);
  }

  async revert(_token: vscode.CancellationToken): Promise<void> {
    const stamp = await labelMapStamp(this.uri);
    const { labels, classes, fromFile } = await VolumeDocument.readLabels(this.uri, this.grid, this.log, async () => true);
    this.layer.replace(labels, classes);
    if (fromFile) this.saver.markWritten(this.revision, stamp);
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
    const read = await this.predictionReads.take(`${uri.toString()} ${stat.mtime}:${stat.size}`, async () => {
      const volume = await readVolumeUri(uri);
      const mismatch = gridMismatch(this.grid, volume, name);
      if (mismatch) throw new Error(mismatch);
      // The file holds 0 = background (0.1's predictions: 1 = background); the overlay shows editor labels.
      const sidecarName = classesFileName(name);
      const sidecar = await readIfExists(siblingUri(uri, sidecarName)).catch(() => undefined);
      return predictionLabelsOf(volume, name, sidecarName, sidecar && new TextDecoder().decode(sidecar));
    });
    if (!read) return; // shown already, or a later version is on its way
    this.predictionValue = { uri, values: read.labels, maxValue: read.maxValue };
    this.log.info(`${this.fileName}: prediction ${name} shown (editor labels up to ${read.maxValue}; ${read.reason})`);
    this.changeEmitter.fire({ kind: 'prediction' });
  }

  clearPrediction(): void {
    this.predictionReads.forget();
    if (!this.predictionValue) return;
    this.predictionValue = undefined;
    this.changeEmitter.fire({ kind: 'prediction' });
  }
}
