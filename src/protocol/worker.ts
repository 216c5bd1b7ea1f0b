/**
 * The messages between a host (the extension or the CLI) and the engine's worker process
 * (dist/worker.js). Requests carry an `id` chosen by the host; every event about a request
 * carries the same `id`. Types only: importing this module loads nothing.
 */
import type { BackendReport } from './backends';
import type { SegmentOptions, SegmentResult, SegmentStart, TileProgress } from './segment';
import type { TrainSettings } from './settings';
import type { TrainEvent } from './training';

// ---- host → worker ----

/** Start a training run. Events for it carry this `id`. One run at a time per worker. */
export interface StartRequest {
  type: 'start';
  id: string;
  settings: TrainSettings;
}

/** Stop the run `id` after its current step; the best checkpoint is kept and the run ends 'cancelled'. */
export interface CancelRequest {
  type: 'cancel';
  id: string;
}

/** Which compute backends load here: answered by a `probeResult` (or `failed`) with this `id`. */
export interface ProbeRequest {
  type: 'probe';
  id: string;
}

/** Exit once idle (a running training is cancelled first). */
export interface ShutdownRequest {
  type: 'shutdown';
}

export type WorkerRequest = StartRequest | CancelRequest | ProbeRequest | ShutdownRequest | SegmentRequest;

// ---- worker → host ----

/** The worker has started and listens (sent once, without an id). */
export interface ReadyEvent {
  type: 'ready';
  pid: number;
}

/** A training event of the run started by request `id`. */
export type WorkerTrainEvent = TrainEvent & { id: string };

/** The request `id` failed (a training: the run folder is marked 'failed'). */
export interface FailedEvent {
  type: 'failed';
  id: string;
  message: string;
  /** For a training, the run folder if it was created. */
  runDir?: string;
  stack?: string;
}

export interface ProbeResultEvent {
  type: 'probeResult';
  id: string;
  report: BackendReport;
}

export type WorkerEvent = ReadyEvent | WorkerTrainEvent | FailedEvent | ProbeResultEvent | SegmentEvent;

// ---- segmentation (the extension's Segment command; segmentVolumeFile in src/engine/segmentFile.ts) ----

/**
 * Segment an image with a run and write `NAME.seg.nii.gz` (and its companions) as
 * segmentVolumeFile does. Answered by `segmentStarted`, `segmentProgress` events and one
 * `segmented` (or `failed`, also when cancelled: a `cancel` with this `id` stops it between tiles
 * and nothing is written).
 */
export interface SegmentRequest {
  type: 'segment';
  id: string;
  options: SegmentOptions;
}

/** The backend is up and the tiles are planned. */
export interface SegmentStartedEvent {
  type: 'segmentStarted';
  id: string;
  info: SegmentStart;
}

/** After every tile. */
export interface SegmentProgressEvent {
  type: 'segmentProgress';
  id: string;
  progress: TileProgress;
}

/** The files are written. */
export interface SegmentedEvent {
  type: 'segmented';
  id: string;
  result: SegmentResult;
}

export type SegmentEvent = SegmentStartedEvent | SegmentProgressEvent | SegmentedEvent;

const REQUEST_TYPES: readonly string[] = ['start', 'cancel', 'probe', 'shutdown', 'segment'];
const EVENT_TYPES: readonly string[] = ['ready', 'started', 'progress', 'validation', 'checkpoint', 'finished', 'failed', 'probeResult', 'segmentStarted', 'segmentProgress', 'segmented'];

/** A light structural check of a message received from the other side. */
export function isWorkerRequest(message: unknown): message is WorkerRequest {
  return typeof message === 'object' && message !== null && REQUEST_TYPES.includes((message as { type?: unknown }).type as string);
}

export function isWorkerEvent(message: unknown): message is WorkerEvent {
  return typeof message === 'object' && message !== null && EVENT_TYPES.includes((message as { type?: unknown }).type as string);
}
