/**
 * The runs of the workspace, kept in step with the disk: every runs folder (one per workspace
 * folder, see settings.ts) is read on start and re-read when a file under it changes (a
 * FileSystemWatcher) or a job starts or ends; jobs' progress events make it fire too, so the
 * view updates live between the engine's writes of run.json.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { allRunsFolders } from '../settings';
import type { WorkerJobs } from '../workerJobs';
import { bestValidation } from './runPresentation';
import { listEntries, type Entry, type RunEntry } from './runEntry';

/** Debounce of disk re-reads after file events (ms): a run writes several files at once. */
const REREAD_DELAY_MS = 250;
/**
 * How often the runs folders' modification times are compared with the last read (ms). File
 * watchers miss events now and then (a run.json written at once into a folder just created was
 * never reported by code-server's watcher in one test run); comparing a few stat results costs
 * nothing and the view catches up within this time.
 */
const POLL_MS = 3000;

/** The modification times of a runs folder and of the folders two levels below it, as one string. */
function folderSignature(dir: string): string {
  const parts: string[] = [];
  const visit = (folder: string, depth: number) => {
    let names: fs.Dirent[];
    try {
      parts.push(`${folder}:${fs.statSync(folder).mtimeMs}`);
      names = fs.readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    if (depth < 2) for (const d of names) if (d.isDirectory()) visit(path.join(folder, d.name), depth + 1);
  };
  visit(dir, 0);
  return parts.join('|');
}

export class RunsModel implements vscode.Disposable {
  private entries: { folder: vscode.Uri; entries: Entry[] }[] = [];
  private watchers: vscode.Disposable[] = [];
  private readonly disposables: vscode.Disposable[] = [];
  private readonly changeEmitter = new vscode.EventEmitter<void>();
  /** Fires after a re-read or a job's progress. */
  readonly onDidChange = this.changeEmitter.event;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly jobs: WorkerJobs,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.watch();
    this.reread();
    const poll = setInterval(() => {
      if (this.signature() !== this.readSignature) this.scheduleReread();
    }, POLL_MS);
    this.disposables.push(
      { dispose: () => clearInterval(poll) },
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('unet3d.runsFolder')) {
          this.watch();
          this.reread();
        }
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.watch();
        this.reread();
      }),
      jobs.onDidChange((job) => {
        // A job starting, ending or moving to another folder changes the disk; progress only the rows.
        const alive = jobs.jobs.includes(job);
        if (alive !== this.jobDirs.has(job.id) || (alive && this.jobDirs.get(job.id) !== job.runDir)) {
          if (alive) this.jobDirs.set(job.id, job.runDir);
          else this.jobDirs.delete(job.id);
          this.scheduleReread();
        } else this.scheduleRefresh();
      }),
    );
  }

  /** The folder of each job seen running, by job id. */
  private readonly jobDirs = new Map<number, string | undefined>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  /** Fires onDidChange soon without reading the disk (progress events come many times a second). */
  private scheduleRefresh(): void {
    this.refreshTimer ??= setTimeout(() => {
      this.refreshTimer = undefined;
      this.changeEmitter.fire();
    }, REREAD_DELAY_MS);
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const d of [...this.watchers, ...this.disposables]) d.dispose();
    this.changeEmitter.dispose();
  }

  private watch(): void {
    for (const w of this.watchers) w.dispose();
    this.watchers = allRunsFolders().flatMap((folder) => {
      // Records anywhere below (folds of evaluations too), and run folders appearing or going.
      return ['**/*.json', '*'].map((glob) => {
        const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, glob));
        const onEvent = () => this.scheduleReread();
        watcher.onDidCreate(onEvent);
        watcher.onDidChange(onEvent);
        watcher.onDidDelete(onEvent);
        return watcher;
      });
    });
  }

  private scheduleReread(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.reread();
    }, REREAD_DELAY_MS);
  }

  /** The folders' modification times at the last read (see POLL_MS). */
  private readSignature = '';

  private signature(): string {
    return allRunsFolders().map((folder) => folderSignature(folder.fsPath)).join('\n');
  }

  /** Reads every runs folder again now and fires onDidChange. */
  reread(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    try {
      this.readSignature = this.signature();
      this.entries = allRunsFolders().map((folder) => ({ folder, entries: listEntries(folder.fsPath) }));
    } catch (error) {
      // listEntries never throws on bad records; this is a failure of the folder itself.
      this.log.error(`the runs folder could not be read: ${(error as Error).message}`);
    }
    this.changeEmitter.fire();
  }

  /** Every entry, newest first, with the runs folder it is in. */
  get all(): { folder: vscode.Uri; entry: Entry }[] {
    return this.entries
      .flatMap(({ folder, entries }) => entries.map((entry) => ({ folder, entry })))
      .sort((a, b) => b.entry.createdMs - a.entry.createdMs);
  }

  /** The entry of a folder (a run, an evaluation or a fold's run inside one). */
  find(dir: string): Entry | undefined {
    const wanted = path.resolve(dir);
    for (const { entry } of this.all) {
      if (entry.dir === wanted) return entry;
      if (entry.kind === 'evaluation') {
        const fold = entry.folds.find((f) => f.dir === wanted);
        if (fold) return fold;
      }
    }
    return undefined;
  }

  /** Training runs that have a model to segment with (folds of evaluations too), newest first. */
  get runsWithModel(): RunEntry[] {
    const out: RunEntry[] = [];
    for (const { entry } of this.all) {
      const runs = entry.kind === 'run' ? [entry] : entry.kind === 'evaluation' ? entry.folds.filter((f): f is RunEntry => f.kind === 'run') : [];
      for (const r of runs) if (r.record.checkpoints.best ?? r.record.checkpoints.last) out.push(r);
    }
    return out;
  }

  /**
   * The run to segment with by default: of the finished runs (not folds of an evaluation) with
   * a model, the one with the best validation IoU; without any IoU, the newest.
   */
  get bestRun(): RunEntry | undefined {
    const candidates = this.all
      .map(({ entry }) => entry)
      .filter((e): e is RunEntry => e.kind === 'run' && e.record.status !== 'running' && Boolean(e.record.checkpoints.best ?? e.record.checkpoints.last));
    let best: RunEntry | undefined;
    let bestIoU = -1;
    for (const run of candidates) {
      const iou = bestValidation(run.record)?.meanForegroundIoU ?? -1;
      if (!best || iou > bestIoU) {
        best = run;
        bestIoU = iou;
      }
    }
    return best;
  }
}
