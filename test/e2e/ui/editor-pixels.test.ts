/**
 * The volume editor checked from what it draws, not from its own screen mapping: the image's
 * place on the axial pane is found in the rendered pixels (a slice filled with a class shows as a
 * tinted rectangle), a voxel's screen position is computed from the volume's affine and that
 * rectangle (radiological: the patient's right on the left, anterior up), the real mouse paints
 * there, the label is read back at exactly that voxel, and the rendered pixel's colour is the
 * gray it was blended with the class colour at the label opacity.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Vec3 } from '../../../src/core/geometry';
import { readVolumeFile } from '../../../src/core/readVolume';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';
import { useWorkbench } from '../workbench';
import { EditorDriver } from './editorDriver';

const T2 = 'semi/spinalcord/t2.nii.gz';
/** The axial slice shown (t2 is PSR: voxel y runs inferior → superior). */
const SLICE = 27;
/** Where the crosshair sits while pixels are read: its lines stay far from the target voxel. */
const CROSSHAIR: Vec3 = [55, SLICE, 48];
const TARGET: Vec3 = [18, SLICE, 14];

type Rgb = [number, number, number];
/** A rectangle on the canvas, CSS px. */
interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** The axial canvas's pixels (device pixels, RGBA) and its CSS size. */
async function canvasPixels(editor: EditorDriver): Promise<{ data: number[]; width: number; height: number; cssWidth: number; cssHeight: number }> {
  return editor.canvas('axial').evaluate((canvas: HTMLCanvasElement) => {
    const ctx = canvas.getContext('2d')!;
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    const rect = canvas.getBoundingClientRect();
    return { data: Array.from(image.data), width: canvas.width, height: canvas.height, cssWidth: rect.width, cssHeight: rect.height };
  });
}

function hexRgb(hex: string): Rgb {
  const v = Number.parseInt(hex.replace('#', ''), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** composeLayers' blend of a label colour over a gray pixel at `alpha` (0–256). */
const blend = (gray: number, color: number, alpha: number) => gray + (((color - gray) * alpha) >> 8);

test('the screen position of a voxel follows from the volume geometry: paint there, read the label and the rendered colour', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-pixels', files: ['semi/spinalcord'], settings: { 'unet3d.editor.labelOpacity': 0.5 } });
  const editor = new EditorDriver(wb.page);
  await editor.open(T2);
  const volume = readVolumeFile(path.join(wb.workspace, ...T2.split('/')));
  const awayFromCanvas = () => wb.page.mouse.move(2, 2);

  // Which voxel axes the axial pane shows, from the affine: across, the one along R (world 0),
  // screen right being the patient's left; down, the one along A (world 1), screen down posterior.
  const along = (world: number) => {
    const axis = [0, 1, 2].reduce((best, a) => (Math.abs(volume.affine[world][a]) > Math.abs(volume.affine[world][best]) ? a : best), 0);
    return { axis, sign: Math.sign(volume.affine[world][axis]) };
  };
  const across = along(0);
  const down = along(1);
  assert.deepEqual([across.axis, down.axis], [2, 0], 't2 is PSR: z runs along R, x along P');
  const columns = volume.dims[across.axis];
  const rows = volume.dims[down.axis];
  // Screen right is −R: the column grows with the index where the axis points to the patient's left.
  const columnOf = (ijk: Vec3) => (across.sign < 0 ? ijk[across.axis] : columns - 1 - ijk[across.axis]);
  const rowOf = (ijk: Vec3) => (down.sign < 0 ? ijk[down.axis] : rows - 1 - ijk[down.axis]);

  // Fill the slice's unlabeled voxels with class 1 (Shift+F): the image's rectangle, tinted.
  await editor.setCrosshair(CROSSHAIR);
  await editor.hover('axial');
  await wb.page.keyboard.press('1');
  await wb.page.keyboard.press('Shift+F');
  await editor.until('the filled slice', async () => (await editor.labelAt([0, SLICE, 0])) === 1);
  await editor.settled();
  await awayFromCanvas();
  const { classes } = await editor.state();
  const class1 = hexRgb(classes[0].color);
  const class2 = hexRgb(classes.length > 1 ? classes[1].color : '#000000');
  assert.ok(class1[0] !== class1[1] || class1[1] !== class1[2], 'class 1 has a colour, not a gray');
  // A tinted pixel over gray g differs between channels by half the class colour's differences.
  const isTinted = (r: number, g: number, b: number) => Math.abs(r - g - (class1[0] - class1[1]) / 2) <= 2 && Math.abs(g - b - (class1[1] - class1[2]) / 2) <= 2 && r !== b;
  // The image's rectangle on the canvas (CSS px): the tinted pixels' bounds, once they fill most of
  // them and the same bounds are read twice (the layout has settled).
  const tintedRectangle = async (): Promise<Box> => {
    let box: Box = { left: Infinity, right: -Infinity, top: Infinity, bottom: -Infinity };
    let last = '';
    await editor.until('the tinted rectangle drawn', async () => {
      const px = await canvasPixels(editor);
      box = { left: Infinity, right: -Infinity, top: Infinity, bottom: -Infinity };
      let count = 0;
      for (let y = 0; y < px.height; y++) {
        for (let x = 0; x < px.width; x++) {
          const o = 4 * (y * px.width + x);
          if (!isTinted(px.data[o], px.data[o + 1], px.data[o + 2])) continue;
          count++;
          box = { left: Math.min(box.left, x), right: Math.max(box.right, x + 1), top: Math.min(box.top, y), bottom: Math.max(box.bottom, y + 1) };
        }
      }
      const dpr = px.width / px.cssWidth;
      box = { left: box.left / dpr, right: box.right / dpr, top: box.top / dpr, bottom: box.bottom / dpr };
      const seenBefore = last === (last = JSON.stringify(box));
      return count > 0.5 * (box.right - box.left) * (box.bottom - box.top) * dpr * dpr && seenBefore;
    });
    return box;
  };
  const box = await tintedRectangle();
  const width = box.right - box.left;
  const height = box.bottom - box.top;
  // The rectangle keeps the slice's proportions in mm.
  const mmAspect = (columns * volume.spacing[across.axis]) / (rows * volume.spacing[down.axis]);
  assert.ok(Math.abs(width / height - mmAspect) < 0.03, `the image is ${width}×${height} px, its slice ${mmAspect.toFixed(3)} wide per tall`);
  // Undo the fill: the slice is unlabeled again.
  await editor.hover('axial');
  await wb.page.keyboard.press('Control+Z');
  await editor.until('the fill undone', async () => (await editor.labelAt([0, SLICE, 0])) === 0);

  // The target voxel's centre on the page, from the geometry and the rectangle alone.
  const centreOf = (rect: Box, ijk: Vec3) => ({
    x: rect.left + ((columnOf(ijk) + 0.5) * (rect.right - rect.left)) / columns,
    y: rect.top + ((rowOf(ijk) + 0.5) * (rect.bottom - rect.top)) / rows,
  });
  const canvasBox = (await editor.canvas('axial').boundingBox())!;
  const before = centreOf(box, TARGET);
  const at = { x: canvasBox.x + before.x, y: canvasBox.y + before.y };

  // Its rendered colour before: a gray.
  await awayFromCanvas();
  const pixelAt = async (point: { x: number; y: number }): Promise<Rgb> => {
    const px = await canvasPixels(editor);
    const dpr = px.width / px.cssWidth;
    const o = 4 * (Math.floor(point.y * dpr) * px.width + Math.floor(point.x * dpr));
    return [px.data[o], px.data[o + 1], px.data[o + 2]];
  };
  await editor.until('the unfilled slice drawn', async () => {
    const [r, g, b] = await pixelAt(before);
    return r === g && g === b;
  });
  const [gray] = await pixelAt(before);

  // Class 2, the smallest brush, one click there.
  await editor.hover('axial');
  await wb.page.keyboard.press('b');
  await wb.page.keyboard.press('2');
  for (let i = 0; i < 12 && (await editor.state()).brushSize > 1; i++) await wb.page.keyboard.press('[');
  const state = await editor.state();
  assert.equal(state.brushSize, 1);
  assert.equal(state.activeClass, 2);
  await wb.page.mouse.move(at.x, at.y);
  await wb.page.mouse.down();
  await wb.page.mouse.up();
  await editor.settled();
  assert.equal(await editor.labelAt(TARGET), 2, 'the voxel under the computed point is painted');
  for (const [di, dk] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
    const neighbour: Vec3 = [TARGET[0] + di, SLICE, TARGET[2] + dk];
    assert.equal(await editor.labelAt(neighbour), 0, `its neighbour ${neighbour.join(',')} is not`);
  }

  // The rendered pixel: that gray blended with class 2's colour at the label opacity (½). The
  // click makes a stray-click warning whose lines the panes give up, so the image may have moved:
  // fill the rest of the slice with class 1 again and find the rectangle anew.
  await editor.hover('axial');
  await wb.page.keyboard.press('1');
  await wb.page.keyboard.press('Shift+F');
  await editor.until('the slice filled around the voxel', async () => (await editor.labelAt([0, SLICE, 0])) === 1);
  await editor.settled();
  await awayFromCanvas();
  const after = centreOf(await tintedRectangle(), TARGET);
  const expected = class2.map((c) => blend(gray, c, 128)) as Rgb;
  let seen: Rgb = [0, 0, 0];
  await editor.until(`the painted pixel drawn as ${expected.join(',')}`, async () => {
    seen = await pixelAt(after);
    return seen.every((v, i) => Math.abs(v - expected[i]) <= 1);
  }).catch(() => assert.fail(`the pixel at the voxel is ${seen.join(',')}, expected ${expected.join(',')} (gray ${gray} under ${class2.join(',')})`));
  assert.equal(await editor.labelAt(TARGET), 2, 'the fill kept the painted voxel');
});
