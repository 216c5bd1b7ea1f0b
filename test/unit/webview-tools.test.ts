/**
 * The webview's label tools (webview/tools.ts) on the document store, outside the browser, on
 * each plane of a small LPS volume in both left-right conventions (so screen rows, and in the
 * neurological convention screen columns, run against the voxel axes): brush and eraser strokes
 * paint exactly the voxels under them and keep the per-slice counts; each ends as one edit whose
 * delta undoes and redoes it through the store; a cancelled stroke leaves nothing; flood fill
 * stays in its region and its slice; "fill unlabeled" and "accept the prediction" change one
 * slice only. Expected voxels are counted here, voxel by voxel. editor-store.test.ts runs the
 * same tools on a real volume; editor-tools.test.ts the brush and fill functions on their own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyDelta, deltaVoxelCount, encodeLabelRuns, type LabelDelta } from '../../src/core/editDeltas';
import type { Mat4, Vec3 } from '../../src/core/geometry';
import { planeLayout, PLANES, voxelOfPixel, type LeftRightConvention, type PlaneLayout, type PlaneName } from '../../src/core/planes';
import type { EditLabel, VolumeInfo } from '../../src/protocol/webview';
import { DocumentStore, type LabelChange } from '../../webview/store';
import { Painter } from '../../webview/tools';

const DIMS: Vec3 = [9, 7, 6];
const N = DIMS[0] * DIMS[1] * DIMS[2];
const at = (ijk: readonly number[]) => ijk[0] + DIMS[0] * (ijk[1] + DIMS[1] * ijk[2]);
const ijkOf = (i: number): Vec3 => [i % DIMS[0], Math.floor(i / DIMS[0]) % DIMS[1], Math.floor(i / (DIMS[0] * DIMS[1]))];
/** LPS: voxel x runs to the left, y posterior, z superior. */
const AFFINE: Mat4 = [[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
const CONVENTIONS: LeftRightConvention[] = ['radiological', 'neurological'];

interface Setup {
  store: DocumentStore;
  painter: Painter;
  changes: LabelChange[];
}

function newStore(labels = new Uint8Array(N)): Setup {
  const info: VolumeInfo = {
    fileName: 'lps.nii.gz', format: 'nifti1', dims: DIMS, spacing: [1, 1, 1], affine: AFFINE, datatype: 'uint8',
    sclSlope: 1, sclInter: 0, axisCodes: 'LPS', byteLength: N, frames: 1, warnings: [],
  };
  const changes: LabelChange[] = [];
  const store = new DocumentStore(info, 'uint8', (change) => changes.push(change));
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  changes.length = 0;
  return { store, painter: new Painter(store), changes };
}

const layoutOf = (plane: PlaneName, leftRight: LeftRightConvention): PlaneLayout => planeLayout(plane, DIMS, [1, 1, 1], AFFINE, leftRight);

function countsOf(labels: ArrayLike<number>): number[][] {
  const counts = DIMS.map((n) => new Array<number>(n).fill(0));
  for (let v = 0; v < N; v++) {
    if (labels[v] === 0) continue;
    const ijk = ijkOf(v);
    for (let a = 0; a < 3; a++) counts[a][ijk[a]]++;
  }
  return counts;
}

const countsOfStore = (store: DocumentStore) => store.counts.map((c) => Array.from(c));

/** Indices where two label arrays differ. */
function changed(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

const sorted = (indices: number[]) => [...indices].sort((a, b) => a - b);

/** The voxel indices of image pixels (col, row) on `slice`, ascending. */
const voxelsOf = (layout: PlaneLayout, slice: number, pixels: [number, number][]) => sorted(pixels.map(([c, r]) => at(voxelOfPixel(layout, slice, c, r))));

/** The edits the store reported (what the host is sent). */
const editsIn = (changes: LabelChange[]) => changes.filter((c): c is Extract<LabelChange, { kind: 'edited' }> => c.kind === 'edited');

/**
 * The tool changed something and reported it as one edit under `label` with the returned delta;
 * the delta undoes and redoes exactly what the tool did, on a copy and through the store (labels,
 * counts and annotated slices back as before, then as after).
 */
function assertUndoable(setup: Setup, before: Uint8Array, delta: LabelDelta | undefined, label: EditLabel): void {
  const { store, changes } = setup;
  assert.ok(delta, 'the tool changed something and says what');
  const edits = editsIn(changes);
  assert.equal(edits.length, 1, 'one edit');
  assert.equal(edits[0].label, label);
  assert.equal(edits[0].delta, delta);
  const after = Uint8Array.from(store.labels);
  assert.equal(deltaVoxelCount(delta), changed(before, after).length, 'the delta holds the changed voxels, no more');
  const copy = Uint8Array.from(after);
  applyDelta(copy, DIMS, delta, 'backward');
  assert.deepEqual(changed(copy, before), [], 'backward gives the labels before');
  applyDelta(copy, DIMS, delta, 'forward');
  assert.deepEqual(changed(copy, after), [], 'forward gives them after');

  // Undo and redo as the host sends them back.
  const annotatedAfter = store.annotated.map((s) => sorted([...s]));
  store.applyDelta(delta, 'backward');
  assert.deepEqual(changed(store.labels, before), [], 'undone');
  assert.deepEqual(countsOfStore(store), countsOf(before));
  store.applyDelta(delta, 'forward');
  assert.deepEqual(changed(store.labels, after), [], 'redone');
  assert.deepEqual(countsOfStore(store), countsOf(after));
  assert.deepEqual(store.annotated.map((s) => sorted([...s])), annotatedAfter);
  changes.length = 0;
}

/**
 * Where a stroke along row 2 of slice 2, columns 1..5, lands, worked out by hand for LPS: x runs
 * to the left (screen right in the radiological convention), y to the back (screen down on the
 * axial), z up (screen rows on the coronal and sagittal run down, against z: z = 5 - row).
 */
function handStroke(plane: PlaneName, leftRight: LeftRightConvention): Vec3[] {
  const cols = [1, 2, 3, 4, 5];
  const x = (c: number) => (leftRight === 'radiological' ? c : DIMS[0] - 1 - c);
  if (plane === 'axial') return cols.map((c) => [x(c), 2, 2]);
  if (plane === 'coronal') return cols.map((c) => [x(c), 2, 5 - 2]);
  return cols.map((c) => [2, c, 5 - 2]);
}

for (const leftRight of CONVENTIONS) {
  for (const plane of PLANES) {
    const name = `${plane} (${leftRight})`;

    test(`${name}: a 1-voxel brush stroke paints the voxels under it and keeps the counts; its edit undoes; the eraser takes them back`, () => {
      const setup = newStore();
      const { store, painter, changes } = setup;
      const layout = layoutOf(plane, leftRight);
      const slice = 2;
      const before = Uint8Array.from(store.labels);
      // A stroke from image point (1.5, 2.5) to (5.5, 2.5): pixels (1..5, 2), one row, five columns.
      const stroke = painter.beginStroke('Brush', layout, slice, 3, 1, 1.5, 2.5);
      assert.deepEqual(changed(store.labels, before), [at(handStroke(plane, leftRight)[0])], 'the first pixel at once');
      painter.continueStroke(stroke, 5.5, 2.5);
      const expected = sorted(handStroke(plane, leftRight).map(at));
      assert.deepEqual(expected, voxelsOf(layout, slice, [[1, 2], [2, 2], [3, 2], [4, 2], [5, 2]]));
      assert.deepEqual(changed(store.labels, before), expected, 'exactly the voxels under the stroke');
      for (const i of expected) assert.equal(store.labels[i], 3);
      assert.deepEqual(countsOfStore(store), countsOf(store.labels), 'counts kept while painting');
      assert.deepEqual(changes.map((c) => c.kind), ['painted', 'painted']);
      assert.equal(store.annotated[layout.sliceAxis].size, 0, 'annotated when the stroke ends, not before');
      const delta = painter.endStroke(stroke);
      assert.deepEqual(delta?.frame, { kind: 'slice', axis: layout.sliceAxis, index: slice });
      assert.deepEqual(store.labeledSlices(layout.sliceAxis), [slice]);
      assertUndoable(setup, before, delta, 'Brush');

      // The eraser over a longer stretch of the same row: the five voxels come back empty, and
      // only they are in its edit.
      const painted = Uint8Array.from(store.labels);
      const erase = painter.beginStroke('Erase', layout, slice, 0, 1, 0.5, 2.5);
      painter.continueStroke(erase, layout.width - 0.5, 2.5);
      assert.deepEqual(changed(store.labels, before), []);
      assert.deepEqual(countsOfStore(store), countsOf(before));
      const eraseDelta = painter.endStroke(erase);
      assert.equal(eraseDelta && deltaVoxelCount(eraseDelta), 5);
      assert.deepEqual(store.labeledSlices(layout.sliceAxis), []);
      assertUndoable(setup, painted, eraseDelta, 'Erase');

      // Erasing where nothing is labeled changes nothing and is no edit.
      const nothing = painter.beginStroke('Erase', layout, slice + 1, 0, 1, 0.5, 0.5);
      painter.continueStroke(nothing, 3.5, 3.5);
      assert.equal(painter.endStroke(nothing), undefined);
      assert.deepEqual(editsIn(changes), []);
    });

    test(`${name}: a 3-voxel brush paints a band three rows wide, clipped at the image edge; cancelled, it leaves nothing`, () => {
      const { store, painter, changes } = newStore();
      const layout = layoutOf(plane, leftRight);
      const slice = 1;
      const before = Uint8Array.from(store.labels);
      // Size 3 on 1 mm voxels is a 3 × 3 square: centres (2..4, 2) cover columns 1..5, rows 1..3.
      const stroke = painter.beginStroke('Brush', layout, slice, 2, 3, 2.5, 2.5);
      painter.continueStroke(stroke, 4.5, 2.5);
      const band: [number, number][] = [];
      for (let r = 1; r <= 3; r++) for (let c = 1; c <= 5; c++) band.push([c, r]);
      assert.deepEqual(changed(store.labels, before), voxelsOf(layout, slice, band));
      // To the top-left corner: the stamps there lose what lies outside the image.
      painter.continueStroke(stroke, 0.5, 0.5);
      const corner: [number, number][] = [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0], [0, 1], [0, 2]];
      assert.deepEqual(changed(store.labels, before), voxelsOf(layout, slice, [...band, ...corner]));
      for (const i of changed(store.labels, before)) assert.equal(ijkOf(i)[layout.sliceAxis], slice);
      assert.deepEqual(countsOfStore(store), countsOf(store.labels));

      painter.cancelStroke(stroke);
      assert.deepEqual(changed(store.labels, before), []);
      assert.deepEqual(countsOfStore(store), countsOf(before));
      assert.deepEqual(changes.map((c) => c.kind), ['painted', 'painted', 'painted', 'reverted'], 'no edit');
      assert.throws(() => painter.continueStroke(stroke, 3.5, 3.5), /the stroke has ended/);
    });

    test(`${name}: flood fill fills the region around the seed within the slice, nothing beyond its border or on the next slice`, () => {
      const layout = layoutOf(plane, leftRight);
      const slice = 3;
      // On the slice and the next, in image pixels: a ring of class 4 around columns 2..3 of row
      // 2 (off-centre, and the image is not square, so mixing columns and rows up shows).
      const labels = new Uint8Array(N);
      const ring: [number, number][] = [];
      for (let c = 1; c <= 4; c++) ring.push([c, 1], [c, 3]);
      ring.push([1, 2], [4, 2]);
      for (const s of [slice, slice + 1]) for (const [c, r] of ring) labels[at(voxelOfPixel(layout, s, c, r))] = 4;
      const setup = newStore(labels);
      const { store, painter } = setup;
      const before = Uint8Array.from(store.labels);
      const delta = painter.fill(layout, voxelOfPixel(layout, slice, 2, 2), 2);
      const inside = voxelsOf(layout, slice, [[2, 2], [3, 2]]);
      assert.deepEqual(changed(store.labels, before), inside, 'the two voxels inside the ring, no more');
      for (const i of inside) assert.equal(store.labels[i], 2);
      assert.deepEqual(countsOfStore(store), countsOf(store.labels));
      assertUndoable(setup, before, delta, 'Fill');

      // Outside the ring: the rest of the slice's unlabeled region, still on this slice only.
      const filledInside = Uint8Array.from(store.labels);
      const outside = painter.fill(layout, voxelOfPixel(layout, slice, 0, 0), 1);
      const filled = changed(store.labels, filledInside);
      assert.equal(filled.length, layout.width * layout.height - ring.length - inside.length);
      for (const i of filled) {
        assert.equal(ijkOf(i)[layout.sliceAxis], slice);
        assert.equal(store.labels[i], 1);
      }
      assertUndoable(setup, filledInside, outside, 'Fill');
      // Filling the ring itself recolours it (one region of class 4), not its copy on the next slice.
      const beforeRing = Uint8Array.from(store.labels);
      const ringDelta = painter.fill(layout, voxelOfPixel(layout, slice, 1, 1), 5);
      assert.deepEqual(changed(store.labels, beforeRing), voxelsOf(layout, slice, ring));
      assertUndoable(setup, beforeRing, ringDelta, 'Fill');
      assert.equal(painter.fill(layout, voxelOfPixel(layout, slice, 0, 0), 1), undefined, 'filling a region with its own value changes nothing');
      assert.deepEqual(editsIn(setup.changes), []);
    });

    test(`${name}: fill unlabeled and accept the prediction change one slice where they should, and undo`, () => {
      const layout = layoutOf(plane, leftRight);
      const slice = 1;
      const labels = new Uint8Array(N);
      const kept = at(voxelOfPixel(layout, slice, 0, 0));
      labels[kept] = 3;
      const elsewhere = at(voxelOfPixel(layout, slice + 1, 0, 0));
      labels[elsewhere] = 3;
      const setup = newStore(labels);
      const { store, painter } = setup;
      let before = Uint8Array.from(store.labels);
      const fillDelta = painter.fillUnlabeled(layout, slice, 1);
      const onSlice = (i: number) => ijkOf(i)[layout.sliceAxis] === slice;
      for (let i = 0; i < N; i++) {
        if (i === kept || !onSlice(i)) assert.equal(store.labels[i], before[i], `voxel ${i} is kept`);
        else assert.equal(store.labels[i], 1, `voxel ${i} is filled`);
      }
      assert.equal(fillDelta && deltaVoxelCount(fillDelta), layout.width * layout.height - 1);
      assertUndoable(setup, before, fillDelta, 'Fill slice');
      assert.equal(painter.fillUnlabeled(layout, slice, 2), undefined, 'no unlabeled voxel is left');

      // No prediction: nothing to accept.
      assert.equal(painter.acceptPrediction(layout, slice), undefined);
      // A prediction of 1 (background) and 2, with no value (0) on some voxels: the slice takes
      // the predicted values and keeps its own where there is none; other slices keep theirs.
      // (Moduli 4 and 7 share no factor with the dims, so every slice gets all three values.)
      const prediction = Uint8Array.from({ length: N }, (_, i) => (i % 4 === 0 ? 2 : i % 7 === 0 ? 0 : 1));
      prediction[kept] = 0;
      store.setPrediction('lps.seg.nii.gz', encodeLabelRuns(prediction), 2);
      before = Uint8Array.from(store.labels);
      const acceptDelta = painter.acceptPrediction(layout, slice);
      for (let i = 0; i < N; i++) assert.equal(store.labels[i], onSlice(i) && prediction[i] !== 0 ? prediction[i] : before[i], `voxel ${i}`);
      assert.equal(store.labels[kept], 3);
      assert.equal(store.labels[elsewhere], 3);
      assertUndoable(setup, before, acceptDelta, 'Accept prediction');
      assert.equal(painter.acceptPrediction(layout, slice), undefined, 'the slice already holds the prediction');
    });
  }
}
