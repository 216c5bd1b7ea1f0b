/**
 * The one TensorFlow.js instance the engine uses. Every `@tensorflow/*` package stays external
 * to the bundles (see esbuild.mjs), so this module, the wasm backend and a user's
 * `@tensorflow/tfjs-node(-gpu)` all load the same `@tensorflow/tfjs-core` from node_modules and
 * register their backends on it. We load it through `@tensorflow/tfjs`, as tfjs-node does: the
 * Node build of tfjs-core alone registers no gradients (the union package does).
 */
import * as tf from '@tensorflow/tfjs';

// No "install tfjs-node" banner and no debug checks.
tf.enableProdMode();

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor5D, Variable } from '@tensorflow/tfjs';
