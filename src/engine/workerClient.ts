/**
 * The host side of the engine worker: spawns dist/worker.js with child_process.fork, sends typed
 * requests, hands back typed events, and turns a crash or an exit of the worker into a rejected
 * promise instead of a hang. Node only, no vscode import: the extension and the CLI both use it.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { Vec3 } from '../core/geometry';
import type { BackendReport } from '../protocol/backends';
import { markRunFailed } from './runFolder';
import type { SegmentOptions, SegmentResult } from '../protocol/segment';
import type { TrainSettings } from '../protocol/settings';
import {
  isWorkerEvent,
  workerEventProblem,
  workerStartEnvironment,
  type SegmentProgressEvent,
  type SegmentStartedEvent,
  type WorkerEvent,
  type WorkerRequest,
  type WorkerStartOptions,
} from '../protocol/worker';
import type { RunSummary, TrainEvent } from '../protocol/training';

/** The worker bundle beside the calling bundle (dist/worker.js next to dist/extension.js or dist/cli.js). */
export function defaultWorkerPath(): string {
  return path.join(__dirname, 'worker.js');
}

/** A failure of the worker process itself (it crashed, was killed, or exited mid-request). */
export class WorkerExitError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(message);
    this.name = 'WorkerExitError';
  }
}

/** A request the worker answered with `failed`. */
export class WorkerRequestError extends Error {
  constructor(
    message: string,
    readonly runDir?: string,
    readonly workerStack?: string,
  ) {
    super(message);
    this.name = 'WorkerRequestError';
  }
}

export interface WorkerClientOptions {
  /** Path of the worker bundle; default dist/worker.js beside this bundle. */
  workerPath?: string;
  /** Extra arguments for Node (e.g. --max-old-space-size=8192). */
  execArgv?: string[];
  /** Environment of the worker; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Where the worker looks for a native TensorFlow first (see WorkerStartOptions); default: what `env` says. */
  nativeTensorFlowFolders?: WorkerStartOptions['nativeTensorFlowFolders'];
  /** How long to wait for the worker's `ready` (ms). */
  startTimeoutMs?: number;
  /** Aborting it while the worker starts kills the worker and rejects (the host is shutting down). */
  signal?: AbortSignal;
}

/** A training started in the worker. */
export interface TrainingHandle {
  id: string;
  /** Resolves with the summary when the run ends (succeeded or cancelled); rejects if it fails or the worker dies. */
  done: Promise<RunSummary>;
  /** Asks the worker to stop after the current step; `done` then resolves with status 'cancelled'. */
  cancel(): void;
  /** Previews the network on the three planes through `voxel` of a training image (see PreviewRequest); null stops. */
  preview(target: { image: string; voxel: Vec3 } | null): void;
}

interface Pending {
  /** For a training: its run folder, marked failed if the worker dies under it. */
  runDir?: string;
  onEvent?(event: TrainEvent): void;
  /** For a segmentation: its start and progress events. */
  onSegmentEvent?(event: SegmentStartedEvent | SegmentProgressEvent): void;
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** One worker process. Start it with `WorkerClient.start`, end it with `dispose`. */
export class WorkerClient {
  private readonly pending = new Map<string, Pending>();
  private exited: WorkerExitError | undefined;
  private stderrTail = '';

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: unknown) => {
      const problem = workerEventProblem(message);
      if (problem === undefined) this.dispatch(message as WorkerEvent);
      else this.refuse(message, problem);
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4000);
    });
    child.on('exit', (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const tail = this.stderrTail.trim().split('\n').slice(-5).join('\n');
      this.fail(new WorkerExitError(`the engine worker ${how}${tail ? `:\n${tail}` : ''}`, code, signal));
    });
    // An 'error' (it could not be spawned, signalled or sent to) leaves no usable worker: make sure
    // none is left running either.
    child.on('error', (error) => {
      this.fail(new WorkerExitError(`the engine worker failed: ${error.message}`, null, null));
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  }

  /** A malformed event: the request it names (if any) fails with the reason rather than waiting forever. */
  private refuse(message: unknown, problem: string): void {
    const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
    const pending = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (!pending || typeof id !== 'string') return;
    this.pending.delete(id);
    pending.reject(new WorkerRequestError(`the engine worker sent a malformed message: ${problem}`, pending.runDir));
  }

  /** The worker is gone: every open request is rejected, and runs it left 'running' are marked failed. */
  private fail(error: WorkerExitError): void {
    this.exited ??= error;
    for (const p of this.pending.values()) {
      if (p.runDir) markRunFailed(p.runDir, this.exited.message);
      p.reject(this.exited);
    }
    this.pending.clear();
  }

  /** Forks the worker and waits for its `ready`. Rejects if it does not start. */
  static async start(options: WorkerClientOptions = {}): Promise<WorkerClient> {
    const env = { ...(options.env ?? process.env) };
    if (options.nativeTensorFlowFolders) Object.assign(env, workerStartEnvironment({ nativeTensorFlowFolders: options.nativeTensorFlowFolders }, path.delimiter));
    const child = fork(options.workerPath ?? defaultWorkerPath(), [], {
      execArgv: options.execArgv ?? [],
      env,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    const client = new WorkerClient(child);
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new WorkerExitError('the engine worker was stopped while it started', null, null));
      };
      const timer = setTimeout(() => {
        options.signal?.removeEventListener('abort', onAbort);
        child.kill();
        reject(new WorkerExitError('the engine worker did not start in time', null, null));
      }, options.startTimeoutMs ?? 30_000);
      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const onMessage = (message: unknown) => {
        if (isWorkerEvent(message) && message.type === 'ready') {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          child.off('message', onMessage);
          resolve();
        }
      };
      child.on('message', onMessage);
      child.once('exit', () => {
        clearTimeout(timer);
        reject(client.exited ?? new WorkerExitError('the engine worker exited before it was ready', child.exitCode, child.signalCode));
      });
    });
    return client;
  }

  /** The worker's process id. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True once the worker process has ended. */
  get isExited(): boolean {
    return this.exited !== undefined;
  }

  private send(request: WorkerRequest): void {
    if (this.exited) throw this.exited;
    this.child.send(request);
  }

  private dispatch(event: WorkerEvent): void {
    if (event.type === 'ready') return;
    const pending = this.pending.get(event.id);
    if (!pending) return;
    switch (event.type) {
      case 'probeResult':
        this.pending.delete(event.id);
        pending.resolve(event.report);
        break;
      case 'failed':
        this.pending.delete(event.id);
        pending.reject(new WorkerRequestError(event.message, event.runDir, event.stack));
        break;
      case 'segmentStarted':
      case 'segmentProgress':
        pending.onSegmentEvent?.(event);
        break;
      case 'segmented':
        this.pending.delete(event.id);
        pending.resolve(event.result);
        break;
      default: {
        const { id: _id, ...trainEvent } = event;
        pending.onEvent?.(trainEvent as TrainEvent);
        if (event.type === 'finished') {
          this.pending.delete(event.id);
          pending.resolve(event.summary);
        }
      }
    }
  }

  private request<T>(request: WorkerRequest & { id: string }, onEvent?: (event: TrainEvent) => void, runDir?: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.exited) {
        reject(this.exited);
        return;
      }
      this.pending.set(request.id, { runDir, onEvent, resolve: resolve as (value: unknown) => void, reject });
      try {
        this.send(request);
      } catch (error) {
        this.pending.delete(request.id);
        reject(error as Error);
      }
    });
  }

  /** Starts a training; events arrive through `onEvent` (without the request id). */
  train(settings: TrainSettings, onEvent?: (event: TrainEvent) => void): TrainingHandle {
    const id = randomUUID();
    const done = this.request<RunSummary>({ type: 'start', id, settings }, onEvent, path.resolve(settings.outDir));
    return {
      id,
      done,
      cancel: () => {
        if (!this.exited) this.send({ type: 'cancel', id });
      },
      preview: (target) => {
        if (!this.exited && this.pending.has(id)) this.send({ type: 'preview', id, target });
      },
    };
  }

  /**
   * Segments an image with a run in the worker (segmentVolumeFile); its start and per-tile
   * progress arrive through `onEvent`. `cancel` stops it between tiles; `done` then rejects and
   * nothing is written.
   */
  segment(options: SegmentOptions, onEvent?: (event: SegmentStartedEvent | SegmentProgressEvent) => void): { id: string; done: Promise<SegmentResult>; cancel(): void } {
    const id = randomUUID();
    const done = this.request<SegmentResult>({ type: 'segment', id, options });
    const pending = this.pending.get(id);
    if (pending) pending.onSegmentEvent = onEvent;
    return {
      id,
      done,
      cancel: () => {
        if (!this.exited) this.send({ type: 'cancel', id });
      },
    };
  }

  /** Which backends load in the worker, and which one it would use. */
  probe(): Promise<BackendReport> {
    return this.request<BackendReport>({ type: 'probe', id: randomUUID() });
  }

  /**
   * Ends the worker: asks it to shut down (a running training is cancelled after its step and
   * keeps its best checkpoint) and kills it if it has not exited after `graceMs`.
   */
  async dispose(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    try {
      this.send({ type: 'shutdown' });
    } catch {
      // already gone
    }
    const timer = setTimeout(() => this.child.kill(), graceMs);
    await gone;
    clearTimeout(timer);
  }

  /** Kills the worker at once. */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
