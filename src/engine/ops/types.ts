/** What the network's layers need from a formulation of its operations. Tensors are NDHWC. */
import type { Tensor1D, Tensor5D, Variable } from '../tf';

export type Padding = 'valid' | 'same';

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

/** The network's operations, one implementation per formulation; each is differentiable. */
export interface NetworkOps {
  /**
   * A 3D convolution, stride 1, of the channel-wise concatenation of `inputs` (each centre-cropped to
   * the smallest spatial size among them; with one input, that input) with `filter`
   * [k, k, k, inChannels, outChannels], plus `bias` [outChannels] when given.
   */
  conv(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D | null, padding: Padding): Tensor5D;
  /** Batch norm (batch statistics and a moving-average update when training) followed by ReLU. */
  batchNormRelu(x: Tensor5D, params: BatchNormParams, training: boolean): Tensor5D;
  relu(x: Tensor5D): Tensor5D;
  /** 2×2×2 max pooling, stride 2 (odd sizes are floored). */
  maxPool(x: Tensor5D): Tensor5D;
  /** 2×2×2 transposed convolution, stride 2, no bias; `filter` [2, 2, 2, outChannels, inChannels] (tfjs's layout). */
  upConv(x: Tensor5D, filter: Tensor5D): Tensor5D;
  /** Optional: `conv` then batch norm with the moving statistics and ReLU, fused (inference). */
  convBatchNormRelu?(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D, padding: Padding, params: BatchNormParams): Tensor5D;
}
