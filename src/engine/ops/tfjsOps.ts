/**
 * The network's operations as TensorFlow.js kernels: what runs on the tensorflow backends
 * (tfjs-node, tfjs-node-gpu), whose C++ kernels are fast and right. tfjs lacks two pieces, added
 * here: the gradient of the transposed convolution (tf.customGrad) and a batch norm on 5-D tensors
 * (done on a 4-D view [N·D, H, W, C]).
 */
import { tf, type Tensor, type Tensor1D, type Tensor5D } from '../tf';
import { customOp } from './customOp';
import { BN_EPSILON, BN_MOMENTUM, type BatchNormParams, type ConvOptions, type NetworkOps } from './types';
import type { Padding } from '../../protocol/network';

/** Centre-crops each input to the smallest spatial size among them and concatenates the channels. */
export function concatCropped(inputs: Tensor5D[]): Tensor5D {
  if (inputs.length === 0) throw new Error('conv needs at least one input');
  if (inputs.length === 1) return inputs[0];
  const size = [1, 2, 3].map((axis) => Math.min(...inputs.map((t) => t.shape[axis])));
  const cropped = inputs.map((t) => {
    if (t.shape[1] === size[0] && t.shape[2] === size[1] && t.shape[3] === size[2]) return t;
    const begin = [0, ...size.map((s, i) => Math.floor((t.shape[i + 1] - s) / 2)), 0];
    return tf.slice(t, begin, [-1, size[0], size[1], size[2], -1]);
  });
  return tf.concat(cropped, 4);
}

/** The identity whose gradient is zero: tfjs then computes no gradient through what it feeds. */
const stopGradient = customOp<Tensor5D>(1, ([x]) => ({ value: tf.clone(x) as Tensor5D, gradFunc: (dy) => [tf.zerosLike(dy)] }));

function conv(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D | null, padding: Padding, options: ConvOptions = {}): Tensor5D {
  const x = concatCropped(inputs);
  const y = tf.conv3d(options.inputGradient === false ? stopGradient(x) : x, filter, 1, padding);
  return bias ? tf.add(y, bias) : y;
}

/** y = conv3dTranspose(x, w), stride 2, with the gradients tfjs lacks (Conv3DBackpropInputV2 has none). */
const upConvWithGrad = customOp<Tensor5D>(2, ([x, w], save) => {
  const x5 = x as Tensor5D;
  const w5 = w as Tensor5D;
  const [n, d, h, wd] = x5.shape;
  save([x5, w5]);
  const value = tf.conv3dTranspose(x5, w5, [n, 2 * d, 2 * h, 2 * wd, w5.shape[3]], 2, 'valid');
  return {
    value,
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as [Tensor5D, Tensor5D];
      // The input gradient is the strided convolution of dy with the same filter.
      const dx = tf.conv3d(dy, ws, 2, 'valid');
      // The filter gradient is conv3d's filter gradient with the roles of input and output swapped.
      const dw = tf.engine().runKernel('Conv3DBackpropFilterV2', { x: dy, dy: xs }, { strides: [2, 2, 2], pad: 'valid', filterShape: ws.shape }) as Tensor;
      return [dx, dw];
    },
  };
});

function upConv(x: Tensor5D, filter: Tensor5D): Tensor5D {
  return upConvWithGrad(x, filter);
}

function batchNormRelu(x: Tensor5D, p: BatchNormParams, training: boolean): Tensor5D {
  const [n, d, h, w, c] = x.shape;
  // tf.batchNorm's gradient only handles 4-D, so normalize a [N·D, H, W, C] view.
  const x4 = tf.reshape(x, [n * d, h, w, c]) as tf.Tensor4D;
  let y: tf.Tensor4D;
  if (training) {
    const { mean, variance } = tf.moments(x4, [0, 1, 2]);
    y = tf.batchNorm(x4, mean, variance, p.beta, p.gamma, BN_EPSILON) as tf.Tensor4D;
    updateMovingAverages(p, mean, variance);
  } else {
    y = tf.batchNorm(x4, p.movingMean, p.movingVariance, p.beta, p.gamma, BN_EPSILON) as tf.Tensor4D;
  }
  return tf.reshape(tf.relu(y), [n, d, h, w, c]);
}

/** moving ← m · moving + (1 − m) · batch (no loss depends on it, so no gradient flows). */
export function updateMovingAverages(p: BatchNormParams, mean: Tensor, variance: Tensor): void {
  tf.tidy(() => {
    const m = BN_MOMENTUM;
    p.movingMean.assign(tf.add(tf.mul(p.movingMean, m), tf.mul(mean, 1 - m)));
    p.movingVariance.assign(tf.add(tf.mul(p.movingVariance, m), tf.mul(variance, 1 - m)));
  });
}

/**
 * Channels `[first, first + count)` of a 5-D tensor, sliced as a [voxels, channels] matrix: the
 * wasm backend's 5-D channel slice is ~20× slower.
 */
export function channels(x: Tensor5D, first: number, count: number): Tensor5D {
  const [n, d, h, w, c] = x.shape;
  const columns = tf.slice(tf.reshape(x, [-1, c]), [0, first], [-1, count]);
  return tf.reshape(columns, [n, d, h, w, count]);
}

export const tfjsOps: NetworkOps = {
  conv,
  batchNormRelu,
  relu: (x) => tf.relu(x),
  maxPool: (x) => tf.maxPool3d(x, 2, 2, 'valid'),
  upConv,
  channels,
};
