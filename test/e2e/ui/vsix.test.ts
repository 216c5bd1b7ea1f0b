/**
 * The packaged extension: what the .vsix holds, that what its bundles load at run time is in it
 * and loads, and that it installs into code-server (`--install-extension`), activates and opens a
 * volume. test/e2e/run.ts packages it first (`npm run package`) and passes its path in
 * $UNET3D_VSIX.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, SKIP_WITHOUT_DATA } from '../../helpers/data';
import { installExtension } from '../codeServer';
import { toolchainPaths } from '../toolchain';
import { dependencyClosure, packageOf, readZip, requiredModules } from '../vsix';
import { E2E_WORK_DIR, openViewContainer, quickOpen, runCommand, useWorkbench, viewPane, waitForActiveTab } from '../workbench';
import { expectVolumeEditor } from './volumeEditor';

const VSIX = process.env.UNET3D_VSIX ?? '';
const SKIP_WITHOUT_VSIX = fs.existsSync(VSIX) ? false : `no .vsix at '${VSIX}' (run through npm run test:e2e, which packages it)`;

interface Manifest {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** The .vsix's files under extension/, and the modules its bundles require by name (beyond vscode and optional backends). */
function contents(): { files: Map<string, Buffer>; requires: string[] } {
  const files = new Map([...readZip(VSIX)].filter(([f]) => f.startsWith('extension/')).map(([f, data]) => [f.slice('extension/'.length), data]));
  const manifest = JSON.parse(files.get('package.json')!.toString()) as Manifest;
  const optional = new Set(Object.keys(manifest.optionalDependencies ?? {}));
  const requires = new Set<string>();
  for (const [file, data] of files) {
    if (!/^dist\/[^/]+\.js$/.test(file)) continue;
    for (const spec of requiredModules(data.toString())) if (spec !== 'vscode' && !optional.has(packageOf(spec))) requires.add(spec);
  }
  return { files, requires: [...requires].sort() };
}

test('the .vsix holds the bundles, media and the packages they load, and no sources, tests or maps', { skip: SKIP_WITHOUT_VSIX }, () => {
  const { files, requires } = contents();
  for (const required of ['package.json', 'readme.md', 'dist/extension.js', 'media/unet3d.svg']) {
    assert.ok(files.has(required), `${required} is missing from the .vsix`);
  }
  // Of docs/, only the screenshots the README and the walkthrough show.
  const unwanted = [...files.keys()].filter((f) => /^(src|test|webview|scripts|\.ci|\.vscode|\.test-work)\//.test(f) || /^docs\/(?!screenshots\/[\w-]+\.png$)/.test(f) || /\.(map|ts)$/.test(f));
  assert.deepEqual(unwanted.slice(0, 10), [], 'sources, tests or source maps went into the .vsix');
  // The README's pictures resolve inside the package (the Details page shows them from there).
  const readme = files.get('readme.md')?.toString() ?? '';
  for (const [, image] of readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) assert.ok(files.has(image), `the README shows ${image}, which is not in the .vsix`);
  for (const required of ['LICENSE.txt', 'changelog.md', 'media/icon.png']) assert.ok(files.has(required) || files.has(required.toLowerCase()) || files.has(required.replace('.txt', '')), `${required} is missing`);

  // Every package a bundle requires ships, and so does each dependency of those, where Node finds it.
  const shipped = dependencyClosure([...new Set(requires.map(packageOf))], (dir) => {
    const manifest = files.get(`${dir}/package.json`);
    return manifest ? (JSON.parse(manifest.toString()) as Manifest) : undefined;
  });
  // WebAssembly binaries are read from the package folders at run time: all of them ship.
  for (const pkg of shipped) {
    const local = path.join(REPO_ROOT, pkg.dir);
    const wasm = fs.existsSync(local) ? fs.readdirSync(local, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.wasm')) : [];
    for (const file of wasm) assert.ok(files.has(`${pkg.dir}/${file}`), `${pkg.dir}/${file} is missing from the .vsix`);
  }
});

test('the installed extension loads what its bundles require, with the Node that runs VS Code', { skip: SKIP_WITHOUT_VSIX }, () => {
  const tools = toolchainPaths();
  const stateDir = path.join(E2E_WORK_DIR, 'runs', `vsix-load-${process.pid}-${Date.now().toString(36)}`);
  try {
    const folders = { userDataDir: path.join(stateDir, 'user-data'), extensionsDir: path.join(stateDir, 'extensions'), homeDir: path.join(stateDir, 'home'), logFile: path.join(stateDir, 'log') };
    installExtension(tools, VSIX, folders);
    const installed = fs.readdirSync(folders.extensionsDir).find((n) => n.startsWith('unet3d.unet3d-vscode-'));
    assert.ok(installed, `no unet3d.unet3d-vscode-* in ${folders.extensionsDir}`);
    const { requires } = contents();
    // Require each as dist/worker.js would; with the wasm backend shipped, run one op on it.
    const script = `
      const req = require('node:module').createRequire(require('node:path').join(process.cwd(), 'dist', 'worker.js'));
      for (const spec of ${JSON.stringify(requires)}) req(spec);
      (async () => {
        if (!${JSON.stringify(requires)}.includes('@tensorflow/tfjs')) return console.log('loaded');
        const tf = req('@tensorflow/tfjs');
        req('@tensorflow/tfjs-backend-wasm');
        if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
        console.log('loaded', tf.getBackend(), Array.from(tf.add(tf.tensor([1, 2]), 1).dataSync()).join(','));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const result = spawnSync(tools.node, ['-e', script], { cwd: path.join(folders.extensionsDir, installed), encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, `loading the installed extension's packages failed:\n${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^loaded( wasm 2,3)?$/m);
  } finally {
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
});

test('the .vsix installs into code-server, activates and opens a volume', { skip: SKIP_WITHOUT_VSIX || SKIP_WITHOUT_DATA }, async (t) => {
  const wb = await useWorkbench(t, { name: 'vsix', files: ['semi/spinalcord'], extension: { vsix: VSIX } });
  // Showing the Runs view activates the extension (onView:unet3d.runs).
  await openViewContainer(wb.page, '3D U-Net');
  await viewPane(wb.page, 'Runs').waitFor({ state: 'attached', timeout: 30_000 });
  await quickOpen(wb.page, 'semi/spinalcord/t2.nii.gz');
  await waitForActiveTab(wb.page, 't2.nii.gz');
  await expectVolumeEditor(wb.page);
  await wb.screenshot('vsix-volume-editor');

  await runCommand(wb.page, 'Developer: Show Running Extensions');
  const running = wb.page.locator('.runtime-extensions-editor').getByText('3D U-Net', { exact: true });
  await running.first().waitFor({ state: 'visible', timeout: 30_000 });
});
