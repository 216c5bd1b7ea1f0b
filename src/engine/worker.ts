/**
 * The engine's child process (bundled to dist/worker.js, started by workerClient.ts with
 * child_process.fork). It answers the requests of src/protocol/worker.ts over the IPC channel:
 * one training at a time, segmentations, cancel, and a backend probe. TensorFlow.js lives only
 * here (and in the CLI's benchmarks), never in the extension host.
 *
 * When the host goes away (VS Code or the CLI closed, crashed or killed: the channel closes, or
 * a send fails with EPIPE) the worker stops a training after its current step, keeps its
 * checkpoints, marks the run 'interrupted', stops segmentations between tiles, and exits.
 */
import * as path from 'node:path';
import type { Vec3 } from '../core/geometry';
import { workerRequestProblem, type WorkerEvent, type WorkerRequest } from '../protocol/worker';
import { trainSettings } from '../protocol/settings';
import type { SegmentOptions } from '../protocol/segment';
import { probeBackends } from './backends';
import { markRunInterrupted } from './runFolder';
import { segmentVolumeFile } from './segmentFile';
import { runTraining, type HandedOnSegmentation } from './train';

if (!process.send) {
  process.stderr.write('dist/worker.js is the 3D U-Net engine worker: it is started by the extension or the CLI over an IPC channel, not run directly.\n');
  process.exit(2);
}

const PARENT_LOST = 'the process that started the run went away (VS Code or the command line closed or killed); the run stopped after its step';

/** True once the host is gone: nothing more is sent, and the worker exits when its work has stopped. */
let parentLost = false;

function send(event: WorkerEvent): void {
  if (parentLost || !process.connected) return;
  try {
    // With a callback, a failed send (EPIPE: the host died) is reported here, not thrown later
    // as an unhandled 'error' that would kill the worker before it saves anything.
    process.send!(event, undefined, {}, (error) => {
      if (error) onParentLost();
    });
  } catch {
    onParentLost();
  }
}

function errorText(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) return { message: error.message, stack: error.stack };
  return { message: String(error) };
}

/** The training in progress: its request id, whether it was asked to stop, and what to preview. */
interface CurrentRun {
  id: string;
  cancelled: boolean;
  runDir?: string;
  preview?: { image: string; voxel: Vec3 };
}
let current: CurrentRun | undefined;
let shuttingDown = false;

/**
 * What the last training handed on (TrainHooks.onSegmentation): its volumes segmented by the model
 * it left, which a segmentation right after it (train then segment) writes instead of predicting.
 */
let handedOn: HandedOnSegmentation[] = [];

/** Segmentations in progress, by request id: aborting one stops it between tiles (nothing is written). */
const segmentations = new Map<string, AbortController>();

function exitIfIdle(): void {
  if ((shuttingDown || parentLost) && !current && segmentations.size === 0) process.exit(0);
}

async function start(id: string, input: WorkerRequest & { type: 'start' }): Promise<void> {
  if (current) {
    send({ type: 'failed', id, message: `a training (${current.id}) is already running in this worker` });
    return;
  }
  const run: CurrentRun = { id, cancelled: false };
  current = run;
  handedOn = [];
  try {
    // Fill and check the settings again: the host may be another version, or hand-written JSON.
    const settings = trainSettings(input.settings);
    await runTraining(settings, {
      onEvent(event) {
        if (event.type === 'started') run.runDir = event.runDir;
        send({ ...event, id });
      },
      shouldStop: () => (parentLost ? 'interrupted' : run.cancelled),
      previewTarget: () => (parentLost ? undefined : run.preview),
      onSegmentation: (segmentation) => handedOn.push(segmentation),
    });
  } catch (error) {
    send({ type: 'failed', id, runDir: run.runDir, ...errorText(error) });
  } finally {
    current = undefined;
    exitIfIdle();
  }
}

async function probe(id: string): Promise<void> {
  try {
    send({ type: 'probeResult', id, report: await probeBackends() });
  } catch (error) {
    send({ type: 'failed', id, ...errorText(error) });
  }
}

async function segment(id: string, options: SegmentOptions): Promise<void> {
  const controller = new AbortController();
  segmentations.set(id, controller);
  try {
    const result = await segmentVolumeFile(options, {
      signal: controller.signal,
      onStart: (info) => send({ type: 'segmentStarted', id, info }),
      onProgress: (progress) => send({ type: 'segmentProgress', id, progress }),
      made: (modelDir, imageSha256) => handedOn.find((h) => path.resolve(h.modelDir) === path.resolve(modelDir) && h.imageSha256 === imageSha256)?.prediction,
    });
    send({ type: 'segmented', id, result });
  } catch (error) {
    send({ type: 'failed', id, ...(controller.signal.aborted ? { message: 'the segmentation was cancelled' } : errorText(error)) });
  } finally {
    segmentations.delete(id);
    exitIfIdle();
  }
}

/** The host is gone: stop everything at the next safe point, record why, and exit. */
function onParentLost(): void {
  if (parentLost) return;
  parentLost = true;
  if (current?.runDir) {
    // If the run ends before its next step, its record still says why it stopped.
    const dir = current.runDir;
    process.once('exit', () => markRunInterrupted(dir, PARENT_LOST));
  }
  for (const controller of segmentations.values()) controller.abort();
  exitIfIdle();
}

process.on('message', (message: unknown) => {
  const problem = workerRequestProblem(message);
  if (problem) {
    const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
    if (typeof id === 'string' && id) send({ type: 'failed', id, message: `the worker refused a malformed request: ${problem}` });
    else process.stderr.write(`unet3d worker: ignored a malformed message: ${problem}\n`);
    return;
  }
  const request = message as WorkerRequest;
  switch (request.type) {
    case 'start':
      void start(request.id, request);
      break;
    case 'cancel':
      if (current && current.id === request.id) current.cancelled = true;
      segmentations.get(request.id)?.abort();
      break;
    case 'segment':
      void segment(request.id, request.options);
      break;
    case 'preview':
      if (current && current.id === request.id) current.preview = request.target ?? undefined;
      break;
    case 'probe':
      void probe(request.id);
      break;
    case 'shutdown':
      shuttingDown = true;
      if (current) current.cancelled = true;
      exitIfIdle();
      break;
  }
});

// The channel closed: the host exited (or closed it on purpose after a shutdown).
process.on('disconnect', onParentLost);
// A send that fails without a callback surfaces here; never let it kill the worker mid-save.
process.on('error', onParentLost);

send({ type: 'ready', pid: process.pid });
