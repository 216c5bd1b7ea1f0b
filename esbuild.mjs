// One helper builds every bundle: the extension host, the engine worker, the CLI, the webview and its mesh worker.
// Usage: node esbuild.mjs [--watch] [--production]
import * as esbuild from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

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
    outfile,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    ...extra,
  });

// Every TensorFlow.js package stays outside the bundles and is loaded from node_modules at run
// time: @tensorflow/tfjs-node(-gpu) (optional, often absent) requires '@tensorflow/tfjs' and
// registers its backend on THAT instance of tfjs-core, so the engine must use the same one, not a
// copy inlined here. The wasm backend then finds its .wasm binaries in its own package folder.
// Packaging must therefore ship node_modules/@tensorflow/{tfjs,tfjs-core,tfjs-backend-cpu,
// tfjs-backend-wasm,...} and their dependencies (see src/engine/tf.ts, src/engine/backends.ts).
const tfjsExternal = ['@tensorflow/*', 'webgpu'];

// The PyTorch peer of `unet3d bench train|infer` is a Python script run beside the CLI.
function copyBenchPeer() {
  fs.mkdirSync('dist', { recursive: true });
  fs.copyFileSync('src/cli/bench/torch_peer.py', 'dist/torch_peer.py');
}

const builds = [
  // The extension host bundle must never load TensorFlow.js: it is not even resolvable from here.
  nodeBundle('src/extension/extension.ts', 'dist/extension.js', { external: ['vscode'] }),
  // Suggest Next Slice's reading and scoring, on a worker thread of the extension host.
  nodeBundle('src/extension/suggest/suggestThread.ts', 'dist/suggestThread.js'),
  nodeBundle('src/engine/worker.ts', 'dist/worker.js', { external: tfjsExternal }),
  nodeBundle('src/cli/main.ts', 'dist/cli.js', {
    external: tfjsExternal,
    banner: { js: '#!/usr/bin/env node' },
  }),
  bundle({
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  }),
  // The 3D view's mesh worker: the webview fetches it and starts it from a blob.
  bundle({
    entryPoints: ['webview/meshWorker.ts'],
    outfile: 'dist/meshWorker.js',
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
  }),
];

copyBenchPeer();
if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('[esbuild] watching for changes');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
