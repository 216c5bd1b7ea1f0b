/**
 * The packaged extension as a user installs it: the .vsix (test/e2e/run.ts packages it first with
 * `npm run package` and passes its path in $UNET3D_VSIX) installs into code-server
 * (`--install-extension`); its engine worker starts on the Node that runs VS Code and finds its
 * wasm binaries and Dawn beside it; the installed extension activates, opens a volume, trains a
 * tiny network on a few labeled slices and segments the volume with it (Train and Segment run with
 * arguments from code, through keybindings), writing NAME.seg.nii.gz on the volume's grid.
 * What the .vsix holds, file by file, is checked by test/unit/vsix-contents.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { readLabelsAs } from '../../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../../src/core/labelMapIO';
import { readVolumeFile } from '../../../src/core/readVolume';
import { chooseAnnotatedSlices, sparseLabels } from '../../../src/core/sparseLabels';
import { gridMismatch } from '../../../src/core/volumeFiles';
import type { BackendReport } from '../../../src/protocol/backends';
import type { RunRecord } from '../../../src/protocol/run';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';
import { installExtension } from '../codeServer';
import { toolchainPaths } from '../toolchain';
import { E2E_WORK_DIR, openViewContainer, quickOpen, runCommand, useWorkbench, viewPane, waitForActiveTab, webview } from '../workbench';
import { expectVolumeEditor } from './volumeEditor';

const VSIX = process.env.UNET3D_VSIX ?? '';
const SKIP_WITHOUT_VSIX = fs.existsSync(VSIX) ? false : `no .vsix at '${VSIX}' (run through npm run test:e2e, which packages it)`;

/** Forks a worker bundle with IPC as the extension does, asks its `probe`, prints the report as JSON. */
const PROBE_SCRIPT = `
const child = require('node:child_process').fork(process.argv[1], [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
child.on('message', (m) => {
  if (m.type === 'ready') child.send({ type: 'probe', id: 'probe' });
  else { console.log(JSON.stringify(m)); child.send({ type: 'shutdown' }); }
});`;

test("the installed engine worker starts on VS Code's Node and loads its wasm binaries and Dawn from the package", { skip: SKIP_WITHOUT_VSIX }, () => {
  const tools = toolchainPaths();
  const stateDir = path.join(E2E_WORK_DIR, 'runs', `vsix-load-${process.pid}-${Date.now().toString(36)}`);
  try {
    const folders = { userDataDir: path.join(stateDir, 'user-data'), extensionsDir: path.join(stateDir, 'extensions'), homeDir: path.join(stateDir, 'home'), logFile: path.join(stateDir, 'log') };
    installExtension(tools, VSIX, folders);
    const installed = fs.readdirSync(folders.extensionsDir).find((n) => n.startsWith('unet3d.unet3d-vscode-'));
    assert.ok(installed, `no unet3d.unet3d-vscode-* in ${folders.extensionsDir}`);
    const root = path.join(folders.extensionsDir, installed);
    assert.equal(fs.existsSync(path.join(root, 'node_modules')), false, 'the package ships no node_modules');
    const result = spawnSync(tools.node, ['-e', PROBE_SCRIPT, path.join(root, 'dist', 'worker.js')], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `the worker did not answer:\n${result.stdout}\n${result.stderr}`);
    const event = JSON.parse(result.stdout.trim().split('\n').pop()!) as { type: string; report: BackendReport };
    assert.equal(event.type, 'probeResult', result.stdout);
    const byName = Object.fromEntries(event.report.statuses.map((s) => [s.name, s]));
    assert.equal(byName.wasm?.available, true, JSON.stringify(byName.wasm));
    // Dawn is found and loads (an adapter, or a reason about the GPU, never a missing binary).
    assert.doesNotMatch(byName.webgpu?.reason ?? '', /not installed|no Dawn binary|did not load/);
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

/** Polls `read` every 500 ms until it gives a value; fails after `timeoutMs` with `what`. */
async function waitFor<T>(what: string, read: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A network and patch small enough for seconds per run on two cores: this checks the package, not the model. */
const TINY = { network: { levels: 2, baseFilters: 8 }, patchSize: [32, 32, 16], validateEvery: 6, refit: 0 };

test('the installed .vsix activates, opens a volume, trains on a few labeled slices and segments the volume', { skip: SKIP_WITHOUT_VSIX || SKIP_WITHOUT_DATA, timeout: 480_000 }, async (t) => {
  const volumeOf = (workspace: string) => path.join(workspace, 'semi', 'spinalcord', 't2.nii.gz');
  const runOf = (workspace: string) => path.join(workspace, '.unet3d', 'runs', 'vsix-run');
  const wb = await useWorkbench(t, {
    name: 'vsix',
    files: ['semi/spinalcord'],
    extension: { vsix: VSIX },
    // Train and Segment with arguments, as code calls them: a tiny network, a run of our name.
    keybindings: (workspace) => [
      {
        key: 'ctrl+alt+shift+f7',
        command: 'unet3d.train',
        args: { volumes: [volumeOf(workspace)], name: 'vsix-run', iterations: 12, validationFraction: 0.2, init: 'scratch', segmentAfter: false, unsavedLabels: 'ignore', settings: TINY },
      },
      { key: 'ctrl+alt+shift+f8', command: 'unet3d.segment', args: { run: runOf(workspace), volumes: [volumeOf(workspace)], probabilities: false } },
    ],
  });
  const volume = volumeOf(wb.workspace);
  const folder = path.dirname(volume);
  const runDir = runOf(wb.workspace);
  // A few labeled slices, made as QUALITY.md says, where the volume editor keeps them.
  const truth = readLabelsAs(path.join(folder, 't2_seg-manual.nii.gz'), 'mask');
  writeLabelMapNifti(path.join(folder, 't2.labels.nii.gz'), { dims: truth.dims, affine: truth.affine, data: sparseLabels(truth.data, truth.dims, chooseAnnotatedSlices(truth.data, truth.dims)) });

  const page = wb.page;
  // Showing the Runs view activates the extension.
  await openViewContainer(page, '3D U-Net');
  await viewPane(page, 'Runs').waitFor({ state: 'attached', timeout: 30_000 });
  await quickOpen(page, 'semi/spinalcord/t2.nii.gz');
  await waitForActiveTab(page, 't2.nii.gz');
  await expectVolumeEditor(page);
  await wb.screenshot('vsix-volume-editor');

  // Train: the installed worker (TensorFlow.js bundled in) on VS Code's Node.
  await page.keyboard.press('Control+Alt+Shift+F7');
  const record = await waitFor(
    `${runDir}/run.json to end`,
    () => {
      const file = path.join(runDir, 'run.json');
      if (!fs.existsSync(file)) return undefined;
      const run = JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
      return run.status === 'running' ? undefined : run;
    },
    240_000,
  );
  assert.equal(record.status, 'succeeded', JSON.stringify(record).slice(0, 800));

  // Segment the volume with that run: NAME.seg.nii.gz beside it, on its grid, shown over it.
  const seg = path.join(folder, 't2.seg.nii.gz');
  await page.keyboard.press('Control+Alt+Shift+F8');
  await waitFor(`${seg}`, () => (fs.existsSync(seg) ? true : undefined), 180_000);
  await webview(page).locator('.status-message').filter({ hasText: 'Prediction t2.seg.nii.gz shown' }).waitFor({ state: 'visible', timeout: 60_000 });
  assert.equal(gridMismatch(readVolumeFile(volume), readVolumeFile(seg), 't2.seg.nii.gz'), undefined);
  const segmentations = JSON.parse(fs.readFileSync(path.join(runDir, 'segmentations.json'), 'utf8')) as unknown;
  assert.match(JSON.stringify(segmentations), /t2\.seg\.nii\.gz/);

  await runCommand(page, 'Developer: Show Running Extensions');
  await page.locator('.runtime-extensions-editor').getByText('3D U-Net', { exact: true }).first().waitFor({ state: 'visible', timeout: 30_000 });
});
