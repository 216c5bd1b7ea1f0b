/**
 * The network's operations, in the formulation that suits the active backend: TensorFlow's own
 * kernels on the tensorflow backends, the engine's WebAssembly SIMD kernels on wasm and cpu
 * (tfjs's own are slow there, and wrong on wasm for the convolution's input gradient), the
 * engine's WGSL kernels on webgpu.
 */
import { isNativeBackend } from '../backends';
import { tf } from '../tf';
import { simdOps } from './simdOps';
import { tfjsOps } from './tfjsOps';
import { webgpuOps } from './webgpuOps';
import type { NetworkOps } from './types';

export type { BatchNormParams, ConvOptions, NetworkOps } from './types';
export { BN_EPSILON, BN_MOMENTUM } from './types';

/** 'tfjs': TensorFlow.js kernels; 'simd': the engine's own WebAssembly SIMD kernels; 'webgpu': its WGSL kernels. */
export type Formulation = 'tfjs' | 'simd' | 'webgpu';

let forced: Formulation | undefined;

/** Forces a formulation (tests and benchmarks compare them); 'auto' goes back to the backend's choice. */
export function setFormulation(choice: Formulation | 'auto'): void {
  forced = choice === 'auto' ? undefined : choice;
}

/** The formulation used now. */
export function activeFormulation(): Formulation {
  if (forced) return forced;
  if (isNativeBackend()) return 'tfjs';
  return tf.getBackend() === 'webgpu' ? 'webgpu' : 'simd';
}

const FORMULATIONS: Record<Formulation, () => NetworkOps> = {
  tfjs: () => tfjsOps,
  simd: () => simdOps,
  webgpu: () => webgpuOps,
};

/** The operations for the formulation in use now. */
export function networkOps(): NetworkOps {
  return FORMULATIONS[activeFormulation()]();
}
