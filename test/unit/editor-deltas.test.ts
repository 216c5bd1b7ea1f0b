/** Label edits as deltas: diff, apply, undo, encode, check; label runs; per-slice counts; annotated slices. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findAnnotatedSlices, hasUncoveredLabels, updateAnnotatedSlices } from '../../src/core/annotatedSlices';
import { brushFootprint, stampBrush } from '../../src/core/brush';
import {
  applyDelta,
  checkDelta,
  decodeDelta,
  decodeLabelRuns,
  deltaBounds,
  deltaMatches,
  deltaVoxelCount,
  diffLabels,
  encodeDelta,
  encodeLabelRuns,
  removeClassDelta,
  sliceLabelCounts,
  sliceLabelCountsOfRuns,
  updateSliceLabelCounts,
  type LabelDelta,
} from '../../src/core/editDeltas';
import type { Vec3 } from '../../src/core/geometry';
import { toLabelArray } from '../../src/core/volumeFiles';
import { planeLayout, voxelOfPixel } from '../../src/core/planes';
import { readVolumeFile } from '../../src/core/readVolume';
import { extractSlice, type Axis } from '../../src/core/slices';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

/** Paints a disc of `value` on slice `index` along `axis` (as the webview does) and returns the delta. */
function paintDisc(labels: Uint8Array, dims: Vec3, axis: Axis, index: number, centre: [number, number], size: number, value: number): LabelDelta | undefined {
  const plane = axis === 2 ? 'axial' : axis === 1 ? 'coronal' : 'sagittal';
  const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
  const layout = planeLayout(plane, dims, [1, 1, 1], affine, 'radiological');
  const before = extractSlice(labels, dims, axis, index).data;
  stampBrush(brushFootprint(size, 1, 1), layout.width, layout.height, centre[0], centre[1], (c, r) => {
    const [i, j, k] = voxelOfPixel(layout, index, c, r);
    labels[i + dims[0] * (j + dims[1] * k)] = value;
  });
  const after = extractSlice(labels, dims, axis, index).data;
  return diffLabels({ kind: 'slice', axis, index }, before, after);
}

test('strokes on each axis become slice deltas that undo and redo exactly, on a real label map', { skip: SKIP_WITHOUT_DATA }, () => {
  const volume = readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  const labels = toLabelArray(volume.data) as Uint8Array;
  const dims = volume.dims;
  const original = labels.slice();
  const counts = sliceLabelCounts(labels, dims);
  const deltas: LabelDelta[] = [];
  // Paint, paint, paint, then erase part of the first stroke.
  for (const [axis, value, size] of [[0, 2, 9], [1, 1, 9], [2, 3, 9], [0, 0, 5]] as const) {
    const index = Math.floor(dims[axis] / 2);
    const delta = paintDisc(labels, dims, axis, index, [20, 25], size, value)!;
    assert.ok(delta, `axis ${axis}`);
    assert.equal(delta.frame.kind, 'slice');
    assert.equal(checkDelta(delta, dims, 3), undefined);
    updateSliceLabelCounts(counts, dims, delta, 'forward');
    deltas.push(delta);
  }
  assert.deepEqual(counts, sliceLabelCounts(labels, dims));
  const painted = labels.slice();
  for (const delta of [...deltas].reverse()) {
    assert.ok(deltaMatches(labels, dims, delta, 'backward'));
    applyDelta(labels, dims, delta, 'backward');
    updateSliceLabelCounts(counts, dims, delta, 'backward');
  }
  assert.deepEqual(labels, original);
  assert.deepEqual(counts, sliceLabelCounts(original, dims));
  for (const delta of deltas) applyDelta(labels, dims, delta, 'forward');
  assert.deepEqual(labels, painted);
});

test('a delta is compact: a disc on a slice is one run per row, whatever the axis', () => {
  const dims: Vec3 = [64, 64, 64];
  for (const axis of [0, 1, 2] as const) {
    const labels = new Uint8Array(64 ** 3);
    const delta = paintDisc(labels, dims, axis, 10, [30, 30], 11, 2)!;
    assert.equal(delta.runs.length / 4, 11, `axis ${axis}`);
    assert.equal(deltaVoxelCount(delta), labels.reduce((n, v) => n + (v ? 1 : 0), 0));
    const box = deltaBounds(delta, dims);
    assert.equal(box.min[axis], 10);
    assert.equal(box.max[axis], 10);
  }
});

test('deltas survive encoding, and malformed ones are refused with a reason', () => {
  const dims: Vec3 = [8, 6, 4];
  const delta: LabelDelta = { frame: { kind: 'slice', axis: 1, index: 5 }, runs: Uint32Array.from([0, 3, 0, 2, 10, 2, 1, 0]) };
  const decoded = decodeDelta(encodeDelta(delta));
  assert.deepEqual(decoded, delta);
  assert.deepEqual(decodeDelta(new Uint8Array(encodeDelta(delta))), delta);
  assert.equal(checkDelta(delta, dims, 2), undefined);
  const bad: [LabelDelta, RegExp][] = [
    [{ frame: { kind: 'slice', axis: 1, index: 6 }, runs: delta.runs }, /outside 0..5/],
    [{ frame: { kind: 'slice', axis: 3 as Axis, index: 0 }, runs: delta.runs }, /axis 3/],
    [{ frame: { kind: 'slice', axis: 2, index: 0 }, runs: Uint32Array.from([40, 9, 0, 1]) }, /outside the 48 positions/],
    [{ frame: { kind: 'slice', axis: 2, index: 0 }, runs: Uint32Array.from([4, 2, 0, 1, 5, 1, 0, 1]) }, /before the end/],
    [{ frame: { kind: 'slice', axis: 2, index: 0 }, runs: Uint32Array.from([4, 0, 0, 1]) }, /empty/],
    [{ frame: { kind: 'slice', axis: 2, index: 0 }, runs: Uint32Array.from([4, 1, 0, 7]) }, /above the highest class 2/],
    [{ frame: { kind: 'volume' }, runs: Uint32Array.from([190, 3, 0, 1]) }, /outside the 192/],
    [{ frame: { kind: 'volume' }, runs: new Uint32Array(0) }, /multiple of 4/],
  ];
  for (const [d, reason] of bad) assert.match(checkDelta(d, dims, 2) ?? '', reason);
  assert.throws(() => decodeDelta(new ArrayBuffer(7)), /whole number/);
  assert.throws(() => decodeDelta(new Uint32Array([1, 1, 0, 0, 0]).buffer), /magic/);
  const truncated = new Uint32Array(encodeDelta(delta)).slice(0, 8);
  assert.throws(() => decodeDelta(truncated.buffer), /declares 2 runs/);
});

test('a stale delta (the view was out of date) does not match the labels', () => {
  const dims: Vec3 = [4, 4, 1];
  const labels = new Uint8Array(16);
  const delta: LabelDelta = { frame: { kind: 'volume' }, runs: Uint32Array.from([2, 2, 0, 1]) };
  assert.ok(deltaMatches(labels, dims, delta, 'forward'));
  labels[3] = 2;
  assert.ok(!deltaMatches(labels, dims, delta, 'forward'));
});

test('label runs carry a real label map exactly, and are small for sparse labels', { skip: SKIP_WITHOUT_DATA }, () => {
  const volume = readVolumeFile(dataPath('formats', 'niivue_labels256.nii.gz'));
  const labels = toLabelArray(volume.data);
  const runs = encodeLabelRuns(labels);
  const back = labels instanceof Uint16Array ? new Uint16Array(labels.length) : new Uint8Array(labels.length);
  decodeLabelRuns(runs, back, 65535);
  assert.deepEqual(back, labels);
  const sparse = new Uint8Array(256 ** 3);
  sparse.fill(2, 1000, 5000);
  assert.equal(encodeLabelRuns(sparse).length, 3);
  assert.throws(() => decodeLabelRuns(Uint32Array.from([10, 5, 9]), new Uint8Array(12), 255), /outside/);
  assert.throws(() => decodeLabelRuns(Uint32Array.from([0, 5, 9]), new Uint8Array(12), 4), /above 4/);
});

test('removing a class unlabels its voxels and moves the classes above it down; undo restores', () => {
  const labels = Uint8Array.from([0, 1, 2, 2, 3, 4, 3, 0, 2]);
  const before = labels.slice();
  const delta = removeClassDelta(labels, 2)!;
  applyDelta(labels, [9, 1, 1], delta, 'forward');
  assert.deepEqual([...labels], [0, 1, 0, 0, 2, 3, 2, 0, 0]);
  applyDelta(labels, [9, 1, 1], delta, 'backward');
  assert.deepEqual(labels, before);
  assert.equal(removeClassDelta(Uint8Array.from([0, 1, 1]), 2), undefined);
});

test('annotated slices: a few painted slices per axis are found back, not the slices they cross', { skip: SKIP_WITHOUT_DATA }, () => {
  // Sparse labels like a user's: three full slices per axis of the manual cord segmentation.
  const truth = toLabelArray(readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz')).data);
  const dims = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz')).dims;
  const labels = new Uint8Array(truth.length);
  const chosen: [number[], number[], number[]] = [[15, 30, 45], [12, 27, 41], [13, 26, 39]];
  const stride = [1, dims[0], dims[0] * dims[1]];
  for (let i = 0; i < dims[0]; i++) {
    for (let j = 0; j < dims[1]; j++) {
      for (let k = 0; k < dims[2]; k++) {
        const ijk = [i, j, k];
        if (chosen.some((list, axis) => list.includes(ijk[axis]))) {
          const v = i * stride[0] + j * stride[1] + k * stride[2];
          labels[v] = truth[v] + 1; // background = 1, cord = 2
        }
      }
    }
  }
  const counts = sliceLabelCounts(labels, dims);
  const annotated = findAnnotatedSlices(labels, dims, counts);
  assert.deepEqual(annotated.map((s) => [...s].sort((a, b) => a - b)), chosen);
  // Erasing one slice along axis 2 (an edit in its frame) drops it; the others stay.
  const slice = 26;
  const before = extractSlice(labels, dims, 2, slice).data;
  const after = before.map((v, p) => {
    const a = p % dims[0];
    const b = Math.floor(p / dims[0]);
    return chosen[0].includes(a) || chosen[1].includes(b) ? v : 0;
  });
  const erase = diffLabels({ kind: 'slice', axis: 2, index: slice }, before, after)!;
  applyDelta(labels, dims, erase, 'forward');
  updateSliceLabelCounts(counts, dims, erase, 'forward');
  updateAnnotatedSlices(annotated, labels, dims, counts, 2, slice);
  assert.deepEqual([...annotated[2]].sort((a, b) => a - b), [13, 39]);
  assert.ok(!hasUncoveredLabels(labels, dims, 2, slice, annotated));
  // Undo brings it back.
  applyDelta(labels, dims, erase, 'backward');
  updateSliceLabelCounts(counts, dims, erase, 'backward');
  updateAnnotatedSlices(annotated, labels, dims, counts, 2, slice);
  assert.deepEqual([...annotated[2]].sort((a, b) => a - b), [13, 26, 39]);
});

test('label runs skip zeros by the word and still match a voxel-by-voxel encoding, whatever the array type and its offset in its buffer', () => {
  const naive = (labels: ArrayLike<number>) => {
    const runs: number[] = [];
    for (let i = 0; i < labels.length; ) {
      if (labels[i] === 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < labels.length && labels[j] === labels[i]) j++;
      runs.push(i, j - i, labels[i]);
      i = j;
    }
    return runs;
  };
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const Type of [Uint8Array, Uint16Array, Uint32Array]) {
    for (const offset of [0, 1, 2, 3, 5]) {
      const whole = new Type(offset + 4099 + 7);
      // Sparse labels: long empty stretches, short runs, single voxels at odd places, a label at each end.
      for (let k = 0; k < 40; k++) {
        const at = Math.floor(random() * whole.length);
        whole.fill(1 + Math.floor(random() * 3), at, Math.min(whole.length, at + Math.floor(random() * 9)));
      }
      const labels = whole.subarray(offset, offset + 4099);
      labels[0] = 2;
      labels[labels.length - 1] = 3;
      assert.deepEqual([...encodeLabelRuns(labels)], naive(labels), `${Type.name} at element ${offset}`);
      assert.deepEqual([...encodeLabelRuns(new Type(labels.length))], [], 'all zeros');
    }
  }
  assert.deepEqual([...encodeLabelRuns([0, 0, 4, 4, 0, 1])], [2, 2, 4, 5, 1, 1], 'a plain array');
});

test('per-slice label counts from the runs alone equal those of a scan of the decoded labels, runs across rows and slices included', () => {
  const dims: Vec3 = [7, 5, 4];
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
  labels.fill(1, 3, 3 + 7 * 5 + 9); // across rows and into the next slice
  labels.fill(2, 90, 97);
  labels[labels.length - 1] = 3;
  labels[0] = 1;
  const runs = encodeLabelRuns(labels);
  assert.deepEqual(sliceLabelCountsOfRuns(runs, dims).map((c) => [...c]), sliceLabelCounts(labels, dims).map((c) => [...c]));
  assert.deepEqual(sliceLabelCountsOfRuns(new Uint32Array(0), dims).map((c) => [...c]), [new Array(7).fill(0), new Array(5).fill(0), new Array(4).fill(0)]);
});
