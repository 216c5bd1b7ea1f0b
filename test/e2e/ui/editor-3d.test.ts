/**
 * The editor at scale and in 3D, in a real VS Code: a large volume shows the planes through the
 * crosshair before the rest of its voxels have arrived (the webview fetches the file itself), and
 * they can be painted on at once; the 3D pane shows a surface in the class's colour where a class
 * was painted (its pixels read back), a click on it moves the crosshair into the painted region;
 * the prediction joins the labels in 3D. With UNET3D_E2E_README=1 it also takes the README's
 * picture of the editor with the 3D pane (docs/screenshots/editor-3d.png): the chest CT of the
 * test data with 3D Slicer's segmentation of its ribs, vertebral column and lungs opened as labels.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { writeBenchVolume } from '../../../src/cli/bench/benchVolume';
import type { Vec3 } from '../../../src/core/geometry';
import { readLabelsAs } from '../../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../../src/core/labelMapIO';
import { defaultClassColor, makeLabelsFile, serializeLabelsFile, type LabelClass } from '../../../src/core/labels';
import { readVolumeFile } from '../../../src/core/readVolume';
import { SKIP_WITHOUT_DATA, dataPath } from '../../helpers/data';
import { useWorkbench } from '../workbench';
import { EditorDriver } from './editorDriver';

interface Loading {
  firstPlanesAt?: number;
  wholeVolumeAt?: number;
  filledAtFirstPlanes?: number;
  total: number;
  transport: string;
  route?: string;
}
interface ReadBack {
  lit: number;
  classes: Record<number, { pixels: number; x: number; y: number }>;
}
interface Handle {
  loading(): Loading;
  slicesPresent(): boolean[];
  view3d: { status(): { webgl: boolean; worker: boolean; problem?: string }; builds(): { layer: string; level: string }[]; readBack(values: number[]): ReadBack };
}
const README_SCREENSHOTS = process.env.UNET3D_E2E_README === '1';
// Functions given to evaluate() run in the webview from their source: they name the handle in full there.

test('a large volume shows the planes through the crosshair before the rest has arrived, and they take paint at once', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-large', files: [], settings: { 'files.autoSave': 'off' } });
  writeBenchVolume(dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'), 256, 'large', { noise: 20, dir: wb.workspace });
  const editor = new EditorDriver(wb.page);
  // The webview's own fetch of the file (from code-server's route) can outrun the planes the host
  // streams for a file this size: it is held until the editor is ready, so that what it shows
  // first is the host's planes, with the rest still to come.
  await wb.page.route(
    (url) => url.pathname.endsWith('/vscode-remote-resource'),
    async (route) => {
      await editor.view.locator('body[data-state="ready"]').waitFor({ state: 'attached', timeout: 120_000 });
      await route.continue();
    },
  );
  await editor.open('ct_256.nii.gz'); // waits for the first planes (data-state=ready)
  const body = editor.view.locator('body');
  const atFirstPlanes = await body.evaluate(() => {
    const editorHandle = (window as unknown as { unet3dEditor: Handle }).unet3dEditor;
    return { loading: editorHandle.loading(), present: editorHandle.slicesPresent() };
  });
  assert.deepEqual(atFirstPlanes.present, [true, true, true], 'the three planes through the crosshair are there');
  assert.ok(atFirstPlanes.loading.filledAtFirstPlanes! < atFirstPlanes.loading.total, `the planes were drawn with ${atFirstPlanes.loading.filledAtFirstPlanes} of ${atFirstPlanes.loading.total} bytes in`);

  // Paint on the axial plane right away.
  await editor.view.getByRole('button', { name: 'Brush' }).click();
  const { crosshair } = await editor.state();
  const start: Vec3 = [crosshair[0] - 20, crosshair[1], crosshair[2]];
  await editor.stroke('axial', start, [crosshair[0] + 20, crosshair[1], crosshair[2]]);
  await editor.settled();
  assert.equal(await editor.labelAt(start), 2, 'painted on the first axial plane');

  await editor.view.locator('body[data-voxels="all"]').waitFor({ state: 'attached', timeout: 120_000 });
  const done = await body.evaluate(() => (window as unknown as { unet3dEditor: Handle }).unet3dEditor.loading());
  assert.equal(done.transport, 'fetch', 'the webview fetched the file itself');
  assert.equal(done.route, 'copy', "the voxels the host inflated for the planes, over plain HTTP from code-server's own route (not its remote file channel)");
  assert.ok(done.wholeVolumeAt! > done.firstPlanesAt!);
  // The raw copy lived in the server's temporary folder until the webview had the voxels.
  const serverTmp = path.join(path.dirname(wb.workspace), 'home', 'tmp');
  await editor.until('the raw copy removed', async () => !fs.readdirSync(serverTmp).some((name) => name.startsWith('unet3d-voxels-')));
});

test('the 3D pane shows a surface in the colour of a painted class, and a click on it moves the crosshair there', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-3d', files: ['semi/spinalcord'], settings: { 'files.autoSave': 'off', 'workbench.colorTheme': 'Default Dark Modern' } });
  const editor = new EditorDriver(wb.page);
  await editor.open('semi/spinalcord/t2.nii.gz');
  const body = editor.view.locator('body');
  // The 3D view sets itself up once every voxel is in.
  await editor.view.locator('body[data-voxels="all"]').waitFor({ state: 'attached', timeout: 60_000 });
  const view3dStatus = () => body.evaluate(() => (window as unknown as { unet3dEditor: Handle }).unet3dEditor.view3d.status());
  await editor.until('the 3D view set up', async () => {
    const now = await view3dStatus();
    return (now.webgl && now.worker) || now.problem !== undefined;
  });
  const status = await view3dStatus();
  assert.ok(status.webgl && status.worker, `the 3D view draws and builds (${status.problem ?? 'ok'})`);

  // A thick stroke of class 2 on an axial slice (t2 is PSR: the axial slices are along y).
  await editor.view.getByRole('button', { name: 'Brush' }).click();
  const slice = 30;
  await editor.setCrosshair([30, slice, 26]);
  for (const z of [18, 22, 26, 30, 34]) await editor.stroke('axial', [12, slice, z], [48, slice, z]);
  await editor.settled();
  assert.equal(await editor.labelAt([30, slice, 26]), 2);

  let seen: ReadBack | undefined;
  await editor.until('a red surface in the 3D pane', async () => {
    seen = await body.evaluate(() => (window as unknown as { unet3dEditor: Handle }).unet3dEditor.view3d.readBack([2]));
    return seen.classes[2].pixels > 200;
  }, 60_000);
  const surface = seen!.classes[2];

  // Move the crosshair away, then click the surface: it comes back into the painted region.
  await editor.setCrosshair([2, 2, 2]);
  const box = (await editor.view.locator('.pane[data-plane="3d"] canvas').boundingBox())!;
  await wb.page.mouse.click(box.x + surface.x, box.y + surface.y);
  await editor.until('the crosshair moved by the click', async () => (await editor.state()).crosshair.join() !== '2,2,2');
  const moved = (await editor.state()).crosshair;
  assert.ok(Math.abs(moved[1] - slice) <= 1, `the crosshair is on the painted slice (y ${moved[1]})`);
  assert.ok(moved[0] >= 10 && moved[0] <= 50 && moved[2] >= 16 && moved[2] <= 36, `inside the painted region: ${moved}`);

  // The prediction joins the labels in 3D, see-through. Written as 0.1 wrote predictions (1 =
  // background, 2 = cord, no sidecar): such a file still shows as it did.
  const mask = readVolumeFile(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  writeLabelMapNifti(path.join(wb.workspace, 'semi', 'spinalcord', 't2.seg.nii.gz'), { dims: mask.dims, affine: mask.affine, data: Uint8Array.from(mask.data, (v) => v + 1) });
  await editor.until('the prediction overlay', async () => (await editor.state()).prediction === 't2.seg.nii.gz', 30_000);
  await editor.until('the prediction in 3D', async () => (await body.evaluate(() => (window as unknown as { unet3dEditor: Handle }).unet3dEditor.view3d.builds())).some((b) => b.layer === 'prediction'), 30_000);
  await editor.setCrosshair([30, slice, 26]);

  // Maximized, and back.
  await editor.view.locator('.pane[data-plane="3d"] .pane-maximize').click();
  await editor.until('the 3D pane alone', async () => (await editor.state()).layoutMode === 'single');
  assert.ok(await editor.view.locator('.pane[data-plane="3d"].maximized').isVisible());
  await editor.view.locator('.pane[data-plane="3d"] .pane-maximize').click();
  await editor.until('three panes again', async () => (await editor.state()).layoutMode === 'three');
});

test("the README's picture: a chest CT's bones and lungs in the 3D pane", { skip: README_SCREENSHOTS ? SKIP_WITHOUT_DATA : 'takes the README screenshot: UNET3D_E2E_README=1' }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-3d-readme', files: ['semi/ctchest'], settings: { 'files.autoSave': 'off', 'workbench.colorTheme': 'Default Dark Modern' } });
  const folder = path.join(wb.workspace, 'semi', 'ctchest');
  const segmentation = readLabelsAs(path.join(folder, 'Segmentation.seg.nrrd'));
  // The bones and lungs only: the tissue segment wraps everything else, and it and the background
  // are left unlabeled, so the slices show the CT with the structures over it.
  const kept = Object.entries(segmentation.names).filter(([, name]) => name !== 'tissue');
  const valueOf = new Map<number, number>(kept.map(([value], i) => [Number(value), i + 2]));
  const data = Uint8Array.from(segmentation.data, (v) => valueOf.get(v) ?? 0);
  const classes: LabelClass[] = [{ value: 1, name: 'background', color: defaultClassColor(1) }, ...kept.map(([, name], i) => ({ value: i + 2, name, color: defaultClassColor(i + 2) }))];
  writeLabelMapNifti(path.join(folder, 'CTChest4.labels.nii.gz'), { dims: segmentation.dims, affine: segmentation.affine, data });
  fs.writeFileSync(path.join(folder, 'CTChest4.labels.json'), serializeLabelsFile(makeLabelsFile('CTChest4.nrrd', classes)));

  const editor = new EditorDriver(wb.page);
  await editor.open('semi/ctchest/CTChest4.nrrd');
  const body = editor.view.locator('body');
  await editor.until('the fine surfaces of the labels', async () => (await body.evaluate(() => (window as unknown as { unet3dEditor: Handle }).unet3dEditor.view3d.builds())).some((b) => b.layer === 'labels' && b.level === 'fine'), 60_000);
  await editor.setCrosshair([64, 70, 20]);
  await wb.page.mouse.move(2, 2);
  await wb.page.waitForTimeout(1000);
  await wb.screenshot('editor-3d');
});
