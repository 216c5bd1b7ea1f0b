/**
 * How a run decides from its logits (src/engine/decisionCalibration.ts): the logit adjustment and
 * the per-class annotation offsets chosen on the left-out slices, the model's inference with the
 * offsets, and a run record's offsets read back for prediction.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { Random } from '../../src/core/random';
import { findAnnotatedSlices } from '../../src/core/sparseSplit';
import { initBackend } from '../../src/engine/backends';
import { ADJUSTMENT_FRACTIONS, calibrateDecision, chooseOffsets, OFFSET_STEPS, type ScoredLogits } from '../../src/engine/decisionCalibration';
import { logitAdjustment } from '../../src/engine/loss';
import { createUNet } from '../../src/engine/model';
import type { NormalizedImage } from '../../src/engine/normalize';
import { runPredictOptions } from '../../src/engine/predict';
import { tf } from '../../src/engine/tf';
import { leaveOutVolumes } from '../../src/engine/trainingData';
import { validate } from '../../src/engine/validation';
import { DEFAULT_NORMALIZATION } from '../../src/protocol/settings';
import { slicedLabels } from '../helpers/engineData';
import type { UNetConfig } from '../../src/protocol/network';
import type { RunRecord } from '../../src/protocol/run';

before(async () => {
  await initBackend('cpu');
});

const SAME: UNetConfig = { levels: 2, baseFilters: 4, filterPattern: 'flat', padding: 'same', batchNorm: true, inChannels: 1, classes: 3 };

function image(dims: Vec3, seed: number): NormalizedImage {
  const rng = new Random(seed);
  const n = dims[0] * dims[1] * dims[2];
  const data = Float32Array.from({ length: n }, () => rng.normal());
  return { dims, spacing: [1, 1, 2], channels: 1, data, normalization: { settings: DEFAULT_NORMALIZATION, channels: [{ low: -9, high: 9, mean: 0, std: 1 }] } };
}

function checksOf(dims: Vec3) {
  const labels = slicedLabels(dims, [
    { axis: 0, index: 6 },
    { axis: 1, index: 12 },
    { axis: 2, index: 5 },
  ]);
  return leaveOutVolumes('v', image(dims, 7), labels, findAnnotatedSlices(labels, dims), 3).map((g) => g.check);
}

const geometry = { input: [8, 8, 4] as Vec3, output: [8, 8, 4] as Vec3 };
const weights = [0.2, 3, 9];

test('without a trust map, every fraction is scored from one pass as validate scores it, and no offsets are chosen', async () => {
  const checks = checksOf([24, 20, 12]);
  const net = createUNet({ ...SAME, inChannels: 4 + 1 }, 3);
  try {
    const calibration = await calibrateDecision(net, checks, geometry, 3, weights);
    assert.deepEqual(calibration.fractions, ADJUSTMENT_FRACTIONS);
    for (const [i, f] of ADJUSTMENT_FRACTIONS.entries()) {
      assert.equal(calibration.meanIoU[i], (await validate(net, checks, geometry, 3, logitAdjustment(weights, f))).meanForegroundIoU, `fraction ${f}`);
    }
    assert.deepEqual(calibration.meanIoUWithoutOffsets, calibration.meanIoU);
    const best = Math.max(...calibration.meanIoU.map((m) => m ?? -1));
    assert.equal(calibration.fraction, ADJUSTMENT_FRACTIONS[calibration.meanIoU.findIndex((m) => (m ?? -1) === best)]);
    assert.equal(calibration.offsets, undefined);
    assert.ok(calibration.voxels > 0);
  } finally {
    net.dispose();
  }
});

test('with a trust map, the offsets chosen score on the checks exactly what the network scores with them', async () => {
  const checks = checksOf([24, 20, 12]);
  const net = createUNet({ ...SAME, inChannels: 4 + 1, annotationResidual: 3 }, 5);
  try {
    // A trust that starts low, so that a fresh network's own logits decide and the offsets have work.
    const bias = net.namedVariables.get('trust/bias')!;
    bias.assign(tf.fill(bias.shape, -6));
    const calibration = await calibrateDecision(net, checks, geometry, 3, weights);
    calibration.meanIoU.forEach((m, i) => assert.ok((m ?? -1) >= (calibration.meanIoUWithoutOffsets[i] ?? -1), `fraction ${ADJUSTMENT_FRACTIONS[i]}`));
    assert.ok(calibration.offsets, 'the nearest annotation beats a fresh network: offsets are taken');
    assert.ok(calibration.offsets.every((o) => OFFSET_STEPS.includes(o) && o >= 0));
    const chosen = calibration.meanIoU[ADJUSTMENT_FRACTIONS.indexOf(calibration.fraction)];
    const scored = await validate(net, checks, geometry, 3, logitAdjustment(weights, calibration.fraction), { annotationOffsets: calibration.offsets });
    assert.ok(Math.abs((scored.meanForegroundIoU ?? -1) - (chosen ?? -2)) < 1e-12, `validate ${scored.meanForegroundIoU}, calibration ${chosen}`);
  } finally {
    net.dispose();
  }
});

/** Scored voxels of 3 classes: `cases` of (truth, nearest annotation, logits), each repeated `n` times. */
function scored(cases: [number, number, [number, number, number]][], n = 10): ScoredLogits {
  const all = cases.flatMap((c) => Array.from({ length: n }, () => c));
  return {
    classes: 3,
    logits: Float32Array.from(all.flatMap(([, , l]) => l)),
    truth: Uint16Array.from(all.map(([t]) => t)),
    nearest: Uint16Array.from(all.map(([, a]) => a)),
    voxels: all.length,
  };
}

test('an offset follows a class\'s annotations where the network misses that class, the smallest step that does', () => {
  // Class 3 (label 3) annotated nearby but the network says 2 by a margin of 1.5; elsewhere it is right.
  const s = scored([
    [1, 1, [3, 0, 0]],
    [2, 2, [0, 3, 0]],
    [3, 3, [-1, 1.5, 0]],
  ]);
  const none = chooseOffsets(s, [0, 0, 0], false);
  assert.deepEqual(none.offsets, [0, 0, 0]);
  const chosen = chooseOffsets(s, [0, 0, 0], true);
  assert.deepEqual(chosen.offsets, [0, 0, 2], 'the first step above the margin');
  assert.equal(chosen.meanIoU, 1);
  assert.ok((chosen.meanIoUWithoutOffsets ?? 1) < 1);
  // The logit adjustment's shift counts: with class 2 shifted down by 2, no offset is needed.
  assert.deepEqual(chooseOffsets(s, [0, 2, 0], true).offsets, [0, 0, 0]);
});

test('no offset is taken against a network that is right where the annotations are wrong, nor below 0', () => {
  // Where the nearest annotation says 2 the truth is 3, and the network knows it.
  const s = scored([
    [1, 1, [3, 0, 0]],
    [2, 2, [0, 3, 0]],
    [3, 2, [0, 1, 2.5]],
  ]);
  const chosen = chooseOffsets(s, [0, 0, 0], true);
  assert.deepEqual(chosen.offsets, [0, 0, 0]);
  assert.equal(chosen.meanIoU, 1);
  assert.ok(OFFSET_STEPS.every((o) => o >= 0));
});

test('the model adds the offsets to the trust where the one-hot says each class, in inference only', () => {
  const net = createUNet({ ...SAME, inChannels: 4 + 1, annotationResidual: 3 }, 2);
  try {
    const rng = new Random(4);
    const x = new Float32Array(8 * 8 * 8 * 5).map(() => rng.normal());
    for (let v = 0; v < 512; v++) for (let k = 0; k < 3; k++) x[v * 5 + k] = k === v % 3 ? 1 : 0;
    const run = (training: boolean, offsets?: number[]) => tf.tidy(() => net.apply(tf.tensor5d(x, [1, 8, 8, 8, 5]), training, { annotationOffsets: offsets }).dataSync() as Float32Array);
    const plain = run(false);
    const offset = run(false, [0.5, 0, 4]);
    for (let v = 0; v < 512; v++) {
      for (let c = 0; c < 3; c++) {
        const expected = c === v % 3 ? [0.5, 0, 4][c] : 0;
        assert.ok(Math.abs(offset[v * 3 + c] - plain[v * 3 + c] - expected) < 1e-4, `voxel ${v}, class ${c}`);
      }
    }
    assert.deepEqual(run(true, [0.5, 0, 4]), run(true), 'training ignores them');
    assert.throws(() => run(false, [1, 2]), /2 annotation offsets for a network of 3 classes/);
  } finally {
    net.dispose();
  }
});

test("a run record's offsets reach prediction, and malformed ones are refused with what they must be", () => {
  const volume = { dims: [4, 4, 2] as Vec3, spacing: [1, 1, 1] as Vec3 };
  const sparse = new Uint8Array(32);
  sparse[0] = 1;
  sparse[5] = 2;
  const record = { settings: { annotationChannels: true, coordinateChannels: false, logitAdjustment: 0 }, classes: [{ value: 1, name: 'a' }, { value: 2, name: 'b' }], annotationOffsets: [0, 2] } as unknown as RunRecord;
  assert.deepEqual(runPredictOptions(record, volume, sparse).annotationOffsets, [0, 2]);
  for (const bad of [[1], [0, Number.NaN], 'x']) {
    assert.throws(() => runPredictOptions({ ...record, annotationOffsets: bad } as unknown as RunRecord, volume, sparse), /annotationOffsets must be 2 finite numbers/);
  }
});
