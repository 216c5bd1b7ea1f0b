/**
 * The webview's document copy (webview/store.ts), outside the browser, on a small synthetic
 * volume where every expectation is counted here, voxel by voxel: voxels arriving in chunks
 * (webview/voxelChunks.ts) straight into the store's own typed array, labels from runs with the
 * per-slice counts and the annotated slices, host deltas both ways (slice and whole-volume
 * frames), the class and prediction colour tables, and the training preview's planes.
 * editor-store.test.ts covers the same store on a real volume; editor-chunks.test.ts the chunk
 * assembly on its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { diffLabels, encodeLabelRuns, removeClassDelta, type LabelArray } from '../../src/core/editDeltas';
import type { Vec3 } from '../../src/core/geometry';
import { classesUpTo, type LabelClass } from '../../src/core/labels';
import type { VolumeInfo } from '../../src/protocol/webview';
import { DocumentStore, type LabelChange } from '../../webview/store';
import { VoxelAssembly } from '../../webview/voxelChunks';

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
    warnings: [],
  };
}

/** A store whose label changes are recorded, as the editor hears of them. */
function recordingStore(volume = info()): { store: DocumentStore; changes: LabelChange[] } {
  const changes: LabelChange[] = [];
  return { store: new DocumentStore(volume, 'uint8', (change) => changes.push(change)), changes };
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

/** The labels' array type (read fresh: an `instanceof` check on `store.labels` would narrow it for later lines). */
const labelArrayType = (store: DocumentStore) => store.labels.constructor;

/** Exact-size ArrayBuffer of a byte view. */
const bufferOf = (bytes: Uint8Array): ArrayBuffer => bytes.slice().buffer as ArrayBuffer;

test('voxels arrive in chunks into the store\'s own array, in place; a chunk past the end is refused and copies nothing', async () => {
  const { store } = recordingStore();
  assert.ok(store.voxels instanceof Int16Array);
  assert.equal(store.voxels.length, N);
  assert.equal(store.voxelBytes.buffer, store.voxels.buffer, 'the chunks land in the voxels themselves');
  assert.equal(store.voxelBytes.length, N * 2);
  // Values whose high bytes are not zero, negative ones included.
  const values = Int16Array.from({ length: N }, (_, i) => i * 157 - 16000);
  const bytes = new Uint8Array(values.buffer);
  const assembly = new VoxelAssembly(store.voxelBytes);
  const cut = 101; // not a multiple of the voxel size: chunks are bytes, voxel 50 arrives in halves
  const first = await assembly.receive({ byteOffset: 0, byteLength: cut, encoding: 'deflate-raw', bytes: bufferOf(zlib.deflateRawSync(bytes.subarray(0, cut))) });
  assert.deepEqual(first, { done: false, percent: Math.round((cut / (N * 2)) * 100) });
  for (let v = 0; v < 50; v++) assert.equal(store.voxels[v], values[v], `voxel ${v}`);
  assert.equal(new Uint8Array(store.voxels.buffer, 100, 2)[0], bytes[100], 'the first byte of voxel 50 has arrived');
  assert.equal(new Uint8Array(store.voxels.buffer, 100, 2)[1], 0, 'its second has not');
  for (let v = 51; v < N; v++) assert.equal(store.voxels[v], 0, `voxel ${v}`);

  const partial = Int16Array.from(store.voxels);
  await assert.rejects(assembly.receive({ byteOffset: N * 2 - 4, byteLength: 8, encoding: 'raw', bytes: bufferOf(new Uint8Array(8).fill(0x7f)) }), /runs past the volume/);
  assert.deepEqual(Array.from(store.voxels), Array.from(partial), 'the refused chunk changed no voxel');

  const last = await assembly.receive({ byteOffset: cut, byteLength: N * 2 - cut, encoding: 'raw', bytes: bufferOf(bytes.subarray(cut)) });
  assert.deepEqual(last, { done: true, percent: 100 });
  assert.deepEqual(Array.from(store.voxels), Array.from(values));

  // The array follows the datatype: one byte per voxel for uint8, four for float32.
  assert.ok(new DocumentStore(info('uint8', 1), 'uint8').voxels instanceof Uint8Array);
  const floats = new DocumentStore(info('float32', 4), 'uint8');
  assert.ok(floats.voxels instanceof Float32Array);
  assert.equal(floats.voxelBytes.length, N * 4);
});

test('labels from runs: the values, per-slice counts and annotated slices (not the slices that cross them)', () => {
  const { store, changes } = recordingStore();
  const labels = new Uint8Array(N);
  // Slice z = 2 fully labeled (classes 1 and 2); one stroke on slice x = 5, away from it.
  for (let j = 0; j < DIMS[1]; j++) for (let i = 0; i < DIMS[0]; i++) labels[at(i, j, 2)] = i < 3 ? 1 : 2;
  for (const k of [0, 4]) labels[at(5, 1, k)] = 3;
  labels[at(5, 2, 4)] = 3;
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  assert.deepEqual(changes, [{ kind: 'replaced' }]);
  assert.ok(store.labels instanceof Uint8Array);
  assert.deepEqual(Array.from(store.labels), Array.from(labels));
  assert.deepEqual(countsOfStore(store), countsOf(labels));
  assert.equal(store.counts[2][2], DIMS[0] * DIMS[1]);
  assert.equal(store.counts[0][5], DIMS[1] + 3);
  assert.deepEqual(store.labeledSlices(2), [2]);
  assert.deepEqual(store.labeledSlices(0), [5]);
  assert.deepEqual(store.labeledSlices(1), [], 'y slices only cross the annotations');
  assert.deepEqual(store.annotated.map((s) => [...s].sort()), [[5], [], [2]]);

  // 16-bit labels: the array type follows, values above 255 are kept.
  const wide = new Uint16Array(N);
  wide[at(1, 1, 1)] = 300;
  wide[at(6, 5, 4)] = 2;
  store.setLabels(encodeLabelRuns(wide), 'uint16');
  assert.ok(store.labels instanceof Uint16Array);
  assert.deepEqual(Array.from(store.labels), Array.from(wide));
  assert.deepEqual(countsOfStore(store), countsOf(wide));
  assert.equal(changes.length, 2);

  // Back to 8 bits when the host says so and the classes fit.
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  assert.equal(labelArrayType(store), Uint8Array, '8 bits again');
  assert.deepEqual(Array.from(store.labels), Array.from(labels));
});

test('more than 255 classes widen the labels to 16 bits, keeping every value, even when the host sends 8-bit labels', () => {
  const { store } = recordingStore();
  const labels = Uint8Array.from({ length: N }, (_, v) => v % 4);
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  store.setClasses(classesUpTo([], 300));
  assert.ok(store.labels instanceof Uint16Array);
  assert.deepEqual(Array.from(store.labels), Array.from(labels));
  const wide = Uint16Array.from({ length: N }, (_, v) => (v % 9 === 0 ? 299 : v % 2));
  store.setLabels(encodeLabelRuns(wide), 'uint8');
  assert.ok(store.labels instanceof Uint16Array, 'the classes need 16 bits');
  assert.deepEqual(Array.from(store.labels), Array.from(wide));
  assert.deepEqual(countsOfStore(store), countsOf(wide));
});

test('a delta from the host applied forward and backward changes labels, counts and annotated slices, and back', () => {
  const { store, changes } = recordingStore();
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
  changes.length = 0;
  store.applyDelta(delta, 'forward');
  assert.deepEqual(Array.from(store.labels), Array.from(after));
  assert.deepEqual(countsOfStore(store), countsOf(after));
  assert.deepEqual(store.labeledSlices(1), [3]);
  assert.deepEqual(store.labeledSlices(0), []);
  assert.deepEqual(store.labeledSlices(2), []);
  assert.deepEqual(changes, [{ kind: 'applied', box: { min: [1, 3, 2], max: [4, 3, 2] } }], 'applied, not an edit to send back');

  // A whole-volume delta (the host removed class 2): the annotated slices are found again.
  const removal = removeClassDelta(Uint8Array.from(store.labels), 2)!;
  assert.equal(removal.frame.kind, 'volume');
  store.applyDelta(removal, 'forward');
  assert.deepEqual(Array.from(store.labels), Array.from(before));
  assert.deepEqual(countsOfStore(store), countsOf(before));
  assert.deepEqual(store.labeledSlices(1), []);
  store.applyDelta(removal, 'backward');
  assert.deepEqual(Array.from(store.labels), Array.from(after));
  assert.deepEqual(store.labeledSlices(1), [3]);

  store.applyDelta(delta, 'backward');
  assert.deepEqual(Array.from(store.labels), Array.from(before));
  assert.deepEqual(countsOfStore(store), countsOf(before));
  assert.deepEqual(store.labeledSlices(1), []);
  assert.deepEqual(changes.map((c) => c.kind), ['applied', 'applied', 'applied', 'applied']);
});

test('classes and the prediction give the colour table; the prediction counts its classes above background', () => {
  const { store } = recordingStore(info('uint8', 1));
  assert.equal(store.colors.r.length, 1, 'no classes yet: unlabeled only (the renderer skips values past the table)');
  const classes: LabelClass[] = [
    { value: 1, name: 'background', color: '#102030' },
    { value: 2, name: 'cord', color: '#ff8000' },
  ];
  store.setClasses(classes);
  const rgb = (value: number) => [store.colors.r[value], store.colors.g[value], store.colors.b[value]];
  assert.deepEqual(rgb(0), [0, 0, 0], 'unlabeled has no colour');
  assert.deepEqual(rgb(1), [0x10, 0x20, 0x30]);
  assert.deepEqual(rgb(2), [255, 128, 0]);
  assert.equal(store.colors.r.length, 3, 'values 0..2');
  assert.equal(store.classOf(0), undefined);
  assert.equal(store.classOf(2)?.name, 'cord');
  assert.equal(store.classOf(3), undefined);

  // A prediction with values beyond the classes: the table grows, with the palette's colours for them.
  const prediction = Uint8Array.from({ length: N }, (_, v) => 1 + (v % 7 === 0 ? 1 : 0) + (v % 11 === 0 ? 2 : 0));
  store.setPrediction('test.seg.nii.gz', encodeLabelRuns(prediction), 4);
  assert.ok(store.prediction instanceof Uint8Array);
  assert.deepEqual(Array.from(store.prediction), Array.from(prediction));
  assert.equal(store.predictionName, 'test.seg.nii.gz');
  assert.equal(store.colors.r.length, 5, 'values 0..4');
  assert.deepEqual(rgb(2), [255, 128, 0], 'the classes keep their own colours');
  assert.deepEqual(rgb(3), [0x3c, 0xb4, 0x4b], 'value 3: the palette\'s second colour (#3cb44b)');
  assert.deepEqual(rgb(4), [0xff, 0xe1, 0x19], 'value 4: its third (#ffe119)');
  assert.deepEqual(store.predictionCounts!.map((c) => Array.from(c)), countsOf(prediction, 2), 'background (1) is not counted');
  assert.equal(store.predictionCounts![2].reduce((s, c) => s + c, 0), prediction.filter((v) => v >= 2).length);

  // A prediction with more than 255 values is held in 16 bits.
  const wide = Uint16Array.from({ length: N }, (_, v) => (v === 17 ? 300 : 1));
  store.setPrediction('wide.seg.nii.gz', encodeLabelRuns(wide), 300);
  assert.ok(store.prediction instanceof Uint16Array);
  assert.deepEqual(Array.from(store.prediction), Array.from(wide));
  assert.equal(store.colors.r.length, 301);
  assert.deepEqual(store.predictionCounts!.map((c) => Array.from(c)), countsOf(wide, 2));

  store.setPrediction(null, null, 0);
  assert.equal(store.prediction, undefined);
  assert.equal(store.predictionCounts, undefined);
  assert.equal(store.predictionName, null);
  assert.equal(store.colors.r.length, 3, 'back to the classes');
});

test('a training preview keeps each plane\'s labels in its type, the last preview replaces the one before, null ends it', () => {
  const { store } = recordingStore();
  const axial = Uint8Array.from({ length: DIMS[0] * DIMS[1] }, (_, p) => p % 3);
  const sagittal = Uint16Array.from({ length: DIMS[1] * DIMS[2] }, (_, p) => (p === 4 ? 300 : 1));
  store.setTrainingPreview({
    run: 'run-1',
    iteration: 40,
    planes: [
      { axis: 2, index: 3, width: DIMS[0], height: DIMS[1], labelType: 'uint8', labels: bufferOf(axial) },
      { axis: 0, index: 6, width: DIMS[1], height: DIMS[2], labelType: 'uint16', labels: bufferOf(new Uint8Array(sagittal.buffer)) },
    ],
  });
  const preview = store.trainingPreview!;
  assert.equal(preview.run, 'run-1');
  assert.equal(preview.iteration, 40);
  assert.deepEqual([...preview.planes.keys()].sort(), [0, 2]);
  const z = preview.planes.get(2)!;
  assert.deepEqual({ index: z.index, width: z.width, height: z.height }, { index: 3, width: DIMS[0], height: DIMS[1] });
  assert.ok(z.labels instanceof Uint8Array);
  assert.deepEqual(Array.from(z.labels), Array.from(axial));
  const x = preview.planes.get(0)!;
  assert.ok(x.labels instanceof Uint16Array);
  assert.deepEqual(Array.from(x.labels), Array.from(sagittal));

  store.setTrainingPreview({ run: 'run-1', iteration: 80, planes: [{ axis: 1, index: 0, width: DIMS[0], height: DIMS[2], labelType: 'uint8', labels: new ArrayBuffer(DIMS[0] * DIMS[2]) }] });
  assert.equal(store.trainingPreview!.iteration, 80);
  assert.deepEqual([...store.trainingPreview!.planes.keys()], [1], 'the planes before are gone');

  assert.throws(
    () => store.setTrainingPreview({ run: 'run-1', iteration: 90, planes: [{ axis: 2, index: 0, width: DIMS[0], height: DIMS[1], labelType: 'uint16', labels: new ArrayBuffer(DIMS[0] * DIMS[1]) }] }),
    /a preview plane of 7×6 came with 21 values/,
  );
  assert.equal(store.trainingPreview!.iteration, 80, 'a refused preview leaves the last one');
  store.setTrainingPreview(null);
  assert.equal(store.trainingPreview, undefined);
});
