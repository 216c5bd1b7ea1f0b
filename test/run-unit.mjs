// Runs the unit tests: bundles each test/unit/**/*.test.ts with esbuild (the same way the
// product is built, so ESM-only and CJS packages mix as they do in dist/), then runs them with
// Node's test runner. Arguments filter test files by substring: `npm run test:unit -- nifti`.
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { ensureVulkan } from './vulkanSetup.mjs';
import { copyWasmBinaries, tfjsBundleOptions } from '../esbuild.node.mjs';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const unitDir = path.join(root, 'test', 'unit');
// One folder per run, so runs started at the same time never delete each other's bundles.
const outDir = path.join(root, '.test-work', `unit-${process.pid}`);
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
// Node's own test filters pass through: `npm run test:unit -- webgpu --test-name-pattern=memory`.
const nodeTestFlags = process.argv.slice(2).filter((a) => a.startsWith('--test-name-pattern'));

function findTests(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return findTests(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

const tests = findTests(unitDir)
  .filter((file) => filters.length === 0 || filters.some((f) => path.relative(unitDir, file).includes(f)))
  .sort();
if (tests.length === 0) {
  console.error(`no unit tests match ${filters.join(' ')}`);
  process.exit(1);
}

fs.rmSync(outDir, { recursive: true, force: true });
/** Node bundles as esbuild.mjs makes them: TensorFlow.js bundled in (esbuild.node.mjs). */
const nodeBundle = { bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: 'inline', logLevel: 'warning' };
await esbuild.build({
  ...nodeBundle,
  ...tfjsBundleOptions(['vscode', 'esbuild']),
  entryPoints: tests,
  outdir: outDir,
  outbase: unitDir,
  define: { 'process.env.UNET3D_REPO_ROOT': JSON.stringify(root) },
});
// The engine worker beside the tests: CLI commands that tests run in-process (`unet3d segment`,
// `unet3d train`) fork it from there, as dist/cli.js forks dist/worker.js.
await esbuild.build({ ...nodeBundle, ...tfjsBundleOptions(), entryPoints: [path.join(root, 'src/engine/worker.ts')], outfile: path.join(outDir, 'worker.js') });
// The wasm backend looks for its binaries beside the bundle.
copyWasmBinaries(outDir, root);

// The webgpu tests run on whatever adapter Dawn finds (on a machine without a GPU, Mesa's
// lavapipe, installed here when missing and allowed); without one they skip, saying why.
const adapter = ensureVulkan(root);
// On llvmpipe (lavapipe) shader compilation dominates the webgpu tests: skip LLVM's optimizer.
const env = { GALLIVM_PERF: 'nopt', ...process.env, UNET3D_WEBGPU_ADAPTER: adapter ?? '' };

const outputs = tests.map((t) => path.join(outDir, path.relative(unitDir, t)).replace(/\.ts$/, '.js'));
const result = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-reporter=spec', ...nodeTestFlags, ...outputs], {
  stdio: 'inherit',
  cwd: root,
  env,
});
fs.rmSync(outDir, { recursive: true, force: true });
process.exit(result.status ?? 1);
