/**
 * The engine worker as the extension uses it: dist/worker.js built from src/engine/worker.ts,
 * forked by WorkerClient, answering probe, start and cancel, and a crash reported, not hung on.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readRunRecord } from '../../src/engine/runFolder';
import { trainSettings, type TrainSettingsInput } from '../../src/protocol/settings';
import { WorkerClient, WorkerExitError, WorkerRequestError } from '../../src/engine/workerClient';
import type { TrainEvent } from '../../src/protocol/training';
import { tempDir } from '../helpers/data';
import { writeBallVolume } from '../helpers/engineData';

const work = tempDir('engine-worker');
// test/run-unit.mjs builds the worker beside the tests as esbuild.mjs builds dist/worker.js
// (TensorFlow.js bundled in), with the wasm binaries it loads beside it.
const workerPath = path.join(__dirname, 'worker.js');
const backend = (process.env.UNET3D_TEST_BACKEND ?? 'auto') as TrainSettingsInput['backend'];

before(() => {
  assert.ok(fs.existsSync(workerPath), `no worker bundle at ${workerPath} (run the unit tests through npm run test:unit)`);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

const settingsFor = (name: string, change: Partial<TrainSettingsInput> = {}) => {
  const ball = writeBallVolume(work, name);
  return trainSettings({
    volumes: [{ image: ball.image, labels: ball.labels }],
    outDir: path.join(work, `run-${name}`),
    network: { preset: 'fast', levels: 2, baseFilters: 4 },
    patchSize: [12, 12, 4],
    iterations: 6,
    validation: { fold: 0, folds: 3 },
    validateEvery: 3,
    backend,
    ...change,
  });
};

test('the worker probes the backends, trains, and reports every step', async () => {
  const client = await WorkerClient.start({ workerPath });
  try {
    const report = await client.probe();
    assert.ok(report.statuses.some((s) => s.available && s.name === report.active));
    const events: TrainEvent[] = [];
    const settings = settingsFor('ok');
    const summary = await client.train(settings, (e) => events.push(e)).done;
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.iterations, 6);
    const progress = events.filter((e) => e.type === 'progress');
    assert.deepEqual(progress.map((e) => e.iteration), [1, 2, 3, 4, 5, 6]);
    for (const e of progress) {
      assert.ok(Number.isFinite(e.loss) && e.voxelsPerSecond > 0 && e.etaSeconds >= 0);
      assert.equal(e.backend, report.active);
    }
    assert.ok(progress.at(-1)!.validation, 'progress carries the latest validation');
    assert.ok(events.some((e) => e.type === 'checkpoint' && e.kind === 'last'));
    assert.equal(events.at(-1)!.type, 'finished');
    assert.equal(readRunRecord(settings.outDir).status, 'succeeded');
    // A bad request fails with the engine's message and leaves the worker usable.
    const bad = settingsFor('bad', { volumes: [{ image: path.join(work, 'nothing.nii.gz'), labels: path.join(work, 'nothing.nii.gz') }] });
    await assert.rejects(client.train(bad).done, (e: unknown) => e instanceof WorkerRequestError && /nothing\.nii\.gz/.test(e.message));
    assert.equal(readRunRecord(bad.outDir).status, 'failed');
    assert.ok((await client.probe()).active);
  } finally {
    await client.dispose();
  }
  assert.ok(client.isExited);
});

test('cancel stops after the current step and keeps a checkpoint', async () => {
  const client = await WorkerClient.start({ workerPath });
  try {
    const settings = settingsFor('cancel', { iterations: 10_000 });
    const handle = client.train(settings, (e) => {
      if (e.type === 'progress' && e.iteration === 3) handle.cancel();
    });
    const summary = await handle.done;
    assert.equal(summary.status, 'cancelled');
    assert.ok(summary.iterations >= 3 && summary.iterations < 10_000);
    const record = readRunRecord(settings.outDir);
    assert.equal(record.status, 'cancelled');
    assert.ok(fs.existsSync(path.join(summary.modelDir, 'model.json')));
  } finally {
    await client.dispose();
  }
});

test('a crash of the worker rejects the training and marks the run failed', async () => {
  const client = await WorkerClient.start({ workerPath });
  const settings = settingsFor('crash', { iterations: 10_000 });
  const handle = client.train(settings, (e) => {
    if (e.type === 'progress' && e.iteration === 2) process.kill(client.pid!, 'SIGKILL');
  });
  await assert.rejects(handle.done, (e: unknown) => e instanceof WorkerExitError && /killed by SIGKILL/.test(e.message));
  assert.equal(readRunRecord(settings.outDir).status, 'failed');
  await assert.rejects(client.probe(), WorkerExitError);
});

test('a worker that cannot start is reported', async () => {
  const broken = path.join(work, 'broken.js');
  fs.writeFileSync(broken, 'process.exit(3);\n');
  await assert.rejects(WorkerClient.start({ workerPath: broken }), /exited with code 3|exited before it was ready/);
});

test('a host that dies (SIGKILL) leaves the run interrupted with its checkpoint, and no worker behind', async () => {
  const settings = settingsFor('orphan', { iterations: 10_000 });
  // A host of its own: forks the worker, starts a training, and kills itself at the second step.
  const hostScript = path.join(work, 'host.js');
  fs.writeFileSync(
    hostScript,
    `const { fork } = require('node:child_process');
const child = fork(${JSON.stringify(workerPath)}, [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
child.on('message', (m) => {
  if (m.type === 'ready') child.send({ type: 'start', id: 'orphan', settings: ${JSON.stringify(settings)} });
  if (m.type === 'progress' && m.iteration === 2) {
    process.stdout.write(child.pid + '\\n', () => process.kill(process.pid, 'SIGKILL'));
  }
});
`,
  );
  const host = spawn(process.execPath, [hostScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  host.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => host.on('exit', (_code, s) => resolve(s)));
  assert.equal(signal, 'SIGKILL');
  const workerPid = Number(out.trim());
  assert.ok(workerPid > 0, `the host printed the worker's pid: ${out}`);
  const alive = () => {
    try {
      process.kill(workerPid, 0);
      return true;
    } catch {
      return false;
    }
  };
  for (let waited = 0; alive() && waited < 120_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!alive(), 'the worker exits once its host is gone');
  const record = readRunRecord(settings.outDir);
  assert.equal(record.status, 'interrupted');
  assert.match(record.error ?? '', /went away/);
  assert.ok(record.checkpoints.last, 'the last checkpoint is written');
  assert.ok(fs.existsSync(path.join(settings.outDir, 'last', 'model.json')));
  assert.ok(!fs.existsSync(path.join(settings.outDir, 'worker.lock')), 'the lock goes with the worker');
});

test('the worker refuses a malformed request with the reason, and the client a malformed event', async () => {
  const client = await WorkerClient.start({ workerPath });
  try {
    const bad = client.segment({ runDir: '', image: 'x.nii.gz', tile: [0, 1, 2] } as unknown as Parameters<WorkerClient['segment']>[0]);
    await assert.rejects(bad.done, (e: unknown) => e instanceof WorkerRequestError && /malformed request: the request 'segment'\.options\.runDir is not a non-empty string/.test(e.message));
    assert.ok((await client.probe()).active, 'the worker stays usable');
  } finally {
    await client.dispose();
  }
});

test('a worker stopped while it starts is killed, not left behind', async () => {
  const controller = new AbortController();
  const starting = WorkerClient.start({ workerPath, signal: controller.signal });
  controller.abort();
  await assert.rejects(starting, /stopped while it started/);
});

test('the worker previews a running training on request, and stops when asked', async () => {
  const client = await WorkerClient.start({ workerPath });
  try {
    const settings = settingsFor('preview', { iterations: 10_000 });
    const image = settings.volumes[0].image;
    const previews: TrainEvent[] = [];
    let progressAfterStop = 0;
    let stopped = false;
    // The stop request crosses the channel while the worker trains on, so a preview already under
    // way may still arrive; after a few more steps none may.
    let previewsSettled = -1;
    const handle = client.train(settings, (e) => {
      if (e.type === 'started') handle.preview({ image, voxel: [10, 12, 4] });
      if (e.type === 'preview') {
        previews.push(e);
        if (!stopped) handle.preview(null);
        stopped = true;
      }
      if (e.type === 'progress' && stopped) {
        progressAfterStop++;
        if (progressAfterStop === 10) previewsSettled = previews.length;
        if (progressAfterStop === 50) handle.cancel();
      }
    });
    const summary = await handle.done;
    assert.equal(summary.status, 'cancelled');
    assert.ok(previews.length >= 1 && previews.length <= 2, `a preview, then at most one already under way (${previews.length})`);
    assert.equal(previews.length, previewsSettled, 'no preview once the stop has arrived');
    const p = previews[0];
    assert.ok(p.type === 'preview' && p.planes.length === 3 && p.planes.map((q) => q.index).join() === '10,12,4');
    assert.ok(p.type === 'preview' && p.planes[2].labels instanceof Uint8Array, 'label arrays cross the channel as typed arrays');
  } finally {
    await client.dispose();
  }
});
