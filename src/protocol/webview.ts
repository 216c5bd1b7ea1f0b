/**
 * Messages between the volume editor's host (src/extension/volumeEditor) and its webview
 * (webview/). Bulk data (voxels, labels, deltas) travels as exact-size ArrayBuffers, which
 * VS Code's postMessage carries as binary, never as JSON. Every message body has a `type`;
 * an envelope gives it an id so a reply can name its request.
 *
 * Only types and the envelope handler live here (no vscode, no DOM): both sides import it.
 */
import type { DataType } from '../core/datatypes';
import type { Mat4, Vec3 } from '../core/geometry';
import type { LabelClass } from '../core/labels';
import type { LeftRightConvention } from '../core/planes';
import type { VolumeFormat } from '../core/volume';
import type { VoxelLayout } from '../core/voxelStream';

// ---------------------------------------------------------------- shared shapes

/** What the webview needs to know about the volume before its voxels arrive. */
export interface VolumeInfo {
  /** File name without folder, e.g. `t2.nii.gz`. */
  fileName: string;
  format: VolumeFormat;
  /** Voxels along x, y, z. */
  dims: Vec3;
  /** Voxel spacing along x, y, z, mm. */
  spacing: Vec3;
  /** Voxel index → RAS+ mm, rows. */
  affine: Mat4;
  datatype: DataType;
  sclSlope: number;
  sclInter: number;
  /** Orientation codes of the voxel axes, e.g. "PSR". */
  axisCodes: string;
  /** Bytes of the voxels (the first frame, stored type): the webview's one buffer for them. */
  byteLength: number;
  /** Frames of a 4D file (only the first is shown). */
  frames: number;
  /** What the reader worked around (e.g. an unusable sform), one sentence each; shown in the status line. */
  warnings: string[];
}

/** Editor settings the webview follows (from `unet3d.editor.*`). */
export interface EditorSettings {
  leftRight: LeftRightConvention;
  /** 0–1 */
  labelOpacity: number;
  /** 0–1 */
  predictionOpacity: number;
}

/** Names under which label edits appear in VS Code's undo history. */
export type EditLabel = 'Brush' | 'Erase' | 'Fill' | 'Fill slice' | 'Accept prediction';
export const EDIT_LABELS: readonly EditLabel[] = ['Brush', 'Erase', 'Fill', 'Fill slice', 'Accept prediction'];

export type ToolName = 'navigate' | 'brush' | 'eraser' | 'fill';
export const TOOL_NAMES: readonly ToolName[] = ['navigate', 'brush', 'eraser', 'fill'];

/** Actions a keybinding or a menu asks of the webview (through the host). */
export type EditorCommand =
  | { command: 'tool'; tool: ToolName }
  | { command: 'fillSlice' }
  | { command: 'acceptPrediction' }
  | { command: 'toggleOutline' }
  | { command: 'togglePrediction' }
  | { command: 'brushSize'; step: 1 | -1 }
  | { command: 'toggleLayout' }
  | { command: 'resetView' }
  | { command: 'selectClass'; value: number }
  | { command: 'nextLabeledSlice'; step: 1 | -1 };

/** A change to the class list, asked by the webview; the host makes it an undoable edit. */
export type ClassEdit =
  | { action: 'add' }
  | { action: 'rename'; value: number; name: string }
  | { action: 'recolor'; value: number; color: string }
  | { action: 'remove'; value: number };

// ---------------------------------------------------------------- host → webview

/**
 * How the voxels reach the webview:
 * - `fetch`: the webview fetches the file itself and cuts the voxels out of it as `layout` says,
 *   inflating gzip with DecompressionStream: over plain HTTP from the server that serves the
 *   webview where that server holds the file (code-server: its `/vscode-remote-resource` route
 *   for `path`), else from `url` (a webview resource URI); where both fail it sends
 *   `voxelsFailed` and the host sends chunks instead;
 * - `chunks`: the host sends them in `volumeChunk` messages.
 * Either way the three planes through the crosshair come first, in `plane` messages.
 */
export type VoxelSource =
  | {
      kind: 'fetch';
      url: string;
      /** The file's path on the extension host's machine, as a URI path (`vscode.Uri.file(f).path`). */
      path: string;
      /**
       * The same file under a name the server's own route sends uncompressed (a link; see
       * `src/extension/volumeEditor/serverAlias.ts`), as a URI path; the file's own path where none.
       */
      serverPath: string;
      layout: Omit<VoxelLayout, 'dataFile'>;
      /**
       * The host streams the planes through the crosshair from the same file first and says when
       * it is done (`planesSent`): the fetch waits for that, so that the two do not share the CPU
       * (on two cores, running both at once delays the first planes to the end of the fetch).
       */
      afterPlanes: boolean;
    }
  | { kind: 'chunks' };

/** The answer to `ready`: the volume's geometry, the classes and the settings. Labels, the first planes, the voxels and the prediction follow. */
export interface InitMessage {
  type: 'init';
  volume: VolumeInfo;
  classes: LabelClass[];
  labelType: 'uint8' | 'uint16';
  settings: EditorSettings;
  voxels: VoxelSource;
  /** The voxel the first planes go through (the crosshair the webview asked for, or the centre). */
  crosshair: Vec3;
}

/**
 * One of the three planes through the crosshair, sent before the rest of the voxels so the
 * editor shows them at once: the slice `index` across `axis` as `extractSlice` lays it out
 * (stored type, little-endian), exact-size buffer.
 */
export interface PlaneMessage {
  type: 'plane';
  axis: 0 | 1 | 2;
  index: number;
  bytes: ArrayBuffer;
}

/**
 * Below this many bytes of voxels the file is fetched through its webview resource URI only (and
 * the host makes no raw copy of it): it is quick either way, and a page that some proxy answers
 * in its place could pass for a file that small (no web page is megabytes long: a larger one
 * ends before the voxels do, and fails).
 */
export const SERVER_ROUTE_MIN_BYTES = 4 * 1024 * 1024;

/**
 * The host has sent the planes through the crosshair it had (or could not stream them): a fetch
 * that waited for them starts. `rawCopy`: the voxels as the host inflated them for the planes, in
 * a file the server's own route sends (a URI path; see firstPlanes.ts), fetched before the
 * volume's own file where that route exists.
 */
export interface PlanesSentMessage {
  type: 'planesSent';
  rawCopy?: { serverPath: string; layout: Omit<VoxelLayout, 'dataFile'> };
}

/**
 * A piece of the volume's voxels (little-endian, the stored type) for bytes `byteOffset` ..
 * `byteOffset + byteLength`. Compressible pieces travel deflated (`deflate-raw`, inflated in
 * the webview with DecompressionStream): the channel to the webview, not the CPU, is what
 * limits how fast a large volume opens.
 */
export interface VolumeChunkMessage {
  type: 'volumeChunk';
  byteOffset: number;
  /** Bytes of voxels this piece holds once inflated. */
  byteLength: number;
  encoding: 'raw' | 'deflate-raw';
  bytes: ArrayBuffer;
}

/** The whole label map, replacing what the webview holds: runs of (start, length, value) as uint32. */
export interface LabelsMessage {
  type: 'labels';
  runs: ArrayBuffer;
  labelType: 'uint8' | 'uint16';
  reason: 'open' | 'revert' | 'resync';
}

/** Apply a label delta (`encodeDelta`) made elsewhere: undo, redo, a class removal. */
export interface DeltaMessage {
  type: 'delta';
  delta: ArrayBuffer;
  direction: 'forward' | 'backward';
}

/** The class list changed. */
export interface ClassesMessage {
  type: 'classes';
  classes: LabelClass[];
}

/**
 * The prediction overlay: runs of (start, length, value) as uint32, or none. Values are editor
 * labels (1 = background, 2.. the classes), as the labels: the host converts the file's own
 * (0 = background) on reading.
 */
export interface PredictionMessage {
  type: 'prediction';
  /** File name shown to the user; null clears the overlay. */
  name: string | null;
  runs: ArrayBuffer | null;
  /** Highest class value (editor label) in the prediction. */
  maxValue: number;
}

export interface SettingsMessage {
  type: 'settings';
  settings: EditorSettings;
}

export interface CommandMessage {
  type: 'command';
  command: EditorCommand;
}

/** Reply to `edit` or `classEdit`. */
export interface EditResultMessage {
  type: 'editResult';
  ok: boolean;
  /** Why it was refused. */
  reason?: string;
}

/** Something the user should read, shown in the webview's status line. */
export interface NoticeMessage {
  type: 'notice';
  level: 'info' | 'warning' | 'error';
  message: string;
}

/** Move the crosshair to a voxel (e.g. the slice a model is least sure of) and say why. */
export interface RevealMessage {
  type: 'reveal';
  /** Voxel index (i, j, k), inside the volume. */
  voxel: Vec3;
  message?: string;
}

/** One plane of a training preview, as the engine predicted it (see PreviewPlane in training.ts). */
export interface PreviewPlaneData {
  axis: 0 | 1 | 2;
  index: number;
  width: number;
  height: number;
  /** width·height label values, columns along the lower in-plane axis; exact-size buffer. */
  labels: ArrayBuffer;
  labelType: 'uint8' | 'uint16';
}

/**
 * A live preview of a training in progress on the planes through the crosshair (the network as
 * it is now, not saved anywhere); null ends it.
 */
export interface TrainingPreviewMessage {
  type: 'trainingPreview';
  preview: { run: string; iteration: number; planes: PreviewPlaneData[] } | null;
}

export type ToWebviewMessage =
  | PlaneMessage
  | PlanesSentMessage
  | TrainingPreviewMessage
  | InitMessage
  | RevealMessage
  | VolumeChunkMessage
  | LabelsMessage
  | DeltaMessage
  | ClassesMessage
  | PredictionMessage
  | SettingsMessage
  | CommandMessage
  | EditResultMessage
  | NoticeMessage;

// ---------------------------------------------------------------- webview → host

/**
 * The webview has started and wants the document: the host answers with `init`, the labels,
 * the first planes, the voxels and the prediction. `resume`: where the webview's saved state had
 * its crosshair, for the file it names (the first planes go through it where it fits the volume).
 */
export interface ReadyMessage {
  type: 'ready';
  resume?: { fileName: string; crosshair: Vec3 };
}

/** A label edit the webview has made on its copy (a request: the reply is `editResult`). */
export interface EditMessage {
  type: 'edit';
  label: EditLabel;
  /** `encodeDelta` bytes. */
  delta: ArrayBuffer;
}

/** A change to the class list (a request: the reply is `editResult`). */
export interface ClassEditMessage {
  type: 'classEdit';
  edit: ClassEdit;
}

/**
 * The webview has every voxel (for logs and the benchmark), with how long each step took, ms
 * from the webview's start: the first planes drawn, every voxel in; how they came, and the
 * bytes it holds for them.
 */
export interface LoadedMessage {
  type: 'loaded';
  firstPlanesMs: number;
  wholeVolumeMs: number;
  transport: 'fetch' | 'chunks';
  /** Bytes of voxels the webview holds (its one buffer). */
  voxelBytes: number;
}

/** The webview could not fetch the voxels itself (`reason`): the host sends them in chunks instead. */
export interface VoxelsFailedMessage {
  type: 'voxelsFailed';
  reason: string;
}

/** A line for the extension's log. */
export interface LogMessage {
  type: 'log';
  level: 'info' | 'warning' | 'error';
  message: string;
}

/** The crosshair moved (voxel i, j, k): a training preview follows it. */
export interface CrosshairMessage {
  type: 'crosshair';
  voxel: Vec3;
}

export type FromWebviewMessage = ReadyMessage | EditMessage | ClassEditMessage | LoadedMessage | LogMessage | CrosshairMessage | VoxelsFailedMessage;

// ---------------------------------------------------------------- envelopes and request/reply

/** What actually crosses postMessage: a body with an id, and the id of the request it answers. */
export interface Envelope<M> {
  id: number;
  replyTo?: number;
  body: M;
}

/**
 * One side of the channel. `send` posts an event (resolving false when the other side is
 * gone); `request` posts and resolves with the reply; incoming envelopes go to `receive`, which
 * answers requests with what `handle` returns. `post`'s second argument lists the ArrayBuffers
 * to transfer rather than copy (the webview passes them to postMessage; the host's VS Code API
 * carries every ArrayBuffer as binary by itself).
 */
export class MessageEndpoint<Out extends { type: string }, In extends { type: string }> {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: In) => void; reject: (e: Error) => void }>();

  constructor(
    private readonly post: (envelope: Envelope<Out>, transfer: ArrayBuffer[]) => void | PromiseLike<boolean>,
    private readonly handle: (message: In) => Out | undefined | Promise<Out | undefined>,
  ) {}

  send(body: Out, transfer: ArrayBuffer[] = transferablesOf(body)): Promise<boolean> {
    return Promise.resolve(this.post({ id: this.nextId++, body }, transfer)).then((delivered) => delivered !== false);
  }

  request(body: Out, transfer: ArrayBuffer[] = transferablesOf(body)): Promise<In> {
    const id = this.nextId++;
    return new Promise<In>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ id, body }, transfer);
    });
  }

  /** Handles an incoming envelope (already checked to be one: see `isEnvelope`). */
  async receive(envelope: Envelope<In>): Promise<void> {
    if (envelope.replyTo !== undefined) {
      const waiting = this.pending.get(envelope.replyTo);
      this.pending.delete(envelope.replyTo);
      waiting?.resolve(envelope.body);
      return;
    }
    const reply = await this.handle(envelope.body);
    if (reply) this.post({ id: this.nextId++, replyTo: envelope.id, body: reply }, transferablesOf(reply));
  }

  /** Fails every request still waiting (the other side is gone). */
  dispose(reason = 'the channel was closed'): void {
    for (const { reject } of this.pending.values()) reject(new Error(reason));
    this.pending.clear();
  }
}

/** True where `value` has an envelope's shape (a positive integer id and an object body with a string type). */
export function isEnvelope(value: unknown): value is Envelope<{ type: string }> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (!Number.isSafeInteger(v.id) || (v.id as number) < 1) return false;
  if (v.replyTo !== undefined && !(Number.isSafeInteger(v.replyTo) && (v.replyTo as number) >= 1)) return false;
  const body = v.body as Record<string, unknown> | null;
  return typeof body === 'object' && body !== null && typeof body.type === 'string';
}

/** The ArrayBuffers directly inside a message body (to transfer rather than copy). */
export function transferablesOf(body: object): ArrayBuffer[] {
  return Object.values(body).filter((v): v is ArrayBuffer => v instanceof ArrayBuffer);
}
