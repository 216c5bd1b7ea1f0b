/**
 * One webview showing a volume document: sends it the volume in exact-size chunks, the labels
 * and the prediction as runs, every change after that; checks and applies what it sends back.
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import * as vscode from 'vscode';
import { exactArrayBuffer } from '../../core/bytes';
import { encodeDelta, encodeLabelRuns } from '../../core/editDeltas';
import type { Vec3 } from '../../core/geometry';
import { volumeAxisCodes } from '../../core/volume';
import {
  MessageEndpoint,
  type EditorCommand,
  type EditorSettings,
  type ToWebviewMessage,
  type TrainingPreviewMessage,
} from '../../protocol/webview';
import type { DocumentChange, VolumeDocument } from './document';
import { uriFileName } from './labelFiles';
import { labelTypeOf } from './labelVolumes';
import { validateWebviewMessage, type CheckedWebviewMessage } from './messageValidation';

/** Bytes of voxels per message: large enough to be quick, small enough not to stall the channel. */
const CHUNK_BYTES = 16 * 1024 * 1024;
const deflateRaw = promisify(zlib.deflateRaw);

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

  dispose(): void {
    this.crosshairEmitter.dispose();
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
        await this.start();
        return undefined;
      case 'classEdit': {
        const problem = this.document.editClasses(message.edit);
        return problem ? { type: 'editResult', ok: false, reason: problem } : { type: 'editResult', ok: true };
      }
      case 'loaded':
        this.log.info(`${this.document.fileName}: shown (voxels received in ${Math.round(message.receiveMs)} ms, first frame ${Math.round(message.firstRenderMs)} ms)`);
        return undefined;
      case 'log':
        this.log[message.level === 'warning' ? 'warn' : message.level](`webview: ${message.message}`);
        return undefined;
      case 'crosshair': {
        const dims = this.document.volume.dims;
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

  /** Sends everything the webview needs, in order: geometry, voxels, labels, prediction. */
  private async start(): Promise<void> {
    this.started = false;
    const { volume } = this.document;
    const data = volume.data;
    void this.endpoint.send({
      type: 'init',
      volume: {
        fileName: this.document.fileName,
        format: volume.format,
        dims: volume.dims,
        spacing: volume.spacing,
        affine: volume.affine,
        datatype: volume.datatype,
        sclSlope: volume.sclSlope,
        sclInter: volume.sclInter,
        axisCodes: volumeAxisCodes(volume),
        byteLength: data.byteLength,
        frames: volume.frames,
        warnings: volume.warnings ?? [],
      },
      classes: [...this.document.classes],
      labelType: labelTypeOf(this.document.labels),
      settings: this.settings(),
    });
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
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
    // From here every change is sent after the labels it applies to.
    this.started = true;
    await this.sendLabels('open');
    await this.sendPrediction();
    if (this.pendingReveal) void this.endpoint.send({ type: 'reveal', ...this.pendingReveal });
    this.pendingReveal = undefined;
  }

  /** Moves the webview's crosshair to `voxel` (clamped into the volume), now or once it has loaded. */
  reveal(voxel: Vec3, message?: string): void {
    const dims = this.document.volume.dims;
    const inside = voxel.map((v, a) => Math.max(0, Math.min(dims[a] - 1, Math.round(Number.isFinite(v) ? v : 0)))) as Vec3;
    if (this.started) void this.endpoint.send({ type: 'reveal', voxel: inside, message });
    else this.pendingReveal = { voxel: inside, message };
  }

  private async sendLabels(reason: 'open' | 'revert' | 'resync'): Promise<void> {
    const runs = encodeLabelRuns(this.document.labels);
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
