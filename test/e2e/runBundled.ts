/**
 * Runs a TypeScript entry point of the end-to-end harness bundled as the UI tests are (esbuild,
 * so that ESM-only packages such as nifti-reader-js load as they do in dist/), passing the
 * arguments after it along: `node --import tsx test/e2e/runBundled.ts test/e2e/editor-bench.ts -- --json`.
 */
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/data';

const [entry, ...rest] = process.argv.slice(2);
if (!entry) throw new Error('usage: runBundled.ts ENTRY.ts [-- ARGS]');
const outDir = path.join(REPO_ROOT, '.test-work', `bundled-${process.pid}`);
const outfile = path.join(outDir, path.basename(entry).replace(/\.ts$/, '.js'));
async function main(): Promise<number> {
await esbuild.build({
  entryPoints: [path.resolve(entry)],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'inline',
  logLevel: 'warning',
  external: ['vscode', 'mocha', 'playwright-core', 'esbuild', '@vscode/test-electron', '@tensorflow/*'],
  define: { 'process.env.UNET3D_REPO_ROOT': JSON.stringify(REPO_ROOT) },
});
const args = rest[0] === '--' ? rest.slice(1) : rest;
const result = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
fs.rmSync(outDir, { recursive: true, force: true });
return result.status ?? 1;
}

main().then((code) => process.exit(code), (error) => {
  console.error(error);
  process.exit(1);
});
