/**
 * The one TensorFlow.js instance the engine uses: tfjs-core with its gradients and the cpu
 * backend, bundled into dist/worker.js and dist/cli.js (esbuild.node.mjs), as the wasm and webgpu
 * backends are when backends.ts loads them. A user's @tensorflow/tfjs-node(-gpu), loaded at run
 * time with its own copy of tfjs-core, registers its backend into this same engine: tfjs-core
 * keeps the engine and its registries on the global object (see backends.ts, loadNative).
 */
import * as tf from '@tensorflow/tfjs-core';
// The gradients of every kernel (tfjs-core's own entry registers none) and the cpu backend, which
// tfjs falls back to and moves data through when the backend changes.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-cpu';

// No "install tfjs-node" banner and no debug checks.
tf.enableProdMode();

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor5D, Variable } from '@tensorflow/tfjs-core';
