/**
 * The run record (`run.json` in a run folder): what a training was given, what it saw, how it
 * went. Part of the engine's contract: the engine writes it, the extension's Runs view, the CLI
 * and the engine read it, all through `parseRunRecord`, the one parser. No Node imports here.
 */
import type { Vec3 } from '../core/geometry';
import type { LabelConvention } from '../core/segmentationConvention';
import type { AnnotatedSlice } from '../core/sparseSplit';
import type { BackendName, GpuAdapterReport } from './backends';
import type { UNetConfig } from './network';
import type { NormalizationSettings, TrainSettings } from './settings';
import type { ClassInfo, PatchGeometry, RunSummary, ValidationResult } from './training';

/** One channel's figures, in the file's scaled intensity units (after scl_slope/scl_inter). */
export interface ChannelNormalization {
  /** Clip range: intensities below `low` become `low`, above `high` become `high`. */
  low: number;
  high: number;
  /** Mean and standard deviation of the clipped intensities; the network sees (v − mean) / std. */
  mean: number;
  std: number;
  /** The fill value left out of the figures (scaled units; see channelNormalization), if any. */
  fill?: number;
}

/** How one volume was normalized: the settings and one entry per channel. */
export interface VolumeNormalization {
  settings: NormalizationSettings;
  channels: ChannelNormalization[];
}

export const RUN_FILE = 'run.json';
export const RUN_SCHEMA_VERSION = 1;

/**
 * `interrupted`: the host that started the run (VS Code, the CLI) went away; the worker kept the
 * checkpoints it had and stopped.
 */
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export const RUN_STATUSES: readonly RunStatus[] = ['running', 'succeeded', 'failed', 'cancelled', 'interrupted'];

/**
 * `worker.lock` in a run folder while a process trains it: which process, on which machine. A
 * 'running' run whose lock names a process that is gone was interrupted (a crash, a kill).
 */
export const RUN_LOCK_FILE = 'worker.lock';

export interface RunLock {
  pid: number;
  hostname: string;
  startedAt: string;
}

/** The lock's content, or undefined when it is not one. */
export function parseRunLock(text: string): RunLock | undefined {
  const json = parseJson(text, RUN_LOCK_FILE);
  if (!json.ok) return undefined;
  const { pid, hostname, startedAt } = json.value;
  if (!(Number.isInteger(pid) && (pid as number) > 0) || typeof hostname !== 'string' || typeof startedAt !== 'string') return undefined;
  return { pid: pid as number, hostname, startedAt };
}

/** A file the run read, with its SHA-256, so a run can tell whether its inputs changed. */
export interface FileRecord {
  path: string;
  sha256: string;
  bytes: number;
}

/** One training volume as the run saw it. */
export interface VolumeRecord {
  image: FileRecord;
  labels: FileRecord;
  /** Grid: voxels (x, y, z) and spacing (mm). */
  dims: Vec3;
  spacing: Vec3;
  channels: number;
  /** The intensity normalization applied to this volume. */
  normalization: VolumeNormalization;
  /** Annotated slices used for training and held out for validation. */
  trainingSlices: AnnotatedSlice[];
  validationSlices: AnnotatedSlice[];
  /** Labeled training voxels per class (index c = label value c + 1). */
  trainingVoxels: number[];
  /** How the label file was read: `labels` (0 = unlabeled) or `mask` (0 = background, value + 1). Absent in runs before 0.2. */
  labelsConvention?: LabelConvention;
}

/** The training loss, sampled every few iterations. */
export interface LossRecord {
  iteration: number;
  seconds: number;
  /** Smoothed loss (exponential moving average). */
  loss: number;
  learningRate: number;
}

/** A checkpoint folder (relative to the run folder). */
export interface CheckpointRecord {
  dir: string;
  iteration: number;
  meanForegroundIoU?: number | null;
}

/** Where a warm-started run's weights came from. */
export interface RunParent {
  /** The parent's run folder, absolute. */
  runDir: string;
  checkpoint: 'best' | 'last';
  iteration: number;
  /** The parent's held-out IoU at that checkpoint, when it had one. */
  meanForegroundIoU?: number | null;
  /** Classes added since the parent (each got a fresh output channel). */
  classesAdded: number;
  /** Annotated slices the parent did not have (they always train, and get `newSliceFraction` of the patches). */
  newSlices?: number;
  /**
   * True when this run's held-out slices are not independent of the network it started from: the
   * parent trained on them (as training slices, or in its refit). Its held-out IoU then says how
   * well the lineage fits slices it has seen, not how it does on new ones.
   */
  heldOutSeen?: boolean;
  /** The check that the run did not end worse than its parent (absent: not made, e.g. the run was stopped). */
  comparison?: ParentComparison;
}

/**
 * A warm start's parent and the network it trained, scored on the same annotated slices (the new
 * ones included; src/engine/parentComparison.ts): when the trained one scores below, the run keeps
 * the parent's weights (its last checkpoint is then the parent's network, iteration 0).
 */
export interface ParentComparison {
  /** Mean foreground IoU of the parent's network on the slices, and of the network trained. */
  parentIoU: number | null;
  trainedIoU: number | null;
  /** Annotated slices (or left-out groups of them) and voxels scored. */
  checks: number;
  voxels: number;
  /** Which network the run left. */
  kept: 'parent' | 'trained';
}

/**
 * A refit (TrainSettings.refit): after the held-out phase, training went on with every annotated
 * slice, the held-out ones included. The run's held-out IoU (`validation`, `summary.best`) is the
 * one of the network before the refit, which had not seen those slices.
 */
export interface RefitRecord {
  /** The share of the budget it was given. */
  share: number;
  /** The held-out phase's network it started from: its iteration and held-out IoU. */
  from: { iteration: number; meanForegroundIoU: number | null };
  /** Annotated slices it trained on (every one), and how many of them had been held out. */
  slices: number;
  heldOutSlices: number;
  /** Its steps and seconds of training. */
  iterations: number;
  seconds: number;
  /**
   * Whether it ran to its end. Then the refit network is the run's model (`checkpoints.last`; there
   * is no `best` any more). False: the run was stopped during it, and the held-out phase's best
   * checkpoint stays the model.
   */
  done: boolean;
  /** Where the held-out phase's best checkpoint was kept (a folder of the run), once the refit is done. */
  heldOutCheckpoint?: string;
}

/** Everything in run.json. Times are ISO 8601 strings. */
export interface RunRecord {
  schemaVersion: number;
  status: RunStatus;
  /** Why the run failed, one line. */
  error?: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  /** The backend that ran it (e.g. 'wasm'). This and the fields below up to `volumes` are absent if the run failed before it got that far. */
  backend?: BackendName;
  /** webgpu: the GPU adapter it ran on (vendor, architecture, description, software or hardware, limits). */
  adapter?: GpuAdapterReport;
  /** The settings as given, defaults filled in. */
  settings: TrainSettings;
  /** The network as built (input channels and classes from the data) and its parameter count. */
  network?: UNetConfig;
  parameters?: number;
  /** Input and output patch sizes (x, y, z) in voxels. */
  geometry?: PatchGeometry;
  /** The classes, background first: label value and name. */
  classes?: ClassInfo[];
  /** The loss weight of each class (index c = label value c + 1). */
  classWeights?: number[];
  /**
   * Label values whose predictions keep only their largest 3D component: the classes the
   * training labels show as one object, when the settings ask for it (empty otherwise).
   */
  singleObjectClasses?: number[];
  /**
   * How `logitAdjustment: 'auto'` (and annotationOffsets) were chosen: the mean foreground IoU of
   * each fraction tried on `voxels` voxels of slices the network was not given (see calibrateDecision).
   */
  logitCalibration?: {
    fractions: number[];
    /** Per fraction, with the annotation offsets chosen for it (when there are any). */
    meanIoU: (number | null)[];
    /** Per fraction, without annotation offsets: present when offsets were chosen. */
    meanIoUWithoutOffsets?: (number | null)[];
    voxels: number;
  };
  /**
   * A run with annotation channels: per class (index c = label value c + 1), what its segmentations
   * add to the trust map where the nearest annotation is that class, chosen with the logit
   * adjustment on the same slices (see calibrateDecision). Absent: none.
   */
  annotationOffsets?: number[];
  volumes: VolumeRecord[];
  /** The metrics over time. */
  loss: LossRecord[];
  validation: ValidationResult[];
  checkpoints: { best?: CheckpointRecord; last?: CheckpointRecord };
  /** Set when the run ends (succeeded or cancelled). */
  summary?: RunSummary;
  /** The run this one started from (warm start), its checkpoint and that checkpoint's iteration. */
  parent?: RunParent;
  /** Seconds the live previews took (they count in the training's time). */
  previewSeconds?: number;
  /** Why the parent asked for (with `initOptional`) was not used, and the run trained from scratch. */
  warmStartSkipped?: string;
  /** The refit on every annotated slice at the end, when there was one. */
  refit?: RefitRecord;
}

// ---- parsing ----

/** A record parsed, or why it could not be. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isIoU = (v: unknown): v is number | null => v === null || isFiniteNumber(v);

/** JSON text that holds an object, or why not (empty, half-written, not an object). */
export function parseJson(text: string, file: string): Parsed<Record<string, unknown>> {
  if (text.trim() === '') return { ok: false, reason: `${file} is empty (it may be being written)` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `${file} is not valid JSON (half-written or corrupt): ${(error as Error).message}` };
  }
  if (!isObject(value)) return { ok: false, reason: `${file} does not hold a JSON object` };
  return { ok: true, value };
}

/** A validation result whose fields have the right types, else undefined. */
function cleanValidation(v: unknown): ValidationResult | undefined {
  if (!isObject(v) || !isFiniteNumber(v.iteration) || !Array.isArray(v.iou) || !v.iou.every(isIoU)) return undefined;
  const mean = v.meanForegroundIoU ?? null;
  if (!isIoU(mean)) return undefined;
  return { iteration: v.iteration, iou: v.iou as (number | null)[], meanForegroundIoU: mean, seconds: isFiniteNumber(v.seconds) ? v.seconds : 0 };
}

/** A refit record whose fields have the right types, else undefined. */
function cleanRefit(v: unknown): RefitRecord | undefined {
  if (!isObject(v) || !isObject(v.from) || typeof v.done !== 'boolean') return undefined;
  const numbers = [v.share, v.slices, v.heldOutSlices, v.iterations, v.seconds, v.from.iteration];
  if (!numbers.every(isFiniteNumber) || !isIoU(v.from.meanForegroundIoU ?? null)) return undefined;
  return v as unknown as RefitRecord;
}

/** A patch geometry as the view shows it: input and output of 3 finite sizes each. */
function isGeometry(g: unknown): boolean {
  const shape = (v: unknown) => Array.isArray(v) && v.length === 3 && v.every(isFiniteNumber);
  return isObject(g) && shape(g.input) && shape(g.output);
}

/**
 * True where a run folder's only file, run.json, holds `text` of a run that failed (it never
 * wrote a checkpoint): such a folder may be taken back by a new run, nothing of it is lost but
 * the failure's record. Any other run folder is never overwritten.
 */
export function isFailedRunOnly(text: string | undefined): boolean {
  if (text === undefined) return false;
  const parsed = parseRunRecord(text);
  return parsed.ok && parsed.value.status === 'failed';
}

/**
 * Parses run.json. Checks what the view relies on (schema, status, settings, times) and drops
 * malformed entries of the metric lists rather than failing on them.
 */
export function parseRunRecord(text: string, file = RUN_FILE): Parsed<RunRecord> {
  const json = parseJson(text, file);
  if (!json.ok) return json;
  const r = json.value;
  if (r.schemaVersion !== RUN_SCHEMA_VERSION) {
    return { ok: false, reason: `${file} has schema version ${JSON.stringify(r.schemaVersion)}; this version of the extension reads version ${RUN_SCHEMA_VERSION}` };
  }
  if (typeof r.status !== 'string' || !(RUN_STATUSES as readonly string[]).includes(r.status)) {
    return { ok: false, reason: `${file} has an unknown status ${JSON.stringify(r.status)}` };
  }
  if (!isObject(r.settings)) return { ok: false, reason: `${file} has no settings` };
  if (typeof r.createdAt !== 'string' || Number.isNaN(Date.parse(r.createdAt))) return { ok: false, reason: `${file} has no valid createdAt time` };
  const settings = r.settings as Record<string, unknown>;
  const record = {
    ...r,
    updatedAt: typeof r.updatedAt === 'string' ? r.updatedAt : r.createdAt,
    settings: { ...settings, volumes: Array.isArray(settings.volumes) ? settings.volumes.filter(isObject) : [], network: isObject(settings.network) ? settings.network : { preset: 'fast' } },
    volumes: Array.isArray(r.volumes) ? r.volumes.filter((v) => isObject(v) && isObject(v.image) && isObject(v.labels)) : [],
    loss: Array.isArray(r.loss) ? r.loss.filter((l) => isObject(l) && isFiniteNumber(l.iteration) && isFiniteNumber(l.loss)) : [],
    validation: Array.isArray(r.validation) ? r.validation.map(cleanValidation).filter((v): v is ValidationResult => v !== undefined) : [],
    checkpoints: isObject(r.checkpoints) ? r.checkpoints : {},
    classes: Array.isArray(r.classes) ? r.classes.filter((c) => isObject(c) && isFiniteNumber(c.value) && typeof c.name === 'string') : undefined,
    error: typeof r.error === 'string' ? r.error : undefined,
    refit: cleanRefit(r.refit),
    classWeights: Array.isArray(r.classWeights) && r.classWeights.every(isFiniteNumber) ? r.classWeights : undefined,
  } as unknown as RunRecord;
  if (record.geometry !== undefined && !isGeometry(record.geometry)) delete record.geometry;
  if (record.summary !== undefined) {
    const s = record.summary as unknown;
    if (!isObject(s) || !isFiniteNumber(s.iterations)) delete record.summary;
    else if (s.best !== undefined) {
      const best = cleanValidation(s.best);
      if (best) record.summary!.best = best;
      else delete record.summary!.best;
    }
  }
  return { ok: true, value: record };
}
