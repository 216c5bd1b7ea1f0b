/**
 * The Runs view's row actions as a user reaches them, from the row's context menu in a real VS
 * Code: "Segment with This Run" (asks which volume, segments it, shows the overlay), "Reveal in
 * Explorer", "Rename Run…" through its input box, "Delete Run…" through its confirmation dialog
 * (Cancel keeps the run, Delete removes it). The run is trained beforehand with the CLI.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { readLabelsAs } from '../../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../../src/core/labelMapIO';
import { readVolumeFile } from '../../../src/core/readVolume';
import { chooseAnnotatedSlices, sparseLabels } from '../../../src/core/sparseLabels';
import { gridMismatch } from '../../../src/core/volumeFiles';
import { REPO_ROOT, SKIP_WITHOUT_DATA } from '../../helpers/data';
import { OPEN_QUICK_INPUT, openViewContainer, runCommand, treeItems, useWorkbench, viewPane } from '../workbench';
import { EditorDriver } from './editorDriver';

const T2 = 'semi/spinalcord/t2.nii.gz';
const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');

/** Opens the context menu of the Runs view's row labelled `name` and picks `action`. */
async function rowAction(page: Page, name: string, action: string): Promise<void> {
  const row = viewPane(page, 'Runs').locator('.monaco-list-row', { hasText: name }).first();
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  await row.click({ button: 'right' });
  const item = page.getByRole('menuitem', { name: action });
  await item.waitFor({ state: 'visible', timeout: 10_000 });
  // VS Code's menu ignores a click that comes too soon after it opened: click until it closes.
  for (let attempt = 1; ; attempt++) {
    await item.click();
    try {
      await item.waitFor({ state: 'hidden', timeout: 3_000 });
      return;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/** Whether a row's text (label then description: "IoU 0.812" + "10:15 · NAME · …") is the run named `name`. */
const isRun = (row: string, name: string) => new RegExp(`· ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( ·|$)`).test(row);

/** Polls the Runs view's rows until `ok` holds for them. */
async function waitForRows(page: Page, what: string, ok: (rows: string[]) => boolean, timeoutMs = 30_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await treeItems(page, 'Runs');
    if (ok(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the Runs view shows: ${rows.join(' | ')}`);
    await page.waitForTimeout(300);
  }
}

test('Runs view: segment with a run, reveal it, rename it and delete it through their dialogs', { skip: SKIP_WITHOUT_DATA || (!fs.existsSync(CLI) && 'dist/cli.js is not built') }, async (t) => {
  const wb = await useWorkbench(t, { name: 'runs-actions', files: ['semi/spinalcord'] });
  const folder = path.join(wb.workspace, 'semi', 'spinalcord');
  const image = path.join(folder, 't2.nii.gz');
  // Sparse labels as QUALITY.md makes them, and a tiny run trained on them with the CLI.
  const truth = readLabelsAs(path.join(folder, 't2_seg-manual.nii.gz'), 'mask');
  writeLabelMapNifti(path.join(folder, 't2.labels.nii.gz'), { dims: truth.dims, affine: truth.affine, data: sparseLabels(truth.data, truth.dims, chooseAnnotatedSlices(truth.data, truth.dims)) });
  const runsDir = path.join(wb.workspace, '.unet3d', 'runs');
  const runDir = path.join(runsDir, 'cli-run');
  const trained = spawnSync(
    process.execPath,
    [CLI, 'train', '--image', image, '--labels', path.join(folder, 't2.labels.nii.gz'), '--out', runDir, '--levels', '2', '--base-filters', '4', '--patch', '16,16,16', '--iterations', '4', '--backend', 'cpu'],
    { encoding: 'utf8', timeout: 180_000 },
  );
  assert.equal(trained.status, 0, trained.stderr);

  const editor = new EditorDriver(wb.page);
  await editor.open(T2);
  await openViewContainer(wb.page, '3D U-Net');
  await runCommand(wb.page, '3D U-Net: Refresh Runs');
  await waitForRows(wb.page, 'the trained run', (rows) => rows.some((r) => isRun(r, 'cli-run')));

  // Segment with This Run: it asks which volumes, the open one first.
  await rowAction(wb.page, 'cli-run', 'Segment with This Run');
  const openVolume = wb.page.locator(`${OPEN_QUICK_INPUT} .monaco-list-row`, { hasText: 'The open volume' }).first();
  await openVolume.waitFor({ state: 'visible', timeout: 30_000 });
  await openVolume.click();
  const out = path.join(folder, 't2.seg.nii.gz');
  await editor.until('the overlay of the segmentation', async () => (await editor.state()).prediction === 't2.seg.nii.gz', 120_000);
  assert.equal(gridMismatch(readVolumeFile(image), readVolumeFile(out), 'the segmentation'), undefined, 'the segmentation lies on the volume grid');
  const segmentations = JSON.parse(fs.readFileSync(path.join(runDir, 'segmentations.json'), 'utf8')) as unknown;
  assert.match(JSON.stringify(segmentations), /t2\.seg\.nii\.gz/, 'the run records the segmentation');

  // Reveal in Explorer: the Explorer shows the run's folder, selected.
  await rowAction(wb.page, 'cli-run', 'Reveal in Explorer');
  const revealed = wb.page.locator('.explorer-folders-view .monaco-list-row.selected', { hasText: 'cli-run' });
  await revealed.first().waitFor({ state: 'visible', timeout: 60_000 });

  // Rename Run…: the input box offers the current name; the folder is renamed.
  await openViewContainer(wb.page, '3D U-Net');
  await rowAction(wb.page, 'cli-run', 'Rename Run…');
  const input = wb.page.locator(`${OPEN_QUICK_INPUT} input`);
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  assert.equal(await input.inputValue(), 'cli-run');
  await input.fill('renamed run');
  await input.press('Enter');
  await waitForRows(wb.page, 'the renamed run', (rows) => rows.some((r) => isRun(r, 'renamed run')) && !rows.some((r) => isRun(r, 'cli-run')));
  const renamed = path.join(runsDir, 'renamed run');
  assert.ok(fs.existsSync(path.join(renamed, 'run.json')) && !fs.existsSync(runDir), 'the folder was renamed');

  // Delete Run…: Cancel in the confirmation keeps it; Delete removes it.
  const dialog = wb.page.locator('.monaco-dialog-box');
  await rowAction(wb.page, 'renamed run', 'Delete Run…');
  await dialog.waitFor({ state: 'visible', timeout: 10_000 });
  assert.match(await dialog.innerText(), /Delete the run renamed run\?/);
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.ok(fs.existsSync(renamed), 'Cancel keeps the run');
  await rowAction(wb.page, 'renamed run', 'Delete Run…');
  await dialog.waitFor({ state: 'visible', timeout: 10_000 });
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await waitForRows(wb.page, 'the run gone', (rows) => !rows.some((r) => isRun(r, 'renamed run')));
  assert.equal(fs.existsSync(renamed), false, 'Delete removed the folder');
  assert.ok(fs.existsSync(out), 'the segmentation beside the volume stays');
});
