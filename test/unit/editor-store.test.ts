/**
 * The webview's document store owns every label change: a stroke (painted at once, one edit when
 * it ends), a slice edit (fill, fill slice, accept prediction), a delta from the host and a new
 * label map; each keeps the counts and annotated slices in step and is reported to the listener.
 * Runs outside the browser, on a real volume and its real label map.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findAnnotatedSlices } from '../../src/core/annotatedSlices';
import { applyDelta, diffLabels, encodeLabelRuns, sliceLabelCounts, type LabelArray } from '../../src/core/editDeltas';
import { toLabelArray } from '../../src/core/volumeFiles';
import { defaultClasses } from '../../src/core/labels';
import { pixelOfVoxel, planeLayouts, type PlaneLayout } from '../../src/core/planes';
import { readVolumeFile } from '../../src/core/readVolume';
import { extractSlice, writeSlice } from '../../src/core/slices';
import { volumeAxisCodes, type Volume } from '../../src/core/volume';
import type { VolumeInfo } from '../../src/protocol/webview';
import { DocumentStore, type LabelChange } from '../../webview/store';
import { Painter } from '../../webview/tools';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

/** What the host tells the webview about a volume (as session.ts builds it). */
function volumeInfo(volume: Volume, fileName: string): VolumeInfo {
  return {
    fileName,
    warnings: volume.warnings ?? [],
    format: volume.format,
    dims: volume.dims,
    spacing: volume.spacing,
    affine: volume.affine,
    datatype: volume.datatype,
    sclSlope: volume.sclSlope,
    sclInter: volume.sclInter,
    axisCodes: volumeAxisCodes(volume),
    byteLength: volume.data.byteLength,
    frames: volume.frames,
  };
}

type Edited = Extract<LabelChange, { kind: 'edited' }>;

/** The edits made here among the reported changes (those the host must hear of). */
function editsIn(changes: LabelChange[]): Edited[] {
  return changes.filter((ch): ch is Edited => ch.kind === 'edited');
}

interface Opened {
  store: DocumentStore;
  changes: LabelChange[];
  /** The host's copy of the labels, kept in step by applying the edits the store reports. */
  host: LabelArray;
  layouts: PlaneLayout[];
  painter: Painter;
}

/**
 * The spinal cord T2 with sparse labels as a user paints them: the manual segmentation on two
 * axial slices (a third and two thirds of the way), opened as the webview opens it.
 */
function openSpinalCord(): Opened {
  const volume = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz'));
  const dense = toLabelArray(readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz')).data);
  const layouts = planeLayouts(volume.dims, volume.spacing, volume.affine, 'radiological');
  const axial = layouts.find((l) => l.plane === 'axial')!;
  const counts = sliceLabelCounts(dense, volume.dims)[axial.sliceAxis];
  const labeled = [...counts.keys()].filter((s) => counts[s] > 0);
  const kept = [labeled[Math.floor(labeled.length / 3)], labeled[Math.floor((2 * labeled.length) / 3)]];
  const labels = new Uint8Array(dense.length);
  for (const index of kept) writeSlice(labels, volume.dims, axial.sliceAxis, index, extractSlice(dense, volume.dims, axial.sliceAxis, index).data);
  const changes: LabelChange[] = [];
  const host = labels.slice();
  const store = new DocumentStore(volumeInfo(volume, 't2.nii.gz'), 'uint8', (change) => {
    changes.push(change);
    if (change.kind === 'edited') applyDelta(host, volume.dims, change.delta, 'forward');
  });
  store.setClasses(defaultClasses());
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  return { store, changes, host, layouts, painter: new Painter(store) };
}

/** Checks the counts and the store's labels against the host's copy. */
function assertInStep({ store, host }: Opened): void {
  assert.deepEqual(store.labels, host, 'the webview and the host hold the same labels');
  assert.deepEqual(store.counts, sliceLabelCounts(store.labels, store.dims), 'the per-slice counts follow the labels');
}

/** A slice along `layout`'s axis that holds no label, away from the volume's edge. */
function emptySlice(store: DocumentStore, layout: PlaneLayout): number {
  const counts = store.counts[layout.sliceAxis];
  const middle = Math.floor(counts.length / 2);
  for (let d = 0; d < counts.length; d++) {
    for (const s of [middle + d, middle - d]) if (s > 0 && s < counts.length - 1 && counts[s] === 0) return s;
  }
  throw new Error(`no empty ${layout.plane} slice`);
}

test('a new label map replaces every label, with its counts and annotated slices, reported once', { skip: SKIP_WITHOUT_DATA }, () => {
  const opened = openSpinalCord();
  const { store, changes } = opened;
  assert.deepEqual(changes, [{ kind: 'replaced' }]);
  assertInStep(opened);
  assert.deepEqual(store.annotated, findAnnotatedSlices(opened.host, store.dims, sliceLabelCounts(opened.host, store.dims)));
  const axial = opened.layouts.find((l) => l.plane === 'axial')!;
  assert.equal(store.labeledSlices(axial.sliceAxis).length, 2, 'the two painted axial slices are the annotated ones');
  assert.ok(store.annotated.every((slices, axis) => axis === axial.sliceAxis || slices.size === 0), 'the slices that only cross them are not');
});

test('a brush stroke paints at once and becomes one edit when it ends, which the host applies to the same labels', { skip: SKIP_WITHOUT_DATA }, () => {
  const opened = openSpinalCord();
  const { store, changes, painter } = opened;
  for (const layout of opened.layouts) {
    const slice = emptySlice(store, layout);
    const axis = layout.sliceAxis;
    changes.length = 0;
    const [c, r] = [Math.floor(layout.width / 2), Math.floor(layout.height / 2)];
    const stroke = painter.beginStroke('Brush', layout, slice, 2, 5, c, r);
    painter.continueStroke(stroke, c + 6, r + 3);
    assert.deepEqual(changes.map((ch) => ch.kind), ['painted', 'painted'], `${layout.plane}: painted steps only`);
    assert.ok(store.counts[axis][slice] > 0, 'the counts follow each step');
    assert.ok(!store.annotated[axis].has(slice), 'the slice is annotated when the stroke ends, not before');
    const delta = painter.endStroke(stroke);
    const edits = editsIn(changes);
    assert.equal(edits.length, 1);
    const edit = edits[0];
    assert.equal(edit.label, 'Brush');
    assert.equal(edit.delta, delta);
    assert.deepEqual(edit.delta.frame, { kind: 'slice', axis, index: slice });
    assert.ok(edit.box.min[axis] === slice && edit.box.max[axis] === slice, 'the edit stays on its slice');
    assert.ok(store.annotated[axis].has(slice), `${layout.plane} slice ${slice} is annotated now`);
    assert.ok(store.labeledSlices(axis).includes(slice));
    assertInStep(opened);
  }
  // Erasing part of the last stroke is an edit named Erase.
  const layout = opened.layouts[0];
  const slice = [...store.annotated[layout.sliceAxis]].find((s) => extractSlice(store.labels, store.dims, layout.sliceAxis, s).data.includes(2))!;
  changes.length = 0;
  const stroke = painter.beginStroke('Erase', layout, slice, 0, 3, Math.floor(layout.width / 2), Math.floor(layout.height / 2));
  painter.endStroke(stroke);
  assert.deepEqual(editsIn(changes).map((e) => e.label), ['Erase']);
  assertInStep(opened);
});

test('an edit that makes a slice annotated says so; its own labeled voxels leave out the annotated slices crossing it', { skip: SKIP_WITHOUT_DATA }, () => {
  const opened = openSpinalCord();
  const { store, changes, painter } = opened;
  const axial = opened.layouts.find((l) => l.plane === 'axial')!;
  const sagittal = opened.layouts.find((l) => l.plane === 'sagittal')!;
  const annotatedAxial = store.labeledSlices(axial.sliceAxis);
  // A stray dab on a sagittal slice through the cord, across an annotated axial slice.
  const slice = Math.floor(sagittal.sliceCount / 2);
  const voxel = [0, 0, 0];
  voxel[sagittal.sliceAxis] = slice;
  voxel[axial.sliceAxis] = annotatedAxial[0];
  voxel[3 - sagittal.sliceAxis - axial.sliceAxis] = Math.floor(store.dims[3 - sagittal.sliceAxis - axial.sliceAxis] / 2);
  const [c, r] = pixelOfVoxel(sagittal, voxel);
  changes.length = 0;
  painter.endStroke(painter.beginStroke('Brush', sagittal, slice, 2, 3, c + 0.5, r + 0.5));
  const [edit] = editsIn(changes);
  assert.deepEqual(edit.newlyAnnotated, { axis: sagittal.sliceAxis, index: slice });
  // By brute force: labeled voxels of the sagittal slice off every annotated axial slice.
  const plane = extractSlice(store.labels, store.dims, sagittal.sliceAxis, slice);
  let own = 0;
  const [u, v] = [0, 1, 2].filter((a) => a !== sagittal.sliceAxis);
  for (let b = 0; b < plane.height; b++) {
    for (let a = 0; a < plane.width; a++) {
      const at = [0, 0, 0];
      at[u] = a;
      at[v] = b;
      if (plane.data[a + b * plane.width] !== 0 && !annotatedAxial.includes(at[axial.sliceAxis])) own++;
    }
  }
  assert.ok(own > 0 && own < store.counts[sagittal.sliceAxis][slice], `the dab (${own} own voxels) crosses the axial slice's labels`);
  assert.equal(store.ownLabeledVoxels(sagittal.sliceAxis, slice), own);
  // The same slice painted again is annotated already: nothing new to say.
  changes.length = 0;
  painter.endStroke(painter.beginStroke('Brush', sagittal, slice, 2, 3, c + 4.5, r + 0.5));
  assert.equal(editsIn(changes)[0].newlyAnnotated, undefined);
});

test('a cancelled stroke puts its slice back and is no edit; an ended stroke takes no more paint', { skip: SKIP_WITHOUT_DATA }, () => {
  const opened = openSpinalCord();
  const { store, changes, painter } = opened;
  const layout = opened.layouts[1];
  const slice = Math.floor(layout.sliceCount / 2);
  const before = store.labels.slice();
  const countsBefore = store.counts.map((c) => c.slice());
  const annotatedBefore = store.annotated.map((s) => [...s].sort());
  changes.length = 0;
  const stroke = painter.beginStroke('Brush', layout, slice, 3, 9, 10, 10);
  painter.continueStroke(stroke, 30, 20);
  assert.notDeepEqual(store.labels, before);
  painter.cancelStroke(stroke);
  assert.deepEqual(store.labels, before);
  assert.deepEqual(store.counts, countsBefore);
  assert.deepEqual(store.annotated.map((s) => [...s].sort()), annotatedBefore);
  assert.deepEqual(changes.map((ch) => ch.kind), ['painted', 'painted', 'reverted']);
  const reverted = changes[2] as Extract<LabelChange, { kind: 'reverted' }>;
  assert.ok(reverted.box.min[layout.sliceAxis] === slice && reverted.box.max[layout.sliceAxis] === slice);
  assert.throws(() => painter.continueStroke(stroke, 40, 20), /the stroke has ended/);
  assert.throws(() => painter.endStroke(stroke), /the stroke has ended/);
  assertInStep(opened);
});

test('a stroke paints only its own slice', { skip: SKIP_WITHOUT_DATA }, () => {
  const { store } = openSpinalCord();
  const stroke = store.beginStroke('Brush', 2, 10, 2);
  assert.throws(() => stroke.paint((mark) => mark([5, 5, 11])), /not on slice 10 along axis 2/);
  stroke.paint((mark) => mark([5, 5, 10]));
  assert.equal(store.labels[5 + store.dims[0] * (5 + store.dims[1] * 10)], 2);
});

test('fill, fill slice and accept prediction are edits under their names; one that changes nothing reports nothing', { skip: SKIP_WITHOUT_DATA }, () => {
  const opened = openSpinalCord();
  const { store, changes, painter } = opened;
  const layout = opened.layouts[0];
  const slice = emptySlice(store, layout);
  const edited = () => editsIn(changes);

  changes.length = 0;
  const seed = [0, 0, 0] as [number, number, number];
  seed[layout.sliceAxis] = slice;
  const fill = painter.fill(layout, seed, 1);
  assert.ok(fill);
  assert.deepEqual(edited().map((e) => e.label), ['Fill']);
  assert.ok(extractSlice(store.labels, store.dims, layout.sliceAxis, slice).data.every((v) => v === 1), 'the empty slice is one region: all of it is filled');
  assert.equal(painter.fill(layout, seed, 1), undefined, 'filling with the value already there changes nothing');
  assert.equal(painter.fillUnlabeled(layout, slice, 2), undefined, 'no unlabeled voxel is left on the slice');
  assert.equal(edited().length, 1);
  assertInStep(opened);

  // Fill slice on a labeled slice keeps its labels and fills the rest.
  const labeled = store.labeledSlices(layout.sliceAxis)[0];
  const before = extractSlice(store.labels, store.dims, layout.sliceAxis, labeled).data;
  changes.length = 0;
  assert.ok(painter.fillUnlabeled(layout, labeled, 1));
  const after = extractSlice(store.labels, store.dims, layout.sliceAxis, labeled).data;
  assert.ok(after.every((v, i) => (before[i] === 0 ? v === 1 : v === before[i])));
  assert.deepEqual(edited().map((e) => e.label), ['Fill slice']);
  assertInStep(opened);

  // Accepting the prediction takes its classes where it has one.
  assert.equal(painter.acceptPrediction(layout, labeled), undefined, 'no prediction, nothing to accept');
  const prediction = new Uint8Array(store.voxelCount);
  const [c, r] = [Math.floor(layout.width / 2), Math.floor(layout.height / 2)];
  const voxel = [0, 0, 0];
  voxel[layout.sliceAxis] = labeled;
  voxel[layout.colAxis] = layout.colFlip ? layout.width - 1 - c : c;
  voxel[layout.rowAxis] = layout.rowFlip ? layout.height - 1 - r : r;
  assert.deepEqual(pixelOfVoxel(layout, voxel), [c, r]);
  const index = voxel[0] + store.dims[0] * (voxel[1] + store.dims[1] * voxel[2]);
  prediction[index] = 2;
  store.setPrediction('t2.seg.nii.gz', encodeLabelRuns(prediction), 2);
  changes.length = 0;
  assert.ok(painter.acceptPrediction(layout, labeled));
  assert.equal(store.labels[index], 2);
  assert.deepEqual(edited().map((e) => e.label), ['Accept prediction']);
  assert.equal(painter.acceptPrediction(layout, labeled), undefined, 'the slice already matches the prediction');
  assertInStep(opened);
});

test('a delta from the host is applied with its counts and annotated slices, and reported as applied, not as an edit', { skip: SKIP_WITHOUT_DATA }, () => {
  const opened = openSpinalCord();
  const { store, changes } = opened;
  const layout = opened.layouts[2];
  const axis = layout.sliceAxis;
  const slice = emptySlice(store, layout);
  // The host undoes an edit the user made on an empty slice: build it as the host would hold it.
  const empty = extractSlice(store.labels, store.dims, axis, slice).data;
  const painted = empty.slice();
  painted.fill(2, 0, 40);
  const delta = diffLabels({ kind: 'slice', axis, index: slice }, empty, painted)!;
  changes.length = 0;
  store.applyDelta(delta, 'forward');
  applyDelta(opened.host, store.dims, delta, 'forward');
  assert.deepEqual(changes.map((ch) => ch.kind), ['applied']);
  assert.ok(store.annotated[axis].has(slice));
  assertInStep(opened);
  store.applyDelta(delta, 'backward');
  applyDelta(opened.host, store.dims, delta, 'backward');
  assert.ok(!store.annotated[axis].has(slice));
  assertInStep(opened);
});
