/**
 * The network's operations on the engine's WGSL kernels (src/engine/webgpu/kernels), for the
 * webgpu backend: convolutions and their gradients as implicit GEMMs, batch norm + ReLU fused,
 * max pooling and the transposed convolution; each a tf.customGrad op whose forward pass and
 * gradients dispatch those kernels on the tensors' GPU buffers (nothing is read back). ReLU alone
 * is tfjs's. With the moving statistics (inference), a convolution followed by batch norm + ReLU
 * is one kernel.
 */
import { tf, type Tensor, type Tensor1D, type Tensor5D } from '../tf';
import { customOp } from './customOp';
import { channels, updateMovingAverages } from './tfjsOps';
import type { Padding } from '../../protocol/network';
import { BN_EPSILON, type BatchNormParams, type ConvOptions, type NetworkOps } from './types';
import { dispatch, emptyOutput, toTensor, type KernelLaunch } from '../webgpu/runner';
import { maxBindingBytes } from '../webgpu/device';
import {
  convFilterGradKernel,
  convFilterGradSplits,
  convForwardKernel,
  convInputGradKernel,
  convSizes,
  foldBatchNormKernel,
  type ConvGeometry,
  type Shape5,
} from '../webgpu/kernels/conv';
import { sumSlicesKernel } from '../webgpu/kernels/gemm';
import {
  batchNormGradInputKernel,
  batchNormGradSumsKernel,
  batchStatsKernel,
  biasGradKernel,
  channelLayout,
  inferenceBatchNormReluKernel,
  meanKernel,
  scaleShiftReluKernel,
  squaredDeviationKernel,
  sumKernel,
} from '../webgpu/kernels/channels';
import { maxPoolGradKernel, maxPoolKernel, zeroKernel } from '../webgpu/kernels/pooling';
import { upConvFilterGradKernel, upConvFilterGradSplits, upConvForwardKernel, upConvInputGradKernel } from '../webgpu/kernels/upConv';

/** Split-K partial sums take at most this many bytes (and never more than a binding allows). */
const PARTIAL_BYTES = 64 * 2 ** 20;

const sizeOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Runs a kernel into new outputs of the given shapes; returns them as tensors. */
function run(launch: KernelLaunch, outputShapes: number[][], inputs: readonly Tensor[]): Tensor[] {
  const outputs = outputShapes.map((shape) => emptyOutput(shape));
  dispatch(launch, outputs, inputs);
  return outputs.map((o) => toTensor(o));
}

function run1<T extends Tensor>(launch: KernelLaunch, shape: number[], inputs: readonly Tensor[]): T {
  return run(launch, [shape], inputs)[0] as T;
}

/**
 * A split-K GEMM (a filter gradient) into `shape`: `make(splits)` gives the kernel; with several
 * slices their partials are added by a second kernel.
 */
function splitK(make: (splits: number) => KernelLaunch, splits: number, shape: number[], inputs: readonly Tensor[]): Tensor {
  if (splits === 1) return run1(make(1), shape, inputs);
  const partial = run1(make(splits), [splits * sizeOf(shape)], inputs);
  try {
    return run1(sumSlicesKernel('split-K sum', splits, sizeOf(shape)), shape, [partial]);
  } finally {
    partial.dispose();
  }
}

const partialBytes = () => Math.min(PARTIAL_BYTES, maxBindingBytes());

/** Σ over voxels per channel of a [..., C] tensor: [C], or [q, C] for a q-quantity sums kernel. */
function channelSums(launch: (voxels: number, c: number) => KernelLaunch, inputs: readonly Tensor[], voxels: number, c: number, q = 1): Tensor {
  const { slices } = channelLayout(voxels, c);
  const partial = run1(launch(voxels, c), [slices * q * c], inputs);
  try {
    return run1(sumSlicesKernel(`Σ slices ${q}×${c}`, slices, q * c), q === 1 ? [c] : [q, c], [partial]);
  } finally {
    partial.dispose();
  }
}

function geometry(inputs: Tensor5D[], filter: Tensor5D, padding: Padding): ConvGeometry {
  const [k, , , cin, cout] = filter.shape;
  const cinTotal = inputs.reduce((s, t) => s + t.shape[4], 0);
  if (cinTotal !== cin) throw new Error(`conv: the inputs have ${cinTotal} channels, the filter takes ${cin}`);
  if (filter.shape[1] !== k || filter.shape[2] !== k) throw new Error('conv: the filter must be cubic');
  if (padding === 'same' && k % 2 === 0) throw new Error(`conv: 'same' padding needs an odd filter size, not ${k}`);
  const g: ConvGeometry = { inputs: inputs.map((t) => t.shape as Shape5), k, pad: padding === 'same' ? (k - 1) >> 1 : 0, cout };
  const { size, out } = convSizes(g);
  if (out.some((s) => s < 1)) throw new Error(`conv: input [${size.join(', ')}] is smaller than the ${k}×${k}×${k} filter`);
  return g;
}

/** The gradients of a convolution: of each input, the filter and the bias. */
function convGradients(g: ConvGeometry, xs: readonly Tensor[], w: Tensor, dy: Tensor, inputGradient: boolean): Tensor[] {
  // The network's first convolution reads the data: its input gradient is not needed (zeros).
  const dxs = xs.map((x, i) => (inputGradient ? run1(convInputGradKernel(g, i), [...x.shape], [dy, w]) : tf.zeros(x.shape)));
  const dw = splitK((s) => convFilterGradKernel(g, s), convFilterGradSplits(g, partialBytes()), [...w.shape], [...xs, dy]);
  const db = channelSums(biasGradKernel, [dy], sizeOf(dy.shape) / g.cout, g.cout);
  return [...dxs, dw, db];
}

function conv(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D | null, padding: Padding, options: ConvOptions = {}): Tensor5D {
  if (inputs.length === 0) throw new Error('conv needs at least one input');
  const g = geometry(inputs, filter, padding);
  const { out, batch } = convSizes(g);
  const m = inputs.length;
  const b = bias ?? tf.zeros([g.cout]);
  const op = customOp<Tensor5D>(m + 2, (args, save) => {
    const xs = args.slice(0, m) as Tensor5D[];
    const w = args[m];
    save([...xs, w]);
    const value = run1<Tensor5D>(convForwardKernel(g), [batch, ...out, g.cout], [...xs, w, args[m + 1]]);
    return {
      value,
      gradFunc: (dy, saved) => convGradients(g, saved.slice(0, m), saved[m], dy, options.inputGradient !== false),
    };
  });
  try {
    return op(...inputs, filter, b);
  } finally {
    if (!bias) b.dispose();
  }
}

/** Convolution, then batch norm with the moving statistics and ReLU, in one kernel (inference). */
function convBatchNormRelu(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D, padding: Padding, p: BatchNormParams): Tensor5D {
  const g = geometry(inputs, filter, padding);
  const { out, batch } = convSizes(g);
  const m = inputs.length;
  const op = customOp<Tensor5D>(m + 6, (args, save) => {
    const fold = run1(foldBatchNormKernel(g.cout, BN_EPSILON), [2, g.cout], args.slice(m + 1));
    const value = run1<Tensor5D>(convForwardKernel(g, { foldedBnRelu: true }), [batch, ...out, g.cout], [...args.slice(0, m + 1), fold]);
    fold.dispose();
    save([...args, value]);
    return {
      value,
      // Rarely needed (fine-tuning in inference mode): the unfused operations' gradients, the
      // convolution's output computed again.
      gradFunc: (dy, saved) => {
        const [gamma, , movingMean, movingVariance] = saved.slice(m + 2);
        const z = run1(convForwardKernel(g), [batch, ...out, g.cout], saved.slice(0, m + 2));
        const [dz, ...bnGrads] = inferenceBatchNormGradients(z, gamma, movingMean, movingVariance, saved[m + 6], dy);
        return [...convGradients(g, saved.slice(0, m), saved[m], dz, true), ...bnGrads];
      },
    };
  });
  return op(...inputs, filter, bias, p.gamma, p.beta, p.movingMean, p.movingVariance);
}

function batchNormRelu(x: Tensor5D, p: BatchNormParams, training: boolean): Tensor5D {
  if (!training) return batchNormReluInference(x, p);
  const c = x.shape[4];
  const voxels = sizeOf(x.shape) / c;
  const op = customOp<Tensor5D>(3, ([xt, gamma, beta], save) => {
    const { slices } = channelLayout(voxels, c);
    const sums = run1(sumKernel(voxels, c), [slices * c], [xt]);
    const meanOf = run1(meanKernel(voxels, c, slices), [c], [sums]);
    sums.dispose();
    const squares = run1(squaredDeviationKernel(voxels, c), [slices * c], [xt, meanOf]);
    const stats = run1(batchStatsKernel(voxels, c, slices, BN_EPSILON), [5, c], [squares, meanOf, gamma, beta]);
    squares.dispose();
    meanOf.dispose();
    const value = run1<Tensor5D>(scaleShiftReluKernel(voxels * c, c), [...x.shape], [xt, stats]);
    tf.tidy(() => {
      const [batchMean, batchVariance] = tf.split(tf.slice(stats, [0, 0], [2, c]), 2, 0);
      updateMovingAverages(p, tf.reshape(batchMean, [c]), tf.reshape(batchVariance, [c]));
    });
    save([xt, gamma, stats]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sx, sg, sstats] = saved;
        const sums = channelSums(batchNormGradSumsKernel, [sx, dy, sstats], voxels, c, 2);
        const dx = run1(batchNormGradInputKernel(voxels, c), [...x.shape], [sx, dy, sstats, sums, sg]);
        const [dBeta, dGamma] = tf.split(sums, 2, 0).map((t) => tf.reshape(t, [c]));
        sums.dispose();
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, p.gamma, p.beta);
}

/**
 * The gradients of y = max(0, (x − m)·γ/√(v + ε) + β) (the moving statistics as inputs): of x,
 * γ, β, m, v. Rarely needed (fine-tuning in inference mode): plain tfjs ops.
 */
function inferenceBatchNormGradients(x: Tensor, gamma: Tensor, mean: Tensor, variance: Tensor, y: Tensor, dy: Tensor): Tensor[] {
  const invStd = tf.rsqrt(tf.add(variance, BN_EPSILON));
  const g2 = tf.mul(dy, tf.step(y));
  const xHat = tf.mul(tf.sub(x, mean), invStd);
  const dGamma = tf.sum(tf.mul(g2, xHat), [0, 1, 2, 3]);
  const dBeta = tf.sum(g2, [0, 1, 2, 3]);
  const dx = tf.mul(g2, tf.mul(gamma, invStd));
  const dMean = tf.neg(tf.mul(dBeta, tf.mul(gamma, invStd)));
  const dVar = tf.mul(tf.mul(dGamma, gamma), tf.mul(tf.pow(invStd, 2), -0.5));
  return [dx, dGamma, dBeta, dMean, dVar];
}

/** With the moving statistics: y = max(0, (x − m)·γ/√(v + ε) + β) in one kernel. */
function batchNormReluInference(x: Tensor5D, p: BatchNormParams): Tensor5D {
  const c = x.shape[4];
  const op = customOp<Tensor5D>(5, (args, save) => {
    const value = run1<Tensor5D>(inferenceBatchNormReluKernel(sizeOf(x.shape), c, BN_EPSILON), [...x.shape], args);
    save([...args, value]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sx, sg, , sm, sv, sy] = saved;
        return inferenceBatchNormGradients(sx, sg, sm, sv, sy, dy);
      },
    };
  });
  return op(x, p.gamma, p.beta, p.movingMean, p.movingVariance);
}

function maxPool(x: Tensor5D): Tensor5D {
  const shape = x.shape as Shape5;
  const [n, d, h, w, c] = shape;
  if (d < 2 || h < 2 || w < 2) throw new Error(`maxPool: input [${d}, ${h}, ${w}] is smaller than 2×2×2`);
  const op = customOp<Tensor5D>(1, ([xt], save) => {
    save([xt]);
    const value = run1<Tensor5D>(maxPoolKernel(shape), [n, d >> 1, h >> 1, w >> 1, c], [xt]);
    return {
      value,
      gradFunc: (dy, [sx]) => {
        const dx = emptyOutput([...shape]);
        // Odd sizes leave inputs outside every window: they get zero first.
        if (d % 2 || h % 2 || w % 2) dispatch(zeroKernel(sizeOf(shape)), [dx], []);
        dispatch(maxPoolGradKernel(shape), [dx], [sx, dy]);
        return [toTensor(dx)];
      },
    };
  });
  return op(x);
}

function upConv(x: Tensor5D, filter: Tensor5D): Tensor5D {
  const shape = x.shape as Shape5;
  const [n, d, h, w, cin] = shape;
  const cout = filter.shape[3];
  if (filter.shape[4] !== cin) throw new Error(`upConv: the filter takes ${filter.shape[4]} channels, the input has ${cin}`);
  const op = customOp<Tensor5D>(2, ([xt, wt], save) => {
    save([xt, wt]);
    const value = run1<Tensor5D>(upConvForwardKernel(shape, cout), [n, 2 * d, 2 * h, 2 * w, cout], [xt, wt]);
    return {
      value,
      gradFunc: (dy, [sx, sw]) => {
        const dx = run1(upConvInputGradKernel(shape, cout), [...shape], [dy, sw]);
        const dw = splitK((s) => upConvFilterGradKernel(shape, cout, s), upConvFilterGradSplits(shape, cout, partialBytes()), [...sw.shape], [dy, sx]);
        return [dx, dw];
      },
    };
  });
  return op(x, filter);
}

export const webgpuOps: NetworkOps = {
  conv,
  convBatchNormRelu,
  batchNormRelu,
  relu: (x) => tf.relu(x),
  maxPool,
  upConv,
  channels,
};
