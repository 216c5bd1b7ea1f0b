/**
 * The runs folder as the Runs view sees it: every sub-folder is a training run (`run.json`,
 * written by the engine), an evaluation (`evaluation.json`, written by the Evaluate command,
 * with one training run per fold inside), or a broken entry that says why it cannot be read.
 * Nothing here throws on bad files: a corrupt or half-written record becomes a broken entry
 * with the reason, so one bad folder never breaks the view. Node only, no vscode: unit-tested.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isIoU, isObject, parseJson, parseRunRecord, RUN_FILE, RUN_STATUSES, parseRunLock, RUN_LOCK_FILE, type Parsed, type RunLock, type RunRecord, type RunStatus } from '../../protocol/run';

export { RUN_FILE };

export const EVALUATION_FILE = 'evaluation.json';
/** Written by the Segment command into the run folder: what was segmented with the run. */
export const SEGMENTATIONS_FILE = 'segmentations.json';


/** One segmentation made with a run. Paths are absolute, or relative to the run folder (files inside it, so a renamed run keeps them). */
export interface SegmentationRecord {
  /** The volume that was segmented. */
  volume: string;
  /** The label map written (`NAME.seg.nii.gz`), and the Slicer export for NRRD sources. */
  output: string;
  segNrrd?: string;
  /** The per-class probabilities (4D uint8, one frame per class, 0–255), when written. */
  probabilities?: string;
  createdAt: string;
  seconds?: number;
}

/** One fold of an evaluation: its run folder (relative) and the IoU on its held-out slices. */
export interface EvaluationFold {
  fold: number;
  runDir: string;
  /** IoU per class on the held-out fold (index c = label value c + 1); null where the class is absent. */
  iou: (number | null)[];
  meanForegroundIoU: number | null;
}

/** The content of `evaluation.json`: the paper's k-fold check on annotated slices. */
export interface EvaluationRecord {
  format: 'unet3d-evaluation';
  version: 1;
  status: RunStatus;
  error?: string;
  createdAt: string;
  updatedAt: string;
  finishedAt?: string;
  folds: number;
  /** Volumes and their label files (absolute paths). */
  volumes: { image: string; labels: string }[];
  preset: string;
  /** Class names, background first, when known. */
  classNames?: string[];
  results: EvaluationFold[];
  /** Per class mean over the folds that have it; null where no fold has it. */
  meanIoU: (number | null)[];
  /** Mean of the folds' foreground IoU; null until a fold has one. */
  meanForegroundIoU: number | null;
}

interface EntryBase {
  /** Absolute folder of the entry. */
  dir: string;
  /** The folder's name: what the view shows. */
  name: string;
  /** When it was made (ms since 1970): the record's createdAt, else the folder's mtime. Sorts the view. */
  createdMs: number;
}

export interface RunEntry extends EntryBase {
  kind: 'run';
  record: RunRecord;
  /** For a 'running' run: whether the process training it is alive (see runWorkerState). */
  worker?: WorkerState;
  segmentations: SegmentationRecord[];
}

export interface EvaluationEntry extends EntryBase {
  kind: 'evaluation';
  evaluation: EvaluationRecord;
  /** Each fold's run, in fold order (broken entries where a fold's run cannot be read). */
  folds: (RunEntry | BrokenEntry)[];
}

export interface BrokenEntry extends EntryBase {
  kind: 'broken';
  /** Why it cannot be shown as a run, one sentence. */
  reason: string;
}

export type Entry = RunEntry | EvaluationEntry | BrokenEntry;

/** Parses evaluation.json (same leniency as run.json). */
export function parseEvaluationRecord(text: string, file = EVALUATION_FILE): Parsed<EvaluationRecord> {
  const json = parseJson(text, file);
  if (!json.ok) return json;
  const e = json.value;
  if (e.format !== 'unet3d-evaluation' || e.version !== 1) return { ok: false, reason: `${file} is not an evaluation record this version reads` };
  if (typeof e.status !== 'string' || !(RUN_STATUSES as readonly string[]).includes(e.status)) {
    return { ok: false, reason: `${file} has an unknown status ${JSON.stringify(e.status)}` };
  }
  if (typeof e.createdAt !== 'string' || Number.isNaN(Date.parse(e.createdAt))) return { ok: false, reason: `${file} has no valid createdAt time` };
  if (!(Number.isInteger(e.folds) && (e.folds as number) >= 2)) return { ok: false, reason: `${file} has no valid fold count` };
  const results = Array.isArray(e.results)
    ? e.results.filter(
        (f): f is EvaluationFold =>
          isObject(f) && Number.isInteger(f.fold) && typeof f.runDir === 'string' && Array.isArray(f.iou) && f.iou.every(isIoU) && isIoU(f.meanForegroundIoU ?? null),
      )
    : [];
  const meanIoU = Array.isArray(e.meanIoU) && e.meanIoU.every(isIoU) ? (e.meanIoU as (number | null)[]) : [];
  return {
    ok: true,
    value: {
      ...(e as unknown as EvaluationRecord),
      volumes: Array.isArray(e.volumes) ? (e.volumes.filter((v) => isObject(v) && typeof v.image === 'string' && typeof v.labels === 'string') as EvaluationRecord['volumes']) : [],
      preset: typeof e.preset === 'string' ? e.preset : '?',
      classNames: Array.isArray(e.classNames) && e.classNames.every((n) => typeof n === 'string') ? (e.classNames as string[]) : undefined,
      results,
      meanIoU,
      meanForegroundIoU: isIoU(e.meanForegroundIoU) ? (e.meanForegroundIoU ?? null) : null,
      updatedAt: typeof e.updatedAt === 'string' ? e.updatedAt : e.createdAt,
      error: typeof e.error === 'string' ? e.error : undefined,
    },
  };
}

/** Parses segmentations.json; malformed items are dropped, a malformed file gives none. */
export function parseSegmentations(text: string): SegmentationRecord[] {
  const json = parseJson(text, SEGMENTATIONS_FILE);
  if (!json.ok || !Array.isArray(json.value.segmentations)) return [];
  return json.value.segmentations.filter(
    (s): s is SegmentationRecord =>
      isObject(s) && typeof s.volume === 'string' && typeof s.output === 'string' && typeof s.createdAt === 'string' && (s.probabilities === undefined || typeof s.probabilities === 'string'),
  );
}

export function serializeSegmentations(list: readonly SegmentationRecord[]): string {
  return JSON.stringify({ format: 'unet3d-segmentations', version: 1, segmentations: list }, null, 2) + '\n';
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function folderTimeMs(dir: string): number {
  try {
    return fs.statSync(dir).mtimeMs;
  } catch {
    return 0;
  }
}

/** The segmentations recorded in a run folder, paths made absolute (none when the file is absent or unreadable). */
export function readSegmentations(runDir: string): SegmentationRecord[] {
  const text = readText(path.join(runDir, SEGMENTATIONS_FILE));
  if (text === undefined) return [];
  return parseSegmentations(text).map((s) => ({
    ...s,
    volume: path.resolve(runDir, s.volume),
    output: path.resolve(runDir, s.output),
    ...(s.segNrrd ? { segNrrd: path.resolve(runDir, s.segNrrd) } : {}),
    ...(s.probabilities ? { probabilities: path.resolve(runDir, s.probabilities) } : {}),
  }));
}

function loadRun(dir: string, name: string): RunEntry | BrokenEntry {
  const text = readText(path.join(dir, RUN_FILE));
  if (text === undefined) {
    return { kind: 'broken', dir, name, createdMs: folderTimeMs(dir), reason: `no ${RUN_FILE} in this folder (a run that never started, or not a run)` };
  }
  const parsed = parseRunRecord(text);
  if (!parsed.ok) return { kind: 'broken', dir, name, createdMs: folderTimeMs(dir), reason: parsed.reason };
  const record = parsed.value;
  const worker = record.status === 'running' ? runWorkerState(dir) : undefined;
  return { kind: 'run', dir, name, createdMs: Date.parse(record.createdAt), record, segmentations: readSegmentations(dir), ...(worker ? { worker } : {}) };
}

/** Whether a process is alive on this machine (a process we may not signal is alive). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the process training a run is alive, as far as this machine can tell. */
export type WorkerState = 'alive' | 'gone' | 'unknown';

/**
 * Whether the process training a run folder is alive: 'alive', 'gone' (its lock names a process
 * of this machine that has ended, or a finished run left no lock), or 'unknown' (no lock, or
 * another machine's: a run written before locks, or over a shared folder).
 */
export function runWorkerState(dir: string): WorkerState {
  let lock: RunLock | undefined;
  try {
    lock = parseRunLock(fs.readFileSync(path.join(dir, RUN_LOCK_FILE), 'utf8'));
  } catch {
    return 'unknown';
  }
  if (!lock || lock.hostname !== os.hostname()) return 'unknown';
  return processAlive(lock.pid) ? 'alive' : 'gone';
}

/** Reads one entry of the runs folder; never throws. */
export function loadEntry(dir: string): Entry {
  const name = path.basename(dir);
  const evaluationText = readText(path.join(dir, EVALUATION_FILE));
  if (evaluationText !== undefined) {
    const parsed = parseEvaluationRecord(evaluationText);
    if (!parsed.ok) return { kind: 'broken', dir, name, createdMs: folderTimeMs(dir), reason: parsed.reason };
    const folds = parsed.value.results.length
      ? parsed.value.results.map((f) => loadRun(path.resolve(dir, f.runDir), path.basename(f.runDir)))
      : [];
    // Folds still running are not in `results` yet: show their folders too.
    for (const sub of listSubfolders(dir)) {
      if (!folds.some((f) => f.dir === sub) && fs.existsSync(path.join(sub, RUN_FILE))) folds.push(loadRun(sub, path.basename(sub)));
    }
    folds.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
    return { kind: 'evaluation', dir, name, createdMs: Date.parse(parsed.value.createdAt), evaluation: parsed.value, folds };
  }
  return loadRun(dir, name);
}

function listSubfolders(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
      .map((d) => path.join(dir, d.name));
  } catch {
    return [];
  }
}

/** Every entry of a runs folder, newest first (an absent folder has none). Hidden folders are skipped. */
export function listEntries(runsFolder: string): Entry[] {
  return listSubfolders(runsFolder)
    .map(loadEntry)
    .sort((a, b) => b.createdMs - a.createdMs || a.name.localeCompare(b.name));
}

/** A folder name for a run: no separators, not hidden, not empty. */
export function checkRunName(name: string): string | undefined {
  const n = name.trim();
  if (!n) return 'a name is needed';
  if (/[\\/:*?"<>|]/.test(n)) return 'no / \\ : * ? " < > | in a run name';
  if (n.startsWith('.')) return 'a run name may not start with a dot';
  if (n.length > 120) return 'at most 120 characters';
  return undefined;
}
