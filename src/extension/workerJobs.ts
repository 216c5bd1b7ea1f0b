/**
 * The engine's worker processes as the extension runs them: one process per job (a training,
 * a segmentation, an evaluation, a backend probe), started when the job starts and ended when
 * it ends. Disposing (the extension deactivates: the window closes or reloads) cancels every job
 * and ends its worker: politely first (the run keeps its best checkpoint and ends 'cancelled'),
 * killed if it has not exited in a few seconds, and killed at once if the extension host process
 * exits first, so no worker outlives VS Code. A worker that crashes under a training marks the
 * run failed with the reason (WorkerClient does it through markRunFailed); label files are only
 * ever read by training.
 */
import * as vscode from 'vscode';
import { WorkerClient } from '../engine/workerClient';
import type { WorkerStartOptions } from '../protocol/worker';
import { nativeTensorFlowFolders } from './commands/installNativeTensorFlow';
import type { CurvesData } from './runs/curvesSvg';
import type { LiveProgress } from './runs/runPresentation';

export type JobKind = 'train' | 'segment' | 'evaluate' | 'probe';

/** One job and its worker process. */
export interface Job {
  readonly id: number;
  readonly kind: JobKind;
  /** What the user sees, e.g. "Training t2". */
  readonly title: string;
  readonly client: WorkerClient;
  /** The run (or evaluation) folder this job writes, when it has one. */
  runDir?: string;
  /** The latest progress, for the Runs view and the status bar. */
  live?: LiveProgress;
  /** One line on what it does now, for the status bar, e.g. "iteration 120/1000 · IoU 0.71". */
  status?: string;
  /** For a training: every loss and validation reported so far (run.json has them only every few seconds). */
  curves?: Omit<CurvesData, 'classNames'>;
  /** True once cancel() was called. */
  readonly cancelled: boolean;
  /** Asks the job to stop (what stopping means is the job's: `onCancel` handlers run). */
  cancel(): void;
  /** Registers what to do on cancel (run at once if already cancelled). */
  onCancel(handler: () => void): void;
  /** Tells listeners that `live`, `status` or `runDir` changed. */
  changed(): void;
}

/** How long a worker may take to stop after being asked before it is killed (ms). */
const SHUTDOWN_GRACE_MS = 3000;

class JobImpl implements Job {
  runDir?: string;
  live?: LiveProgress;
  status?: string;
  curves?: Omit<CurvesData, 'classNames'>;
  cancelled = false;
  private readonly cancelHandlers: (() => void)[] = [];

  constructor(
    readonly id: number,
    readonly kind: JobKind,
    readonly title: string,
    readonly client: WorkerClient,
    private readonly notify: (job: Job) => void,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const h of this.cancelHandlers) h();
    this.notify(this);
  }

  onCancel(handler: () => void): void {
    if (this.cancelled) handler();
    else this.cancelHandlers.push(handler);
  }

  changed(): void {
    this.notify(this);
  }
}

export class WorkerJobs implements vscode.Disposable {
  private readonly running = new Set<JobImpl>();
  private readonly changeEmitter = new vscode.EventEmitter<Job>();
  /** Fires when a job starts, reports progress, is cancelled or ends. */
  readonly onDidChange = this.changeEmitter.event;
  private nextId = 1;
  private disposed = false;
  /** Workers still starting (not yet a job): aborting one kills it. */
  private readonly starting = new Set<AbortController>();
  /** Kills every worker still alive when the extension host process exits (it cannot wait then). */
  private readonly killAll = () => {
    for (const start of this.starting) start.abort();
    for (const job of this.running) job.client.kill();
  };

  constructor(
    private readonly workerPath: string,
    private readonly log: vscode.LogOutputChannel,
    /** What each worker is told at its start (read at each start: a changed setting counts at once). */
    private readonly startOptions: () => WorkerStartOptions = () => ({ nativeTensorFlowFolders: [] }),
  ) {
    process.on('exit', this.killAll);
  }

  /** The jobs running now. */
  get jobs(): readonly Job[] {
    return [...this.running];
  }

  /** The job writing `runDir`, if one runs. */
  jobOf(runDir: string): Job | undefined {
    for (const job of this.running) if (job.runDir === runDir) return job;
    return undefined;
  }

  /**
   * Starts a worker for a new job, runs `work` with it, and ends the worker when `work`
   * settles (its result or error is passed on). A worker that does not start rejects with why.
   */
  async run<T>(kind: JobKind, title: string, work: (job: Job) => PromiseLike<T>, setup?: (job: Job) => void): Promise<T> {
    if (this.disposed) throw new Error('the extension is shutting down');
    // A worker that is still starting when the extension shuts down is killed, never orphaned.
    const start = new AbortController();
    this.starting.add(start);
    let client: WorkerClient;
    try {
      client = await WorkerClient.start({ workerPath: this.workerPath, signal: start.signal, ...this.startOptions() });
    } finally {
      this.starting.delete(start);
    }
    if (this.disposed) {
      client.kill();
      throw new Error('the extension is shutting down');
    }
    const job = new JobImpl(this.nextId++, kind, title, client, (j) => this.changeEmitter.fire(j));
    this.running.add(job);
    this.log.info(`worker ${client.pid} started: ${title}`);
    setup?.(job);
    this.changeEmitter.fire(job);
    try {
      return await work(job);
    } finally {
      this.running.delete(job);
      const exited = client.isExited;
      await client.dispose(SHUTDOWN_GRACE_MS);
      this.log.info(`worker ${client.pid} ${exited ? 'had exited' : 'ended'}: ${title}`);
      if (this.disposed && this.running.size === 0) process.off('exit', this.killAll);
      else this.changeEmitter.fire(job);
    }
  }

  /** Cancels every job and ends the workers (killed after a grace period). */
  dispose(): void {
    this.disposed = true;
    for (const start of this.starting) start.abort();
    for (const job of this.running) {
      job.cancel();
      void job.client.dispose(SHUTDOWN_GRACE_MS);
    }
    // While workers remain, the exit handler stays: it stops what did not stop by itself.
    if (this.running.size === 0) process.off('exit', this.killAll);
    this.changeEmitter.dispose();
  }
}

/** Creates the job registry; the extension's disposal ends every worker. */
export function registerWorkerJobs(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): WorkerJobs {
  const jobs = new WorkerJobs(vscode.Uri.joinPath(context.extensionUri, 'dist', 'worker.js').fsPath, log, () => ({ nativeTensorFlowFolders: nativeTensorFlowFolders(context) }));
  context.subscriptions.push(jobs);
  return jobs;
}
