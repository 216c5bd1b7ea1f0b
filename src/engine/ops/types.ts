/** What the network's layers need from a formulation of its operations. Tensors are NDHWC. */
import type { Padding } from '../../protocol/network';
import type { Tensor1D, Tensor5D, Variable } from '../tf';

/** A batch-norm layer's variables, each [channels]. */
export interface BatchNormParams {
  gamma: Variable;
  beta: Variable;
  movingMean: Variable;
  movingVariance: Variable;
}

/** Moving averages: moving = MOMENTUM · moving + (1 − MOMENTUM) · batch (PyTorch's 0.1 the other way round). */
export const BN_MOMENTUM = 0.9;
export const BN_EPSILON = 1e-5;

export interface ConvOptions {
  /** Compute the gradient of the inputs (default true). */
  inputGradient?: boolean;
}

/** The network's operations, one implementation per formulation; each is differentiable. */
export interface NetworkOps {
  /**
   * A 3D convolution, stride 1, of the channel-wise concatenation of `inputs` (each centre-cropped to
   * the smallest spatial size among them; with one input, that input) with `filter`
   * [k, k, k, inChannels, outChannels], plus `bias` [outChannels] when given. With
   * `inputGradient: false` the inputs' gradient is not computed (zeros are returned): for the
   * network's first convolution, whose input is data that no variable depends on.
   */
  conv(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D | null, padding: Padding, options?: ConvOptions): Tensor5D;
  /** Batch norm (batch statistics and a moving-average update when training) followed by ReLU. */
  batchNormRelu(x: Tensor5D, params: BatchNormParams, training: boolean): Tensor5D;
  relu(x: Tensor5D): Tensor5D;
  /** 2×2×2 max pooling, stride 2 (odd sizes are floored). */
  maxPool(x: Tensor5D): Tensor5D;
  /** 2×2×2 transposed convolution, stride 2, no bias; `filter` [2, 2, 2, outChannels, inChannels] (tfjs's layout). */
  upConv(x: Tensor5D, filter: Tensor5D): Tensor5D;
  /** Channels `[first, first + count)` of `x`. */
  channels(x: Tensor5D, first: number, count: number): Tensor5D;
  /** Optional: `conv` then batch norm with the moving statistics and ReLU, fused (inference). */
  convBatchNormRelu?(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D, padding: Padding, params: BatchNormParams): Tensor5D;
}
