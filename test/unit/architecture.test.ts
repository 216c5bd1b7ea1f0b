/**
 * The rooms of the house and which may import which, held by a test rather than by comments:
 * - src/core: pure building blocks; imports nothing of ours outside itself, never vscode or TensorFlow.js;
 * - src/protocol: the contract (messages, settings and defaults, the network description, the run
 *   record); imports only src/core, and nothing from npm or Node;
 * - src/engine: TensorFlow.js, in the worker process; never imports the extension, the CLI, the
 *   webview or the experiments;
 * - src/extension and src/cli: reach the engine only through src/protocol and the worker client
 *   (`unet3d bench`, in src/cli/bench, measures the engine in-process by design; the CLI reaches
 *   the experiments, which run the engine in-process, through dynamic imports);
 * - webview: the browser side; imports only itself, src/core and src/protocol.
 * And the extension's bundle, as esbuild builds it, holds no TensorFlow.js and no engine module but
 * the worker client.
 */
import assert from 'node:assert/strict';
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/data';

interface ImportSite {
  file: string;
  spec: string;
  /** The repository path it resolves to (for relative imports), else undefined. */
  target?: string;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every static import, export-from and dynamic import of a file. */
function importsOf(file: string): ImportSite[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = new Set<string>();
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'";]*?from\s+'([^']+)'/gms)) specs.add(m[1]);
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) specs.add(m[1]);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) specs.add(m[1]);
  for (const m of text.matchAll(/\brequire\(\s*'([^']+)'\s*\)/g)) specs.add(m[1]);
  return [...specs].map((spec) => ({
    file: path.relative(REPO_ROOT, file),
    spec,
    target: spec.startsWith('.') ? path.relative(REPO_ROOT, path.resolve(path.dirname(file), spec)) : undefined,
  }));
}

function allImports(...dirs: string[]): ImportSite[] {
  return dirs.flatMap((d) => sourceFiles(path.join(REPO_ROOT, d)).flatMap(importsOf));
}

const under = (target: string | undefined, ...roots: string[]) => target !== undefined && roots.some((r) => target === r || target.startsWith(r + '/'));
const describe = (s: ImportSite) => `${s.file} imports '${s.spec}'`;

test('every rule of the import map holds (the files are found, and checked)', () => {
  // A sanity check that the scan sees the imports it is meant to judge.
  const worker = importsOf(path.join(REPO_ROOT, 'src/engine/worker.ts'));
  assert.ok(worker.some((s) => s.target === 'src/protocol/worker'), 'the scan finds static imports');
  const segment = importsOf(path.join(REPO_ROOT, 'src/cli/commands/segment.ts'));
  assert.ok(segment.some((s) => s.target === 'src/engine/workerClient'), 'the scan finds dynamic imports');
});

test('src/core imports nothing of ours outside src/core, and neither vscode nor TensorFlow.js', () => {
  const bad = allImports('src/core').filter((s) => (s.target ? !under(s.target, 'src/core') : /^(vscode|@tensorflow\/)/.test(s.spec)));
  assert.deepEqual(bad.map(describe), []);
});

test('src/protocol imports only src/protocol and src/core, and no package', () => {
  const bad = allImports('src/protocol').filter((s) => !under(s.target, 'src/protocol', 'src/core'));
  assert.deepEqual(bad.map(describe), []);
});

test('src/engine never imports the extension, the CLI, the webview or the experiments', () => {
  const bad = allImports('src/engine').filter((s) => under(s.target, 'src/extension', 'src/cli', 'webview', 'src/experiments') || s.spec === 'vscode');
  assert.deepEqual(bad.map(describe), []);
});

test('the extension and the CLI reach the engine only through the protocol and the worker client', () => {
  const engineEntry = 'src/engine/workerClient';
  const extension = allImports('src/extension').filter((s) => (under(s.target, 'src/engine') && s.target !== engineEntry) || under(s.target, 'src/experiments', 'src/cli') || s.spec.startsWith('@tensorflow/'));
  assert.deepEqual(extension.map(describe), []);
  const cli = allImports('src/cli')
    .filter((s) => !s.file.startsWith('src/cli/bench/'))
    .filter((s) => (under(s.target, 'src/engine') && s.target !== engineEntry) || under(s.target, 'src/extension') || s.spec.startsWith('@tensorflow/'));
  assert.deepEqual(cli.map(describe), []);
});

test('the webview imports only itself, src/core and src/protocol', () => {
  const bad = allImports('webview').filter((s) => (s.target ? !under(s.target, 'webview', 'src/core', 'src/protocol') : /^(vscode|@tensorflow\/|node:)/.test(s.spec)));
  assert.deepEqual(bad.map(describe), []);
});

test("the extension's bundle holds no TensorFlow.js and no engine module but the worker client's", async () => {
  const result = await esbuild.build({
    entryPoints: [path.join(REPO_ROOT, 'src/extension/extension.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['vscode'],
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  assert.ok(inputs.some((i) => i.endsWith('src/extension/extension.ts')), 'the metafile lists the entry');
  assert.deepEqual(inputs.filter((i) => i.includes('@tensorflow')), []);
  const engine = inputs.filter((i) => i.includes('src/engine/')).map((i) => i.slice(i.indexOf('src/engine/')));
  assert.deepEqual(engine.filter((i) => !['src/engine/workerClient.ts', 'src/engine/runFolder.ts'].includes(i)), []);
});
