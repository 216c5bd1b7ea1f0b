/**
 * One webview showing a volume document: sends it the grid, the labels, the three planes through
 * the crosshair, then lets it fetch the volume's file itself (or sends the voxels in exact-size
 * chunks where it cannot), the prediction as runs, every change after that; checks and applies
 * what it sends back.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import * as vscode from 'vscode';
import { exactArrayBuffer } from '../../core/bytes';
import { BYTES_PER_VOXEL } from '../../core/datatypes';
import { encodeDelta, encodeLabelRuns } from '../../core/editDeltas';
import type { Vec3 } from '../../core/geometry';
import { extractSlice, type Axis } from '../../core/slices';
import { volumeAxisCodes, type Volume } from '../../core/volume';
import { centreVoxel, streamableLayout, type PlaneVoxels } from '../../core/voxelStream';
import {
  MessageEndpoint,
  type EditorCommand,
  type EditorSettings,
  type LoadedMessage,
  type ReadyMessage,
  type ToWebviewMessage,
  type TrainingPreviewMessage,
  type VoxelSource,
} from '../../protocol/webview';
import type { DocumentChange, VolumeDocument } from './document';
import type { RawCopy } from './firstPlanes';
import { uriFileName } from './labelFiles';
import { labelTypeOf } from './labelVolumes';
import { validateWebviewMessage, type CheckedWebviewMessage } from './messageValidation';

/** Bytes of voxels per message: large enough to be quick, small enough not to stall the channel. */
const CHUNK_BYTES = 16 * 1024 * 1024;
const deflateRaw = promisify(zlib.deflateRaw);
/**
 * `UNET3D_EDITOR_VOXELS=chunks` makes the host send the voxels over the message channel even where
 * the webview could fetch the file: `npm run bench:editor -- --transport chunks` compares the two.
 */
const FORCE_CHUNKS = process.env.UNET3D_EDITOR_VOXELS === 'chunks';

/** A chunk ready to send: deflated when that saves a fifth or more, else raw; always an exact-size ArrayBuffer. */
async function packChunk(raw: Uint8Array): Promise<{ encoding: 'raw' | 'deflate-raw'; bytes: ArrayBuffer }> {
  // zlib runs on Node's thread pool: the extension host stays responsive.
  const packed = await deflateRaw(raw, { level: 1 });
  if (packed.length < raw.length * 0.8) {
    return { encoding: 'deflate-raw', bytes: exactArrayBuffer(packed) };
  }
  // A view would drag its whole underlying buffer along: copy exactly.
  return { encoding: 'raw', bytes: exactArrayBuffer(raw) };
}

export class EditorSession implements vscode.Disposable {
  private readonly endpoint: MessageEndpoint<ToWebviewMessage, CheckedWebviewMessage>;
  private readonly disposables: vscode.Disposable[] = [];
  /** Messages held back until the webview has the volume (they refer to it). */
  private started = false;
  private dropped = 0;
  /** A voxel to reveal once the webview has the volume. */
  private pendingReveal: { voxel: Vec3; message?: string } | undefined;
  /** Where the webview's crosshair is (as it last said), clamped into the volume. */
  private crosshairVoxel: Vec3 | undefined;
  private readonly crosshairEmitter = new vscode.EventEmitter<Vec3>();
  /** Fires when the user moves the crosshair (a training preview follows it). */
  readonly onDidMoveCrosshair = this.crosshairEmitter.event;
  private readonly loadedEmitter = new vscode.EventEmitter<LoadedMessage>();
  /** Fires when the webview has every voxel, with its timings (for logs, tests and the benchmark). */
  readonly onDidLoad = this.loadedEmitter.event;

  constructor(
    readonly document: VolumeDocument,
    readonly panel: vscode.WebviewPanel,
    private readonly log: vscode.LogOutputChannel,
    private readonly settings: () => EditorSettings,
  ) {
    this.endpoint = new MessageEndpoint<ToWebviewMessage, CheckedWebviewMessage>(
      (envelope) => this.panel.webview.postMessage(envelope),
      (message) => this.handle(message),
    );
    this.disposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      document.onDidChangeContent((change) => this.onDocumentChange(change)),
    );
  }

  /** The voxels as the first planes' stream inflated them, for the webview to fetch; removed once it has them. */
  private rawCopy: RawCopy | undefined;

  private dropRawCopy(): void {
    this.rawCopy?.dispose();
    this.rawCopy = undefined;
  }

  dispose(): void {
    this.dropRawCopy();
    this.crosshairEmitter.dispose();
    this.loadedEmitter.dispose();
    this.endpoint.dispose();
    for (const d of this.disposables) d.dispose();
  }

  private receive(raw: unknown): void {
    const checked = validateWebviewMessage(raw, this.document.classes.length);
    if (!checked.ok) {
      this.dropped++;
      this.log.warn(`${this.document.fileName}: dropped a message from the webview (${checked.reason})`);
      return;
    }
    void this.endpoint.receive(checked.envelope).catch((error) => this.log.error(`${this.document.fileName}: ${(error as Error).stack ?? error}`));
  }

  private async handle(message: CheckedWebviewMessage): Promise<ToWebviewMessage | undefined> {
    switch (message.type) {
      case 'ready':
        await this.start(message.resume);
        return undefined;
      case 'voxelsFailed':
        this.dropRawCopy();
        this.log.warn(`${this.document.fileName}: the webview could not fetch the volume (${message.reason}); sending it over the message channel`);
        await this.sendVoxelsFromHost();
        return undefined;
      case 'classEdit': {
        const problem = this.document.editClasses(message.edit);
        return problem ? { type: 'editResult', ok: false, reason: problem } : { type: 'editResult', ok: true };
      }
      case 'loaded':
        this.dropRawCopy();
        this.log.info(
          `${this.document.fileName}: every voxel in the webview (${message.transport}, ${message.voxelBytes} bytes) after ${Math.round(message.wholeVolumeMs)} ms; ` +
            `first planes drawn after ${Math.round(message.firstPlanesMs)} ms`,
        );
        this.loadedEmitter.fire(message);
        return undefined;
      case 'log':
        this.log[message.level === 'warning' ? 'warn' : message.level](`webview: ${message.message}`);
        return undefined;
      case 'crosshair': {
        const dims = this.document.grid.dims;
        this.crosshairVoxel = message.voxel.map((v, a) => Math.min(dims[a] - 1, v)) as Vec3;
        this.crosshairEmitter.fire(this.crosshairVoxel);
        return undefined;
      }
      case 'edit': {
        const problem = this.document.applyWebviewEdit(message.delta, message.label, this);
        if (!problem) return { type: 'editResult', ok: true };
        this.log.warn(`${this.document.fileName}: refused an edit (${problem}); sending the labels again`);
        void this.sendLabels('resync');
        return { type: 'editResult', ok: false, reason: problem };
      }
    }
  }

  /**
   * Sends everything the webview needs, in order: the grid (and where to fetch the voxels), the
   * labels, the three planes through the crosshair (each as soon as it is complete), the
   * prediction; then the voxels, where the webview cannot fetch them itself.
   */
  private async start(resume: ReadyMessage['resume']): Promise<void> {
    this.started = false;
    const { grid, source } = this.document;
    const dims = grid.dims;
    const fits = resume && resume.fileName === this.document.fileName && resume.crosshair.every((v, a) => v < dims[a]);
    const crosshair = fits ? resume.crosshair : centreVoxel(dims);
    const layout = streamableLayout(source.header);
    const fetchable = !FORCE_CHUNKS && source.voxelFile !== undefined && layout !== undefined && this.document.firstPlanes !== undefined;
    const { dataFile: _dataFile, ...fetchLayout } = layout ?? { fileOffset: 0, compression: 'none', skip: 0, byteLength: 0, littleEndian: true };
    const voxels: VoxelSource = fetchable
      ? { kind: 'fetch', url: this.panel.webview.asWebviewUri(vscode.Uri.file(source.voxelFile!)).toString(), path: vscode.Uri.file(source.voxelFile!).path, serverPath: vscode.Uri.file(this.document.serverFetchPath!).path, layout: fetchLayout, afterPlanes: true }
      : { kind: 'chunks' };
    const byteLength = dims[0] * dims[1] * dims[2] * BYTES_PER_VOXEL[grid.datatype];
    void this.endpoint.send({
      type: 'init',
      volume: {
        fileName: this.document.fileName,
        format: grid.format,
        dims,
        spacing: grid.spacing,
        affine: grid.affine,
        datatype: grid.datatype,
        sclSlope: grid.sclSlope,
        sclInter: grid.sclInter,
        axisCodes: volumeAxisCodes(grid),
        byteLength,
        frames: grid.frames,
        warnings: grid.warnings ?? [],
      },
      classes: [...this.document.classes],
      labelType: labelTypeOf(this.document.labels),
      settings: this.settings(),
      voxels,
      crosshair,
    });
    // From here every change is sent after the labels it applies to. Posted, not awaited: the
    // channel keeps the order, and waiting for the labels' delivery (a round trip through the
    // workbench) held back planes the host already had.
    void this.sendLabels('open');
    this.started = true;
    if (fetchable) {
      this.dropRawCopy();
      try {
        this.rawCopy = await this.document.firstPlanes!.deliver(crosshair, (plane) => void this.sendPlane(plane));
      } catch (error) {
        this.notify('error', `${this.document.fileName}: ${(error as Error).message}`);
      }
      const copy = this.rawCopy;
      void this.endpoint.send({ type: 'planesSent', ...(copy ? { rawCopy: { serverPath: vscode.Uri.file(copy.path).path, layout: copy.layout } } : {}) });
    } else {
      await this.sendVoxelsFromHost(crosshair);
    }
    await this.sendPrediction();
    if (this.pendingReveal) void this.endpoint.send({ type: 'reveal', ...this.pendingReveal });
    this.pendingReveal = undefined;
  }

  private sendPlane(plane: PlaneVoxels): Promise<boolean> {
    return this.endpoint.send({ type: 'plane', axis: plane.axis, index: plane.index, bytes: exactArrayBuffer(plane.bytes) });
  }

  /**
   * Reads the volume whole and sends it over the message channel (for files the webview cannot
   * fetch and decode itself): the planes through `crosshair` first where given, then the voxels in
   * chunks. The host lets go of the voxels once they are sent.
   */
  private async sendVoxelsFromHost(crosshair?: Vec3): Promise<void> {
    let volume: Volume | undefined;
    try {
      volume = await this.document.readVolume();
    } catch (error) {
      this.notify('error', `${this.document.fileName}: ${(error as Error).message}`);
      return;
    }
    if (crosshair) {
      for (const axis of [2, 1, 0] as Axis[]) {
        const slice = extractSlice(volume.data, volume.dims, axis, crosshair[axis]).data;
        await this.sendPlane({ axis, index: crosshair[axis], bytes: new Uint8Array(slice.buffer, slice.byteOffset, slice.byteLength) });
      }
    }
    const data = volume.data;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    volume = undefined;
    const pieceAt = (offset: number) => bytes.subarray(offset, Math.min(bytes.length, offset + CHUNK_BYTES));
    // Deflate the next chunk while the current one travels.
    let next = packChunk(pieceAt(0));
    for (let offset = 0; offset < bytes.length; offset += CHUNK_BYTES) {
      const byteLength = Math.min(CHUNK_BYTES, bytes.length - offset);
      const chunk = await next;
      if (offset + CHUNK_BYTES < bytes.length) next = packChunk(pieceAt(offset + CHUNK_BYTES));
      const delivered = await this.endpoint.send({ type: 'volumeChunk', byteOffset: offset, byteLength, ...chunk });
      if (!delivered) return; // the webview is gone
    }
  }

  /** Moves the webview's crosshair to `voxel` (clamped into the volume), now or once it has loaded. */
  reveal(voxel: Vec3, message?: string): void {
    const dims = this.document.grid.dims;
    const inside = voxel.map((v, a) => Math.max(0, Math.min(dims[a] - 1, Math.round(Number.isFinite(v) ? v : 0)))) as Vec3;
    if (this.started) void this.endpoint.send({ type: 'reveal', voxel: inside, message });
    else this.pendingReveal = { voxel: inside, message };
  }

  private async sendLabels(reason: 'open' | 'revert' | 'resync'): Promise<void> {
    const runs = this.document.labelRuns();
    await this.endpoint.send({ type: 'labels', runs: runs.buffer as ArrayBuffer, labelType: labelTypeOf(this.document.labels), reason });
  }

  private async sendPrediction(): Promise<void> {
    const prediction = this.document.prediction;
    if (!prediction) {
      await this.endpoint.send({ type: 'prediction', name: null, runs: null, maxValue: 0 });
      return;
    }
    const runs = encodeLabelRuns(prediction.values);
    await this.endpoint.send({ type: 'prediction', name: uriFileName(prediction.uri), runs: runs.buffer as ArrayBuffer, maxValue: prediction.maxValue });
  }

  private onDocumentChange(change: DocumentChange): void {
    if (!this.started) return; // start() sends the current state when it gets there
    switch (change.kind) {
      case 'delta':
        if (change.origin !== this) void this.endpoint.send({ type: 'delta', delta: encodeDelta(change.delta), direction: change.direction });
        break;
      case 'labels':
        void this.sendLabels(change.reason);
        break;
      case 'classes':
        void this.endpoint.send({ type: 'classes', classes: [...this.document.classes] });
        break;
      case 'prediction':
        void this.sendPrediction();
        break;
    }
  }

  /** The crosshair's voxel, once the webview has said where it is. */
  get crosshair(): Vec3 | undefined {
    return this.crosshairVoxel;
  }

  /** Shows a training's live preview on the planes it covers (null: ends it). */
  showTrainingPreview(preview: TrainingPreviewMessage['preview']): void {
    if (this.started) void this.endpoint.send({ type: 'trainingPreview', preview });
  }

  sendCommand(command: EditorCommand): void {
    void this.endpoint.send({ type: 'command', command });
  }

  sendSettings(): void {
    void this.endpoint.send({ type: 'settings', settings: this.settings() });
  }

  notify(level: 'info' | 'warning' | 'error', message: string): void {
    void this.endpoint.send({ type: 'notice', level, message });
  }

  /** Messages dropped by validation so far (for tests and logs). */
  get droppedMessages(): number {
    return this.dropped;
  }
}
