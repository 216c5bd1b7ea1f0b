/**
 * The volume editor's files in a real VS Code: an NRRD volume's labels are also written as a
 * 3D Slicer segmentation; Revert brings the saved labels back; Save As copies the volume with
 * its labels; a volume too large for the webview is refused from its header, with the reason.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Vec3 } from '../../../src/core/geometry';
import { parseLabelsFile } from '../../../src/core/labels';
import { readVolumeFile } from '../../../src/core/readVolume';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';
import { activeGroup, notifications, OPEN_QUICK_INPUT, openQuickInput, quickOpen, runCommand, useWorkbench, waitForActiveTab } from '../workbench';
import { EditorDriver } from './editorDriver';

const NO_AUTOSAVE = { 'files.autoSave': 'off' };

async function isDirty(editor: EditorDriver): Promise<boolean> {
  return /dirty/.test((await activeGroup(editor.page).locator('.tab.active').getAttribute('class')) ?? '');
}

/** A short brush stroke of the active class on the axial pane, starting at voxel `at`. */
async function paintAxial(editor: EditorDriver, at: Vec3): Promise<void> {
  await editor.setCrosshair(at);
  const a = await editor.pagePoint('axial', at);
  await editor.page.mouse.move(a.x, a.y);
  await editor.page.mouse.down();
  await editor.page.mouse.move(a.x + 40, a.y + 10, { steps: 8 });
  await editor.page.mouse.up();
  await editor.settled();
}

test('an NRRD volume: labels saved as NIfTI and as a 3D Slicer .seg.nrrd; Revert and Save As', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-nrrd', files: ['semi/ctchest'], settings: NO_AUTOSAVE });
  const editor = new EditorDriver(wb.page);
  await editor.open('semi/ctchest/CTChest4.nrrd');
  // A CT: its window presets are offered, and it opens in the soft-tissue window.
  await editor.view.locator('.window-chip', { hasText: 'CT lung' }).waitFor({ state: 'visible' });
  assert.equal((await editor.state()).windowName, 'CT soft tissue');

  await editor.view.locator('vscode-button[data-tool="brush"]').click();
  const start: Vec3 = [64, 64, 17];
  await paintAxial(editor, start);
  assert.equal(await editor.labelAt(start), 2);
  await editor.hover('axial');
  await wb.page.keyboard.press('Control+S');
  await editor.until('the save', async () => !(await isDirty(editor)), 30_000);

  const folder = path.join(wb.workspace, 'semi', 'ctchest');
  const nifti = readVolumeFile(path.join(folder, 'CTChest4.labels.nii.gz'));
  const slicer = readVolumeFile(path.join(folder, 'CTChest4.labels.seg.nrrd'));
  assert.deepEqual(slicer.dims, nifti.dims);
  assert.deepEqual([...slicer.data], [...nifti.data]);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(slicer.affine[r][c] - nifti.affine[r][c]) < 1e-4);
  assert.deepEqual(slicer.segments?.map((s) => [s.value, s.name]), [[1, 'background'], [2, 'foreground']]);
  const ct = readVolumeFile(path.join(folder, 'CTChest4.nrrd'));
  assert.equal(nifti.data[start[0] + ct.dims[0] * (start[1] + ct.dims[1] * start[2])], 2);

  // Paint more, then Revert: the saved labels come back.
  const second: Vec3 = [40, 90, 17];
  await paintAxial(editor, second);
  assert.ok(await isDirty(editor));
  await runCommand(wb.page, 'File: Revert File');
  await editor.until('the revert', async () => (await editor.labelAt(second)) === 0);
  assert.equal(await editor.labelAt(start), 2);
  assert.ok(!(await isDirty(editor)));

  // Save As copies the volume beside its labels under the new name.
  await paintAxial(editor, second);
  // The palette's own pick waits for the quick input to close, which Save As keeps open: drive it by hand.
  await openQuickInput(wb.page, 'F1', '>File: Save As...');
  const input = wb.page.locator(`${OPEN_QUICK_INPUT} input`);
  await wb.page.locator(`${OPEN_QUICK_INPUT} .monaco-list-row`, { hasText: 'File: Save As...' }).first().click();
  // The dialog fills in the current path once it is ready; replace it then.
  await editor.until('the Save As dialog', async () => (await input.inputValue()).endsWith('CTChest4.nrrd'));
  await input.fill(path.join(folder, 'copy.nrrd'));
  await wb.page.keyboard.press('Enter');
  // The Slicer export is written last.
  await editor.until('the copy', async () => fs.existsSync(path.join(folder, 'copy.labels.seg.nrrd')), 30_000);
  assert.deepEqual(fs.readFileSync(path.join(folder, 'copy.nrrd')), fs.readFileSync(path.join(folder, 'CTChest4.nrrd')));
  const copied = readVolumeFile(path.join(folder, 'copy.labels.nii.gz'));
  assert.equal(copied.data[second[0] + ct.dims[0] * (second[1] + ct.dims[1] * second[2])], 2);
  assert.equal(parseLabelsFile(fs.readFileSync(path.join(folder, 'copy.labels.json'), 'utf8')).volume, 'copy.nrrd');
});

test('a volume too large for the webview is refused from its header, saying why', async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-too-large', files: [] });
  // A NIfTI-1 header declaring 2048 × 2048 × 1024 int16 voxels (8 GiB), and no voxels.
  const header = Buffer.alloc(352);
  header.writeInt32LE(348, 0);
  [3, 2048, 2048, 1024, 1, 1, 1, 1].forEach((v, i) => header.writeInt16LE(v, 40 + 2 * i));
  header.writeInt16LE(4, 70);
  header.writeInt16LE(16, 72);
  [1, 1, 1, 1].forEach((v, i) => header.writeFloatLE(v, 76 + 4 * i));
  header.writeFloatLE(352, 108);
  header.write('n+1\0', 344, 'latin1');
  fs.writeFileSync(path.join(wb.workspace, 'huge.nii'), header);
  await wb.page.waitForTimeout(1000);
  await quickOpen(wb.page, 'huge.nii');
  // The editor says why in place of the volume, and a notification says it too.
  const reason = await new EditorDriver(wb.page).view.locator('.reason').innerText({ timeout: 60_000 });
  assert.match(reason, /8\.0 GiB/);
  assert.match(reason, /at most 2\.0 GiB/);
  assert.match(reason, /crop or downsample/);
  assert.ok((await notifications(wb.page)).some((m) => m.includes('huge.nii') && m.includes('8.0 GiB')));
});

test('unsaved labels survive a reload of the window (hot exit: the backup restores them), and the crosshair comes back where it was', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'editor-backup', files: ['semi/spinalcord'], settings: NO_AUTOSAVE });
  const editor = new EditorDriver(wb.page);
  await editor.open('semi/spinalcord/t2.nii.gz');
  await editor.view.locator('vscode-button[data-tool="brush"]').click();
  const start: Vec3 = [30, 27, 30];
  await paintAxial(editor, start);
  assert.ok(await isDirty(editor));
  // VS Code backs dirty editors up shortly after each change, into the user data's Backups folder.
  const backups = path.join(wb.server.folders.userDataDir, 'User', 'Backups');
  const customEditorBackups = () => (fs.existsSync(backups) ? fs.readdirSync(backups, { recursive: true }).map(String).filter((f) => /vscode-custom-editor[/\\].+/.test(f) && !f.endsWith('.tmp')) : []);
  // VS Code records the editor's backup there once the extension has written the labels' backup.
  await editor.until('the backup', async () => customEditorBackups().length > 0, 30_000);
  // The page saves its view (the crosshair at the stroke, off the centre) within half a second of a change.
  await editor.page.waitForTimeout(1000);
  // Then the window goes away, through VS Code (which records the open editors and their backups first).
  const reloaded = wb.page.waitForEvent('framenavigated', { predicate: (frame) => frame === wb.page.mainFrame(), timeout: 60_000 });
  await runCommand(wb.page, 'Developer: Reload Window');
  await reloaded;
  await waitForActiveTab(wb.page, 't2.nii.gz');
  await editor.ready();
  // The page's saved state had the crosshair at the stroke: its `ready` asked the host for the
  // planes through it, and the editor resumed there.
  assert.deepEqual((await editor.state()).crosshair, start, 'the crosshair where it was, not at the centre');
  assert.equal(await editor.labelAt(start), 2);
  assert.ok(await isDirty(editor), 'restored from the backup, still unsaved');
  assert.ok(!fs.existsSync(path.join(wb.workspace, 'semi', 'spinalcord', 't2.labels.nii.gz')), 'nothing was saved');
});
