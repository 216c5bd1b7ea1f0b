/**
 * The messages between a host (the extension or the CLI) and the engine's worker process
 * (dist/worker.js). Requests carry an `id` chosen by the host; every event about a request
 * carries the same `id`. Types only: importing this module loads nothing.
 */
import type { BackendName, BackendReport } from '../engine/backends';
import type { TileProgress } from '../engine/predict';
import type { SegmentOptions, SegmentResult, SegmentStart } from '../engine/segmentFile';
import type { UNetConfig } from '../engine/model';
import type { PatchGeometry } from '../engine/sampler';
import type { TrainSettings } from '../engine/settings';

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

// ---- what a training reports (in-process as is; from the worker with the request's `id`) ----

/** A class of the run: its label value (1 = background) and name. */
export interface ClassInfo {
  value: number;
  name: string;
}

/** The run is set up: data read, network built, training about to begin. */
export interface TrainStartedEvent {
  type: 'started';
  runDir: string;
  backend: BackendReport;
  network: UNetConfig;
  parameters: number;
  geometry: PatchGeometry;
  classes: ClassInfo[];
  /** Labeled voxels used for training / scored by validation, over every volume. */
  trainingVoxels: number;
  validationVoxels: number;
}

/** One validation pass on the held-out slices. */
export interface ValidationResult {
  iteration: number;
  /** IoU per class, background first (index c = label value c + 1); null where the class is absent. */
  iou: (number | null)[];
  /** Mean IoU over the foreground classes; null if none is present. */
  meanForegroundIoU: number | null;
  /** Seconds since training started. */
  seconds: number;
}

/** After every training step. */
export interface TrainProgressEvent {
  type: 'progress';
  iteration: number;
  /** The iteration limit, if the run has one. */
  totalIterations?: number;
  /** This step's loss, and an exponential moving average of it. */
  loss: number;
  smoothedLoss: number;
  learningRate: number;
  /** Output (labeled-grid) voxels trained per second, averaged over the recent steps. */
  voxelsPerSecond: number;
  elapsedSeconds: number;
  /** Estimated seconds to the end (iteration or time limit, whichever comes first). */
  etaSeconds: number;
  backend: BackendName;
  /** The latest and the best validation so far. */
  validation?: ValidationResult;
  bestValidation?: ValidationResult;
}

export interface TrainValidationEvent {
  type: 'validation';
  result: ValidationResult;
  /** True when this is the best so far (a `best` checkpoint follows). */
  improved: boolean;
}

/** A checkpoint (model.json + weights) was written to `dir`. */
export interface CheckpointEvent {
  type: 'checkpoint';
  kind: 'best' | 'last';
  dir: string;
  iteration: number;
  meanForegroundIoU?: number | null;
}

/** Why a run stopped. */
export type StopReason = 'iterations' | 'time' | 'early-stop' | 'cancelled';

/** How a run ended. */
export interface RunSummary {
  status: 'succeeded' | 'cancelled';
  stopReason: StopReason;
  iterations: number;
  seconds: number;
  /** Smoothed loss at the end. */
  finalLoss: number | null;
  /** The best validation (absent without validation). */
  best?: ValidationResult;
  /** The folder of the model to use (best checkpoint, or last without validation). */
  modelDir: string;
}

export interface TrainFinishedEvent {
  type: 'finished';
  runDir: string;
  summary: RunSummary;
}

/** Everything a training reports while it runs. */
export type TrainEvent = TrainStartedEvent | TrainProgressEvent | TrainValidationEvent | CheckpointEvent | TrainFinishedEvent;

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
