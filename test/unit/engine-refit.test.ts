/**
 * Every annotated slice teaches: after the held-out phase a run trains on every annotated slice
 * (the refit), its model is the refit network, and the held-out IoU it reports stays the one of the
 * network that had not seen the held-out slices.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { loadTrainingData, refitVolumes } from '../../src/engine/trainingData';
import { readRunRecord, runModelDir } from '../../src/engine/runFolder';
import { loadRun } from '../../src/engine/predict';
import { refitLimits, runTraining } from '../../src/engine/train';
import { parseRunRecord } from '../../src/protocol/run';
import { trainSettings, type TrainSettingsInput } from '../../src/protocol/settings';
import { tinyTrainSettings, writeBallVolume } from '../helpers/engineData';
import { tempDir } from '../helpers/data';

const work = tempDir('engine-refit');
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** The tiny run of the engine tests, refitting the last quarter. */
const tiny = (volume: { image: string; labels: string }, outDir: string, change: Partial<TrainSettingsInput> = {}) => tinyTrainSettings(volume, outDir, { refit: 0.25, ...change });

test('the refit share: the budget as set, or the same share of a held-out phase that stopped early', () => {
  assert.deepEqual(refitLimits(0.2, { iterations: 1000, seconds: 600 }, { iterations: 800, seconds: 480, stoppedEarly: false }), { iterations: 1000, seconds: 600 });
  // Early stop after 400 steps and 200 s: a fifth of 500 steps and 250 s.
  assert.deepEqual(refitLimits(0.2, { iterations: 1000, seconds: 600 }, { iterations: 400, seconds: 200, stoppedEarly: true }), { iterations: 500, seconds: 250 });
  assert.equal(refitLimits(0.2, { iterations: 1000, seconds: Infinity }, { iterations: 2, seconds: 1, stoppedEarly: true }).iterations, 3, 'at least one refit step');
  assert.throws(() => trainSettings({ volumes: [{ image: 'a', labels: 'b' }], outDir: 'o', refit: 1 }), /refit share/);
});

test('what a refit samples: every annotated slice, the held-out ones included', () => {
  const ball = writeBallVolume(work, 'ball-data');
  const settings = tiny(ball, path.join(work, 'unused'));
  const data = loadTrainingData(settings);
  const v = data.volumes[0];
  assert.equal(v.record.validationSlices.length, 2);
  assert.equal(v.allSlices.length, 5);
  const count = (labels: ArrayLike<number>) => Array.from(labels).filter((l) => l !== 0).length;
  const [refit] = refitVolumes(v, data.classes, false);
  assert.ok(count(refit.labels) > count(v.training.labels), 'the held-out slices are added');
  // Every labeled voxel of the label file, and nothing else.
  assert.equal(count(refit.labels), count(v.validation!.labels));
  // With annotation channels: one left-out group per slice, their targets covering every slice.
  const groups = refitVolumes(v, data.classes, true);
  assert.equal(groups.length, 5);
  assert.ok(groups.every((g) => g.annotation !== undefined));
});

test('a run with a refit: held-out IoU from before it, the refit network as the model, recorded in run.json', async () => {
  const ball = writeBallVolume(work, 'ball-refit');
  const outDir = path.join(work, 'run-refit');
  const summary = await runTraining(tiny(ball, outDir));
  assert.equal(summary.status, 'succeeded');
  assert.equal(summary.iterations, 12);
  const record = readRunRecord(outDir);
  // The held-out phase: 9 of the 12 steps (¾), validated at 4, 8 and at its end.
  assert.deepEqual(record.validation.map((v) => v.iteration), [4, 8, 9]);
  assert.ok(record.refit, 'run.json records the refit');
  assert.equal(record.refit.done, true);
  assert.equal(record.refit.iterations, 3);
  assert.equal(record.refit.slices, 5);
  assert.equal(record.refit.heldOutSlices, 2);
  assert.equal(record.refit.share, 0.25);
  assert.equal(record.refit.from.iteration, summary.best?.iteration);
  assert.equal(record.refit.from.meanForegroundIoU, summary.best?.meanForegroundIoU);
  // The held-out figure stays; the model is the refit one (last), the held-out best is kept aside.
  assert.ok(summary.best, 'the held-out best validation is reported');
  assert.deepEqual(summary.refit, { slices: 5, heldOutSlices: 2, iterations: 3 });
  assert.equal(record.checkpoints.best, undefined);
  assert.equal(record.checkpoints.last?.iteration, 12);
  assert.equal(record.checkpoints.last?.meanForegroundIoU, undefined, 'the refit network has no held-out IoU');
  assert.equal(summary.modelDir, path.join(outDir, 'last'));
  assert.equal(runModelDir(outDir), path.join(outDir, 'last'));
  assert.ok(fs.existsSync(path.join(outDir, record.refit.heldOutCheckpoint!, 'model.json')));
  const run = await loadRun(outDir);
  assert.equal(run.checkpoint, 'last');
  run.net.dispose();
  // run.json round-trips through the one parser with its refit.
  const parsed = parseRunRecord(fs.readFileSync(path.join(outDir, 'run.json'), 'utf8'));
  assert.ok(parsed.ok && parsed.value.refit?.done === true);
});

test('no refit without held-out slices, or with refit 0', async () => {
  const ball = writeBallVolume(work, 'ball-norefit');
  for (const [name, change] of [
    ['none-held-out', { validation: { fraction: 0 } }],
    ['refit-0', { refit: 0 }],
  ] as const) {
    const outDir = path.join(work, name);
    const summary = await runTraining(tiny(ball, outDir, change));
    assert.equal(summary.iterations, 12);
    assert.equal(readRunRecord(outDir).refit, undefined, name);
    assert.equal(summary.refit, undefined);
  }
});

test('a run stopped during its refit keeps the held-out best as its model', async () => {
  const ball = writeBallVolume(work, 'ball-stop');
  const outDir = path.join(work, 'run-stop');
  let step = 0;
  const summary = await runTraining(tiny(ball, outDir), {
    onEvent: (e) => {
      if (e.type === 'progress') step = e.iteration;
    },
    shouldStop: () => step >= 10,
  });
  assert.equal(summary.status, 'cancelled');
  const record = readRunRecord(outDir);
  assert.equal(record.refit?.done, false);
  assert.ok(record.checkpoints.best, 'the held-out best checkpoint stays');
  assert.equal(runModelDir(outDir), path.join(outDir, 'best'));
});
