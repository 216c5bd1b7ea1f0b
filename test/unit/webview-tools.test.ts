/**
 * The webview's label tools (webview/tools.ts), outside the browser, on each plane of an LPS
 * volume (so two of the screen axes run against the voxel axes): brush and eraser strokes paint
 * exactly the voxels under them and keep the per-slice counts; every tool returns the delta that
 * undoes it; flood fill stays in its region and its slice; "fill unlabeled" and "accept the
 * prediction" change one slice only. Expected voxels are counted here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDelta, encodeLabelRuns, type LabelDelta } from '../../src/core/editDeltas';
import type { Mat4, Vec3 } from '../../src/core/geometry';
import { planeLayout, PLANES, voxelOfPixel, type PlaneLayout } from '../../src/core/planes';
import type { VolumeInfo } from '../../src/protocol/webview';
import { DocumentStore } from '../../webview/store';
import { Painter } from '../../webview/tools';

const DIMS: Vec3 = [9, 7, 6];
const N = DIMS[0] * DIMS[1] * DIMS[2];
const at = (ijk: readonly number[]) => ijk[0] + DIMS[0] * (ijk[1] + DIMS[1] * ijk[2]);
/** LPS: voxel x runs to the left, y posterior, z superior. */
const AFFINE: Mat4 = [[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];

function newStore(labels = new Uint8Array(N)): DocumentStore {
  const info: VolumeInfo = {
    fileName: 'lps.nii.gz', format: 'nifti1', dims: DIMS, spacing: [1, 1, 1], affine: AFFINE, datatype: 'uint8',
    sclSlope: 1, sclInter: 0, axisCodes: 'LPS', byteLength: N, frames: 1,
  };
  const store = new DocumentStore(info, 'uint8');
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  return store;
}

const layoutOf = (plane: (typeof PLANES)[number]): PlaneLayout => planeLayout(plane, DIMS, [1, 1, 1], AFFINE, 'radiological');

function countsOf(labels: ArrayLike<number>): number[][] {
  const counts = DIMS.map((n) => new Array<number>(n).fill(0));
  for (let k = 0; k < DIMS[2]; k++)
    for (let j = 0; j < DIMS[1]; j++)
      for (let i = 0; i < DIMS[0]; i++)
        if (labels[at([i, j, k])] !== 0) {
          counts[0][i]++;
          counts[1][j]++;
          counts[2][k]++;
        }
  return counts;
}

/** Indices where two label arrays differ. */
function changed(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

/** The delta undoes and redoes exactly what the tool did. */
function assertUndoable(store: DocumentStore, before: Uint8Array, delta: LabelDelta | undefined): void {
  assert.ok(delta, 'the tool changed something and says what');
  const after = Uint8Array.from(store.labels);
  const copy = Uint8Array.from(after);
  applyDelta(copy, DIMS, delta, 'backward');
  assert.deepEqual(changed(copy, before), [], 'backward gives the labels before');
  applyDelta(copy, DIMS, delta, 'forward');
  assert.deepEqual(changed(copy, after), [], 'forward gives them after');
}

for (const plane of PLANES) {
  test(`${plane}: a 1-voxel brush stroke paints the voxels under it, keeps the counts, undoes; the eraser takes them back`, () => {
    const store = newStore();
    const painter = new Painter(store);
    const layout = layoutOf(plane);
    const slice = 2;
    const before = Uint8Array.from(store.labels);
    // A stroke from image pixel (1, 2) to (5, 2): one row, five columns.
    const { stroke } = painter.beginStroke(layout, slice, 3, 1, 1.5, 2.5);
    painter.continueStroke(stroke, 5.5, 2.5);
    const expected = [1, 2, 3, 4, 5].map((c) => at(voxelOfPixel(layout, slice, c, 2))).sort((a, b) => a - b);
    assert.deepEqual(changed(store.labels, before), expected, 'exactly the voxels under the stroke');
    for (const i of expected) assert.equal(store.labels[i], 3);
    // The voxels lie on the slice, across the pane: for LPS, axial and coronal columns run along x flipped (screen right = patient left).
    for (const i of expected) assert.equal([i % DIMS[0], Math.floor(i / DIMS[0]) % DIMS[1], Math.floor(i / (DIMS[0] * DIMS[1]))][layout.sliceAxis], slice);
    assert.deepEqual(store.counts.map((c) => Array.from(c)), countsOf(store.labels), 'counts kept while painting');
    const delta = painter.endStroke(stroke);
    assertUndoable(store, before, delta);

    // The eraser over the same row: labels and counts back to empty.
    const painted = Uint8Array.from(store.labels);
    const erase = painter.beginStroke(layout, slice, 0, 1, 0.5, 2.5).stroke;
    painter.continueStroke(erase, 6.5, 2.5);
    assert.deepEqual(changed(store.labels, before), []);
    assert.deepEqual(store.counts.map((c) => Array.from(c)), countsOf(before));
    assertUndoable(store, painted, painter.endStroke(erase));
  });

  test(`${plane}: a cancelled stroke leaves the labels and counts as they were`, () => {
    const store = newStore();
    const painter = new Painter(store);
    const before = Uint8Array.from(store.labels);
    const { stroke } = painter.beginStroke(layoutOf(plane), 1, 2, 3, 2.5, 2.5);
    painter.continueStroke(stroke, 4.5, 3.5);
    assert.ok(changed(store.labels, before).length > 3, 'a 3-voxel brush paints more than its centres');
    painter.cancelStroke(stroke);
    assert.deepEqual(changed(store.labels, before), []);
    assert.deepEqual(store.counts.map((c) => Array.from(c)), countsOf(before));
  });

  test(`${plane}: flood fill fills the region around the seed within the slice, nothing beyond its border`, () => {
    const layout = layoutOf(plane);
    const slice = 3;
    // On the slice, in image pixels: a ring of class 4 around columns 2..3, row 2 (off-centre,
    // and the image is not square, so mixing columns and rows up shows).
    const labels = new Uint8Array(N);
    const ring: [number, number][] = [];
    for (let c = 1; c <= 4; c++) ring.push([c, 1], [c, 3]);
    ring.push([1, 2], [4, 2]);
    for (const [c, r] of ring) labels[at(voxelOfPixel(layout, slice, c, r))] = 4;
    // The same voxels one slice over, unlabeled inside: fill must not leak there.
    const store = newStore(labels);
    const painter = new Painter(store);
    const before = Uint8Array.from(store.labels);
    const delta = painter.fill(layout, voxelOfPixel(layout, slice, 2, 2), 2);
    const inside = [[2, 2], [3, 2]].map(([c, r]) => at(voxelOfPixel(layout, slice, c, r))).sort((a, b) => a - b);
    assert.deepEqual(changed(store.labels, before), inside, 'the two voxels inside the ring, no more');
    for (const i of inside) assert.equal(store.labels[i], 2);
    assertUndoable(store, before, delta);
    assert.deepEqual(store.counts.map((c) => Array.from(c)), countsOf(store.labels));
    // Outside the ring: the rest of the slice's unlabeled region, still on this slice only.
    const outside = painter.fill(layout, voxelOfPixel(layout, slice, 0, 0), 1);
    assert.ok(outside);
    const filled = changed(store.labels, before).filter((i) => !inside.includes(i));
    assert.equal(filled.length, layout.width * layout.height - ring.length - inside.length);
    for (const i of filled) assert.equal([i % DIMS[0], Math.floor(i / DIMS[0]) % DIMS[1], Math.floor(i / (DIMS[0] * DIMS[1]))][layout.sliceAxis], slice);
    assert.equal(painter.fill(layout, voxelOfPixel(layout, slice, 0, 0), 1), undefined, 'filling a region with its own value changes nothing');
  });

  test(`${plane}: fill unlabeled and accept the prediction change one slice, and undo`, () => {
    const layout = layoutOf(plane);
    const slice = 1;
    const labels = new Uint8Array(N);
    const kept = at(voxelOfPixel(layout, slice, 0, 0));
    labels[kept] = 3;
    const elsewhere = at(voxelOfPixel(layout, slice + 1, 0, 0));
    labels[elsewhere] = 3;
    const store = newStore(labels);
    const painter = new Painter(store);
    let before = Uint8Array.from(store.labels);
    const fillDelta = painter.fillUnlabeled(layout, slice, 1);
    const onSlice = (i: number) => [i % DIMS[0], Math.floor(i / DIMS[0]) % DIMS[1], Math.floor(i / (DIMS[0] * DIMS[1]))][layout.sliceAxis] === slice;
    for (let i = 0; i < N; i++) {
      if (i === kept || !onSlice(i)) assert.equal(store.labels[i], before[i], `voxel ${i} is kept`);
      else assert.equal(store.labels[i], 1, `voxel ${i} is filled`);
    }
    assertUndoable(store, before, fillDelta);

    // No prediction: nothing to accept.
    assert.equal(painter.acceptPrediction(layout, slice), undefined);
    // A prediction of 1 (background) and 2: the slice takes it; other slices keep theirs.
    const prediction = Uint8Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 2 : 1));
    store.setPrediction('lps.seg.nii.gz', encodeLabelRuns(prediction), 2);
    before = Uint8Array.from(store.labels);
    const acceptDelta = painter.acceptPrediction(layout, slice);
    for (let i = 0; i < N; i++) assert.equal(store.labels[i], onSlice(i) ? prediction[i] : before[i], `voxel ${i}`);
    assert.equal(store.labels[elsewhere], 3);
    assertUndoable(store, before, acceptDelta);
  });
}
