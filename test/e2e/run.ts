/**
 * `npm run test:e2e [-- substring...]`: the end-to-end tests in a real VS Code.
 *  1. sets up the toolchain (test/e2e/toolchain.ts; seconds when cached),
 *  2. bundles the launcher, the extension-host tests and the UI tests into .test-work/e2e/,
 *  3. runs the extension-host tests (host/*.test.ts, mocha) through @vscode/test-electron's
 *     runTests() with our launcher as the VS Code executable, or with desktop VS Code when
 *     UNET3D_E2E_DESKTOP=1 (downloads VS Code; needs internet and a display),
 *  4. runs the UI tests (ui/*.test.ts, node:test + Playwright), packaging the .vsix first
 *     when the packaging test is among them; a file that fails is run again only when it
 *     reported the harness's known symptom (rerunPolicy.ts).
 * Under CI (CI=true) a missing ../shared/data is an error, not a reason to skip.
 * Arguments keep only the test files whose names contain one of them.
 */
import { runTests } from '@vscode/test-electron';
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_REQUIRED, HAVE_DATA, REPO_ROOT, requireData } from '../helpers/data';
import { runWithRerunPolicy, SYMPTOM_FILE_ENV, takeSymptoms, type FileRun } from './rerunPolicy';
import { ensureToolchain, isProcessAlive } from './toolchain';
import { E2E_WORK_DIR } from './workbench';
import { prepareWorkspace } from './workspace';

const SOURCE_DIR = path.join(REPO_ROOT, 'test', 'e2e');
// Per run, so that two runs in one checkout do not clobber each other's files.
const RUN_ID = `${process.pid}-${Date.now().toString(36)}`;
const BUNDLE_DIR = path.join(E2E_WORK_DIR, `bundles-${RUN_ID}`);
/** The .vsix the packaging test installs (`npm run package -- --out` writes it). */
const VSIX = path.join(BUNDLE_DIR, 'unet3d-vscode.vsix');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function testFiles(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((n) => n.endsWith('.test.ts') && (filters.length === 0 || filters.some((f) => n.includes(f))))
    .sort()
    .map((n) => path.join(dir, n));
}

function elapsed(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

async function bundle(entryPoints: string[], outdir: string, extra: esbuild.BuildOptions = {}): Promise<void> {
  await esbuild.build({
    entryPoints,
    outdir,
    outbase: SOURCE_DIR,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
    // Resolved at run time from the repository's node_modules (or provided by VS Code). The e2e
    // tests load no TensorFlow.js: the engine runs in its worker (dist/worker.js, or the .vsix's).
    external: ['vscode', 'mocha', 'playwright-core', 'esbuild', '@vscode/test-electron', '@tensorflow/*'],
    define: { 'process.env.UNET3D_REPO_ROOT': JSON.stringify(REPO_ROOT) },
    ...extra,
  });
}

async function runHostTests(files: string[]): Promise<boolean> {
  const started = Date.now();
  const hostDir = path.join(BUNDLE_DIR, 'host');
  await bundle([path.join(SOURCE_DIR, 'host', 'index.ts'), ...files], BUNDLE_DIR);
  const stateDir = path.join(E2E_WORK_DIR, 'runs', `host-${RUN_ID}`);
  const workspace = prepareWorkspace(path.join(stateDir, 'workspace'));
  const desktop = process.env.UNET3D_E2E_DESKTOP === '1';
  const launcher = path.join(BUNDLE_DIR, 'launcher.js');
  if (!desktop) {
    await bundle([path.join(SOURCE_DIR, 'launcher.ts')], BUNDLE_DIR, { banner: { js: '#!/usr/bin/env node' } });
    fs.chmodSync(launcher, 0o755);
  }
  console.log(`\n[e2e] extension-host tests (${files.length} file(s)) in ${desktop ? 'desktop VS Code' : 'code-server'}`);
  try {
    await runTests({
      ...(desktop ? {} : { vscodeExecutablePath: launcher }),
      extensionDevelopmentPath: REPO_ROOT,
      extensionTestsPath: path.join(hostDir, 'index.js'),
      launchArgs: [workspace, `--user-data-dir=${path.join(stateDir, 'user-data')}`, `--extensions-dir=${path.join(stateDir, 'extensions')}`],
    });
    return true;
  } catch (error) {
    console.error(`[e2e] extension-host tests failed: ${error instanceof Error ? error.message : String(error)}`);
    return false;
  } finally {
    if (!process.env.UNET3D_E2E_KEEP) fs.rmSync(stateDir, { recursive: true, force: true });
    console.log(`[e2e] extension-host tests took ${elapsed(started)}`);
  }
}

/** Builds the .vsix as `npm run package` does (its production bundles go into its staging folder, not dist/). */
function packageVsix(): boolean {
  const started = Date.now();
  console.log('\n[e2e] packaging the .vsix (npm run package)');
  fs.rmSync(VSIX, { force: true });
  const result = spawnSync('npm', ['run', 'package', '--', '--out', VSIX], { cwd: REPO_ROOT, stdio: 'inherit' });
  console.log(`[e2e] packaging took ${elapsed(started)}`);
  return result.status === 0 && fs.existsSync(VSIX);
}

async function runUiTests(files: string[]): Promise<boolean> {
  const started = Date.now();
  console.log(`\n[e2e] UI tests (${files.length} file(s))`);
  // One file at a time: each test holds a VS Code server and a Chromium (about 2 GiB together).
  // A test that sets no timeout of its own gets 5 minutes: a hang fails instead of stalling CI.
  const runFile = async (file: string): Promise<FileRun> => {
    const output = path.join(BUNDLE_DIR, path.relative(SOURCE_DIR, file)).replace(/\.ts$/, '.js');
    const symptomFile = path.join(BUNDLE_DIR, `symptoms-${path.basename(file)}.txt`);
    fs.rmSync(symptomFile, { force: true });
    const args = ['--enable-source-maps', '--test', '--test-concurrency=1', '--test-timeout=300000', '--test-reporter=spec', output];
    const env = { ...process.env, UNET3D_VSIX: VSIX, [SYMPTOM_FILE_ENV]: symptomFile };
    const ok = spawnSync(process.execPath, args, { cwd: REPO_ROOT, stdio: 'inherit', env }).status === 0;
    return { ok, symptoms: takeSymptoms(symptomFile) };
  };
  // Rerun policy (rerunPolicy.ts): only a file that failed with the known symptom of the harness
  // (code-server's webview iframe never loading) runs once more; any other failure stands.
  const outcomes = await runWithRerunPolicy(files.map((f) => path.relative(SOURCE_DIR, f)), (relative) => runFile(path.join(SOURCE_DIR, relative)));
  const count = (status: string) => outcomes.filter((o) => o.status === status).length;
  const failed = outcomes.filter((o) => o.status === 'failed').map((o) => o.file);
  console.log(`[e2e] UI tests took ${elapsed(started)}; passed: ${count('passed')}, flaky: ${count('flaky')}, failed: ${failed.length}${failed.length ? ` (${failed.join(', ')})` : ''}`);
  return failed.length === 0;
}

async function main(): Promise<number> {
  const started = Date.now();
  // Under CI the shared data must be there: its tests fail rather than skip (test/helpers/data.ts).
  if (DATA_REQUIRED && !HAVE_DATA) requireData();
  ensureToolchain();
  removeStaleWork();

  const hostFiles = testFiles(path.join(SOURCE_DIR, 'host'));
  const uiFiles = testFiles(path.join(SOURCE_DIR, 'ui'));
  if (hostFiles.length + uiFiles.length === 0) {
    console.error(`[e2e] no end-to-end tests match ${filters.join(' ')}`);
    return 1;
  }
  let ok = true;
  if (hostFiles.length > 0) ok = (await runHostTests(hostFiles)) && ok;
  if (uiFiles.length > 0) {
    await bundle(uiFiles, BUNDLE_DIR);
    const needsVsix = uiFiles.some((f) => path.basename(f).startsWith('vsix'));
    if (needsVsix) ok = packageVsix() && ok;
    ok = (await runUiTests(uiFiles)) && ok;
  }
  if (!process.env.UNET3D_E2E_KEEP) fs.rmSync(BUNDLE_DIR, { recursive: true, force: true });
  console.log(`\n[e2e] ${ok ? 'passed' : 'FAILED'} in ${elapsed(started)}${ok ? '' : ` (server logs and last screenshots: ${path.join(E2E_WORK_DIR, 'logs')})`}`);
  return ok ? 0 : 1;
}

/**
 * Removes what earlier runs left behind when they were killed: state folders and bundles of
 * processes that no longer exist, and logs older than a day. A run still going is left alone.
 */
function removeStaleWork(): void {
  const stale = (dir: string) => (name: string) => {
    const pid = /-(\d+)-[0-9a-z]+$/.exec(name)?.[1];
    return pid !== undefined && !isProcessAlive(Number(pid)) ? [path.join(dir, name)] : [];
  };
  const runsDir = path.join(E2E_WORK_DIR, 'runs');
  const logsDir = path.join(E2E_WORK_DIR, 'logs');
  const list = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  const dayAgo = Date.now() - 24 * 3600 * 1000;
  const doomed = [
    ...list(runsDir).flatMap(stale(runsDir)),
    ...list(E2E_WORK_DIR).filter((n) => n.startsWith('bundles-')).flatMap(stale(E2E_WORK_DIR)),
    ...list(logsDir).map((n) => path.join(logsDir, n)).filter((f) => fs.statSync(f).mtimeMs < dayAgo),
  ];
  for (const target of doomed) fs.rmSync(target, { recursive: true, force: true });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exit(1);
  },
);
