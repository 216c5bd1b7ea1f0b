/**
 * Restricted Mode in a real VS Code (workspace trust kept on, the folder untrusted): volumes open
 * and are painted and saved; Train, Segment, Evaluate and Suggest Next Slice each say why they
 * are disabled and write nothing; the Runs view says so too.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Vec3 } from '../../../src/core/geometry';
import { readVolumeFile } from '../../../src/core/readVolume';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';
import { activeGroup, E2E_WORK_DIR, openViewContainer, runCommand, useWorkbench, waitForNotification } from '../workbench';
import { EditorDriver } from './editorDriver';

const T2 = 'semi/spinalcord/t2.nii.gz';

test('Restricted Mode: a volume is viewed, painted and saved; Train, Segment, Evaluate and Suggest Next Slice say why they are disabled', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'restricted-mode', files: ['semi/spinalcord'], workspaceTrust: true, settings: { 'files.autoSave': 'off' } });
  // VS Code itself says the workspace is restricted.
  await wb.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'visible', timeout: 60_000 });

  const editor = new EditorDriver(wb.page);
  await editor.open(T2);
  const state = await editor.state();
  assert.deepEqual(state.dims, [60, 55, 52], 'the volume is shown');

  // Painting: one stroke with the brush on the axial pane, then Save.
  await editor.hover('axial');
  await wb.page.keyboard.press('b');
  await editor.until('the brush tool', async () => (await editor.state()).tool === 'brush');
  const start: Vec3 = [30, 27, 34];
  await editor.setCrosshair(start);
  await editor.stroke('axial', start, [30, 27, 26]);
  await editor.settled();
  const value = (await editor.state()).activeClass;
  assert.ok(value > 0);
  assert.equal(await editor.labelAt(start), value, 'the stroke painted its first voxel');
  await editor.hover('axial');
  await wb.page.keyboard.press('Control+S');
  const tab = activeGroup(wb.page).locator('.tab.active');
  await editor.until('the save', async () => !/dirty/.test((await tab.getAttribute('class')) ?? ''), 30_000);
  const saved = readVolumeFile(path.join(wb.workspace, 'semi', 'spinalcord', 't2.labels.nii.gz'));
  assert.equal(saved.data[start[0] + 60 * (start[1] + 55 * start[2])], value, 'the saved label file holds the stroke');

  // Each command of the loop explains itself and does nothing.
  const commands: [string, string][] = [
    ['3D U-Net: Train', 'Training'],
    ['3D U-Net: Segment', 'Segmenting'],
    ['3D U-Net: Evaluate', 'Evaluation'],
    ['3D U-Net: Suggest Next Slice', 'Suggest Next Slice'],
  ];
  for (const [title, what] of commands) {
    // The volume's tab, clicked: the workbench has the keyboard (not the webview) for F1.
    await tab.click();
    await runCommand(wb.page, title);
    const wanted = `3D U-Net: ${what} is disabled in Restricted Mode.`;
    const messages = await waitForNotification(wb.page, wanted, 20_000).catch(async (error: Error) => {
      await wb.page.screenshot({ path: path.join(E2E_WORK_DIR, 'logs', `restricted-mode-${what}.png`) }).catch(() => undefined);
      return assert.fail(`after ${title}: ${error.message}`);
    });
    assert.match(messages.find((m) => m.includes(wanted))!, /trust this workspace to use it/);
  }
  assert.equal(fs.existsSync(path.join(wb.workspace, '.unet3d')), false, 'no run folder was written');
  assert.equal(fs.existsSync(path.join(wb.workspace, 'semi', 'spinalcord', 't2.seg.nii.gz')), false, 'no segmentation was written');

  // The Runs view says why it offers nothing to run.
  await openViewContainer(wb.page, '3D U-Net');
  // (The container holds one view, so the side bar shows it without a pane header.)
  await wb.page.locator('.part.sidebar').getByText('Restricted Mode: training, segmenting and evaluating are disabled.').first().waitFor({ state: 'visible', timeout: 30_000 });
});
