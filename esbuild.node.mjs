// How the Node bundles that run TensorFlow.js (dist/worker.js, dist/cli.js, and the tests that run
// engine code) take it in; shared by esbuild.mjs, test/run-unit.mjs and the e2e harness.
//
// TensorFlow.js is bundled: tfjs-core (with its gradients), the cpu, wasm and webgpu backends, one
// copy of each, from their ES-module builds (`module`; the `main` builds are prebundled CommonJS
// files, and tfjs-core's registers no gradients, which only exist as ES modules). What stays
// outside is what cannot be bundled:
//  - npm `webgpu`: Dawn's native binary (dist/<platform>/dawn.node), loaded by path at run time;
//  - @tensorflow/tfjs-node(-gpu): native, optional, installed by the user (3D U-Net: Install
//    Native TensorFlow). It brings its own @tensorflow/tfjs, whose tfjs-core shares the bundled
//    one's engine: tfjs-core keeps its engine, kernel and gradient registries on the global
//    object, so the "tensorflow" backend it registers is the bundled core's (src/engine/backends.ts);
//  - node-fetch: tfjs-core's Node platform requires it only where Node has no global fetch
//    (Node < 18); the engine never fetches.
// The wasm backend reads its .wasm binaries at run time: copyWasmBinaries puts them beside the bundle.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The TensorFlow.js packages bundled from their ES-module builds. */
export const TFJS_BUNDLED = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu'];

/** What the Node bundles that run TensorFlow.js leave to Node's require at run time. */
export const TFJS_EXTERNAL = ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'node-fetch'];

/**
 * The .wasm binaries of tfjs-backend-wasm that Node loads: the SIMD build, and the plain one where
 * WebAssembly has no SIMD. (The threaded build is never used under Node: tfjs-backend-wasm
 * reports no thread support there, flag WASM_HAS_MULTITHREAD_SUPPORT.)
 */
export const WASM_BINARIES = ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm.wasm'];

/** An esbuild plugin resolving the bare TFJS_BUNDLED imports to their ES-module entry (`module`). */
export function tfjsModules() {
  const filter = new RegExp(`^(${TFJS_BUNDLED.map((n) => n.replace(/[/.-]/g, '\\$&')).join('|')})$`);
  return {
    name: 'tfjs-modules',
    /** @param {import('esbuild').PluginBuild} build */
    setup(build) {
      build.onResolve({ filter }, async (args) => {
        const manifest = await build.resolve(`${args.path}/package.json`, { kind: args.kind, resolveDir: args.resolveDir });
        if (manifest.errors.length > 0) return { errors: manifest.errors };
        const { module } = JSON.parse(fs.readFileSync(manifest.path, 'utf8'));
        if (typeof module !== 'string') return { errors: [{ text: `${args.path} has no ES-module build ("module" in its package.json)` }] };
        return { path: path.join(path.dirname(manifest.path), module) };
      });
    },
  };
}

/** Options for a Node bundle that runs TensorFlow.js; `external` adds to TFJS_EXTERNAL. */
export function tfjsBundleOptions(external = []) {
  return { external: [...TFJS_EXTERNAL, ...external], plugins: [tfjsModules()] };
}

/** Copies the .wasm binaries the wasm backend loads into `outDir` (beside the bundle); returns their paths. */
export function copyWasmBinaries(outDir, root = path.dirname(fileURLToPath(import.meta.url))) {
  const from = path.join(root, 'node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  fs.mkdirSync(outDir, { recursive: true });
  return WASM_BINARIES.map((name) => {
    fs.copyFileSync(path.join(from, name), path.join(outDir, name));
    return path.join(outDir, name);
  });
}
