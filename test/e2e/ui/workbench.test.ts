/** The extension in a real VS Code workbench (code-server in headless Chromium). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';
import { openViewContainer, quickOpen, useWorkbench, viewPane, waitForActiveTab } from '../workbench';
import { expectVolumeEditor } from './volumeEditor';

test('the "3D U-Net" activity-bar container shows the Runs view', async (t) => {
  const wb = await useWorkbench(t, { name: 'runs-view', files: [] });
  await openViewContainer(wb.page, '3D U-Net');
  const header = viewPane(wb.page, 'Runs').locator('.pane-header');
  await header.waitFor({ state: 'attached', timeout: 30_000 });
  assert.equal(await header.getAttribute('aria-label'), 'Runs Section');
  assert.match(await wb.page.locator('.part.sidebar .composite.title').innerText(), /3D U-Net/);
  await wb.screenshot('runs-view');
});

test('a .nii.gz opened through quick open opens in the 3D U-Net volume editor', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'open-volume', files: ['semi/spinalcord'] });
  await quickOpen(wb.page, 'semi/spinalcord/t2.nii.gz');
  await waitForActiveTab(wb.page, 't2.nii.gz');
  await expectVolumeEditor(wb.page);
  await wb.screenshot('volume-editor');
});
