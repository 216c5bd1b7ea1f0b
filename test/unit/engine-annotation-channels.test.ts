/**
 * Annotation channels: the nearest-annotation field, the left-out training volumes (the network
 * never reads the annotation it is scored on), the sampler's and the tiled predictor's channels
 * (the same values for the same voxel), `auto`, and a run that segments through the CLI path.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { annotationChannelCount, annotationField, writeAnnotationChannels, ANNOTATION_NEARNESS_MM } from '../../src/core/annotationField';
import type { Vec3 } from '../../src/core/geometry';
import { predictTiled } from '../../src/core/tiledPrediction';
import { readVolumeFile } from '../../src/core/readVolume';
import type { Volume } from '../../src/core/volume';
import { augmentGrayValues, IDENTITY_TRANSFORM } from '../../src/engine/augment';
import { augmentationSettings } from '../../src/protocol/settings';
import { initBackend } from '../../src/engine/backends';
import { countParameters, describeNetwork, INITIAL_TRUST, type UNetConfig } from '../../src/protocol/network';
import { createUNet } from '../../src/engine/model';
import { tf } from '../../src/engine/tf';
import { computeNormalization, normalizeVolume, withCoordinateChannels, type NormalizedImage } from '../../src/engine/normalize';
import { DEFAULT_NORMALIZATION } from '../../src/protocol/settings';
import { AnnotationsNeededError, loadRun, predictVolume, runNetworkOnTile, runPredictOptions } from '../../src/engine/predict';
import { planPrediction } from '../../src/engine/predictionPlan';
import { Random } from '../../src/core/random';
import { readRunRecord } from '../../src/engine/runFolder';
import { PatchSampler, samplePatch } from '../../src/engine/sampler';
import { ADJUSTMENT_FRACTIONS } from '../../src/engine/decisionCalibration';
import { segmentVolumeFile } from '../../src/engine/segmentFile';
import { trainSettings, type TrainSettingsInput } from '../../src/protocol/settings';
import { findAnnotatedSlices } from '../../src/core/sparseSplit';
import { runTraining } from '../../src/engine/train';
import { leaveOutVolumes, useAnnotationChannels } from '../../src/engine/trainingData';
import { slicedLabels, writeBallVolume } from '../helpers/engineData';
import { tempDir } from '../helpers/data';

const work = tempDir('engine-annotation');
after(() => fs.rmSync(work, { recursive: true, force: true }));
before(async () => {
  await initBackend('auto');
});

/** A normalized image of unit-normal noise. */
function image(dims: Vec3, spacing: Vec3, seed: number): NormalizedImage {
  const rng = new Random(seed);
  const n = dims[0] * dims[1] * dims[2];
  const data = Float32Array.from({ length: n }, () => rng.normal());
  return { dims, spacing, channels: 1, data, normalization: { settings: DEFAULT_NORMALIZATION, channels: [{ low: -9, high: 9, mean: 0, std: 1 }] } };
}

test('the field holds the nearest annotated voxel in mm (anisotropic) and its nearness', () => {
  const dims: Vec3 = [5, 2, 1];
  const sparse = new Uint8Array(10);
  sparse[0] = 2; // (0, 0)
  sparse[4] = 1; // (4, 0)
  const field = annotationField(sparse, dims, [2, 1, 1], 3);
  assert.equal(field.nearest[1], 2, '(1, 0) is 2 mm from (0, 0) and 6 mm from (4, 0)');
  assert.equal(field.nearness[1], Math.round(255 * Math.exp(-2 / ANNOTATION_NEARNESS_MM)));
  assert.equal(field.nearest[8], 1, '(3, 1): √5 mm from (4, 0), √37 from (0, 0)');
  assert.equal(field.nearness[8], Math.round(255 * Math.exp(-Math.sqrt(5) / ANNOTATION_NEARNESS_MM)));
  assert.equal(field.nearness[0], 255);
  assert.equal(annotationChannelCount(3), 4);
  const out = new Float32Array(6).fill(7);
  writeAnnotationChannels(field, 8, out, 1);
  assert.deepEqual([...out], [7, 1, 0, 0, Math.fround(field.nearness[8] / 255), 7]);
  assert.throws(() => annotationField(new Uint8Array(10), dims, [1, 1, 1], 3), /at least one labeled voxel/);
  assert.throws(() => annotationField(sparse, dims, [1, 1, 1], 1), /exceeds the 1 classes/);
});

test('left-out volumes: each trains on its own slices, reading a field made without them', () => {
  const dims: Vec3 = [20, 18, 10];
  const planes = [
    { axis: 0 as const, index: 5 },
    { axis: 1 as const, index: 9 },
    { axis: 2 as const, index: 2 },
    { axis: 2 as const, index: 7 },
  ];
  const labels = slicedLabels(dims, planes);
  const slices = findAnnotatedSlices(labels, dims);
  const groups = leaveOutVolumes('v', image(dims, [1, 1, 2], 1), labels, slices, 3);
  const volumes = groups.map((g) => g.sampled);
  assert.equal(volumes.length, 4, 'one group per slice while there are few');
  for (const g of groups) {
    // The same targets as slices to score, with the same field.
    assert.equal(g.check.annotation, g.sampled.annotation);
    for (let i = 0; i < labels.length; i++) assert.equal(g.check.mask[i] !== 0, g.sampled.labels[i] !== 0, `voxel ${i} scored where it is a target`);
  }
  const [nx, ny] = dims;
  const timesTarget = new Uint8Array(labels.length);
  for (const v of volumes) {
    const left = slices.filter((s) => v.name.includes(`${'xyz'[s.axis]}=${s.index}`));
    assert.equal(left.length, 1, v.name);
    const kept = planes.filter((p) => !(p.axis === left[0].axis && p.index === left[0].index));
    for (let i = 0; i < labels.length; i++) {
      const p = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
      const onLeft = p[left[0].axis] === left[0].index;
      const onKept = kept.some((s) => p[s.axis] === s.index);
      if (v.labels[i] !== 0) {
        timesTarget[i]++;
        assert.ok(onLeft && !onKept, `targets lie on the left-out slice, off the kept ones (voxel ${i})`);
        assert.equal(v.labels[i], labels[i]);
        assert.ok(v.annotation!.nearness[i] < 255, 'a target never reads its own annotation');
      } else if (onLeft && !onKept) assert.fail(`voxel ${i} of the left-out slice is not a target`);
      if (onKept) {
        assert.equal(v.annotation!.nearness[i], 255);
        assert.equal(v.annotation!.nearest[i], labels[i]);
      }
    }
  }
  // Every labeled voxel on exactly one slice is a target exactly once; crossings never.
  for (let i = 0; i < labels.length; i++) {
    const p = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    const on = planes.filter((s) => p[s.axis] === s.index).length;
    assert.equal(timesTarget[i], on === 1 ? 1 : 0, `voxel ${i} on ${on} slices`);
  }
  assert.throws(() => leaveOutVolumes('v', image(dims, [1, 1, 2], 1), labels, slices.slice(0, 1), 3), /at least 2 annotated training slices/);
});

test("'auto' gives annotation channels to one volume with several foreground classes", () => {
  assert.equal(useAnnotationChannels('auto', 3, 1, 9), true);
  assert.equal(useAnnotationChannels('auto', 2, 1, 9), false, 'one foreground class');
  assert.equal(useAnnotationChannels('auto', 8, 2, 9), false, 'several volumes: a run for new volumes');
  assert.equal(useAnnotationChannels('auto', 8, 1, 1), false, 'one slice cannot be left out');
  assert.equal(useAnnotationChannels(true, 2, 3, 2), true);
  assert.equal(useAnnotationChannels(false, 8, 1, 9), false);
  assert.throws(() => useAnnotationChannels(true, 3, 1, 1), /at least 2 annotated training slices/);
});

test('the sampler puts the annotation channels first, by nearest neighbour, and gray values leave them alone', () => {
  const dims: Vec3 = [20, 18, 10];
  const labels = slicedLabels(dims, [
    { axis: 0, index: 5 },
    { axis: 2, index: 2 },
    { axis: 2, index: 7 },
  ]);
  const img = withCoordinateChannels(image(dims, [1, 1, 2], 2));
  const [{ sampled: v }] = leaveOutVolumes('v', img, labels, findAnnotatedSlices(labels, dims), 3);
  const field = v.annotation!;
  const geometry = { input: [8, 6, 4] as Vec3, output: [8, 6, 4] as Vec3 };
  const A = 4;
  const C = A + img.channels;
  const patch = new Float32Array(8 * 6 * 4 * C);
  const centre: Vec3 = [3, 16, 1]; // reaches outside: mirrored
  samplePatch(img, undefined, centre, geometry, IDENTITY_TRANSFORM, patch, undefined, field);
  const expected = new Float32Array(C);
  const mirror = (p: number, n: number) => (p < 0 ? -p : p > n - 1 ? 2 * (n - 1) - p : p);
  for (let qz = 0, q = 0; qz < 4; qz++) {
    for (let qy = 0; qy < 6; qy++) {
      for (let qx = 0; qx < 8; qx++, q++) {
        const x = mirror(centre[0] + qx - 4, dims[0]);
        const y = mirror(centre[1] + qy - 3, dims[1]);
        const z = mirror(centre[2] + qz - 2, dims[2]);
        const voxel = x + dims[0] * (y + dims[1] * z);
        writeAnnotationChannels(field, voxel, expected, 0);
        for (let c = 0; c < img.channels; c++) expected[A + c] = img.data[voxel * img.channels + c];
        assert.deepEqual([...patch.subarray(q * C, (q + 1) * C)], [...expected], `patch voxel ${q}`);
      }
    }
  }
  // Gray-value augmentation changes only the image's own channel.
  const before = patch.slice();
  augmentGrayValues(patch, C, augmentationSettings({ grayValue: { enabled: true } }).grayValue, new Random(3), A, A + 1);
  let changed = 0;
  for (let i = 0; i < patch.length; i++) {
    if (patch[i] === before[i]) continue;
    assert.equal(i % C, A, `only channel ${A} changes`);
    changed++;
  }
  assert.ok(changed > 0);
  const sampler = new PatchSampler([v], { geometry, classes: 3, foregroundFraction: 0.5, augmentation: augmentationSettings({ grayValue: { enabled: true } }) }, new Random(4));
  const batch = sampler.batch(2);
  for (let q = 0; q < batch.image.length / C; q++) {
    const oneHot = [0, 1, 2].map((c) => batch.image[q * C + c]);
    const sum = oneHot[0] + oneHot[1] + oneHot[2];
    assert.ok(oneHot.every((x) => x === 0 || x === 1) && sum === 1, 'one-hot after gray-value augmentation');
  }
});

const SAME: UNetConfig = { levels: 2, baseFilters: 4, filterPattern: 'flat', padding: 'same', batchNorm: true, inChannels: 1, classes: 3 };

/** Noise around a bright blob, on an anisotropic grid. */
function syntheticVolume(dims: Vec3, seed: number): Volume {
  const rng = new Random(seed);
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let z = 0, i = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++, i++) data[i] = (Math.hypot(x - nx / 3, y - ny / 2, z - nz / 2) < 6 ? 100 : 0) + 20 * rng.normal();
  const spacing: Vec3 = [0.8, 1.2, 2.5];
  return {
    format: 'nifti1',
    dims,
    spacing,
    datatype: 'float32',
    data,
    sclSlope: 1,
    sclInter: 0,
    affine: [
      [spacing[0], 0, 0, 0],
      [0, spacing[1], 0, 0],
      [0, 0, spacing[2], 0],
      [0, 0, 0, 1],
    ],
    frames: 1,
  };
}

test('prediction adds the annotation channels tile by tile exactly as a whole-volume input would hold them', async () => {
  const dims: Vec3 = [30, 26, 18];
  const volume = syntheticVolume(dims, 5);
  const labels = slicedLabels(dims, [
    { axis: 0, index: 7 },
    { axis: 1, index: 20 },
    { axis: 2, index: 9 },
  ]);
  const field = annotationField(labels, dims, volume.spacing, 3);
  const channels = 4 + 1 + 3;
  const net = createUNet({ ...SAME, inChannels: channels, positionChannels: 3 }, 9);
  try {
    const normalization = computeNormalization(volume);
    const tiling = { tile: [12, 12, 8] as Vec3, overlap: 0.25 };
    const plan = planPrediction(net, dims, tiling);
    // The whole input: annotation channels, the image, the coordinates.
    const withCoordinates = withCoordinateChannels(normalizeVolume(volume, normalization));
    const voxels = dims[0] * dims[1] * dims[2];
    const whole = new Float32Array(voxels * channels);
    for (let v = 0; v < voxels; v++) {
      writeAnnotationChannels(field, v, whole, v * channels);
      for (let c = 0; c < 4; c++) whole[v * channels + 4 + c] = withCoordinates.data[v * 4 + c];
    }
    const reference = await predictTiled({ plan, image: { dims, channels, data: whole }, classes: 3, probabilities: true, runTile: (input) => runNetworkOnTile(net, input, plan.inputSize, channels, plan.tile) });
    const got = await predictVolume(net, volume, normalization, { ...tiling, coordinateChannels: true, annotation: field, probabilities: true });
    assert.deepEqual(got.labels, reference.labels);
    assert.deepEqual(got.probabilities, reference.probabilities);
    await assert.rejects(predictVolume(net, volume, normalization, { ...tiling, coordinateChannels: true }), /takes 8 channel\(s\) but the image has 1 \(plus 3 coordinate channels\)/);
    // The annotations steer the prediction: other annotations, other logits.
    const moved = annotationField(slicedLabels(dims, [{ axis: 0 as const, index: 22 }, { axis: 2 as const, index: 3 }]), dims, volume.spacing, 3);
    const other = await predictVolume(net, volume, normalization, { ...tiling, coordinateChannels: true, annotation: moved, probabilities: true });
    assert.notDeepEqual(other.probabilities, got.probabilities);
  } finally {
    net.dispose();
  }
});

test('the annotation residual: a trust map adds the one-hot of the first input channels to the logits', () => {
  const config: UNetConfig = { ...SAME, inChannels: 4 + 1 + 1, annotationResidual: 3 };
  const plainConfig: UNetConfig = { ...SAME, inChannels: 6 };
  assert.equal(countParameters(config), countParameters(plainConfig) + 4 + 1, 'a 1×1×1 convolution from the 4 last features to 1, with its bias');
  const rows = describeNetwork(config, [8, 8, 8]);
  assert.deepEqual(rows.slice(-2).map((r) => [r.name, r.outputShape.at(-1)]), [['trust', 1], ['final', 3]]);
  assert.throws(() => createUNet({ ...config, annotationResidual: 2 }), /annotationResidual must be 0 or the number of classes \(3\)/);
  assert.throws(() => createUNet({ ...config, inChannels: 3, positionChannels: 1 }), /need more than the 3 input channels/);
  const net = createUNet(config, 2);
  try {
    // Where the one-hot says class c, the logit of c rises by the trust (> 0) against the others.
    const rng = new Random(1);
    const x = new Float32Array(8 * 8 * 8 * 6).map(() => rng.normal());
    const withClass = (c: number) => {
      const y = x.slice();
      for (let v = 0; v < 512; v++) for (let k = 0; k < 3; k++) y[v * 6 + k] = k === c ? 1 : 0;
      return y;
    };
    const logits = (input: Float32Array) => tf.tidy(() => net.apply(tf.tensor5d(input, [1, 8, 8, 8, 6]), false).dataSync() as Float32Array);
    const a = logits(withClass(0));
    const b = logits(withClass(1));
    assert.equal(a.length, 512 * 3);
    const gain = [...Array(512).keys()].map((v) => a[v * 3] - a[v * 3 + 1] - (b[v * 3] - b[v * 3 + 1]));
    const rises = gain.filter((g) => g > 0).length;
    assert.ok(rises > 400, `class 0 gains on class 1 where the one-hot says 0 (${rises} of 512 voxels)`);
    // A fresh network leans on the annotations: the trust starts near softplus(INITIAL_TRUST),
    // the one-hot's class ahead by about that much.
    const meanGain = gain.reduce((sum, g) => sum + g, 0) / 512;
    assert.ok(meanGain > 2 * INITIAL_TRUST * 0.7, `mean gain ${meanGain.toFixed(2)} (class 0 up by t, class 1 down by t)`);
  } finally {
    net.dispose();
  }
});

test('a run with annotation channels records them, and segments with the label file it trained on or one given', async () => {
  const ball = writeBallVolume(work, 'ball-ann', [32, 28, 12], 3, true);
  const outDir = path.join(work, 'run-ann');
  const input: TrainSettingsInput = {
    volumes: [ball],
    outDir,
    network: { preset: 'fast', levels: 2, baseFilters: 4 },
    patchSize: [12, 12, 4],
    iterations: 6,
    validation: { fold: 0, folds: 3 },
    validateEvery: 3,
    classWeighting: 'balanced',
  };
  const summary = await runTraining(trainSettings(input));
  assert.equal(summary.status, 'succeeded');
  const record = readRunRecord(outDir);
  assert.equal(record.settings.annotationChannels, true);
  // Unequal weights: the adjustment was chosen on the left-out and validation slices.
  assert.ok(ADJUSTMENT_FRACTIONS.includes(record.settings.logitAdjustment as number), `logitAdjustment ${String(record.settings.logitAdjustment)}`);
  assert.deepEqual(record.logitCalibration?.fractions, ADJUSTMENT_FRACTIONS);
  assert.ok((record.logitCalibration?.voxels ?? 0) > 0);
  const chosen = record.logitCalibration!.meanIoU;
  assert.equal(record.settings.logitAdjustment, ADJUSTMENT_FRACTIONS[chosen.indexOf(Math.max(...chosen.map((m) => m ?? -1)))]);
  // With a trust map, per-class offsets were tried with each fraction: kept only where they helped, never below 0.
  if (record.annotationOffsets) {
    assert.equal(record.annotationOffsets.length, 3);
    assert.ok(record.annotationOffsets.every((o) => o >= 0) && record.annotationOffsets.some((o) => o > 0), JSON.stringify(record.annotationOffsets));
    const without = record.logitCalibration!.meanIoUWithoutOffsets!;
    chosen.forEach((m, i) => assert.ok((m ?? -1) >= (without[i] ?? -1), `fraction ${ADJUSTMENT_FRACTIONS[i]}: ${m} with offsets, ${without[i]} without`));
  }
  assert.equal(record.network?.inChannels, 4 + 1 + 3, 'annotation (3 classes + nearness), image, coordinates');
  assert.equal(record.network?.annotationResidual, 3, 'the logits add trust × the annotation one-hot');
  assert.ok(record.validation.length > 0 && record.validation.every((v) => v.meanForegroundIoU !== undefined), 'validation ran with the training slices as annotations');
  const volume = readVolumeFile(ball.image);
  assert.throws(() => runPredictOptions(record, volume), AnnotationsNeededError);
  assert.ok(runPredictOptions(record, volume, readVolumeFile(ball.labels).data as Uint8Array).annotation);
  // Default: the label file of run.json.
  const first = await segmentVolumeFile({ runDir: outDir, image: ball.image, out: path.join(work, 'ann-a.seg.nii.gz'), checkpoint: 'last' });
  assert.ok(first.voxelsPerClass.reduce((a, b) => a + b) === 32 * 28 * 12);
  // Given: the same labels under another name give the same result; without any, a clear error.
  const copy = path.join(work, 'copy.labels.nii.gz');
  fs.copyFileSync(ball.labels, copy);
  const second = await segmentVolumeFile({ runDir: outDir, image: ball.image, labels: copy, out: path.join(work, 'ann-b.seg.nii.gz'), checkpoint: 'last' });
  assert.deepEqual(readVolumeFile(second.out).data, readVolumeFile(first.out).data);
  fs.renameSync(ball.labels, `${ball.labels}.gone`);
  await assert.rejects(segmentVolumeFile({ runDir: outDir, image: ball.image, out: path.join(work, 'ann-c.seg.nii.gz'), checkpoint: 'last' }), /reads the annotations of the volume it segments/);
  // With annotations switched off the same data trains a network that needs none.
  const plainDir = path.join(work, 'run-plain');
  fs.renameSync(`${ball.labels}.gone`, ball.labels);
  await runTraining(trainSettings({ ...input, outDir: plainDir, annotationChannels: false, validation: { fraction: 0 }, classWeighting: 'none' }));
  const plain = readRunRecord(plainDir);
  assert.equal(plain.settings.annotationChannels, false);
  assert.equal(plain.settings.logitAdjustment, 0, 'equal weights: nothing to take back');
  assert.equal(plain.logitCalibration, undefined);
  assert.equal(plain.network?.inChannels, 1 + 3);
  assert.equal(plain.network?.annotationResidual, undefined);
  const run = await loadRun(plainDir, 'last');
  try {
    assert.equal(runPredictOptions(plain, volume).annotation, undefined);
  } finally {
    run.net.dispose();
  }
});
