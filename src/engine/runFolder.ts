/**
 * A training run is a folder: `run.json` (what was trained on, how, and how it went) and the
 * model checkpoints in TensorFlow.js format (`best/` and `last/`, each model.json + weights).
 * run.json is rewritten atomically as the run goes, so a reader never sees half of it.
 * The record's types and its parser are in src/protocol/run.ts. No TensorFlow.js here.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomicWrite';
import * as os from 'node:os';
import { isFailedRunOnly, parseRunRecord, RUN_FILE, RUN_LOCK_FILE, type FileRecord, type RunLock, type RunRecord } from '../protocol/run';
import { createEmptyFolder, makeFolders, soleFileText } from '../core/folders';

/** SHA-256 of a file's bytes, with its path and size. */
export function fileRecord(file: string): FileRecord {
  const bytes = fs.readFileSync(file);
  return { path: path.resolve(file), sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

/**
 * Creates the run folder; refuses one that holds anything already (a run is never overwritten),
 * except a run that failed before its first checkpoint: a folder holding only its run.json
 * (the same command run again once its mistake is fixed takes the folder back).
 */
export function createRunFolder(dir: string): void {
  if (isFailedRunOnly(soleFileText(dir, RUN_FILE))) fs.rmSync(path.join(dir, RUN_FILE));
  createEmptyFolder(dir, 'the run folder');
}

export function writeRunRecord(dir: string, record: RunRecord): void {
  record.updatedAt = new Date().toISOString();
  writeFileAtomic(path.join(dir, RUN_FILE), JSON.stringify(record, null, 2) + '\n');
}

/** Reads a run folder's run.json (throws a clear error when it is missing or not a run). */
export function readRunRecord(dir: string): RunRecord {
  const file = path.join(dir, RUN_FILE);
  if (!fs.existsSync(file)) throw new Error(`${dir} is not a training run: it has no ${RUN_FILE}`);
  const parsed = parseRunRecord(fs.readFileSync(file, 'utf8'), file);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
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

/** Marks the run folder as trained by this process (see RunLock); removeRunLock ends that. */
export function writeRunLock(dir: string): void {
  const lock: RunLock = { pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() };
  writeFileAtomic(path.join(dir, RUN_LOCK_FILE), JSON.stringify(lock) + '\n');
}

export function removeRunLock(dir: string): void {
  fs.rmSync(path.join(dir, RUN_LOCK_FILE), { force: true });
}

/**
 * Marks a run that is still 'running' as interrupted: its host went away and the worker stopped
 * after its step (the checkpoints it wrote stay usable).
 */
export function markRunInterrupted(dir: string, message: string): void {
  let record: RunRecord;
  try {
    record = readRunRecord(dir);
  } catch {
    return;
  }
  if (record.status !== 'running' && record.status !== 'cancelled') return;
  record.status = 'interrupted';
  record.error = message.split('\n')[0];
  record.finishedAt ??= new Date().toISOString();
  writeRunRecord(dir, record);
}

/** The model folder to segment with: the best checkpoint, else the last. Throws if the run has none. */
export function runModelDir(dir: string, record: RunRecord = readRunRecord(dir)): string {
  const checkpoint = record.checkpoints.best ?? record.checkpoints.last;
  if (!checkpoint) throw new Error(`the run in ${dir} has no checkpoint yet (status: ${record.status})`);
  return path.join(dir, checkpoint.dir);
}

/** Renames the checkpoint folder `from` of a run to `to` (replacing any folder of that name). */
export function moveCheckpoint(runDir: string, from: string, to: string): void {
  const target = path.join(runDir, to);
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(path.join(runDir, from), target);
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
  makeFolders(fresh);
  await save(fresh);
  fs.rmSync(old, { recursive: true, force: true });
  if (fs.existsSync(target)) fs.renameSync(target, old);
  fs.renameSync(fresh, target);
  fs.rmSync(old, { recursive: true, force: true });
  return target;
}
