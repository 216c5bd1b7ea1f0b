/**
 * The .vsix is lean: `npm run package`'s script (test/e2e/package.ts) makes one for this machine's
 * platform, and every file in it must have a reason to ship (vsixFileRules: something loads or
 * shows it), under 300 files and 5 MiB before the GPU binary; its engine worker, unpacked, starts
 * and finds the wasm binaries and Dawn beside it. (The e2e test test/e2e/ui/vsix.test.ts installs
 * it into VS Code, trains and segments.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { builtinModules } from 'node:module';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { WorkerClient } from '../../src/engine/workerClient';
import { dawnFolder, hostTarget, isGpuBinary, listZip, readZip, requiredModules, VSIX_LIMITS, vsixBytes, vsixContentProblems, vsixFileRules, type VsixEntry } from '../e2e/vsix';
import { REPO_ROOT, tempDir } from '../helpers/data';

const work = tempDir('vsix-contents');
const vsix = path.join(work, 'unet3d.vsix');
const target = hostTarget();
let entries: VsixEntry[] = [];

before(() => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/e2e/package.ts', '--target', target, '--out', vsix], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(result.status, 0, `packaging failed:\n${result.stdout}\n${result.stderr}`);
  entries = listZip(vsix);
});
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('every file of the .vsix is one something loads or shows, with its reason; none is missing', (t) => {
  assert.deepEqual(vsixContentProblems(entries, target), []);
  const rules = vsixFileRules(target);
  for (const entry of entries) {
    const rule = rules.find((r) => r.pattern.test(entry.path))!;
    t.diagnostic(`${entry.path} (${entry.size} bytes): ${rule.reason}`);
  }
  assert.ok(rules.every((r) => r.reason.length > 10), 'each rule says why');
  // No npm package ships: the bundles hold what they load, and Dawn's binary is staged beside them.
  assert.deepEqual(entries.filter((e) => e.path.includes('node_modules/')).map((e) => e.path), []);
  // Dawn for this platform only.
  assert.deepEqual(entries.filter((e) => isGpuBinary(e.path)).map((e) => e.path), [`extension/dist/dawn/${dawnFolder(target)}/dawn.node`]);
});

test('the .vsix stays under 300 files and 5 MiB before its GPU binary', (t) => {
  const lean = vsixBytes(entries, false);
  const all = vsixBytes(entries, true);
  t.diagnostic(`${entries.length} files; ${(fs.statSync(vsix).size / 2 ** 20).toFixed(2)} MiB .vsix; without dawn.node ${(lean.packed / 2 ** 20).toFixed(2)} MiB packed, ${(lean.unpacked / 2 ** 20).toFixed(2)} MiB unpacked; with it ${(all.unpacked / 2 ** 20).toFixed(2)} MiB unpacked`);
  assert.ok(entries.length < VSIX_LIMITS.files, `${entries.length} files`);
  assert.ok(lean.packed < VSIX_LIMITS.bytesWithoutGpuBinary && lean.unpacked < VSIX_LIMITS.bytesWithoutGpuBinary, JSON.stringify(lean));
});

test('a file nothing loads fails the check: a loose npm package, another platform\'s Dawn, a source map', () => {
  const extra = (p: string): VsixEntry[] => [...entries, { path: p, compressed: 10, size: 10 }];
  const other = target === 'win32-x64' ? 'linux-x64' : 'win32-x64';
  for (const file of ['extension/node_modules/core-js/index.js', `extension/dist/dawn/${other}/dawn.node`, 'extension/dist/worker.js.map', 'extension/dist/tfjs-backend-wasm-threaded-simd.wasm', 'extension/dist/cli.js']) {
    assert.match(vsixContentProblems(extra(file), target).join('\n'), new RegExp(`nothing loads 1 file\\(s\\): ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`), file);
  }
  const many = Array.from({ length: 300 }, (_, i) => ({ path: `extension/media/walkthrough/step${i}.md`, compressed: 1, size: 1 }));
  assert.match(vsixContentProblems([...entries, ...many], target).join('\n'), /files, the limit is under 300/);
  assert.match(vsixContentProblems(entries.filter((e) => !e.path.endsWith('worker.js')), target).join('\n'), /missing: .*worker/);
});

test("the bundles require only Node's modules, vscode, and what is installed outside the package", () => {
  const files = readZip(vsix);
  // Left to Node's require at run time, never loaded from the package (esbuild.node.mjs):
  const outside: Record<string, string> = {
    vscode: 'provided by VS Code to the extension host',
    webgpu: "npm webgpu's folder, looked for only when dist/dawn has no binary (a checkout)",
    '@tensorflow/tfjs-node': 'native, installed by 3D U-Net: Install Native TensorFlow',
    '@tensorflow/tfjs-node-gpu': 'native, installed by 3D U-Net: Install Native TensorFlow',
    'node-fetch': "tfjs-core's fetch for Node < 18; Node ≥ 20 has fetch",
  };
  const builtins = new Set(builtinModules);
  for (const [file, data] of files) {
    if (!/^extension\/dist\/[^/]+\.js$/.test(file)) continue;
    const unknown = requiredModules(data.toString()).filter((spec) => !builtins.has(spec) && !(spec in outside));
    assert.deepEqual(unknown, [], `${file} requires what the package does not hold`);
  }
  // The extension host loads no TensorFlow.js and no native module: only VS Code's API.
  assert.deepEqual(requiredModules(files.get('extension/dist/extension.js')!.toString()).filter((s) => !builtins.has(s)), ['vscode']);
  // The README's pictures and the walkthrough's media ship.
  const readme = files.get('extension/readme.md')?.toString() ?? '';
  for (const [, image] of readme.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) if (!/^https?:/.test(image!)) assert.ok(files.has(`extension/${image}`), `the README shows ${image}, which is not in the .vsix`);
  const manifest = JSON.parse(files.get('extension/package.json')!.toString()) as { contributes: { walkthroughs?: { steps: { media: Record<string, unknown> }[] }[] } };
  for (const step of manifest.contributes.walkthroughs?.flatMap((w) => w.steps) ?? []) {
    for (const key of ['image', 'markdown'] as const) {
      const media = step.media[key];
      if (typeof media === 'string') assert.ok(files.has(`extension/${media}`), `the walkthrough shows ${media}, which is not in the .vsix`);
    }
  }
});

test("the packaged engine worker starts and loads its wasm binaries and Dawn from beside it", async () => {
  const unpacked = path.join(work, 'unpacked');
  for (const [file, data] of readZip(vsix)) {
    if (!file.startsWith('extension/dist/')) continue;
    fs.mkdirSync(path.dirname(path.join(unpacked, file)), { recursive: true });
    fs.writeFileSync(path.join(unpacked, file), data);
  }
  const client = await WorkerClient.start({ workerPath: path.join(unpacked, 'extension', 'dist', 'worker.js'), nativeTensorFlowFolders: [] });
  try {
    const report = await client.probe();
    const byName = Object.fromEntries(report.statuses.map((s) => [s.name, s]));
    assert.equal(byName.wasm?.available, true, JSON.stringify(byName.wasm));
    assert.match(byName.wasm?.detail ?? '', /WebAssembly with SIMD/);
    // Dawn loaded from dist/dawn (an adapter found, or the reason is about the GPU, not a missing binary).
    assert.doesNotMatch(`${byName.webgpu?.reason ?? ''}`, /not installed|no Dawn binary|did not load/);
  } finally {
    await client.dispose();
  }
});
