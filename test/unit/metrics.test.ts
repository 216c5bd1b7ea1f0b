/** IoU, Dice and the confusion matrix against hand-computed cases, and `unet3d evaluate`. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { evaluate, type EvaluateJson } from '../../src/cli/commands/evaluate';
import { UsageError } from '../../src/cli/command';
import type { Mat4, Vec3 } from '../../src/core/geometry';
import { detectLabelConvention } from '../../src/core/labelConvention';
import { confusionMatrix, scoreLabels } from '../../src/core/metrics';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import { readVolumeFile } from '../../src/core/readVolume';
import { SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';
import { captureStdout } from '../helpers/stdout';

interface Case {
  name: string;
  pred: number[];
  truth: number[];
  mask?: number[];
  labels?: number[];
  /** Expected IoU / Dice by label; null = undefined. */
  iou: Record<string, number | null>;
  dice: Record<string, number | null>;
  meanIoU: number | null;
  voxels: number;
}

const CASES: Case[] = [
  {
    // Pairs (t, p): (1,1) (1,2) (2,2) (2,1) (2,2); voxel 4 is unlabeled and never counts.
    // Class 2: TP 2, FP 1, FN 1 → IoU 2/4, Dice 4/6. Class 1: TP 1, FP 1, FN 1 → 1/3, 2/4.
    name: 'two classes, one unlabeled voxel',
    truth: [1, 1, 2, 2, 0, 2],
    pred: [1, 2, 2, 1, 2, 2],
    iou: { 1: 1 / 3, 2: 0.5 },
    dice: { 1: 0.5, 2: 2 / 3 },
    meanIoU: 0.5,
    voxels: 5,
  },
  {
    // The mask keeps voxels 0, 2, 3 only: (1,1) (2,2) (2,1). Class 2: TP 1, FN 1 → 1/2, 2/3.
    name: 'masked',
    truth: [1, 1, 2, 2, 0, 2],
    pred: [1, 2, 2, 1, 2, 2],
    mask: [1, 0, 1, 1, 1, 0],
    iou: { 1: 0.5, 2: 0.5 },
    dice: { 1: 2 / 3, 2: 2 / 3 },
    meanIoU: 0.5,
    voxels: 3,
  },
  {
    // Class 3 is asked for but in neither truth nor prediction: null, left out of the mean.
    // Class 4 is predicted once but not in the truth: IoU 0, and it counts.
    // Class 2: TP 2, FP 0, FN 1 → 2/3, Dice 4/5.
    name: 'absent and false-positive classes',
    truth: [1, 1, 2, 2, 2, 1],
    pred: [1, 1, 2, 2, 4, 1],
    labels: [1, 2, 3, 4],
    iou: { 1: 1, 2: 2 / 3, 3: null, 4: 0 },
    dice: { 1: 1, 2: 0.8, 3: null, 4: 0 },
    meanIoU: (2 / 3 + 0) / 2,
    voxels: 6,
  },
  {
    // A prediction of 0 is no class: a miss for the truth's class, nobody's false positive.
    name: 'prediction 0',
    truth: [2, 2, 1, 1],
    pred: [0, 2, 1, 0],
    iou: { 1: 0.5, 2: 0.5 },
    dice: { 1: 2 / 3, 2: 2 / 3 },
    meanIoU: 0.5,
    voxels: 4,
  },
  {
    name: 'only background: no foreground mean',
    truth: [1, 1, 0],
    pred: [1, 1, 1],
    iou: { 1: 1 },
    dice: { 1: 1 },
    meanIoU: null,
    voxels: 2,
  },
  {
    name: 'everything masked out',
    truth: [1, 2, 3],
    pred: [1, 2, 3],
    mask: [0, 0, 0],
    labels: [1, 2, 3],
    iou: { 1: null, 2: null, 3: null },
    dice: { 1: null, 2: null, 3: null },
    meanIoU: null,
    voxels: 0,
  },
];

const close = (a: number | null, b: number | null) => (a === null || b === null ? a === b : Math.abs(a - b) < 1e-12);

test('IoU and Dice per class and their foreground mean, hand-computed', () => {
  for (const c of CASES) {
    const scores = scoreLabels(Uint8Array.from(c.pred), Uint8Array.from(c.truth), c.mask && Uint8Array.from(c.mask), c.labels);
    assert.deepEqual(Object.keys(scores.classes).sort(), Object.keys(c.iou).sort(), c.name);
    for (const [label, iou] of Object.entries(c.iou)) {
      assert.ok(close(scores.classes[label].iou, iou), `${c.name}: IoU of ${label} is ${scores.classes[label].iou}, expected ${iou}`);
      assert.ok(close(scores.classes[label].dice, c.dice[label]), `${c.name}: Dice of ${label}`);
    }
    assert.ok(close(scores.meanIoU, c.meanIoU), `${c.name}: mean IoU ${scores.meanIoU}, expected ${c.meanIoU}`);
    assert.equal(scores.voxels, c.voxels, c.name);
  }
});

test('confusion matrix: rows truth, columns prediction, unlabeled truth never counted', () => {
  const m = confusionMatrix(Uint8Array.from([1, 2, 2, 1, 2, 2, 3]), Uint8Array.from([1, 1, 2, 2, 0, 2, 2]));
  assert.deepEqual(m.counts, [
    [0, 0, 0, 0],
    [0, 1, 1, 0],
    [0, 1, 2, 1],
    [0, 0, 0, 0],
  ]);
  assert.equal(m.total, 6);
  // 16-bit labels.
  const big = confusionMatrix(Uint16Array.from([300, 300, 1]), Uint16Array.from([300, 1, 1]));
  assert.equal(big.labelCount, 301);
  assert.equal(big.counts[300][300], 1);
  assert.equal(big.counts[1][300], 1);
  assert.throws(() => confusionMatrix(Uint8Array.from([1]), Uint8Array.from([1, 2])), /prediction has 1 voxels/);
  assert.throws(() => confusionMatrix(Float32Array.from([1.5]), Uint8Array.from([1])), /integers/);
  assert.throws(() => confusionMatrix(Uint8Array.from([1]), Uint8Array.from([1]), Uint8Array.from([1, 1])), /mask has 2 voxels/);
});

const AFFINE: Mat4 = [
  [2, 0, 0, -10],
  [0, 2, 0, -20],
  [0, 0, 3, 5],
  [0, 0, 0, 1],
];

function writeLabels(file: string, dims: Vec3, values: number[], affine = AFFINE): string {
  fs.writeFileSync(file, encodeNiftiGz({ dims, affine, data: Uint8Array.from(values) }));
  return file;
}

async function runEvaluate(...args: string[]): Promise<{ code: number; out: string }> {
  const { result, out } = await captureStdout(() => evaluate.run(args));
  return { code: result, out };
}

test('unet3d evaluate: --json over foreground classes, masks, and both truth conventions', async () => {
  const dir = tempDir('evaluate');
  try {
    const dims: Vec3 = [3, 2, 1];
    // Editor labels (0 = unlabeled) with a sidecar, a prediction 1..3, a mask.
    const truth = writeLabels(path.join(dir, 'case.labels.nii.gz'), dims, [1, 1, 2, 2, 0, 3]);
    fs.writeFileSync(path.join(dir, 'case.labels.json'), '{}');
    const pred = writeLabels(path.join(dir, 'case.seg.nii.gz'), dims, [1, 2, 2, 1, 2, 3]);
    const mask = writeLabels(path.join(dir, 'mask.nii.gz'), dims, [1, 0, 1, 1, 1, 1]);
    let r = await runEvaluate('--pred', pred, '--truth', truth, '--json');
    assert.equal(r.code, 0);
    let json = JSON.parse(r.out) as EvaluateJson;
    assert.equal(json.truthConvention, 'labels');
    assert.equal(json.predConvention, 'labels');
    assert.equal(json.voxels, 5);
    // Class 2: TP 1 FP 1 FN 1 → 1/3; class 3: 1; mean (1/3 + 1) / 2.
    assert.ok(Math.abs(json.classes['2'].iou! - 1 / 3) < 1e-12);
    assert.equal(json.classes['3'].iou, 1);
    assert.ok(Math.abs(json.meanIoU! - 2 / 3) < 1e-12);
    r = await runEvaluate('--pred', pred, '--truth', truth, '--mask', mask, '--json');
    json = JSON.parse(r.out) as EvaluateJson;
    assert.equal(json.voxels, 4);
    assert.ok(Math.abs(json.classes['2'].iou! - 0.5) < 1e-12);

    // A plain binary mask as truth: 0 = background, so every voxel counts.
    const plain = writeLabels(path.join(dir, 'manual_seg.nii.gz'), dims, [0, 0, 1, 1, 0, 1]);
    const predMask = writeLabels(path.join(dir, 'pred.nii.gz'), dims, [1, 1, 2, 2, 2, 2]);
    r = await runEvaluate('--pred', predMask, '--truth', plain, '--json');
    json = JSON.parse(r.out) as EvaluateJson;
    assert.equal(json.truthConvention, 'mask');
    assert.equal(json.voxels, 6);
    assert.ok(Math.abs(json.classes['2'].iou! - 3 / 4) < 1e-12);
    assert.ok(Math.abs(json.classes['2'].dice! - 6 / 7) < 1e-12);
    // Forcing the labels convention on it makes its zeros unlabeled.
    r = await runEvaluate('--pred', predMask, '--truth', plain, '--truth-convention', 'labels', '--json');
    json = JSON.parse(r.out) as EvaluateJson;
    assert.equal(json.voxels, 3);
    // Text output.
    r = await runEvaluate('--pred', predMask, '--truth', plain);
    assert.match(r.out, /mean over foreground \(labels ≥ 2\): IoU 0\.750/);

    // Bad input: another grid, missing options, a bad convention.
    const other = writeLabels(path.join(dir, 'other.nii.gz'), [2, 3, 1], [1, 1, 1, 1, 1, 1]);
    await assert.rejects(runEvaluate('--pred', other, '--truth', plain), /not on the same voxel grid/);
    const shifted = writeLabels(path.join(dir, 'shifted.nii.gz'), dims, [1, 1, 1, 1, 1, 1], [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1]]);
    await assert.rejects(runEvaluate('--pred', shifted, '--truth', plain), /not on the same voxel grid/);
    await assert.rejects(runEvaluate('--truth', plain), UsageError);
    await assert.rejects(runEvaluate('--pred', pred, '--truth', plain, '--truth-convention', 'zero'), /auto, mask or labels/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('label conventions of the shared manual segmentations are detected as masks', { skip: SKIP_WITHOUT_DATA }, () => {
  for (const file of [dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'), dataPath('semi', 'ctchest', 'Segmentation.seg.nrrd')]) {
    assert.equal(detectLabelConvention(file, readVolumeFile(file).data).convention, 'mask', file);
  }
});
