/**
 * The webview's pure view logic, outside the browser: the view state the webview remembers and
 * how it comes back after a reload, the annotated slice list and the jump to the next annotated
 * slice, the wheel's slice steps, and which layers a pane draws.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeLabelRuns } from '../../src/core/editDeltas';
import type { Vec3 } from '../../src/core/geometry';
import { defaultClasses } from '../../src/core/labels';
import { planeLayouts, planeVoxelIndices } from '../../src/core/planes';
import type { EditorSettings, VolumeInfo } from '../../src/protocol/webview';
import { adjacentAnnotatedSlice, annotatedRows, noAdjacentSliceMessage } from '../../webview/annotatedList';
import { GrayWindow } from '../../webview/grayWindow';
import { wheelSteps } from '../../webview/input';
import { planeImageInput, rowMask } from '../../webview/planeImage';
import { DocumentStore } from '../../webview/store';
import { clampBrushSize, initialViewState, isPlaneVisible, MAX_BRUSH, restoreViewState, savedViewState } from '../../webview/viewState';

const SETTINGS: EditorSettings = { leftRight: 'radiological', labelOpacity: 0.5, predictionOpacity: 0.4 };
const DIMS: Vec3 = [40, 30, 20];

test('a volume opens with the crosshair at its centre, navigating, with the foreground class when there is one', () => {
  const view = initialViewState(DIMS, 2, SETTINGS);
  assert.deepEqual(view.crosshair, [20, 15, 10]);
  assert.equal(view.tool, 'navigate');
  assert.equal(view.activeClass, 2);
  assert.equal(initialViewState(DIMS, 1, SETTINGS).activeClass, 1);
  assert.equal(view.labelOpacity, 0.5);
  assert.equal(view.predictionOpacity, 0.4);
  assert.ok(view.showPrediction && !view.outline && !view.predictionOutline);
  assert.equal(view.layoutMode, 'three');
});

test('the saved view state comes back field by field after a reload, for its own file only', () => {
  const view = initialViewState(DIMS, 3, SETTINGS);
  Object.assign(view, { crosshair: [1, 2, 3], tool: 'fill', brushSize: 12, activeClass: 3, layoutMode: 'single', maximized: 'coronal', outline: true, labelOpacity: 0.9 });
  const saved = savedViewState(view, 't2.nii.gz');
  assert.deepEqual(saved, { fileName: 't2.nii.gz', crosshair: [1, 2, 3], tool: 'fill', brushSize: 12, activeClass: 3, layoutMode: 'single', maximized: 'coronal', outline: true });
  // What VS Code keeps is JSON.
  const stored = JSON.parse(JSON.stringify(saved));
  const restored = initialViewState(DIMS, 3, SETTINGS);
  restoreViewState(restored, stored, 't2.nii.gz', DIMS, 3);
  assert.deepEqual(savedViewState(restored, 't2.nii.gz'), saved);
  assert.equal(restored.labelOpacity, 0.5, 'opacities follow the settings, not the saved state');
  saved.crosshair[0] = 7;
  assert.equal(restored.crosshair[0], 1, 'the restored crosshair is a copy');

  const fresh = () => initialViewState(DIMS, 3, SETTINGS);
  for (const other of [undefined, null, 'x', 42, [], { ...stored, fileName: 'other.nii.gz' }]) {
    const v = fresh();
    restoreViewState(v, other, 't2.nii.gz', DIMS, 3);
    assert.deepEqual(v, fresh(), JSON.stringify(other));
  }
});

test('saved fields that do not fit the volume or the classes are left at their defaults', () => {
  const defaults = initialViewState(DIMS, 2, SETTINGS);
  for (const [field, bad] of [
    ['crosshair', [40, 0, 0]],
    ['crosshair', [-1, 0, 0]],
    ['crosshair', [1.5, 0, 0]],
    ['crosshair', [1, 2]],
    ['crosshair', 'centre'],
    ['tool', 'scalpel'],
    ['brushSize', 0],
    ['brushSize', MAX_BRUSH + 1],
    ['brushSize', '5'],
    ['activeClass', 3],
    ['activeClass', 0],
    ['layoutMode', 'four'],
    ['maximized', 'oblique'],
    ['outline', 'yes'],
  ] as const) {
    const view = initialViewState(DIMS, 2, SETTINGS);
    restoreViewState(view, { fileName: 'a.nii', [field]: bad }, 'a.nii', DIMS, 2);
    assert.deepEqual(view, defaults, `${field} = ${JSON.stringify(bad)}`);
  }
  // A good field is taken even when others beside it are bad.
  const view = initialViewState(DIMS, 2, SETTINGS);
  restoreViewState(view, { fileName: 'a.nii', crosshair: [39, 29, 19], tool: 'scalpel', brushSize: MAX_BRUSH }, 'a.nii', DIMS, 2);
  assert.deepEqual(view.crosshair, [39, 29, 19]);
  assert.equal(view.tool, 'navigate');
  assert.equal(view.brushSize, MAX_BRUSH);
});

test('brush sizes are whole and within 1..MAX_BRUSH; the single layout shows only the maximized pane', () => {
  for (const [size, clamped] of [[0, 1], [-4, 1], [3.4, 3], [3.5, 4], [MAX_BRUSH + 1, MAX_BRUSH], [7, 7]]) assert.equal(clampBrushSize(size), clamped);
  assert.ok(isPlaneVisible({ layoutMode: 'three', maximized: 'axial' }, 'sagittal'));
  assert.ok(isPlaneVisible({ layoutMode: 'single', maximized: 'sagittal' }, 'sagittal'));
  assert.ok(!isPlaneVisible({ layoutMode: 'single', maximized: 'axial' }, 'sagittal'));
});

test('the annotated slice list: a row per plane, 1-based buttons, the current slice marked, "none" when empty', () => {
  const rows = annotatedRows([
    { plane: 'axial', slices: [3, 10, 42], current: 10 },
    { plane: 'coronal', slices: [], current: 0 },
    { plane: 'sagittal', slices: [0], current: 5 },
  ]);
  assert.deepEqual(rows.map((r) => r.name), ['Axial', 'Coronal', 'Sagittal']);
  assert.deepEqual(rows[0].chips, [
    { slice: 3, text: '4', title: 'Go to axial slice 4', current: false },
    { slice: 10, text: '11', title: 'Go to axial slice 11', current: true },
    { slice: 42, text: '43', title: 'Go to axial slice 43', current: false },
  ]);
  assert.deepEqual(rows[1].chips, []);
  assert.deepEqual(rows[2].chips.map((c) => [c.text, c.current]), [['1', false]]);
});

test('the next and previous annotated slice, and what is said when there is none', () => {
  const slices = [3, 10, 42];
  for (const [current, step, target] of [
    [0, 1, 3],
    [3, 1, 10],
    [5, 1, 10],
    [42, 1, undefined],
    [50, -1, 42],
    [10, -1, 3],
    [3, -1, undefined],
    [2, -1, undefined],
  ] as const) {
    assert.equal(adjacentAnnotatedSlice(slices, current, step), target, `${current} ${step}`);
  }
  assert.equal(adjacentAnnotatedSlice([], 5, 1), undefined);
  assert.equal(noAdjacentSliceMessage('axial', 3, 1), 'No labeled axial slice after this one.');
  assert.equal(noAdjacentSliceMessage('coronal', 3, -1), 'No labeled coronal slice before this one.');
  assert.equal(noAdjacentSliceMessage('sagittal', 0, 1), 'No sagittal slice carries labels yet.');
});

test('the wheel: a mouse notch steps one slice, trackpad deltas add up to a slice per 50 pixels', () => {
  const PIXEL = 0;
  const LINE = 1;
  assert.deepEqual(wheelSteps(0, 100, PIXEL), { steps: 2, remainder: 0 });
  assert.deepEqual(wheelSteps(0, 53, PIXEL), { steps: 1, remainder: 0 });
  assert.deepEqual(wheelSteps(0, -120, PIXEL), { steps: -2, remainder: 0 });
  assert.deepEqual(wheelSteps(0, 3, LINE), { steps: 0, remainder: 48 }, 'a line counts 16 pixels');
  assert.deepEqual(wheelSteps(0, 4, LINE), { steps: 1, remainder: 0 });
  assert.deepEqual(wheelSteps(48, 3, LINE), { steps: 1, remainder: 46 }, 'small deltas carry over');
  // Small trackpad deltas: nothing until they add up to 50.
  let remainder = 0;
  const steps: number[] = [];
  for (let i = 0; i < 12; i++) {
    const next = wheelSteps(remainder, 10, PIXEL);
    remainder = next.remainder;
    steps.push(next.steps);
  }
  assert.deepEqual(steps, [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]);
  assert.equal(remainder, 20);
  assert.deepEqual(wheelSteps(30, -10, PIXEL), { steps: 0, remainder: 20 });
});

test('a pane draws the labels and the prediction only where they have something on its slice, rows masked', () => {
  const info: VolumeInfo = {
    fileName: 'cube.nii',
    warnings: [],
    format: 'nifti1',
    dims: DIMS,
    spacing: [1, 1, 2],
    affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]],
    datatype: 'uint8',
    sclSlope: 1,
    sclInter: 0,
    axisCodes: 'RAS',
    byteLength: DIMS[0] * DIMS[1] * DIMS[2],
    frames: 1,
  };
  const store = new DocumentStore(info, 'uint8');
  store.setClasses(defaultClasses());
  const labels = new Uint8Array(store.voxelCount);
  labels[5 + DIMS[0] * (7 + DIMS[1] * 4)] = 2; // one voxel at (5, 7, 4)
  store.setLabels(encodeLabelRuns(labels), 'uint8');
  const gray = new GrayWindow(info);
  gray.fit(store.voxels);
  const view = initialViewState(DIMS, 2, SETTINGS);
  const axial = planeLayouts(DIMS, info.spacing, info.affine, 'radiological').find((l) => l.plane === 'axial')!;
  assert.equal(axial.sliceAxis, 2);
  const input = (slice: number) => planeImageInput({ layout: axial, slice, indices: planeVoxelIndices(axial, DIMS, slice) }, store, view, gray);
  assert.deepEqual(input(3).layers, [], 'nothing on slice 3');
  const on = input(4);
  assert.equal(on.layers.length, 1);
  assert.equal(on.layers[0].opacity, 0.5);
  assert.equal(on.layers[0].minValue, 1);
  const row = axial.rowFlip ? axial.height - 1 - 7 : 7;
  assert.deepEqual([...on.layers[0].rowMask!].flatMap((m, r) => (m ? [r] : [])), [row], 'only the row of voxel y = 7');
  assert.equal(on.lookup, gray.lookup);
  assert.equal(on.width * on.height, on.indices.length);

  // The prediction is drawn under the labels, without its background (value 1).
  const prediction = new Uint8Array(store.voxelCount).fill(1);
  prediction[6 + DIMS[0] * (8 + DIMS[1] * 4)] = 2;
  store.setPrediction('cube.seg.nii', encodeLabelRuns(prediction), 2);
  assert.deepEqual(input(4).layers.map((l) => l.minValue), [2, 1]);
  assert.deepEqual(input(3).layers, [], 'background only on slice 3: nothing drawn');
  view.showPrediction = false;
  assert.deepEqual(input(4).layers.map((l) => l.minValue), [1]);
  assert.deepEqual([...rowMask([0, 3, 0], { height: 3, rowFlip: true })], [0, 1, 0]);
  assert.deepEqual([...rowMask([1, 0, 0], { height: 3, rowFlip: true })], [0, 0, 1]);
});
