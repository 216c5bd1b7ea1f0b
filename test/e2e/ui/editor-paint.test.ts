/**
 * The volume editor in a real VS Code: paint on each of the three panes, undo and redo, fill a
 * slice, save, check the written label map in WORLD coordinates on a PSR volume, reopen; show
 * a prediction written beside the volume and accept it on a slice; refuse a label file on
 * another grid.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { voxelToWorld, worldToVoxel, type Vec3 } from '../../../src/core/geometry';
import { writeFilesAtomic } from '../../../src/core/atomicWrite';
import { classesUpTo, defaultClasses, parseLabelsFile } from '../../../src/core/labels';
import { encodeSegmentationFiles } from '../../../src/core/segmentationFiles';
import type { PlaneName } from '../../../src/core/planes';
import { readVolumeFile } from '../../../src/core/readVolume';
import type { Volume } from '../../../src/core/volume';
import { SKIP_WITHOUT_DATA, dataPath } from '../../helpers/data';
import { activeGroup, quickOpen, runCommand, useWorkbench } from '../workbench';
import { EditorDriver } from './editorDriver';

const T2 = 'semi/spinalcord/t2.nii.gz';

/** Sends a key to the editor with the pointer over `plane` (the pane keys act on). */
async function key(editor: EditorDriver, plane: PlaneName, combination: string): Promise<void> {
  await editor.hover(plane);
  await editor.page.keyboard.press(combination);
}


/** Voxels holding `value`, as world points (RAS mm). */
function worldPointsOf(volume: Volume, value: number): Vec3[] {
  const [nx, ny, nz] = volume.dims;
  const out: Vec3[] = [];
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) if (volume.data[i + nx * (j + ny * k)] === value) out.push(voxelToWorld(volume.affine, [i, j, k]));
  return out;
}

function labelAtWorld(labels: Volume, world: Vec3): number {
  const [i, j, k] = worldToVoxel(labels.affine, world).map(Math.round);
  return labels.data[i + labels.dims[0] * (j + labels.dims[1] * k)];
}

/** Each pane's stroke: a class, the voxel it starts on, which world axis stays fixed and which way screen-right goes. */
const STROKES: { plane: PlaneName; value: number; start: Vec3; fixedAxis: number; rightAxis: number; rightSign: number }[] = [
  // t2 is PSR: voxel x → Posterior, y → Superior, z → Right. World axes: 0 = R, 1 = A, 2 = S.
  { plane: 'axial', value: 2, start: [30, 27, 34], fixedAxis: 2, rightAxis: 0, rightSign: -1 }, // radiological: screen right = patient left
  { plane: 'coronal', value: 3, start: [30, 20, 34], fixedAxis: 1, rightAxis: 0, rightSign: -1 },
  { plane: 'sagittal', value: 4, start: [22, 35, 26], fixedAxis: 0, rightAxis: 1, rightSign: -1 }, // anterior on the left
];

test('paint on all three panes, undo/redo, fill a slice, save, and find the labels at their world positions after reopening', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  // VS Code for the web saves after a delay by default: turned off to see the dirty state and Save.
  const wb = await useWorkbench(t, { name: 'editor-paint', files: ['semi/spinalcord'], settings: { 'files.autoSave': 'off', 'workbench.colorTheme': 'Default Dark Modern' } });
  const editor = new EditorDriver(wb.page);
  await editor.open(T2);
  const volume = readVolumeFile(path.join(wb.workspace, ...T2.split('/')));

  // Two more classes from the class list (3 and 4), then the brush from its key.
  for (let i = 0; i < 2; i++) await editor.view.getByRole('button', { name: 'Add class' }).click();
  await editor.until('four classes', async () => (await editor.state()).classes.length === 4);
  await key(editor, 'axial', 'b');
  await editor.until('the brush tool (key B)', async () => (await editor.state()).tool === 'brush');

  for (const s of STROKES) {
    await key(editor, s.plane, String(s.value)); // class keys 1–9
    await editor.until(`class ${s.value}`, async () => (await editor.state()).activeClass === s.value);
    await editor.setCrosshair(s.start);
    const a = await editor.pagePoint(s.plane, s.start);
    await wb.page.mouse.move(a.x, a.y);
    await wb.page.mouse.down();
    await wb.page.mouse.move(a.x + 50, a.y, { steps: 10 });
    await wb.page.mouse.up();
    await editor.settled();
    assert.equal(await editor.labelAt(s.start), s.value, `${s.plane} stroke start`);
  }
  const tab = activeGroup(wb.page).locator('.tab.active');
  assert.match((await tab.getAttribute('class')) ?? '', /dirty/);

  // Undo takes the last stroke away, redo brings it back (VS Code's own undo stack).
  const last = STROKES[2];
  await key(editor, 'sagittal', 'Control+Z');
  await editor.until('undo', async () => (await editor.labelAt(last.start)) === 0);
  await key(editor, 'sagittal', 'Control+Shift+Z');
  await editor.until('redo', async () => (await editor.labelAt(last.start)) === last.value);

  // Fill the axial slice's unlabeled voxels with background (class 1).
  await editor.setCrosshair(STROKES[0].start);
  await key(editor, 'axial', '1');
  await key(editor, 'axial', 'Shift+F');
  const axialSlice = STROKES[0].start[1];
  const corner: Vec3 = [0, axialSlice, 0];
  await editor.until('the filled slice', async () => (await editor.labelAt(corner)) === 1);
  await editor.settled();
  const annotated = (await editor.state()).labeledSlices;
  assert.deepEqual(annotated.axial, [axialSlice]);
  assert.deepEqual(annotated.coronal, [STROKES[1].start[0]]);
  assert.deepEqual(annotated.sagittal, [STROKES[2].start[2]]);
  await wb.screenshot('editor');

  await key(editor, 'axial', 'Control+S');
  await editor.until('the save', async () => !/dirty/.test((await tab.getAttribute('class')) ?? ''), 30_000);
  const folder = path.join(wb.workspace, 'semi', 'spinalcord');
  const labels = readVolumeFile(path.join(folder, 't2.labels.nii.gz'));
  assert.deepEqual(labels.dims, volume.dims);
  const classes = parseLabelsFile(fs.readFileSync(path.join(folder, 't2.labels.json'), 'utf8')).classes;
  assert.deepEqual(classes.map((c) => c.value), [1, 2, 3, 4]);

  for (const s of STROKES) {
    const startWorld = voxelToWorld(volume.affine, s.start);
    assert.equal(labelAtWorld(labels, startWorld), s.value, `${s.plane}: the stroke's first voxel at its world position`);
    const points = worldPointsOf(labels, s.value);
    assert.ok(points.length >= 5, `${s.plane}: ${points.length} voxels`);
    // The stroke lies in the pane's plane (world coordinate across it fixed), and runs from
    // its start toward the patient's left (axial, coronal) or posterior (sagittal).
    for (const p of points) assert.ok(Math.abs(p[s.fixedAxis] - startWorld[s.fixedAxis]) < 0.5, `${s.plane}: ${p} off the plane`);
    const reach = Math.max(...points.map((p) => (p[s.rightAxis] - startWorld[s.rightAxis]) * s.rightSign));
    const back = Math.max(...points.map((p) => (startWorld[s.rightAxis] - p[s.rightAxis]) * s.rightSign));
    assert.ok(reach >= 5 && back <= 3, `${s.plane}: the stroke runs ${reach} mm the expected way and ${back} mm the other`);
  }
  // The filled axial slice: every voxel labeled.
  for (let k = 0; k < volume.dims[2]; k++) {
    for (let i = 0; i < volume.dims[0]; i++) assert.notEqual(labels.data[i + volume.dims[0] * (axialSlice + volume.dims[1] * k)], 0);
  }

  // Reopen: the labels come back from the files.
  await runCommand(wb.page, 'View: Close All Editors');
  await editor.open(T2);
  for (const s of STROKES) assert.equal(await editor.labelAt(s.start), s.value, `${s.plane} after reopening`);
  assert.deepEqual((await editor.state()).labeledSlices, annotated);
});

test('a prediction written beside the volume appears, and is accepted on one slice as an undoable edit', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-prediction', files: ['semi/spinalcord'] });
  const editor = new EditorDriver(wb.page);
  await editor.open(T2);
  // A dense prediction written as Segment writes it (0 = background, 1 = cord, its sidecar saying
  // so) from the manual mask; the editor shows it and accepts it as labels 1 = background, 2 = cord.
  const mask = readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  const prediction = Uint8Array.from(mask.data, (v) => v + 1);
  const { files } = encodeSegmentationFiles({ out: path.join(wb.workspace, 'semi', 'spinalcord', 't2.seg.nii.gz'), volumeName: 't2.nii.gz', volume: mask, labels: prediction, classes: classesUpTo(defaultClasses(), 2) });
  await writeFilesAtomic(files);
  assert.deepEqual(Array.from(readVolumeFile(path.join(wb.workspace, 'semi', 'spinalcord', 't2.seg.nii.gz')).data), Array.from(mask.data), 'the file holds the mask\'s own values');
  await editor.until('the prediction overlay', async () => (await editor.state()).prediction === 't2.seg.nii.gz', 30_000);

  // A cord voxel and a background voxel on one axial slice.
  const [nx, ny] = mask.dims;
  const slice = 27;
  let cord: Vec3 | undefined;
  for (let k = 0; k < mask.dims[2] && !cord; k++) for (let i = 0; i < nx && !cord; i++) if (mask.data[i + nx * (slice + ny * k)] === 1) cord = [i, slice, k];
  assert.ok(cord, 'no cord on the slice');
  // The centre of the cord's cross-section on the slice: inside the region, away from its edge.
  const onSlice: Vec3[] = [];
  for (let k = 0; k < mask.dims[2]; k++) for (let i = 0; i < nx; i++) if (mask.data[i + nx * (slice + ny * k)] === 1) onSlice.push([i, slice, k]);
  const centre: Vec3 = [0, 2].reduce((c, a) => ((c[a] = Math.round(onSlice.reduce((s, v) => s + v[a], 0) / onSlice.length)), c), [0, slice, 0] as Vec3);
  assert.equal(mask.data[centre[0] + nx * (slice + ny * centre[2])], 1, 'the centre lies in the cord');
  await editor.setCrosshair([centre[0], slice, centre[2] + 6]); // the crosshair off the sampled pixels
  assert.equal((await editor.state()).predictionLook, 'hatched');

  // The prediction is hatched: across the cord's pixels the stripes alternate with the image;
  // where only painted labels lie (none yet) nothing is striped. Read from the canvas itself.
  const spread = (pixels: [number, number, number][]) => {
    const luma = pixels.map(([r, g, b]) => 0.3 * r + 0.59 * g + 0.11 * b);
    return Math.max(...luma) - Math.min(...luma);
  };
  const predicted = await editor.pixelsAround('axial', centre, 4);
  assert.ok(spread(predicted) > 40, `the predicted cord is striped (luma spread ${spread(predicted).toFixed(0)})`);
  // The legend tells the two apart.
  const legend = editor.view.locator('.legend');
  assert.match(await legend.innerText(), /Painted labels\s*Prediction/);
  assert.equal(await legend.locator('.legend-swatch.hatched').count(), 1);

  await editor.setCrosshair(cord);
  await key(editor, 'axial', 'Shift+A');
  await editor.until('the accepted slice', async () => (await editor.labelAt(cord!)) === 2);
  assert.equal(await editor.labelAt([0, slice, 0]), 1);
  assert.equal(await editor.labelAt([0, slice + 1, 0]), 0, 'only the one slice');
  await editor.settled();
  // Accepting says what it did: the slice as the pane numbers it, the voxels, the classes.
  const voxels = mask.dims[0] * mask.dims[2];
  const cordVoxels = onSlice.length;
  const message = await editor.waitForMessage(/^Accepted the prediction/);
  assert.equal(
    message,
    `Accepted the prediction on axial slice ${slice + 1} of ${ny}: ${voxels.toLocaleString('en-US')} voxels labeled (background ${(voxels - cordVoxels).toLocaleString('en-US')}, foreground ${cordVoxels}). Ctrl+Z undoes it.`,
  );
  assert.equal(await editor.paneSlice('axial'), `${slice + 1} / ${ny}`);
  // Painted background (no prediction over it) is flat; the accepted cord painted and still hatched.
  await editor.setCrosshair([centre[0], slice, centre[2] + 6]);
  const background: Vec3 = [Math.max(4, centre[0] - 12), slice, Math.max(4, centre[2] - 12)];
  assert.ok(spread(await editor.pixelsAround('axial', background, 2)) < spread(await editor.pixelsAround('axial', centre, 4)));
  await wb.screenshot('editor-prediction');
  await key(editor, 'axial', 'Control+Z');
  await editor.until('undo of the accept', async () => (await editor.labelAt(cord!)) === 0);
});

test('a label file on another grid is not used silently: the user is asked, and may open without it', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-grid', files: ['semi/spinalcord', 'semi/spleen'] });
  fs.copyFileSync(path.join(wb.workspace, 'semi', 'spleen', 'sub-spleen2_ct_seg-manual.nii.gz'), path.join(wb.workspace, 'semi', 'spinalcord', 't2.labels.nii.gz'));
  const editor = new EditorDriver(wb.page);
  await quickOpen(wb.page, T2);
  const dialog = wb.page.locator('.monaco-dialog-box');
  await dialog.waitFor({ state: 'visible', timeout: 60_000 });
  assert.match(await dialog.innerText(), /t2\.labels\.nii\.gz is 164×166×26 voxels.*not on the volume's grid/s);
  await dialog.getByRole('button', { name: 'Open Without It' }).click();
  await editor.ready();
  const state = await editor.state();
  assert.deepEqual(state.labeledSlices, { axial: [], coronal: [], sagittal: [] });
});
