/**
 * The loop as a user runs it, in a real VS Code workbench: open a labeled volume, "3D U-Net:
 * Train" through its quick picks, watch the run appear in the Runs view with its IoU, "3D U-Net:
 * Segment", see the prediction overlay in the editor, "Suggest Next Slice", and open the
 * training curves. Saves the README's screenshots (loop.png, curves.png).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { readLabelsAs } from '../../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../../src/core/labelMapIO';
import { readVolumeFile } from '../../../src/core/readVolume';
import { chooseAnnotatedSlices, sparseLabels } from '../../../src/core/sparseLabels';
import { gridMismatch } from '../../../src/core/volumeFiles';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';
import { OPEN_QUICK_INPUT, openQuickInput, openViewContainer, quickOpen, runCommand, treeItems, useWorkbench, viewPane, waitForActiveTab, waitForNotification, webview } from '../workbench';
import type { PlaneName } from '../../../src/core/planes';
import { rimWidth } from '../../../src/core/sliceEntropy';
import { EditorDriver } from './editorDriver';
import { expectVolumeEditor } from './volumeEditor';

/**
 * UNET3D_E2E_README=1: train the fast preset's own network for the README's screenshots. That
 * takes longer than the runner's 5 minutes per file on two cores: run the bundle that
 * `UNET3D_E2E_KEEP=1 npm run test:e2e -- loop` leaves in .test-work/e2e/bundles-<id>/ui/ directly:
 * `UNET3D_E2E_README=1 node --test .test-work/e2e/bundles-<id>/ui/loop.test.js`.
 */
const README_SCREENSHOTS = process.env.UNET3D_E2E_README === '1';
const ITERATIONS = README_SCREENSHOTS ? 150 : 60;


/** Clicks the entry holding `text` in the quick pick that is (or is about to be) shown. */
async function pickEntry(page: Page, text: string): Promise<void> {
  const row = page.locator(`${OPEN_QUICK_INPUT} .monaco-list-row`, { hasText: text }).first();
  await row.waitFor({ state: 'visible', timeout: 30_000 });
  // The mouse rests where the last pick was clicked: over a row of this list its hover (the
  // item's description) would cover the row to click. Away first, then the click comes before
  // any new hover shows.
  await page.mouse.move(1, 1);
  await page.locator('.monaco-hover, .context-view .monaco-hover-content').first().waitFor({ state: 'hidden', timeout: 2_000 }).catch(() => undefined);
  await row.click();
}

/**
 * Starts a palette command that asks with quick picks of its own (the harness's runCommand
 * waits for the quick input to close, which such a command keeps open).
 */
async function startCommand(page: Page, title: string): Promise<void> {
  await openQuickInput(page, 'F1', `>${title}`);
  await pickEntry(page, title);
}

/** A row of the Runs view as shown: its label, its description, and whether the label is cut off. */
interface ShownRow {
  label: string;
  description: string;
  /** The label's right edge lies beyond what the row shows (it would end in "…"). */
  labelCut: boolean;
}

async function shownRows(page: Page): Promise<ShownRow[]> {
  return viewPane(page, 'Runs')
    .locator('.monaco-list-row')
    .evaluateAll((rows) =>
      rows.map((row) => {
        const container = row.querySelector('.monaco-icon-label-container');
        const name = row.querySelector('.label-name');
        const right = container?.getBoundingClientRect().right ?? 0;
        return {
          label: (name?.textContent ?? '').trim(),
          description: (row.querySelector('.label-description')?.textContent ?? '').trim(),
          labelCut: !name || name.getBoundingClientRect().right > right + 0.5,
        };
      }),
    );
}

/** Polls the Runs view until a row's label and description match; returns that row. */
async function waitForRun(page: Page, label: RegExp, timeoutMs: number, description = /./): Promise<ShownRow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = (await shownRows(page)).find((r) => label.test(r.label) && description.test(r.description));
    if (row) return row;
    if (Date.now() > deadline) throw new Error(`no run matching ${label} in the Runs view: ${(await treeItems(page, 'Runs')).join(' | ')}`);
    await page.waitForTimeout(500);
  }
}

test('train, see the run and its IoU, segment, see the overlay, suggest the next slice, show the curves', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, {
    name: 'loop',
    files: ['semi/spinalcord'],
    settings: README_SCREENSHOTS
      ? // The preset's network, trained long enough for a prediction worth showing (minutes).
        { 'unet3d.training.iterations': ITERATIONS, 'unet3d.training.advanced': { validateEvery: 25 } }
      : // A tiny network and budget: this checks the loop, not the model.
        {
          'unet3d.training.iterations': ITERATIONS,
          'unet3d.training.levels': 2,
          'unet3d.training.baseFilters': 8,
          'unet3d.training.advanced': { patchSize: [32, 32, 16], validateEvery: 10 },
        },
  });
  const folder = path.join(wb.workspace, 'semi', 'spinalcord');
  // A few labeled slices, made as QUALITY.md says, where the volume editor keeps them.
  const truth = readLabelsAs(path.join(folder, 't2_seg-manual.nii.gz'), 'mask');
  writeLabelMapNifti(path.join(folder, 't2.labels.nii.gz'), { dims: truth.dims, affine: truth.affine, data: sparseLabels(truth.data, truth.dims, chooseAnnotatedSlices(truth.data, truth.dims)) });

  const page = wb.page;
  await quickOpen(page, 'semi/spinalcord/t2.nii.gz');
  await waitForActiveTab(page, 't2.nii.gz');
  await expectVolumeEditor(page);
  await openViewContainer(page, '3D U-Net');
  await viewPane(page, 'Runs').waitFor({ state: 'visible' });

  const trainStarted = Date.now();
  await startCommand(page, '3D U-Net: Train');
  await pickEntry(page, 't2.nii.gz'); // the open volume (semi-automated)
  await pickEntry(page, 'fast');
  await pickEntry(page, `${ITERATIONS} iterations`);
  await pickEntry(page, '20 % of the annotated slices');
  // The row leads with what matters, whole at the side bar's default width: the live iteration
  // (and IoU), then when and which run; the long folder name is in the tooltip.
  const running = await waitForRun(page, /^iteration \d+\/\d+/, 60_000, /^\d\d:\d\d · t2$/);
  assert.equal(running.labelCut, false, `"${running.label}" is cut off`);
  // While it trains, the editor previews the network on the planes through the crosshair.
  await webview(page).locator('.status-message', { hasText: /preview at iteration \d+/ }).first().waitFor({ state: 'visible', timeout: 120_000 });
  await page.locator('.statusbar-item', { hasText: 'Training t2' }).first().waitFor({ state: 'visible', timeout: 30_000 });
  const done = await waitForRun(page, /^IoU \d\.\d{3}$/, README_SCREENSHOTS ? 1_200_000 : 300_000, /^\d\d:\d\d · t2( · refit on all \d+ slices)?$/);
  assert.equal(done.labelCut, false, `"${done.label}" is cut off`);
  const runDir = fs.readdirSync(path.join(wb.workspace, '.unet3d', 'runs')).find((n) => /^\d{8}-\d{6}-t2$/.test(n))!;
  console.log(`# trained through the quick picks in ${((Date.now() - trainStarted) / 1000).toFixed(1)} s: ${done.label} (${runDir})`);

  await startCommand(page, '3D U-Net: Segment');
  await pickEntry(page, 't2.nii.gz');
  // The Train above segmented the volume already and the status said so: this Segment's overlay is
  // announced the same way, just before its report (a slow machine announced it during Suggest
  // Next Slice below, over the suggestion).
  await waitForNotification(page, 't2.seg.nii.gz written with', 120_000);
  const status = webview(page).locator('.status-message');
  await status.filter({ hasText: 'Prediction t2.seg.nii.gz shown' }).waitFor({ state: 'visible', timeout: 120_000 });
  const seg = readVolumeFile(path.join(folder, 't2.seg.nii.gz'));
  assert.equal(gridMismatch(readVolumeFile(path.join(folder, 't2.nii.gz')), seg, 't2.seg.nii.gz'), undefined);

  // Expand the run: IoU per class, volumes, settings, segmentations.
  const runRow = viewPane(page, 'Runs').locator('.monaco-list-row', { has: page.locator('.label-name', { hasText: done.label }) }).first();
  await runRow.click();
  await waitForRun(page, /^foreground$/, 10_000, /^IoU \d\.\d{3}$/);
  await wb.screenshot('loop');

  // Suggest Next Slice names the slices as the pane headers number them, and goes there.
  await runCommand(page, '3D U-Net: Suggest Next Slice');
  await status.filter({ hasText: 'Least certain' }).waitFor({ state: 'visible', timeout: 60_000 });
  const suggestion = await status.innerText();
  const named = [...suggestion.matchAll(/(axial|coronal|sagittal) (\d+) of (\d+)/g)];
  assert.equal(named.length, 3, suggestion);
  const editor = new EditorDriver(page);
  for (const [, plane, number, count] of named) {
    assert.equal(await editor.paneSlice(plane as PlaneName), `${number} / ${count}`, `${plane} in "${suggestion}"`);
    const rim = rimWidth(Number(count));
    assert.ok(Number(number) > rim && Number(number) <= Number(count) - rim, `${plane} ${number} of ${count} lies on the volume's rim`);
  }

  // The run's inline action (its context menu holds the same): the curves open in the panel,
  // and the editor keeps its width.
  // The editor's webview (the first one made; the curves' comes after it).
  const editorFrame = page.locator('iframe.webview.ready >> visible=true').first();
  const paneWidth = (await editorFrame.boundingBox())!.width;
  await runRow.hover();
  await runRow.locator('.action-label[aria-label="Show Training Curves"]').click();
  const curves = page.frameLocator('iframe.webview.ready >> visible=true').last().frameLocator('#active-frame');
  await curves.locator('#plot svg path.line.s0').waitFor({ state: 'attached', timeout: 30_000 });
  assert.match(await curves.locator('#summary').innerText(), new RegExp(`${runDir} · succeeded · iteration ${ITERATIONS}/${ITERATIONS}`));
  // The webview lies over the bottom panel (webviews are drawn over the part that holds them).
  const frame = await page.locator('iframe.webview.ready >> visible=true').last().boundingBox();
  const panel = await page.locator('.part.panel').boundingBox();
  assert.ok(frame && panel, 'the panel and the curves are shown');
  assert.ok(frame.y >= panel.y - 2 && frame.y + frame.height <= panel.y + panel.height + 2, `the curves (y ${frame.y}–${frame.y + frame.height}) are not in the panel (y ${panel.y}–${panel.y + panel.height})`);
  const widthAfter = (await editorFrame.boundingBox())!.width;
  assert.ok(widthAfter >= 0.95 * paneWidth, `the editor went from ${paneWidth} to ${widthAfter} px wide`);
  await wb.screenshot('curves');
  assert.ok(fs.existsSync(path.join(folder, 't2.labels.nii.gz')));

  // Closing the window ends a training's worker: start a long one, close the page, and the
  // extension host (gone after the reconnection grace) leaves no worker behind.
  await startCommand(page, '3D U-Net: Train');
  await pickEntry(page, 't2.nii.gz');
  await pickEntry(page, 'fast');
  await pickEntry(page, '5000 iterations');
  await pickEntry(page, '20 % of the annotated slices');
  await pickEntry(page, 'Continue from'); // a run of this volume exists: it starts from there by default
  await waitForRun(page, /^iteration [1-9]/, 90_000);
  assert.equal(workersOf(wb.server.pid).length, 1, 'one worker for the training');
  await page.close();
  const deadline = Date.now() + 60_000;
  while (workersOf(wb.server.pid).length > 0) {
    assert.ok(Date.now() < deadline, `workers still running a minute after the window closed: ${workersOf(wb.server.pid).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
});

/** Engine workers (dist/worker.js) in the process group of the VS Code server `pgid` (Linux /proc). */
function workersOf(pgid: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || Number(fields[2]) !== pgid) continue;
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(path.join('dist', 'worker.js'))) out.push(Number(name));
    } catch {
      // gone while we looked
    }
  }
  return out;
}
