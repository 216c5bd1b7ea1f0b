// One helper builds every bundle: the extension host, the engine worker, the CLI and the webview.
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

// The native TensorFlow backends stay outside the bundles: they may be absent (their install
// downloads libtensorflow) and are looked for at run time. The pure-JS and wasm backends are
// bundled; the wasm backend's .wasm binaries are copied next to the bundles.
const tfjsExternal = ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'];

function copyWasmBinaries() {
  const from = 'node_modules/@tensorflow/tfjs-backend-wasm/dist';
  fs.mkdirSync('dist', { recursive: true });
  for (const name of fs.readdirSync(from).filter((n) => n.endsWith('.wasm'))) {
    fs.copyFileSync(path.join(from, name), path.join('dist', name));
  }
}

const builds = [
  // The extension host bundle must never load TensorFlow.js: it is not even resolvable from here.
  nodeBundle('src/extension/extension.ts', 'dist/extension.js', { external: ['vscode'] }),
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
];

// TEMPORARY while the first bundles are being written: skip entries whose source is missing.
const present = builds.filter((b) => fs.existsSync(b.entryPoints[0]) || (console.warn(`[esbuild] skipping ${b.entryPoints[0]} (missing)`), false));
builds.length = 0;
builds.push(...present);

copyWasmBinaries();
if (watch) {
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('[esbuild] watching for changes');
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
