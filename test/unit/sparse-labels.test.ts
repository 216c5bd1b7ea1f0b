/** The sparse-annotation protocol of ../shared/QUALITY.md: slice choice, folds, scoring masks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { readLabelsAs } from '../../src/core/labelConvention';
import {
  annotatedFraction,
  chooseAnnotatedSlices,
  crossValidationFolds,
  foregroundSlices,
  maskToLabels,
  sliceFolds,
  sliceScoringMask,
  slicesMask,
  sparseLabels,
  unannotatedMask,
  type AnnotatedSlice,
} from '../../src/core/sparseLabels';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

/** A dims-sized label volume (editor convention) with foreground 2 inside a box. */
function boxVolume(dims: Vec3, from: Vec3, to: Vec3): Uint8Array {
  const out = new Uint8Array(dims[0] * dims[1] * dims[2]).fill(1);
  for (let z = from[2]; z <= to[2]; z++) for (let y = from[1]; y <= to[1]; y++) for (let x = from[0]; x <= to[0]; x++) out[x + dims[0] * (y + dims[1] * z)] = 2;
  return out;
}

const count = (mask: Uint8Array) => mask.reduce((a, b) => a + b, 0);

test('annotated slices: the foreground slices nearest the quarter, middle and three-quarter points', () => {
  const cases: { name: string; dims: Vec3; from: Vec3; to: Vec3; slices: [number, number][] }[] = [
    // x range 2..10: targets 4, 6, 8; y 0..8: 2, 4, 6; z 1..3: 1.5 → 1 (tie goes low), 2, 2.5 → 3 (2 taken).
    { name: 'box', dims: [12, 9, 5], from: [2, 0, 1], to: [10, 8, 3], slices: [[0, 4], [0, 6], [0, 8], [1, 2], [1, 4], [1, 6], [2, 1], [2, 2], [2, 3]] },
    // Two foreground slices along z: both, nothing more.
    { name: 'thin along z', dims: [8, 8, 6], from: [1, 1, 2], to: [6, 6, 3], slices: [[0, 2], [0, 3], [0, 5], [1, 2], [1, 3], [1, 5], [2, 2], [2, 3]] },
    // One foreground voxel: one slice per axis.
    { name: 'one voxel', dims: [4, 4, 4], from: [1, 2, 3], to: [1, 2, 3], slices: [[0, 1], [1, 2], [2, 3]] },
  ];
  for (const c of cases) {
    const got = chooseAnnotatedSlices(boxVolume(c.dims, c.from, c.to), c.dims).map((s): [number, number] => [s.axis, s.index]);
    assert.deepEqual(got, c.slices, c.name);
  }
  // Foreground in two separate blobs: only slices that hold foreground are chosen.
  const dims: Vec3 = [20, 3, 3];
  const two = boxVolume(dims, [0, 0, 0], [2, 2, 2]);
  for (let i = 0; i < two.length; i++) if (i % 20 >= 17) two[i] = 3;
  assert.deepEqual(foregroundSlices(two, dims, 0), [0, 1, 2, 17, 18, 19]);
  assert.deepEqual(chooseAnnotatedSlices(two, dims).filter((s) => s.axis === 0).map((s) => s.index), [2, 17, 18]);
  assert.throws(() => chooseAnnotatedSlices(new Uint8Array(27).fill(1), [3, 3, 3]), /no foreground/);
  assert.throws(() => chooseAnnotatedSlices(new Uint8Array(26), [3, 3, 3]), /dims/);
});

test('sparse labels, folds and scoring masks', () => {
  const dims: Vec3 = [4, 5, 6];
  const truth = Uint8Array.from({ length: 120 }, (_, i) => 1 + (i % 3));
  const slices: AnnotatedSlice[] = [
    { axis: 0, index: 1 },
    { axis: 0, index: 3 },
    { axis: 1, index: 2 },
    { axis: 2, index: 0 },
    { axis: 2, index: 5 },
  ];
  const sparse = sparseLabels(truth, dims, slices);
  const on = slicesMask(dims, slices);
  for (let i = 0; i < 120; i++) assert.equal(sparse[i], on[i] ? truth[i] : 0);
  // x-slices 5·6 = 30 each, y-slice 4·6, z-slices 4·5; by inclusion–exclusion.
  const expectedOn = 2 * 30 + 24 + 2 * 20 - (2 * 6 + 2 * 2 * 5 + 2 * 4) + 2 * 2;
  assert.equal(count(on), expectedOn);
  assert.equal(count(unannotatedMask(dims, slices)), 120 - expectedOn);
  assert.ok(Math.abs(annotatedFraction(dims, slices) - expectedOn / 120) < 1e-12);

  // Round-robin dealing, in the given order.
  assert.deepEqual(sliceFolds(slices, 3), [[slices[0], slices[3]], [slices[1], slices[4]], [slices[2]]]);
  assert.throws(() => sliceFolds(slices, 1), /folds/);
  assert.throws(() => sliceFolds(slices.slice(0, 2), 3), /cannot make 3 folds/);

  // A held-out x-slice less the line where it crosses the training y-slice: 30 − 6.
  assert.equal(count(sliceScoringMask(dims, [{ axis: 0, index: 1 }], [{ axis: 1, index: 2 }])), 24);
  // Crossing a parallel slice removes nothing.
  assert.equal(count(sliceScoringMask(dims, [{ axis: 0, index: 1 }], [{ axis: 0, index: 3 }])), 30);

  const folds = crossValidationFolds(truth, dims, slices, 3);
  folds.forEach((fold, f) => {
    assert.equal(fold.training.length + fold.heldOut.length, slices.length);
    const training = slicesMask(dims, fold.training);
    const heldOut = slicesMask(dims, fold.heldOut);
    for (let i = 0; i < 120; i++) {
      assert.equal(fold.sparse[i], training[i] ? truth[i] : 0, `fold ${f}`);
      assert.equal(fold.mask[i], heldOut[i] && !training[i] ? 1 : 0, `fold ${f}`);
    }
  });
});

test('mask files become editor labels by adding one', () => {
  assert.deepEqual(maskToLabels(Int16Array.from([0, 1, 7])), Uint8Array.from([1, 2, 8]));
  const wide = maskToLabels(Uint16Array.from([0, 255]));
  assert.ok(wide instanceof Uint16Array && wide[1] === 256);
  assert.throws(() => maskToLabels(Float32Array.from([0.5])), /not a label/);
  assert.throws(() => maskToLabels(Int8Array.from([-1])), /not a label/);
});

test('the protocol on the shared spinal cord: 9 slices, 15.4 % of the voxels', { skip: SKIP_WITHOUT_DATA }, () => {
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  assert.equal(truth.convention, 'mask');
  const slices = chooseAnnotatedSlices(truth.data, truth.dims);
  assert.deepEqual(
    slices.map((s) => `${'xyz'[s.axis]}${s.index}`),
    ['x28', 'x31', 'x33', 'y13', 'y27', 'y40', 'z22', 'z25', 'z28'],
  );
  assert.ok(Math.abs(annotatedFraction(truth.dims, slices) - 0.154) < 0.001);
  // Every chosen slice holds foreground; folds take one slice of each axis.
  const sparse = sparseLabels(truth.data, truth.dims, slices);
  for (const s of slices) assert.ok(foregroundSlices(sparse, truth.dims, s.axis).includes(s.index));
  for (const fold of sliceFolds(slices, 3)) assert.deepEqual(fold.map((s) => s.axis), [0, 1, 2]);
});
