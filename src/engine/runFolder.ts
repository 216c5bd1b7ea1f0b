/**
 * A training run is a folder: `run.json` (what was trained on, how, and how it went) and the
 * model checkpoints in TensorFlow.js format (`best/` and `last/`, each model.json + weights).
 * run.json is rewritten atomically as the run goes, so a reader never sees half of it.
 * No TensorFlow.js here: the extension host reads runs with this module.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomicWrite';
import type { Vec3 } from '../core/geometry';
import type { ClassInfo, RunSummary, ValidationResult } from '../protocol/worker';
import type { BackendName } from './backends';
import type { GpuAdapterReport } from './webgpu/adapter';
import type { UNetConfig } from './model';
import type { VolumeNormalization } from './normalize';
import type { PatchGeometry } from './sampler';
import type { TrainSettings } from './settings';
import type { AnnotatedSlice } from './sparseSplit';

export const RUN_FILE = 'run.json';
export const RUN_SCHEMA_VERSION = 1;

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'cancelled';

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
   * How `logitAdjustment: 'auto'` was chosen: the mean foreground IoU of each fraction tried on
   * `voxels` voxels of slices the network was not given (see calibrateLogitAdjustment).
   */
  logitCalibration?: { fractions: number[]; meanIoU: (number | null)[]; voxels: number };
  volumes: VolumeRecord[];
  /** The metrics over time. */
  loss: LossRecord[];
  validation: ValidationResult[];
  checkpoints: { best?: CheckpointRecord; last?: CheckpointRecord };
  /** Set when the run ends (succeeded or cancelled). */
  summary?: RunSummary;
}

/** SHA-256 of a file's bytes, with its path and size. */
export function fileRecord(file: string): FileRecord {
  const bytes = fs.readFileSync(file);
  return { path: path.resolve(file), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

/** Creates the run folder; refuses one that holds anything already (a run is never overwritten). */
export function createRunFolder(dir: string): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a folder`);
    if (fs.readdirSync(dir).length > 0) throw new Error(`the run folder ${dir} is not empty; choose a new one`);
  }
  fs.mkdirSync(dir, { recursive: true });
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  record.updatedAt = new Date().toISOString();
  writeFileAtomic(path.join(dir, RUN_FILE), JSON.stringify(record, null, 2) + '\n');
}

/** Reads a run folder's run.json (throws a clear error when it is missing or not a run). */
export function readRunRecord(dir: string): RunRecord {
  const file = path.join(dir, RUN_FILE);
  if (!fs.existsSync(file)) throw new Error(`${dir} is not a training run: it has no ${RUN_FILE}`);
  const record = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
  if (typeof record !== 'object' || record === null || record.schemaVersion !== RUN_SCHEMA_VERSION || !record.settings) {
    throw new Error(`${file} is not a run record this version understands`);
  }
  return record;
}

/**
 * Marks a run that is still 'running' as failed (its process died without saying so). Does
 * nothing when the folder has no run.json or the run already ended.
 */
export function markRunFailed(dir: string, message: string): void {
  let record: RunRecord;
  try {
    record = readRunRecord(dir);
  } catch {
    return;
  }
  if (record.status !== 'running') return;
  record.status = 'failed';
  record.error = message.split('\n')[0];
  record.finishedAt = new Date().toISOString();
  writeRunRecord(dir, record);
}

/** The model folder to segment with: the best checkpoint, else the last. Throws if the run has none. */
export function runModelDir(dir: string, record: RunRecord = readRunRecord(dir)): string {
  const checkpoint = record.checkpoints.best ?? record.checkpoints.last;
  if (!checkpoint) throw new Error(`the run in ${dir} has no checkpoint yet (status: ${record.status})`);
  return path.join(dir, checkpoint.dir);
}

/**
 * Writes a checkpoint through `save` into a fresh folder beside `dir`, then swaps it in, so a
 * reader sees the old checkpoint or the new one, never a half-written one.
 */
export async function writeCheckpoint(runDir: string, name: string, save: (dir: string) => Promise<void>): Promise<string> {
  const target = path.join(runDir, name);
  const fresh = path.join(runDir, `.${name}.writing`);
  const old = path.join(runDir, `.${name}.old`);
  fs.rmSync(fresh, { recursive: true, force: true });
  fs.mkdirSync(fresh, { recursive: true });
  await save(fresh);
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(fresh, target);
  fs.rmSync(old, { recursive: true, force: true });
  return target;
}
