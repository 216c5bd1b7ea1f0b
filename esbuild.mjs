// One helper builds every bundle: the extension host, the engine worker, the CLI, the webview and its mesh worker.
// Usage: node esbuild.mjs [--watch] [--production] [--outdir DIR (default dist; packaging builds into its staging folder)]
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { copyWasmBinaries, tfjsBundleOptions } from './esbuild.node.mjs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const outdirAt = process.argv.indexOf('--outdir');
const outdir = outdirAt >= 0 ? process.argv[outdirAt + 1] : 'dist';
if (!outdir) throw new Error('--outdir needs a folder');
const out = (name) => path.join(outdir, name);

/** @param {import('esbuild').BuildOptions} options */
function bundle(options) {
  return {
    bundle: true,
    sourcemap: production ? false : 'linked',
    minify: production,
    logLevel: 'info',
    legalComments: 'none',
    ...options,
  };
}

const nodeBundle = (entry, outfile, extra = {}) =>
  bundle({
    entryPoints: [entry],
    outfile: out(outfile),
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    ...extra,
  });


// The PyTorch peer of `unet3d bench train|infer` is a Python script run beside the CLI.
function copyBenchPeer() {
  fs.mkdirSync(outdir, { recursive: true });
  fs.copyFileSync('src/cli/bench/torch_peer.py', out('torch_peer.py'));
}

const builds = [
  // The extension host bundle must never load TensorFlow.js: it is not even resolvable from here.
  nodeBundle('src/extension/extension.ts', 'extension.js', { external: ['vscode'] }),
  // Suggest Next Slice's reading and scoring, on a worker thread of the extension host.
  nodeBundle('src/extension/suggest/suggestThread.ts', 'suggestThread.js'),
  // The editor's first planes, streamed from the volume's file on a worker thread of the extension host.
  nodeBundle('src/extension/volumeEditor/planesThread.ts', 'planesThread.js'),
  // TensorFlow.js is bundled into the worker and the CLI; what is not is in esbuild.node.mjs.
  nodeBundle('src/engine/worker.ts', 'worker.js', tfjsBundleOptions()),
  nodeBundle('src/cli/main.ts', 'cli.js', {
    ...tfjsBundleOptions(),
    banner: { js: '#!/usr/bin/env node' },
  }),
  bundle({
    entryPoints: ['webview/main.ts'],
    outfile: out('webview.js'),
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  }),
  // The 3D view (three.js): the webview runs it once every voxel is in, so that the page that
  // shows the first planes loads a quarter of the code.
  bundle({
    entryPoints: ['webview/view3dBundle.ts'],
    outfile: out('view3d.js'),
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  }),
  // The 3D view's mesh worker: the webview fetches it and starts it from a blob.
  bundle({
    entryPoints: ['webview/meshWorker.ts'],
    outfile: out('meshWorker.js'),
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  }),
];

copyBenchPeer();
// The wasm backend reads its binaries from beside the bundle (src/engine/backends.ts).
copyWasmBinaries(outdir);
if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('[esbuild] watching for changes');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
