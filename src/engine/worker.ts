/**
 * The engine's child process (bundled to dist/worker.js, started by workerClient.ts with
 * child_process.fork). It answers the requests of src/protocol/worker.ts over the IPC channel:
 * one training at a time, cancel, and a backend probe. TensorFlow.js lives only here (and in the
 * CLI), never in the extension host.
 */
import type { WorkerEvent, WorkerRequest } from '../protocol/worker';
import { isWorkerRequest } from '../protocol/worker';
import { probeBackends } from './backends';
import { segmentVolumeFile } from './segmentFile';
import type { SegmentOptions } from '../protocol/segment';
import { trainSettings } from '../protocol/settings';
import { runTraining } from './train';

if (!process.send) {
  process.stderr.write('dist/worker.js is the 3D U-Net engine worker: it is started by the extension or the CLI over an IPC channel, not run directly.\n');
  process.exit(2);
}

function send(event: WorkerEvent): void {
  process.send?.(event);
}

function errorText(error: unknown): { message: string; stack?: string } {
  if (error instanceof Error) return { message: error.message, stack: error.stack };
  return { message: String(error) };
}

/** The training in progress: its request id and whether it was asked to stop. */
let current: { id: string; cancelled: boolean } | undefined;
let shuttingDown = false;

async function start(id: string, input: WorkerRequest & { type: 'start' }): Promise<void> {
  if (current) {
    send({ type: 'failed', id, message: `a training (${current.id}) is already running in this worker` });
    return;
  }
  const run = { id, cancelled: false };
  current = run;
  let runDir: string | undefined;
  try {
    // Fill and check the settings again: the host may be another version, or hand-written JSON.
    const settings = trainSettings(input.settings);
    await runTraining(settings, {
      onEvent(event) {
        if (event.type === 'started') runDir = event.runDir;
        send({ ...event, id });
      },
      shouldStop: () => run.cancelled,
    });
  } catch (error) {
    send({ type: 'failed', id, runDir, ...errorText(error) });
  } finally {
    current = undefined;
    if (shuttingDown) process.exit(0);
  }
}

async function probe(id: string): Promise<void> {
  try {
    send({ type: 'probeResult', id, report: await probeBackends() });
  } catch (error) {
    send({ type: 'failed', id, ...errorText(error) });
  }
}

// ---- segmentation requests (the extension's Segment command) ----

/** Segmentations in progress, by request id: aborting one stops it between tiles (nothing is written). */
const segmentations = new Map<string, AbortController>();

async function segment(id: string, options: SegmentOptions): Promise<void> {
  const controller = new AbortController();
  segmentations.set(id, controller);
  try {
    const result = await segmentVolumeFile(options, {
      signal: controller.signal,
      onStart: (info) => send({ type: 'segmentStarted', id, info }),
      onProgress: (progress) => send({ type: 'segmentProgress', id, progress }),
    });
    send({ type: 'segmented', id, result });
  } catch (error) {
    send({ type: 'failed', id, ...(controller.signal.aborted ? { message: 'the segmentation was cancelled' } : errorText(error)) });
  } finally {
    segmentations.delete(id);
  }
}

process.on('message', (message: unknown) => {
  if (!isWorkerRequest(message)) return;
  switch (message.type) {
    case 'start':
      void start(message.id, message);
      break;
    case 'cancel':
      if (current && current.id === message.id) current.cancelled = true;
      segmentations.get(message.id)?.abort();
      break;
    case 'segment':
      void segment(message.id, message.options);
      break;
    case 'probe':
      void probe(message.id);
      break;
    case 'shutdown':
      shuttingDown = true;
      if (current) current.cancelled = true;
      else process.exit(0);
      break;
  }
});

// The host went away: stop after the current step (the run is marked cancelled), then exit.
process.on('disconnect', () => {
  shuttingDown = true;
  if (current) current.cancelled = true;
  else process.exit(0);
});

send({ type: 'ready', pid: process.pid });
