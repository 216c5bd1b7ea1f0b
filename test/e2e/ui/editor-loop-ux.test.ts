/**
 * What a new user trips over in the editor, checked in a real VS Code: Alt+↓ / Alt+↑ step through
 * the annotated slices every time they are pressed; a stray click makes an annotated slice that
 * the editor points out (in the status line and in the slice list); a CT opens in the soft-tissue
 * window, whose presets are all on screen; the status line is not cut off; an error that stops a
 * command is shown whole; the side bar steps aside when the editor is narrow.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Vec3 } from '../../../src/core/geometry';
import { readLabelsAs } from '../../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../../src/core/labelMapIO';
import { chooseAnnotatedSlices, sparseLabels } from '../../../src/core/sparseLabels';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';
import { OPEN_QUICK_INPUT, openQuickInput, useWorkbench } from '../workbench';
import { EditorDriver } from './editorDriver';

const T2 = 'semi/spinalcord/t2.nii.gz';

test('Alt+↓ and Alt+↑ step through the annotated slices on every press; a stray click is pointed out', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-alt-keys', files: ['semi/spinalcord'], settings: { 'files.autoSave': 'off' } });
  // Three annotated slices per axis, as the quality protocol makes them (t2 is PSR: axial slices run along y).
  const folder = path.join(wb.workspace, 'semi', 'spinalcord');
  const truth = readLabelsAs(path.join(folder, 't2_seg-manual.nii.gz'), 'mask');
  writeLabelMapNifti(path.join(folder, 't2.labels.nii.gz'), { dims: truth.dims, affine: truth.affine, data: sparseLabels(truth.data, truth.dims, chooseAnnotatedSlices(truth.data, truth.dims)) });
  const editor = new EditorDriver(wb.page);
  await editor.open(T2);
  const axial = (await editor.state()).labeledSlices.axial;
  assert.equal(axial.length, 3, JSON.stringify(axial));
  const start = (await editor.state()).crosshair;
  await editor.setCrosshair([start[0], 0, start[2]]);
  await editor.hover('axial');

  const visited: number[] = [];
  for (let press = 0; press < 3; press++) {
    await wb.page.keyboard.press('Alt+ArrowDown');
    await editor.until(`press ${press + 1} of Alt+↓`, async () => (await editor.state()).slices.axial === axial[press]);
    visited.push((await editor.state()).slices.axial);
  }
  assert.deepEqual(visited, axial, 'each press goes to the next annotated slice');
  await wb.page.keyboard.press('Alt+ArrowDown');
  await editor.waitForMessage(/^No labeled axial slice after this one\.$/);
  assert.equal((await editor.state()).slices.axial, axial[2], 'past the last one it stays');
  for (const expected of [axial[1], axial[0]]) {
    await wb.page.keyboard.press('Alt+ArrowUp');
    await editor.until(`Alt+↑ to ${expected}`, async () => (await editor.state()).slices.axial === expected);
  }
  // Plain arrows still step one slice.
  await wb.page.keyboard.press('ArrowUp');
  await editor.until('↑ steps one slice', async () => (await editor.state()).slices.axial === axial[0] + 1);

  // A stray click with the brush on a slice with no labels makes it an annotated slice: said at once.
  const stray = axial[0] + 3;
  const where: Vec3 = [30, stray, 10];
  await editor.setCrosshair(where);
  await editor.hover('axial');
  await wb.page.keyboard.press('b');
  await editor.until('the brush', async () => (await editor.state()).tool === 'brush');
  await wb.page.keyboard.press('[');
  await wb.page.keyboard.press('[');
  await wb.page.keyboard.press('[');
  await wb.page.keyboard.press('[');
  const point = await editor.pagePoint('axial', where);
  await wb.page.mouse.click(point.x, point.y);
  await editor.settled();
  const warning = await editor.waitForMessage(/is now an annotated slice with only/);
  assert.match(warning, new RegExp(`^Axial slice ${stray + 1} of 55 is now an annotated slice with only \\d+ voxels?: training learns from every annotated slice`));
  assert.equal(await editor.view.locator('.status-message').getAttribute('data-level'), 'warning');
  // The slice list shows it with its count, set apart from the real annotations.
  const chip = editor.view.locator(`.labeled-row[data-plane="axial"] .slice-chip[data-slice="${stray}"]`);
  assert.match(await chip.getAttribute('class') ?? '', /nearly-empty/);
  assert.match((await chip.getAttribute('title')) ?? '', /Almost empty/);
  const real = editor.view.locator(`.labeled-row[data-plane="axial"] .slice-chip[data-slice="${axial[0]}"]`);
  assert.doesNotMatch((await real.getAttribute('class')) ?? '', /nearly-empty/);
  assert.match(await real.locator('.slice-chip-count').innerText(), /^\d+(\.\d)?k?$/);
});

test('a CT opens in the soft-tissue window, every window preset is on screen, the status line is whole', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-ct-window', files: ['semi/spleen'] });
  const editor = new EditorDriver(wb.page);
  await editor.open('semi/spleen/sub-spleen2_ct.nii.gz');
  const state = await editor.state();
  assert.equal(state.windowName, 'CT soft tissue');
  assert.deepEqual(state.window, { width: 400, level: 40 });
  // The presets are buttons, each inside the editor's window (a drop-down list was cut off).
  const chips = editor.view.locator('.window-chip');
  assert.deepEqual(await chips.allInnerTexts(), ['Automatic', 'Full range', '2–98 %', 'CT soft tissue', 'CT lung', 'CT bone', 'CT brain', 'CT abdomen', 'Custom']);
  const viewport = await editor.view.locator('body').evaluate(() => ({ width: window.innerWidth, height: window.innerHeight }));
  for (let i = 0; i < (await chips.count()); i++) {
    const inside = await chips.nth(i).evaluate((el) => {
      const r = el.getBoundingClientRect();
      return r.right <= window.innerWidth && r.bottom <= window.innerHeight && r.width > 0;
    });
    assert.ok(inside, `window preset ${i} is not on screen in ${viewport.width}×${viewport.height}`);
  }
  assert.equal(await editor.view.locator('.window-chip.selected').innerText(), 'CT soft tissue');
  await editor.view.locator('.window-chip', { hasText: 'CT abdomen' }).click();
  await editor.until('the abdomen window', async () => (await editor.state()).window.width === 350);
  // The voxel readout and the file information each fit (the line wraps rather than cuts).
  await editor.hover('axial');
  const box = await editor.canvas('axial').boundingBox();
  await wb.page.mouse.move(box!.x + box!.width / 2, box!.y + box!.height / 2);
  await editor.until('the voxel readout', async () => /^Voxel /.test(await editor.view.locator('.status-voxel').innerText()));
  for (const part of ['.status-voxel', '.status-message']) {
    const [scroll, client] = await editor.view.locator(part).evaluate((el) => [el.scrollWidth, el.clientWidth]);
    assert.ok(scroll <= client + 1, `${part} is cut off: ${scroll} px of text in ${client} px`);
  }
});

test('an error that stops a command is shown whole; the side bar steps aside on a narrow editor', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-error-narrow', files: ['semi/spinalcord'] });
  const editor = new EditorDriver(wb.page);
  await editor.open(T2);
  // Train on a volume with no labels yet: a dialog with the whole sentence, not a cut toast.
  await openQuickInput(wb.page, 'F1', '>3D U-Net: Train');
  await wb.page.locator(`${OPEN_QUICK_INPUT} .monaco-list-row`, { hasText: '3D U-Net: Train' }).first().click();
  const first = wb.page.locator(`${OPEN_QUICK_INPUT} .monaco-list-row`, { hasText: 't2.nii.gz' }).first();
  await first.waitFor({ state: 'visible', timeout: 30_000 });
  assert.doesNotMatch(await first.innerText(), /last used/, 'a volume never trained is not "last used"');
  await first.click();
  const dialog = wb.page.locator('.monaco-dialog-box');
  await dialog.waitFor({ state: 'visible', timeout: 30_000 });
  const text = await dialog.innerText();
  assert.match(text, /3D U-Net cannot train/);
  assert.match(text, /No label file beside t2\.nii\.gz: paint a few slices in the volume editor and save them first\./);
  await wb.page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });

  // A narrow editor: the side bar hides and a strip brings it back.
  const sidebar = editor.view.locator('aside.sidebar');
  assert.ok(await sidebar.isVisible());
  await wb.page.setViewportSize({ width: 900, height: 800 });
  await editor.until('the side bar hidden', async () => !(await sidebar.isVisible()));
  const panes = await editor.canvas('axial').boundingBox();
  assert.ok(panes && panes.width > 200, `the panes keep ${panes?.width} px`);
  await editor.view.locator('.sidebar-show').click();
  await editor.until('the side bar shown again', async () => sidebar.isVisible());
  await editor.view.locator('.sidebar-hide').click();
  await editor.until('hidden by the user', async () => !(await sidebar.isVisible()));
});
