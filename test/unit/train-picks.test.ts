/**
 * What Train's questions tell the user: the expected duration of each budget from this machine's
 * recent runs of the same network, how many annotated slices a validation fraction holds out,
 * and which annotated slices are almost empty (a stray click), named as the panes name them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readLabelsAs } from '../../src/core/labelConvention';
import { chooseAnnotatedSlices, sparseLabels } from '../../src/core/sparseLabels';
import { plural, sentence } from '../../src/core/words';
import { almostEmptyWarning, heldOutText, summarizeAnnotations } from '../../src/extension/commands/annotations';
import {
  approximately,
  approximateCount,
  budgetEstimate,
  comparableKey,
  expectedRun,
  runTiming,
  stepText,
  timingFor,
} from '../../src/extension/commands/budgetEstimate';
import type { RunRecord } from '../../src/protocol/run';
import { trainSettings } from '../../src/protocol/settings';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';
import { runRecord } from './runs-fixtures';

/** A finished run of `preset` created at `createdAt`: 1.2 s per iteration (validations included), 20 s around the loop. */
function timedRun(createdAt: string, secondsPerIteration: number, over: Partial<RunRecord> = {}, preset: 'fast' | 'paper' = 'fast'): RunRecord {
  const iterations = 100;
  const loop = 1 + 99 * secondsPerIteration;
  const created = Date.parse(createdAt);
  return runRecord({
    createdAt,
    finishedAt: new Date(created + (loop + 20) * 1000).toISOString(),
    settings: trainSettings({ volumes: [{ image: '/ws/a.nii.gz', labels: '/ws/a.labels.nii.gz' }], outDir: '/ws/r', iterations, network: { preset } }),
    loss: [
      { iteration: 1, seconds: 1, loss: 0.9, learningRate: 0.01 },
      { iteration: 50, seconds: 1 + 49 * secondsPerIteration, loss: 0.4, learningRate: 0.01 },
      { iteration: 100, seconds: loop, loss: 0.2, learningRate: 0.001 },
    ],
    summary: { status: 'succeeded', stopReason: 'iterations', iterations, seconds: loop, finalLoss: 0.2, modelDir: 'best' },
    ...over,
  });
}

const FAST = trainSettings({ volumes: [{ image: '/ws/b.nii.gz', labels: '/ws/b.labels.nii.gz' }], outDir: '/ws/new', network: { preset: 'fast' } });

test("a run's timing: seconds per iteration from its loss record, and the time around its loop once finished", () => {
  const timing = runTiming(timedRun('2026-12-06T10:00:00Z', 1.2))!;
  assert.ok(Math.abs(timing.secondsPerIteration - 1.2) < 1e-9);
  assert.ok(Math.abs(timing.overheadSeconds! - 20) < 1e-6);
  const running = runTiming(timedRun('2026-12-06T10:00:00Z', 1.2, { status: 'running', finishedAt: undefined, summary: undefined }))!;
  assert.ok(Math.abs(running.secondsPerIteration - 1.2) < 1e-9);
  assert.equal(running.overheadSeconds, undefined, 'a run still training tells nothing about its end');
  assert.equal(runTiming(runRecord({ loss: [{ iteration: 1, seconds: 3, loss: 1, learningRate: 0.01 }] })), undefined, 'one loss record times nothing');
});

test('the estimate reads the newest three comparable runs (same network, patch and batch) and takes their median', () => {
  const records = [
    timedRun('2026-12-01T10:00:00Z', 9), // the oldest of four comparable runs: left out
    timedRun('2026-12-02T10:00:00Z', 1.0),
    timedRun('2026-12-03T10:00:00Z', 1.4),
    timedRun('2026-12-04T10:00:00Z', 1.2),
    timedRun('2026-12-05T10:00:00Z', 30, {}, 'paper'), // another network
    timedRun('2026-12-06T10:00:00Z', 2, { settings: { ...FAST, patchSize: [32, 32, 16] } }), // another patch
  ];
  const timing = timingFor(records, FAST)!;
  assert.equal(timing.runs, 3);
  assert.ok(Math.abs(timing.secondsPerIteration - 1.2) < 1e-9, String(timing.secondsPerIteration));
  assert.ok(Math.abs(timing.overheadSeconds - 20) < 1e-6);
  assert.ok(Math.abs(timingFor(records, { ...FAST, network: { preset: 'paper' } })!.secondsPerIteration - 30) < 1e-9);
  assert.equal(timingFor(records, { ...FAST, batchSize: 2 }), undefined, 'no comparable run: no estimate');
  assert.equal(comparableKey({ ...FAST, network: { baseFilters: 16, preset: 'fast' } }), comparableKey({ ...FAST, network: { preset: 'fast', baseFilters: 16 } }));
});

test('each budget says what to expect: the duration of iterations, the iterations of minutes, per fold for Evaluate', () => {
  const timing = { secondsPerIteration: 1.2, overheadSeconds: 20, runs: 2 };
  assert.deepEqual(expectedRun({ kind: 'iterations', value: 1000 }, timing), { seconds: 1220, iterations: 1000 });
  assert.deepEqual(expectedRun({ kind: 'minutes', value: 10 }, timing), { seconds: 620, iterations: 500 });
  assert.equal(budgetEstimate({ kind: 'iterations', value: 1000 }, timing), '≈ 20 min');
  assert.equal(budgetEstimate({ kind: 'iterations', value: 200 }, timing), '≈ 4 min');
  assert.equal(budgetEstimate({ kind: 'minutes', value: 10 }, timing), '≈ 500 iterations');
  assert.equal(budgetEstimate({ kind: 'iterations', value: 1000 }, timing, 3), '≈ 20 min per fold, ≈ 61 min in all');
  assert.equal(budgetEstimate({ kind: 'iterations', value: 1000 }, undefined), undefined, 'no history: no made-up figure');
  assert.deepEqual([12, 44, 89, 90, 1220, 5400, 7800].map(approximately), ['≈ 10 s', '≈ 45 s', '≈ 90 s', '≈ 2 min', '≈ 20 min', '≈ 1 h 30 min', '≈ 2 h 10 min']);
  assert.deepEqual([7.4, 512, 1234].map(approximateCount), ['≈ 7', '≈ 510', '≈ 1,200']);
  assert.equal(stepText(timing), '1.2 s per iteration here (from the last 2 runs)');
  assert.equal(stepText({ ...timing, runs: 1, secondsPerIteration: 0.456 }), '0.46 s per iteration here (from the last run)');
});

test('the validation pick says how many of the annotated slices a fraction holds out; a stray click is an almost empty slice', { skip: SKIP_WITHOUT_DATA }, () => {
  // The spinal cord with 9 slices as the quality protocol annotates them, and one dab elsewhere.
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'), 'mask');
  const labels = sparseLabels(truth.data, truth.dims, chooseAnnotatedSlices(truth.data, truth.dims));
  const [nx, ny] = truth.dims;
  const dab = [5, 5, 5]; // off every annotated plane (x 28, 31, 33; y 13, 27, 40; z 22, 25, 28)
  for (let dx = 0; dx < 2; dx++) for (let dy = 0; dy < 2; dy++) labels[dab[0] + dx + nx * (dab[1] + dy + ny * dab[2])] = 2;
  const summary = summarizeAnnotations('t2.nii.gz', labels, truth.dims, truth.affine);
  assert.equal(summary.slices, 10);
  assert.equal(heldOutText(0.2, [summary]), 'holds out 2 of your 10 annotated slices');
  assert.equal(heldOutText(0.33, [summary, { ...summary, volume: 'b.nii.gz' }]), 'holds out 6 of your 20 annotated slices (2 volumes)');
  assert.equal(heldOutText(0, [summary]), 'trains on all 10 annotated slices');
  assert.equal(heldOutText(0.2, [{ volume: 'one.nii.gz', slices: 1, almostEmpty: [] }]), 'not possible: one.nii.gz has only 1 annotated slice');
  assert.equal(heldOutText(0.2, []), '', 'nothing read: nothing said');

  // t2 is PSR: voxel z runs left–right, so a slice across z is sagittal; numbered from 1.
  assert.deepEqual(
    summary.almostEmpty.map(({ plane, index, count, ownVoxels, voxel }) => ({ plane, index, count, ownVoxels, voxel })),
    [{ plane: 'sagittal', index: 5, count: truth.dims[2], ownVoxels: 4, voxel: [30, 27, 5] }],
  );
  const warning = almostEmptyWarning([summary])!;
  assert.equal(warning.message, '1 annotated slice is almost empty');
  assert.match(warning.detail, /^sagittal slice 6 of 52 \(4 labeled voxels\)\.\n\nTraining learns from every annotated slice/);
  assert.equal(almostEmptyWarning([{ ...summary, almostEmpty: [] }]), undefined);
});

test('words: counts agree with their nouns, and reasons read as sentences', () => {
  assert.deepEqual([0, 1, 2, 1234].map((n) => plural(n, 'tile')), ['0 tiles', '1 tile', '2 tiles', '1,234 tiles']);
  assert.equal(plural(1, 'class', 'classes'), '1 class');
  assert.equal(sentence('no label file beside t2.nii.gz: paint a few slices first'), 'No label file beside t2.nii.gz: paint a few slices first.');
  assert.equal(sentence('Done.'), 'Done.');
});
