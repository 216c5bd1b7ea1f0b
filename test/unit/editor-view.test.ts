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
import { pixelOfVoxel, planeLayouts, planeVoxelIndices } from '../../src/core/planes';
import type { EditorSettings, VolumeInfo } from '../../src/protocol/webview';
import { isNearlyEmptySlice, nearlyEmptyLimit } from '../../src/core/annotatedSlices';
import { adjacentAnnotatedSlice, annotatedRows, noAdjacentSliceMessage, shortCount } from '../../webview/annotatedList';
import { GrayWindow } from '../../webview/grayWindow';
import { keyAction, wheelSteps } from '../../webview/input';
import { acceptedPredictionMessage, nearlyEmptySliceMessage } from '../../webview/messages';
import { planeImageInput, rowMask } from '../../webview/planeImage';
import { composeHatchMask, composePlaneImage } from '../../webview/render';
import { DocumentStore } from '../../webview/store';
import {
  clampBrushSize,
  initialViewState,
  isPlaneVisible,
  isSidebarHidden,
  MAX_BRUSH,
  restoreViewState,
  savedViewState,
  SIDEBAR_MIN_EDITOR_WIDTH,
} from '../../webview/viewState';

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
  assert.ok(view.showPrediction && !view.outline);
  assert.equal(view.predictionLook, 'hatched', 'the prediction is told apart from the painted labels');
  assert.equal(view.sidebar, 'auto');
  assert.equal(view.layoutMode, 'three');
});

test('the saved view state comes back field by field after a reload, for its own file only', () => {
  const view = initialViewState(DIMS, 3, SETTINGS);
  Object.assign(view, { crosshair: [1, 2, 3], tool: 'fill', brushSize: 12, activeClass: 3, layoutMode: 'single', maximized: 'coronal', outline: true, labelOpacity: 0.9, predictionLook: 'outline', sidebar: 'hidden' });
  const saved = savedViewState(view, 't2.nii.gz');
  assert.deepEqual(saved, { fileName: 't2.nii.gz', crosshair: [1, 2, 3], tool: 'fill', brushSize: 12, activeClass: 3, layoutMode: 'single', maximized: 'coronal', outline: true, predictionLook: 'outline', sidebar: 'hidden' });
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
    ['predictionLook', 'dotted'],
    ['sidebar', true],
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

test('the annotated slice list: a row per plane, 1-based buttons with their labeled voxels, the current slice marked, an almost empty one flagged', () => {
  const rows = annotatedRows([
    { plane: 'axial', slices: [3, 10, 42], current: 10, voxels: [3025, 7, 12_400], sliceVoxels: 60 * 55, sliceCount: 52 },
    { plane: 'coronal', slices: [], current: 0, voxels: [], sliceVoxels: 60 * 52, sliceCount: 55 },
    { plane: 'sagittal', slices: [0], current: 5, voxels: [40], sliceVoxels: 55 * 52, sliceCount: 60 },
  ]);
  assert.deepEqual(rows.map((r) => r.name), ['Axial', 'Coronal', 'Sagittal']);
  assert.deepEqual(
    rows[0].chips.map(({ slice, text, count, current, nearlyEmpty }) => ({ slice, text, count, current, nearlyEmpty })),
    [
      { slice: 3, text: '4', count: '3.0k', current: false, nearlyEmpty: false },
      { slice: 10, text: '11', count: '7', current: true, nearlyEmpty: true },
      { slice: 42, text: '43', count: '12k', current: false, nearlyEmpty: false },
    ],
  );
  assert.equal(rows[0].chips[0].title, 'Go to axial slice 4 of 52: 3,025 voxels labeled (of 3,300)');
  assert.match(rows[0].chips[1].title, /^Go to axial slice 11 of 52: 7 voxels labeled \(of 3,300\)\. Almost empty/);
  assert.deepEqual(rows[1].chips, []);
  assert.deepEqual(rows[2].chips.map((c) => [c.text, c.current, c.nearlyEmpty]), [['1', false, false]], '40 voxels of 2,860 is a real annotation');
  assert.deepEqual([999, 1000, 9999, 10_000, 999_999, 1_500_000].map(shortCount), ['999', '1.0k', '10.0k', '10k', '1000k', '1.5M']);
});

test('an annotated slice is almost empty below 1 % of its voxels (at least 10, at most 200)', () => {
  assert.deepEqual([100, 3300, 27_224, 512 * 512].map(nearlyEmptyLimit), [10, 33, 200, 200]);
  assert.ok(isNearlyEmptySlice(32, 3300) && !isNearlyEmptySlice(33, 3300));
  assert.ok(isNearlyEmptySlice(9, 100) && !isNearlyEmptySlice(10, 100));
});

test("keys: arrows, PageUp/Down, Home/End and +/- act on the active pane; with Alt, Ctrl or Cmd they are VS Code's", () => {
  const key = (k: string, mods: Partial<Record<'shiftKey' | 'altKey' | 'ctrlKey' | 'metaKey', boolean>> = {}) =>
    keyAction({ key: k, shiftKey: false, altKey: false, ctrlKey: false, metaKey: false, ...mods });
  assert.deepEqual(key('ArrowUp'), { kind: 'step', step: 1 });
  assert.deepEqual(key('ArrowLeft', { shiftKey: true }), { kind: 'step', step: -10 });
  assert.deepEqual(key('PageDown'), { kind: 'step', step: -10 });
  assert.deepEqual(key('End'), { kind: 'last' });
  assert.deepEqual(key('='), { kind: 'zoom', factor: 1.25 });
  assert.equal(key('x'), undefined);
  // Alt+↑/↓ jump between annotated slices through VS Code's keybinding: stepping here too would
  // undo the jump (it worked once, then stayed put).
  for (const mods of [{ altKey: true }, { ctrlKey: true }, { metaKey: true }]) {
    for (const k of ['ArrowUp', 'ArrowDown', 'PageUp', 'Home', '+']) assert.equal(key(k, mods), undefined, `${k} ${JSON.stringify(mods)}`);
  }
});

test('the side bar hides itself on a narrow editor unless the user chose', () => {
  assert.ok(isSidebarHidden('auto', SIDEBAR_MIN_EDITOR_WIDTH - 1));
  assert.ok(!isSidebarHidden('auto', SIDEBAR_MIN_EDITOR_WIDTH));
  assert.ok(!isSidebarHidden('shown', 300));
  assert.ok(isSidebarHidden('hidden', 2000));
});

test('the status line says what an accepted prediction changed and warns of an almost empty annotated slice, numbering slices from 1', () => {
  const names = new Map([[1, 'background'], [2, 'cord']]);
  const changed = new Map([[2, 45], [1, 2980]]);
  assert.equal(
    acceptedPredictionMessage('axial', 27, 55, changed, (v) => names.get(v)),
    'Accepted the prediction on axial slice 28 of 55: 3,025 voxels labeled (background 2,980, cord 45). Ctrl+Z undoes it.',
  );
  assert.match(acceptedPredictionMessage('coronal', 0, 9, new Map([[5, 1]]), () => undefined), /coronal slice 1 of 9: 1 voxel labeled \(class 5 1\)/);
  assert.equal(
    nearlyEmptySliceMessage('sagittal', 3, 60, 7),
    'Sagittal slice 4 of 60 is now an annotated slice with only 7 voxels: training learns from every annotated slice. Label it fully (Shift+F fills the rest), or erase a stray click (E).',
  );
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
  assert.deepEqual(input(4).layers.map((l) => l.look), ['hatched', 'filled'], 'painted labels filled, the prediction hatched');
  assert.deepEqual(input(3).layers, [], 'background only on slice 3: nothing drawn');

  // Composed: the prediction's edge opaque in its colour, the labels blended; the hatch mask holds
  // the predicted region only, in its colour (the pane hatches it at screen resolution).
  const image = input(4);
  const pixels = new Uint32Array(image.width * image.height);
  composePlaneImage(pixels, image);
  const mask = new Uint32Array(pixels.length);
  assert.ok(composeHatchMask(mask, image));
  const at = (x: number, y: number) => {
    const [c, r] = pixelOfVoxel(axial, [x, y, 4]);
    return c + r * image.width;
  };
  const [cr, cg, cb] = [store.colors.r[2], store.colors.g[2], store.colors.b[2]];
  const opaque = (0xff000000 | (cb << 16) | (cg << 8) | cr) >>> 0;
  assert.equal(mask[at(6, 8)], opaque);
  assert.equal(mask.filter((v) => v !== 0).length, 1, 'one predicted voxel');
  assert.equal(pixels[at(6, 8)], opaque, 'a one-voxel region is all edge');
  assert.notEqual(pixels[at(5, 7)], opaque, 'the painted voxel is blended, not opaque');
  assert.notEqual(pixels[at(5, 7)] & 0xffffff, pixels[at(0, 0)] & 0xffffff);
  view.predictionLook = 'filled';
  assert.equal(composeHatchMask(mask, input(4)), false, 'nothing to hatch when the prediction is filled');
  view.predictionLook = 'hatched';

  view.showPrediction = false;
  assert.deepEqual(input(4).layers.map((l) => l.minValue), [1]);
  assert.deepEqual([...rowMask([0, 3, 0], { height: 3, rowFlip: true })], [0, 1, 0]);
  assert.deepEqual([...rowMask([1, 0, 0], { height: 3, rowFlip: true })], [0, 0, 1]);
});
