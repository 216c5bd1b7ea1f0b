/** The training loop end to end: a run folder, flat memory, cancel, failures, and a real short run on spleen. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { writeLabelMapNifti } from '../../src/core/labelMapIO';
import { readVolumeFile } from '../../src/core/readVolume';
import { chooseAnnotatedSlices, maskToLabels, sparseLabels } from '../../src/core/sparseLabels';
import { loadUNet } from '../../src/engine/model';
import { loadRun, predictVolume, runPredictOptions } from '../../src/engine/predict';
import { readRunRecord, runModelDir } from '../../src/engine/runFolder';
import { trainSettings } from '../../src/protocol/settings';
import { tf } from '../../src/engine/tf';
import { runTraining } from '../../src/engine/train';
import type { TrainEvent } from '../../src/protocol/training';
import { TEST_BACKEND, tinyTrainSettings, writeBallVolume } from '../helpers/engineData';
import { dataPath, SKIP_WITHOUT_DATA, tempDir } from '../helpers/data';

const work = tempDir('engine-train');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const backend = TEST_BACKEND;
/** A tiny network and patch: these tests are about the loop, not about learning well. */
const tiny = tinyTrainSettings;

test('a short run writes run.json and checkpoints, with memory flat over iterations', async () => {
  const ball = writeBallVolume(work);
  const outDir = path.join(work, 'run-a');
  const events: TrainEvent[] = [];
  const tensors: number[] = [];
  const summary = await runTraining(tiny(ball, outDir, { validateAtStart: true }), {
    onEvent(event) {
      events.push(event);
      if (event.type === 'progress') tensors.push(tf.memory().numTensors);
    },
  });
  assert.equal(summary.status, 'succeeded');
  assert.equal(summary.stopReason, 'iterations');
  assert.equal(summary.iterations, 12);
  // The tensor count after every step is the same (after the first, which creates the optimizer state).
  assert.equal(tensors.length, 12);
  assert.ok(tensors.slice(1).every((n) => n === tensors[1]), `tensors per step: ${tensors.join(' ')}`);
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'started');
  assert.equal(types.at(-1), 'finished');
  assert.ok(types.includes('validation') && types.includes('checkpoint'));

  const record = readRunRecord(outDir);
  assert.equal(record.status, 'succeeded');
  assert.ok(record.backend);
  assert.equal(record.network?.inChannels, 1);
  assert.equal(record.network?.classes, 2);
  assert.deepEqual(record.classes, [{ value: 1, name: 'background' }, { value: 2, name: 'class 1' }]);
  assert.equal(record.volumes.length, 1);
  assert.match(record.volumes[0].image.sha256, /^[0-9a-f]{64}$/);
  assert.equal(record.volumes[0].normalization.channels.length, 1);
  assert.deepEqual(record.volumes[0].trainingSlices.length + record.volumes[0].validationSlices.length, 5);
  assert.deepEqual(record.validation.map((v) => v.iteration), [0, 4, 8, 12]);
  assert.ok(record.loss.length >= 2);
  assert.ok(record.checkpoints.last && record.checkpoints.last.iteration === 12);
  assert.ok(record.summary && record.finishedAt);
  for (const dir of ['last', ...(record.checkpoints.best ? ['best'] : [])]) {
    assert.ok(fs.existsSync(path.join(outDir, dir, 'model.json')), `${dir}/model.json`);
  }
  // One foreground class: 'auto' gives cross-entropy alone and no coordinate channels.
  assert.equal(record.settings.loss, 'ce');
  assert.equal(record.settings.coordinateChannels, false);
  assert.equal(record.network?.positionChannels, undefined);
  const net = await loadUNet(runModelDir(outDir));
  assert.equal(net.config.levels, 2);
  net.dispose();
  // A run folder is never overwritten.
  await assert.rejects(runTraining(tiny(ball, outDir)), /not empty/);
});

test('stopping after a step keeps a checkpoint and marks the run cancelled', async () => {
  const ball = writeBallVolume(work, 'ball-c');
  const outDir = path.join(work, 'run-cancel');
  let steps = 0;
  const summary = await runTraining(tiny(ball, outDir, { iterations: 100 }), {
    onEvent: (e) => {
      if (e.type === 'progress') steps = e.iteration;
    },
    shouldStop: () => steps >= 2,
  });
  assert.equal(summary.status, 'cancelled');
  assert.equal(summary.iterations, 2);
  const record = readRunRecord(outDir);
  assert.equal(record.status, 'cancelled');
  assert.ok(fs.existsSync(path.join(runModelDir(outDir), 'model.json')));
});

test('a time budget ends the run; no validation means no best checkpoint', async () => {
  const ball = writeBallVolume(work, 'ball-t');
  const outDir = path.join(work, 'run-time');
  const summary = await runTraining(tiny(ball, outDir, { iterations: undefined, minutes: 0.02, validation: { fraction: 0 } }));
  assert.equal(summary.stopReason, 'time');
  assert.equal(summary.best, undefined);
  const record = readRunRecord(outDir);
  assert.equal(record.checkpoints.best, undefined);
  assert.equal(runModelDir(outDir), path.join(outDir, 'last'));
});

test("several foreground classes: 'auto' adds Dice, annotation and coordinate channels (the synthesis path reads the coordinates again); segment gives them too", async () => {
  const ball = writeBallVolume(work, 'ball-halves', [32, 28, 12], 3, true);
  const outDir = path.join(work, 'run-halves');
  const summary = await runTraining(tiny(ball, outDir, { validation: { fraction: 0 } }));
  assert.equal(summary.status, 'succeeded');
  const record = readRunRecord(outDir);
  assert.equal(record.settings.loss, 'ce+dice');
  assert.equal(record.settings.coordinateChannels, true);
  assert.equal(record.settings.annotationChannels, true);
  assert.equal(record.network?.inChannels, 3 + 1 + 1 + 3);
  assert.equal(record.network?.positionChannels, 3);
  const run = await loadRun(outDir, 'last');
  const volume = readVolumeFile(ball.image);
  const annotations = readVolumeFile(ball.labels).data as Uint8Array;
  const predicted = await predictVolume(run.net, volume, record.volumes[0].normalization, runPredictOptions(record, volume, annotations));
  assert.equal(predicted.labels.length, 32 * 28 * 12);
  assert.ok(predicted.labels.every((v) => v >= 1 && v <= 3));
  run.net.dispose();
});

test('bad input fails with a clear message, recorded in run.json', async () => {
  const ball = writeBallVolume(work, 'ball-f');
  const other = writeBallVolume(work, 'ball-g', [30, 28, 12]);
  const outDir = path.join(work, 'run-fail');
  await assert.rejects(runTraining(tiny({ image: ball.image, labels: other.labels }, outDir)), /30×28×12 voxels but ball-f.nii.gz is 32×28×12/);
  const record = readRunRecord(outDir);
  assert.equal(record.status, 'failed');
  assert.match(record.error ?? '', /30×28×12/);
  await assert.rejects(runTraining(tiny({ image: ball.image, labels: path.join(work, 'missing.nii.gz') }, path.join(work, 'run-missing'))), /ENOENT|no such file/);
  // Only the background painted (the editor's labels): nothing to learn, and no talk of masks.
  const backgroundOnly = readVolumeFile(ball.labels);
  const painted = Uint8Array.from(backgroundOnly.data, (v) => (v > 0 ? 1 : 0));
  const paintedFile = path.join(work, 'ball-bg.labels.nii.gz');
  writeLabelMapNifti(paintedFile, { dims: backgroundOnly.dims, affine: backgroundOnly.affine, data: painted });
  await assert.rejects(runTraining(tiny({ image: ball.image, labels: paintedFile }, path.join(work, 'run-bg'))), (e: Error) => /the labels hold the background \(1\) alone/.test(e.message) && !/mask/.test(e.message));
});

/**
 * The least dense IoU of the spleen run below (100 iterations), against the manual truth off the
 * annotated slices: it measured 0.313 and 0.316 here (wasm). The same prediction reversed in
 * voxel order scores 0.213 (the network over-predicts the spleen about threefold), spleen
 * everywhere about 0.12, nothing 0: the floor sits between those and what was measured.
 */
const SPLEEN_DENSE_IOU_FLOOR = 0.27;

test('spleen from 9 annotated slices: the loss falls and held-out IoU beats the untrained network by far', { skip: SKIP_WITHOUT_DATA, timeout: 600_000 }, async () => {
  const imageFile = dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz');
  const truthVolume = readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct_seg-manual.nii.gz'));
  const truth = maskToLabels(truthVolume.data);
  const slices = chooseAnnotatedSlices(truth, truthVolume.dims);
  const labelsFile = path.join(work, 'spleen.labels.nii.gz');
  writeLabelMapNifti(labelsFile, { dims: truthVolume.dims, affine: truthVolume.affine, data: sparseLabels(truth, truthVolume.dims, slices) });
  const outDir = path.join(work, 'run-spleen');
  const settings = trainSettings({
    volumes: [{ image: imageFile, labels: labelsFile }],
    outDir,
    // The fast network with half its filters; in-plane context is what tells spleen from liver.
    network: { preset: 'fast', baseFilters: 8 },
    patchSize: [128, 128, 8],
    iterations: Number(process.env.UNET3D_TEST_SPLEEN_ITERATIONS ?? 100),
    validation: { fold: 0, folds: 3 },
    validateEvery: 1000,
    validateAtStart: true,
    // Every step before the held-out validation at the end.
    refit: 0,
    backend,
  });
  const summary = await runTraining(settings);
  const record = readRunRecord(outDir);
  const untrained = record.validation[0];
  const trained = record.validation.at(-1)!;
  const firstLoss = record.loss[0].loss;
  const lastLoss = record.loss.at(-1)!.loss;
  console.log(`spleen: ${summary.iterations} iterations in ${summary.seconds.toFixed(0)} s on ${record.backend}; loss ${firstLoss.toFixed(3)} → ${lastLoss.toFixed(3)}; held-out spleen IoU ${untrained.iou[1]?.toFixed(3)} untrained → ${trained.iou[1]?.toFixed(3)}`);
  assert.ok(lastLoss < 0.7 * firstLoss, `loss ${firstLoss} → ${lastLoss}`);
  assert.ok((trained.meanForegroundIoU ?? 0) > (untrained.meanForegroundIoU ?? 0) + 0.25, `IoU ${untrained.meanForegroundIoU} → ${trained.meanForegroundIoU}`);

  // What a user gets: the whole volume segmented with the run (its best checkpoint, as Segment
  // does), scored against the manual truth on every voxel that lies on no annotated slice
  // (QUALITY.md's dense IoU), counted here rather than by the engine's own validation.
  const run = await loadRun(outDir);
  const volume = readVolumeFile(imageFile);
  const annotations = readVolumeFile(labelsFile).data as Uint8Array;
  const predicted = await predictVolume(run.net, volume, record.volumes[0].normalization, runPredictOptions(record, volume, annotations));
  run.net.dispose();
  const [nx, ny, nz] = truthVolume.dims;
  const annotated = [0, 1, 2].map((a) => new Set(slices.filter((s) => s.axis === a).map((s) => s.index)));
  let both = 0;
  let either = 0;
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (annotated[0].has(x) || annotated[1].has(y) || annotated[2].has(z)) continue;
        const inTruth = truth[i] === 2;
        const inPrediction = predicted.labels[i] === 2;
        if (inTruth && inPrediction) both++;
        if (inTruth || inPrediction) either++;
      }
    }
  }
  const denseIoU = both / either;
  console.log(`spleen: dense IoU off the annotated slices ${denseIoU.toFixed(3)} (${both} of ${either} voxels)`);
  if (summary.iterations >= 100) assert.ok(denseIoU >= SPLEEN_DENSE_IOU_FLOOR, `dense spleen IoU ${denseIoU.toFixed(3)} is under ${SPLEEN_DENSE_IOU_FLOOR}`);
});
