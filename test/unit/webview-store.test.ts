/**
 * The webview's document copy (webview/store.ts), outside the browser: voxels arriving in chunks,
 * labels from runs, deltas both ways with the per-slice counts and the annotated slices kept in
 * step, classes and the prediction turned into the renderer's colour table. Every expectation is
 * counted here, voxel by voxel.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffLabels, encodeLabelRuns, type LabelArray } from '../../src/core/editDeltas';
import type { Vec3 } from '../../src/core/geometry';
import type { LabelClass } from '../../src/core/labels';
import type { VolumeInfo } from '../../src/protocol/webview';
import { DocumentStore } from '../../webview/store';

const DIMS: Vec3 = [7, 6, 5];
const N = DIMS[0] * DIMS[1] * DIMS[2];
const at = (i: number, j: number, k: number) => i + DIMS[0] * (j + DIMS[1] * k);

function info(datatype: VolumeInfo['datatype'] = 'int16', bytesPerVoxel = 2): VolumeInfo {
  return {
    fileName: 'test.nii.gz',
    format: 'nifti1',
    dims: DIMS,
    spacing: [1, 1, 2],
    affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]],
    datatype,
    sclSlope: 1,
    sclInter: 0,
    axisCodes: 'RAS',
    byteLength: N * bytesPerVoxel,
    frames: 1,
  };
}

/** Labeled voxels per slice along each axis, counted directly. */
function countsOf(labels: ArrayLike<number>, minValue = 1): number[][] {
  const counts = [new Array<number>(DIMS[0]).fill(0), new Array<number>(DIMS[1]).fill(0), new Array<number>(DIMS[2]).fill(0)];
  for (let k = 0; k < DIMS[2]; k++)
    for (let j = 0; j < DIMS[1]; j++)
      for (let i = 0; i < DIMS[0]; i++)
        if (labels[at(i, j, k)] >= minValue) {
          counts[0][i]++;
          counts[1][j]++;
          counts[2][k]++;
        }
  return counts;
}

const countsOfStore = (store: DocumentStore) => store.counts.map((c) => Array.from(c));

test('voxels arrive in chunks, in place; a chunk past the end is refused', () => {
  const store = new DocumentStore(info(), 'uint8');
  assert.ok(store.voxels instanceof Int16Array);
  assert.equal(store.voxels.length, N);
  const values = Int16Array.from({ length: N }, (_, i) => i * 7 - 300);
  const bytes = new Uint8Array(values.buffer);
  const cut = 101; // not a multiple of the voxel size: chunks are bytes
  assert.equal(store.receiveChunk(0, bytes.slice(0, cut).buffer), false);
  assert.equal(store.receiveChunk(cut, bytes.slice(cut).buffer), true, 'complete after the last chunk');
  assert.deepEqual(Array.from(store.voxels), Array.from(values));
  assert.throws(() => store.receiveChunk(bytes.length - 4, new ArrayBuffer(8)), /runs past the volume/);
});

test('labels from runs: the values, per-slice counts and annotated slices (not the slices that cross them)', () => {
  const store = new DocumentStore(info(), 'uint8');
  const labels = new Uint8Array(N);
  // Slice z = 2 fully labeled (classes 1 and 2); one stroke on slice x = 5, away from it.
  for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++) labels[at(i, j, 2)] = i < 3 ? 1 : 2;
  for (const k of [0, 4]) labels[at(5, 1, k)] = 3;
  labels[at(5, 2, 4)] = 3;
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  assert.deepEqual(Array.from(store.labels), Array.from(labels));
  assert.deepEqual(countsOfStore(store), countsOf(labels));
  assert.deepEqual(store.labeledSlices(2), [2]);
  assert.deepEqual(store.labeledSlices(0), [5]);
  assert.deepEqual(store.labeledSlices(1), [], 'y slices only cross the annotations');

  // 16-bit labels: the array type follows, values above 255 are kept.
  const wide = new Uint16Array(N);
  wide[at(1, 1, 1)] = 300;
  store.setLabels(encodeLabelRuns(wide), 'uint16');
  assert.ok(store.labels instanceof Uint16Array);
  assert.equal(store.labels[at(1, 1, 1)], 300);
  assert.deepEqual(countsOfStore(store), countsOf(wide));
});

test('a delta applied forward and backward changes labels, counts and annotated slices, and back', () => {
  const store = new DocumentStore(info(), 'uint8');
  store.setLabels(encodeLabelRuns(new Uint8Array(N)), 'uint8');
  const before = Uint8Array.from(store.labels);
  // The host's delta: a row of class 2 on slice y = 3.
  const after = Uint8Array.from(before);
  for (let i = 1; i <= 4; i++) after[at(i, 3, 2)] = 2;
  const frameOf = (labels: LabelArray) => {
    const out = new Uint8Array(DIMS[0] * DIMS[2]);
    for (let k = 0; k < DIMS[2]; k++) for (let i = 0; i < DIMS[0]; i++) out[i + DIMS[0] * k] = labels[at(i, 3, k)];
    return out;
  };
  const delta = diffLabels({ kind: 'slice', axis: 1, index: 3 }, frameOf(before), frameOf(after))!;
  const box = store.applyDelta(delta, 'forward');
  assert.deepEqual(Array.from(store.labels), Array.from(after));
  assert.deepEqual(countsOfStore(store), countsOf(after));
  assert.deepEqual(store.labeledSlices(1), [3]);
  assert.deepEqual(box, { min: [1, 3, 2], max: [4, 3, 2] });
  store.applyDelta(delta, 'backward');
  assert.deepEqual(Array.from(store.labels), Array.from(before));
  assert.deepEqual(countsOfStore(store), countsOf(before));
  assert.deepEqual(store.labeledSlices(1), []);
});

test('classes and the prediction give the colour table; the prediction counts its classes above background', () => {
  const store = new DocumentStore(info('uint8', 1), 'uint8');
  const classes: LabelClass[] = [
    { value: 1, name: 'background', color: '#102030' },
    { value: 2, name: 'cord', color: '#ff8000' },
  ];
  store.setClasses(classes);
  assert.deepEqual([store.colors.r[1], store.colors.g[1], store.colors.b[1]], [0x10, 0x20, 0x30]);
  assert.deepEqual([store.colors.r[2], store.colors.g[2], store.colors.b[2]], [255, 128, 0]);
  assert.equal(store.colors.r.length, 3, 'values 0..2');
  assert.equal(store.classOf(0), undefined);
  assert.equal(store.classOf(2)?.name, 'cord');
  assert.equal(store.classOf(3), undefined);

  // A prediction with a value beyond the classes: the table grows, with a colour for it.
  const prediction = Uint8Array.from({ length: N }, (_, v) => 1 + (v % 7 === 0 ? 1 : 0) + (v % 11 === 0 ? 2 : 0));
  store.setPrediction('test.seg.nii.gz', encodeLabelRuns(prediction), 4);
  assert.deepEqual(Array.from(store.prediction!), Array.from(prediction));
  assert.equal(store.predictionName, 'test.seg.nii.gz');
  assert.equal(store.colors.r.length, 5, 'values 0..4');
  for (const value of [3, 4]) {
    const rgb = [store.colors.r[value], store.colors.g[value], store.colors.b[value]];
    assert.ok(rgb.some((c) => c > 0), `value ${value} has a colour`);
  }
  assert.deepEqual(store.predictionCounts!.map((c) => Array.from(c)), countsOf(prediction, 2), 'background (1) is not counted');
  store.setPrediction(null, null, 0);
  assert.equal(store.prediction, undefined);
  assert.equal(store.predictionCounts, undefined);
  assert.equal(store.colors.r.length, 3);
});
