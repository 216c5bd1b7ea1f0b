/** Normalization, annotated-slice detection and the validation split, settings and the schedule. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { readVolumeFile } from '../../src/core/readVolume';
import { chooseAnnotatedSlices, maskToLabels, sliceFolds, sliceScoringMask, sparseLabels } from '../../src/core/sparseLabels';
import type { Volume } from '../../src/core/volume';
import { computeNormalization, normalizeVolume, percentiles } from '../../src/engine/normalize';
import { learningRateAt } from '../../src/engine/schedule';
import { choosePatchSize } from '../../src/engine/sampler';
import { trainSettings } from '../../src/protocol/settings';
import { findAnnotatedSlices } from '../../src/core/sparseSplit';
import { heldOutPositions, splitLabels } from '../../src/core/sparseSplit';
import { sliceTiles, tileStarts, validationTile } from '../../src/engine/validation';
import { dataPath, SKIP_WITHOUT_DATA } from '../helpers/data';

function syntheticVolume(dims: Vec3, values: (i: number) => number, frames = 1): Volume {
  const n = dims[0] * dims[1] * dims[2];
  const all = Float32Array.from({ length: n * frames }, (_, i) => values(i));
  return {
    format: 'nifti1',
    dims,
    spacing: [1, 1, 1],
    datatype: 'float32',
    data: all.subarray(0, n),
    allFrames: frames > 1 ? all : undefined,
    sclSlope: 2,
    sclInter: -1,
    affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    frames,
  };
}

test('percentiles interpolate between order statistics', () => {
  const values = Float32Array.from({ length: 101 }, (_, i) => 100 - i);
  assert.deepEqual(percentiles(values, [0, 50, 100, 0.5]), [0, 50, 100, 0.5]);
  assert.throws(() => percentiles(values, [101]), /outside/);
});

test('normalization clips at percentiles, then gives zero mean and unit variance, per channel', () => {
  // Two frames (channels): a ramp with a few outliers, and a constant.
  const dims: Vec3 = [10, 10, 10];
  const volume = syntheticVolume(dims, (i) => (i < 1000 ? (i % 997 === 0 ? 1e6 : i) : 7), 2);
  const norm = computeNormalization(volume, { lowPercentile: 1, highPercentile: 99 });
  assert.equal(norm.channels.length, 2);
  // Scaled intensities are value·2 − 1; the outlier (1e6) is clipped away.
  assert.ok(norm.channels[0].high < 2 * 1000, `high ${norm.channels[0].high}`);
  assert.equal(norm.channels[1].std, 1, 'a constant channel divides by 1');
  const image = normalizeVolume(volume, norm);
  assert.equal(image.channels, 2);
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < 1000; i++) {
    sum += image.data[i * 2];
    sumSq += image.data[i * 2] ** 2;
  }
  assert.ok(Math.abs(sum / 1000) < 1e-4);
  assert.ok(Math.abs(sumSq / 1000 - 1) < 1e-3);
  assert.ok(image.data.filter((_, i) => i % 2 === 1).every((v) => v === 0));
  assert.throws(() => normalizeVolume(syntheticVolume(dims, () => 1), norm), /2 channels but the volume has 1/);
});

test('a fill value (CT padding, zero background) is left out of the figures and clipped to the low percentile', () => {
  const dims: Vec3 = [10, 10, 10];
  // 30 % padding at −3024 (scaled: value·2 − 1), the rest a ramp 0..699.
  const volume = syntheticVolume(dims, (i) => (i < 300 ? -3024 : i - 300));
  const norm = computeNormalization(volume, { lowPercentile: 0, highPercentile: 100 });
  const c = norm.channels[0];
  assert.equal(c.fill, -3024 * 2 - 1);
  assert.equal(c.low, -1);
  assert.equal(c.high, 699 * 2 - 1);
  // Mean and spread are those of the ramp alone.
  assert.ok(Math.abs(c.mean - 698) < 1e-6, `mean ${c.mean}`);
  assert.ok(Math.abs(c.std - Math.sqrt((700 * 700 - 1) / 12) * 2) < 1e-6, `std ${c.std}`);
  const image = normalizeVolume(volume, norm);
  assert.equal(image.data[0], image.data[300], 'the padding reads as the lowest tissue value');
  // Below the share, the lowest value is tissue like any other.
  const few = computeNormalization(syntheticVolume(dims, (i) => (i < 20 ? -3024 : i)), { lowPercentile: 0, highPercentile: 100 });
  assert.equal(few.channels[0].fill, undefined);
  assert.equal(few.channels[0].low, -3024 * 2 - 1);
});

/** A label map with fully painted planes x = 3, y = 5 and z = 2, 7 (classes 1 and 2). */
function planes(dims: Vec3): Uint8Array {
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) {
    if (x === 3 || y === 5 || z === 2 || z === 7) labels[x + dims[0] * (y + dims[1] * z)] = x + y > 10 ? 2 : 1;
  }
  return labels;
}

test('annotated slices are found as the planes that hold the labels', () => {
  const dims: Vec3 = [12, 10, 9];
  const found = findAnnotatedSlices(planes(dims), dims);
  assert.deepEqual(found.map((s) => [s.axis, s.index]), [[0, 3], [1, 5], [2, 2], [2, 7]]);
  assert.deepEqual(found.map((s) => s.voxels), [90, 108, 120, 120]);
  // Partial strokes on one plane come out as that plane.
  const strokes = new Uint8Array(12 * 10 * 9);
  for (let x = 2; x < 9; x++) strokes[x + 12 * (4 + 10 * 6)] = 2;
  for (let y = 1; y < 8; y++) strokes[5 + 12 * (y + 10 * 6)] = 1;
  assert.deepEqual(findAnnotatedSlices(strokes, dims).map((s) => [s.axis, s.index]), [[2, 6]]);
  assert.deepEqual(findAnnotatedSlices(new Uint8Array(12 * 10 * 9), dims), []);
});

test('held-out slices: a spread fraction, or a round-robin fold, and always one left to train on', () => {
  const cases: [number, Parameters<typeof heldOutPositions>[1], number[]][] = [
    [9, { fraction: 0 }, []],
    [9, { fraction: 0.33 }, [1, 4, 7]],
    [9, { fraction: 0.2 }, [2, 6]],
    [2, { fraction: 0.9 }, [1]],
    [9, { fold: 0, folds: 3 }, [0, 3, 6]],
    [9, { fold: 2, folds: 3 }, [2, 5, 8]],
  ];
  for (const [n, holdOut, expected] of cases) assert.deepEqual(heldOutPositions(n, holdOut), expected, JSON.stringify(holdOut));
  assert.throws(() => heldOutPositions(1, { fraction: 0.2 }), /none can be held out/);
  assert.throws(() => heldOutPositions(2, { fold: 0, folds: 3 }), /cannot be split/);
  assert.throws(() => heldOutPositions(9, { fold: 3, folds: 3 }), /fold must be/);
});

test('the split keeps training slices, scores held-out ones minus their crossings', () => {
  const dims: Vec3 = [12, 10, 9];
  const labels = planes(dims);
  const split = splitLabels(labels, dims, { fold: 1, folds: 4 });
  assert.deepEqual(split.validationSlices.map((s) => [s.axis, s.index]), [[1, 5]]);
  for (let z = 0; z < 9; z++) for (let y = 0; y < 10; y++) for (let x = 0; x < 12; x++) {
    const i = x + 12 * (y + 10 * z);
    const onTraining = x === 3 || z === 2 || z === 7;
    assert.equal(split.training[i], onTraining ? labels[i] : 0);
    assert.equal(split.validationMask[i], y === 5 && !onTraining ? 1 : 0);
  }
});

test('the split matches the QUALITY.md folds of src/core on real sparse labels', { skip: SKIP_WITHOUT_DATA }, () => {
  const truthVolume = readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  const dims = truthVolume.dims;
  const truth = maskToLabels(truthVolume.data);
  const slices = chooseAnnotatedSlices(truth, dims);
  const sparse = sparseLabels(truth, dims, slices);
  const found = findAnnotatedSlices(sparse, dims);
  assert.deepEqual(found.map((s) => ({ axis: s.axis, index: s.index })), slices);
  const folds = sliceFolds(slices, 3);
  for (let f = 0; f < 3; f++) {
    const split = splitLabels(sparse, dims, { fold: f, folds: 3 }, found);
    const training = folds.filter((_, g) => g !== f).flat();
    const expected = sliceScoringMask(dims, folds[f], training);
    assert.deepEqual(Array.from(split.validationMask, (v) => (v ? 1 : 0)), Array.from(expected));
    assert.deepEqual(split.training, sparseLabels(truth, dims, training));
  }
});

test('patch sizes follow the spacing, the volume and the pooling', () => {
  // Thick slices get few voxels across them; every side a multiple of 4.
  assert.deepEqual(choosePatchSize([164, 166, 26], [0.79, 0.79, 5], 128 * 128 * 8, 4), [128, 128, 8]);
  assert.deepEqual(choosePatchSize([128, 128, 34], [3.05, 3.05, 10], 128 * 128 * 8, 4), [92, 92, 16]);
  assert.deepEqual(choosePatchSize([64, 64, 64], [1, 1, 1], 32 * 32 * 32, 4), [32, 32, 32]);
  // A small volume caps its axes at its size (rounded up) and the others share the rest.
  assert.deepEqual(choosePatchSize([60, 55, 52], [1, 1, 1], 128 * 128 * 8, 4), [52, 52, 52]);
  assert.deepEqual(choosePatchSize([200, 200, 6], [1, 1, 1], 64 * 64 * 16, 4), [92, 92, 8]);
});

test('validation tiles cover the held-out slice once, with large in-plane tiles', () => {
  assert.deepEqual(tileStarts(10, 16), [0]);
  assert.deepEqual(tileStarts(100, 32), [0, 23, 45, 68]);
  const tile = validationTile([164, 166, 26], { axis: 2, index: 12, voxels: 0 }, [64, 64, 8], 200_000, 4);
  assert.equal(tile[2], 8);
  assert.ok(tile[0] * tile[1] * tile[2] <= 200_000);
  const boxes = sliceTiles([164, 166, 26], { axis: 2, index: 12, voxels: 0 }, tile);
  assert.ok(boxes.every((b) => b[2] === 12 - 4));
  assert.deepEqual(validationTile([164, 166, 26], { axis: 0, index: 5, voxels: 0 }, [64, 64, 8], 1e9, 4), [64, 168, 28]);
});

test('settings: defaults, and a clear error for each bad one', () => {
  const s = trainSettings({ volumes: [{ image: 'a.nii.gz', labels: 'a.labels.nii.gz' }], outDir: 'run' });
  assert.equal(s.network.preset, 'fast');
  // The defaults the quality runs chose (README): Adam at 0.002, no augmentation, weights and
  // coordinate channels decided by the number of classes, the largest-component clean-up.
  assert.equal(s.optimizer.kind, 'adam');
  assert.equal(s.schedule.initial, 0.002);
  assert.equal(s.iterations, 1000);
  assert.equal(s.classWeighting, 'auto');
  assert.equal(s.coordinateChannels, 'auto');
  assert.equal(s.annotationChannels, 'auto');
  assert.equal(s.keepLargestComponent, true);
  assert.equal(s.loss, 'auto');
  for (const part of ['deformation', 'rotation', 'scaling', 'grayValue', 'flips'] as const) assert.equal(s.augmentation[part].enabled, false, part);
  const paper = trainSettings({ volumes: s.volumes, outDir: 'r', optimizer: { kind: 'sgd' }, augmentation: { deformation: { enabled: true } } });
  assert.equal(paper.schedule.initial, 0.01);
  assert.equal(paper.augmentation.deformation.enabled, true);
  assert.equal(paper.augmentation.deformation.gridSpacing, 32, "the paper's parameters for a part switched on");
  const bad: [object, RegExp][] = [
    [{ volumes: [] }, /no training volumes/],
    [{ iterations: 0 }, /iterations must be a positive integer/],
    [{ minutes: -1 }, /minutes must be a positive/],
    [{ validation: { fraction: 1 } }, /validation fraction/],
    [{ validation: { fold: 3, folds: 3 } }, /fold must be/],
    [{ foregroundFraction: 2 }, /foreground fraction/],
    [{ schedule: { initial: 0 } }, /learning rate must be positive/],
    [{ patchSize: [32, 0, 8] }, /patch size/],
    [{ loss: 'dice' }, /the loss must be 'auto', 'ce' or 'ce\+dice'/],
  ];
  for (const [change, message] of bad) assert.throws(() => trainSettings({ volumes: s.volumes, outDir: 'r', ...change }), message);
});

test('learning-rate schedules', () => {
  const base = { initial: 0.01, warmup: 0, finalFraction: 0 };
  assert.equal(learningRateAt({ ...base, kind: 'constant' }, 0.7), 0.01);
  assert.equal(learningRateAt({ ...base, kind: 'poly' }, 0), 0.01);
  assert.equal(learningRateAt({ ...base, kind: 'poly' }, 1), 0);
  assert.ok(Math.abs(learningRateAt({ ...base, kind: 'cosine' }, 0.5) - 0.005) < 1e-12);
  const warm = { ...base, kind: 'poly' as const, warmup: 0.1, finalFraction: 0.1 };
  assert.ok(Math.abs(learningRateAt(warm, 0.05) - 0.005) < 1e-12);
  assert.ok(Math.abs(learningRateAt(warm, 1) - 0.001) < 1e-12);
});
