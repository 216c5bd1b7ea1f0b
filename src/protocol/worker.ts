/**
 * The messages between a host (the extension or the CLI) and the engine's worker process
 * (dist/worker.js). Requests carry an `id` chosen by the host; every event about a request
 * carries the same `id`. Each side checks what it receives in full (workerRequestProblem,
 * workerEventProblem) before acting on it.
 */
import type { Vec3 } from '../core/geometry';
import { isBackendChoice, type BackendReport } from './backends';
import type { SegmentOptions, SegmentResult, SegmentStart, TileProgress } from './segment';
import type { TrainSettings } from './settings';
import type { TrainEvent } from './training';

// ---- how the worker is started ----

/**
 * What a host tells the worker when it starts it, before any request: passed in the worker's
 * environment (workerStartEnvironment, readWorkerStartOptions), so that the CLI's user can set it
 * too (UNET3D_NATIVE_TENSORFLOW_PATH=/opt/tfjs-native unet3d train …).
 */
export interface WorkerStartOptions {
  /**
   * Folders that may hold a native TensorFlow install, in the order to look: each a folder with
   * node_modules/@tensorflow/tfjs-node (or -gpu) in it (the setting unet3d.nativeTensorFlowPath,
   * then what 3D U-Net: Install Native TensorFlow installed). Absolute paths. The worker looks
   * there before the optional dependency beside its bundle.
   */
  nativeTensorFlowFolders: string[];
}

/** The environment variable holding WorkerStartOptions.nativeTensorFlowFolders, joined by path.delimiter (':' or ';'). */
export const NATIVE_TENSORFLOW_PATH_ENV = 'UNET3D_NATIVE_TENSORFLOW_PATH';

/** The environment entries that carry `options` to the worker (added to the host's environment). */
export function workerStartEnvironment(options: WorkerStartOptions, delimiter: string): Record<string, string> {
  const bad = options.nativeTensorFlowFolders.find((f) => f.length === 0 || f.includes(delimiter));
  if (bad !== undefined) throw new Error(`a native TensorFlow folder cannot be empty or hold '${delimiter}': ${JSON.stringify(bad)}`);
  return { [NATIVE_TENSORFLOW_PATH_ENV]: options.nativeTensorFlowFolders.join(delimiter) };
}

/** The options a worker was started with, read from its environment (empty entries are skipped). */
export function readWorkerStartOptions(env: Record<string, string | undefined>, delimiter: string): WorkerStartOptions {
  const folders = (env[NATIVE_TENSORFLOW_PATH_ENV] ?? '').split(delimiter).map((f) => f.trim()).filter((f) => f.length > 0);
  return { nativeTensorFlowFolders: [...new Set(folders)] };
}

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

/**
 * Preview the training `id`'s network on the three planes through `target.voxel` of the training
 * image `target.image` (answered by 'preview' events, on the training's schedule); null stops.
 */
export interface PreviewRequest {
  type: 'preview';
  id: string;
  target: { image: string; voxel: Vec3 } | null;
}

/** Exit once idle (a running training is cancelled first). */
export interface ShutdownRequest {
  type: 'shutdown';
}

export type WorkerRequest = StartRequest | CancelRequest | ProbeRequest | ShutdownRequest | SegmentRequest | PreviewRequest;

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

// ---- checking what arrives ----
// Each side checks every message in full before acting on it: the other side may be another
// version, or not ours at all. A problem is one sentence naming the field.

type Check = (value: unknown) => string | undefined;
type Fields = Record<string, Check>;

/** `where` followed by a nested problem: `.a.b is …`, `.a[2] is …`, `.a is …`. */
const at = (where: string, problem: string) => `${where}${/^[.[]/.test(problem) ? '' : ' '}${problem}`;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text: Check = (v) => (typeof v === 'string' ? undefined : 'is not a string');
const nonEmpty: Check = (v) => (typeof v === 'string' && v.length > 0 ? undefined : 'is not a non-empty string');
const bool: Check = (v) => (typeof v === 'boolean' ? undefined : 'is not true or false');
/** A number; ±Infinity passes (an ETA may be unknown), NaN does not. */
const num: Check = (v) => (typeof v === 'number' && !Number.isNaN(v) ? undefined : 'is not a number');
const finite: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'is not a finite number');
const count: Check = (v) => (Number.isInteger(v) && (v as number) >= 0 ? undefined : 'is not a whole number ≥ 0');
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    values.includes(v as string) ? undefined : `is not one of ${values.join(', ')}`;
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? undefined : check(v);
const nullable =
  (check: Check): Check =>
  (v) =>
    v === null ? undefined : check(v);
const triple =
  (element: Check): Check =>
  (v) =>
    Array.isArray(v) && v.length === 3 ? v.map(element).find((p) => p !== undefined) : 'is not a list of three';
const positiveInt: Check = (v) => (Number.isInteger(v) && (v as number) >= 1 ? undefined : 'is not a whole number ≥ 1');
const listOf =
  (element: Check): Check =>
  (v) => {
    if (!Array.isArray(v)) return 'is not a list';
    for (let i = 0; i < v.length; i++) {
      const problem = element(v[i]);
      if (problem) return at(`[${i}]`, problem);
    }
    return undefined;
  };
const object =
  (fields: Fields): Check =>
  (v) => {
    if (!isRecord(v)) return 'is not an object';
    for (const [key, check] of Object.entries(fields)) {
      const problem = check(v[key]);
      if (problem) return at(`.${key}`, problem);
    }
    return undefined;
  };

const backendReport = object({
  active: nonEmpty,
  statuses: listOf(object({ name: nonEmpty, available: bool, reason: optional(text), fix: optional(text), detail: optional(text), location: optional(text), searched: optional(listOf(text)) })),
});
const validationResult = object({ iteration: count, iou: listOf(nullable(finite)), meanForegroundIoU: nullable(finite), seconds: num });
const classInfo = object({ value: positiveInt, name: text });
/** A class of a written segmentation: its value in the file, 0 = background. */
const segmentedClass = object({ value: count, name: text });

/** What the worker checks of a segment request's options before it reads anything. */
const segmentOptions = object({
  runDir: nonEmpty,
  image: nonEmpty,
  out: optional(nonEmpty),
  labels: optional(nonEmpty),
  probabilities: optional(nonEmpty),
  tile: optional(triple(positiveInt)),
  overlap: optional((v) => (typeof v === 'number' && v >= 0 && v < 1 ? undefined : 'is not a number in [0, 1)')),
  context: optional(count),
  checkpoint: optional(oneOf('best', 'last')),
  backend: optional((v) => (isBackendChoice(v) ? undefined : 'is not a backend name')),
});

const REQUEST_FIELDS: Record<WorkerRequest['type'], Fields> = {
  // The settings are filled and checked by trainSettings in the worker, which names a bad one.
  start: { id: nonEmpty, settings: object({ volumes: listOf(object({ image: nonEmpty, labels: nonEmpty })), outDir: nonEmpty }) },
  cancel: { id: nonEmpty },
  probe: { id: nonEmpty },
  shutdown: {},
  preview: { id: nonEmpty, target: nullable(object({ image: nonEmpty, voxel: triple(finite) })) },
  segment: { id: nonEmpty, options: segmentOptions },
};

const EVENT_FIELDS: Record<WorkerEvent['type'], Fields> = {
  ready: { pid: positiveInt },
  started: {
    id: nonEmpty,
    runDir: nonEmpty,
    backend: backendReport,
    network: object({ levels: positiveInt, baseFilters: positiveInt, inChannels: positiveInt, classes: positiveInt }),
    parameters: count,
    geometry: object({ input: triple(positiveInt), output: triple(positiveInt) }),
    classes: listOf(classInfo),
    parent: optional(object({ runDir: nonEmpty, checkpoint: oneOf('best', 'last'), iteration: count, classesAdded: count })),
    trainingVoxels: count,
    validationVoxels: count,
  },
  progress: {
    id: nonEmpty,
    iteration: count,
    totalIterations: optional(count),
    loss: num,
    smoothedLoss: num,
    learningRate: num,
    voxelsPerSecond: num,
    elapsedSeconds: num,
    etaSeconds: num,
    backend: nonEmpty,
    validation: optional(validationResult),
    bestValidation: optional(validationResult),
  },
  validation: { id: nonEmpty, result: validationResult, improved: bool },
  checkpoint: { id: nonEmpty, kind: oneOf('best', 'last'), dir: nonEmpty, iteration: count, meanForegroundIoU: optional(nullable(finite)) },
  finished: {
    id: nonEmpty,
    runDir: nonEmpty,
    summary: object({ status: oneOf('succeeded', 'cancelled', 'interrupted'), stopReason: nonEmpty, iterations: count, seconds: num, finalLoss: nullable(num), best: optional(validationResult), modelDir: nonEmpty, refit: optional(object({ slices: count, heldOutSlices: count, iterations: count })), keptParent: optional(object({ parentIoU: nullable(num), trainedIoU: nullable(num) })) }),
  },
  failed: { id: nonEmpty, message: text, runDir: optional(text), stack: optional(text) },
  probeResult: { id: nonEmpty, report: backendReport },
  preview: {
    id: nonEmpty,
    image: nonEmpty,
    voxel: triple(count),
    iteration: count,
    planes: listOf(
      object({
        axis: (v) => (v === 0 || v === 1 || v === 2 ? undefined : 'is not 0, 1 or 2'),
        index: count,
        width: positiveInt,
        height: positiveInt,
        labels: (v) => (v instanceof Uint8Array || v instanceof Uint16Array ? undefined : 'is not a label array'),
      }),
    ),
    seconds: num,
    share: num,
  },
  segmentStarted: {
    id: nonEmpty,
    info: object({ backend: backendReport, modelDir: nonEmpty, checkpoint: oneOf('best', 'last'), dims: triple(positiveInt), tile: triple(positiveInt), inputTile: triple(positiveInt), tiles: positiveInt, blend: bool, normalization: oneOf('stored', 'computed') }),
  },
  segmentProgress: { id: nonEmpty, progress: object({ done: count, total: count, elapsedSeconds: num, etaSeconds: num, voxelsPerSecond: num }) },
  segmented: {
    id: nonEmpty,
    result: object({ out: nonEmpty, classesFile: nonEmpty, runDir: nonEmpty, dims: triple(positiveInt), classes: listOf(segmentedClass), voxelsPerClass: listOf(count), tiles: positiveInt, predictSeconds: num, seconds: num }),
  },
};

function messageProblem(message: unknown, table: Record<string, Fields>, what: string): string | undefined {
  if (!isRecord(message)) return `${what} is not an object`;
  const type = message.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(table, type)) return `${what} has an unknown type ${JSON.stringify(type)}`;
  const problem = object(table[type])(message);
  return problem ? `${what} '${type}'${problem}` : undefined;
}

/** Why `message` is not a request the worker can act on, or undefined when it is. */
export function workerRequestProblem(message: unknown): string | undefined {
  return messageProblem(message, REQUEST_FIELDS, 'the request');
}

/** Why `message` is not an event the host can act on, or undefined when it is. */
export function workerEventProblem(message: unknown): string | undefined {
  return messageProblem(message, EVENT_FIELDS, 'the worker event');
}

/** Why segment options are not usable, or undefined (the worker checks them before reading anything). */
export function segmentOptionsProblem(options: unknown): string | undefined {
  const problem = segmentOptions(options);
  return problem ? `the segment options${problem}` : undefined;
}

export function isWorkerRequest(message: unknown): message is WorkerRequest {
  return workerRequestProblem(message) === undefined;
}

export function isWorkerEvent(message: unknown): message is WorkerEvent {
  return workerEventProblem(message) === undefined;
}
