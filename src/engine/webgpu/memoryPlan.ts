/**
 * What fits on a GPU: the bytes a training step or an inference pass of a U-Net holds on the
 * device, from the network's layer table (no TensorFlow.js), checked against the adapter's
 * limits before anything is allocated. WebGPU caps each buffer a shader binds
 * (maxStorageBufferBindingSize: every tensor must fit one) and the device's memory caps the sum;
 * past either, a dispatch fails or the device is lost, so the engine refuses or shrinks a patch
 * or tile beforehand, with a message that says what fits.
 *
 * The estimates follow the webgpu formulation (src/engine/ops/webgpuOps.ts):
 *  - training: every convolution keeps its output and its batch-normalized output for the
 *    backward pass, pooling and up-convolution their outputs, the loss a few logit-sized
 *    tensors; the backward pass holds gradients of about the same total, and tfjs's buffer pool
 *    keeps what it frees for reuse: TRAINING_FACTOR × the saved activations (measured: see
 *    docs/engine-webgpu.md);
 *  - inference: the skip connections plus, at each layer, its inputs and output (the model frees
 *    each activation once used when not training).
 */
import type { Vec3 } from '../../core/geometry';
import { describeNetwork, type LayerRow, type UNetConfig } from '../../protocol/network';

/** What the device allows, in bytes. */
export interface GpuBudget {
  /** The largest tensor (storage binding). */
  maxTensorBytes: number;
  /** The device memory the engine may use (a share of the GPU's, or of the system's for a software adapter). */
  memoryBytes: number;
}

/** Bytes a pass needs: its largest tensor and its peak in total. */
export interface PassBytes {
  largestTensor: number;
  total: number;
}

/** Saved activations × this ≈ a training step's peak device memory (gradients, pool, loss). */
export const TRAINING_FACTOR = 2.5;

const zyx = (v: readonly number[]): [number, number, number] => [v[2], v[1], v[0]];
const bytesOf = (row: LayerRow, batch: number) => 4 * batch * row.outputShape.reduce((a, b) => a * b, 1);

/** A training step at input size `input` (x, y, z) and `batch`. */
export function trainingBytes(config: UNetConfig, input: Vec3, batch: number): PassBytes {
  const rows = describeNetwork(config, zyx(input));
  let saved = 0;
  let largest = 0;
  for (const row of rows) {
    if (row.kind.startsWith('crop') || row.kind.startsWith('concat')) continue;
    const bytes = bytesOf(row, batch);
    largest = Math.max(largest, bytes);
    // A convolution with batch norm keeps two tensors; the logits feed a softmax and its gradient.
    const copies = row.name === 'final' ? 4 : row.kind.includes('BN') ? 2 : 1;
    saved += copies * bytes;
  }
  return { largestTensor: largest, total: TRAINING_FACTOR * saved };
}

/** An inference pass at input size `input` (x, y, z), batch 1. */
export function inferenceBytes(config: UNetConfig, input: Vec3): PassBytes {
  const rows = describeNetwork(config, zyx(input));
  const bytes = new Map(rows.map((r) => [r.name, bytesOf(r, 1)]));
  const get = (name: string) => bytes.get(name) ?? 0;
  let largest = 0;
  for (const b of bytes.values()) largest = Math.max(largest, b);
  let peak = 0;
  const skips: number[] = [];
  let current = get('input');
  const step = (inputs: number, output: number) => {
    peak = Math.max(peak, skips.reduce((a, b) => a + b, 0) + inputs + output);
  };
  for (let l = 0; l < config.levels; l++) {
    step(current, get(`enc${l}/conv1`));
    step(get(`enc${l}/conv1`), get(`enc${l}/conv2`));
    current = get(`enc${l}/conv2`);
    if (l < config.levels - 1) {
      step(current, get(`pool${l}`));
      skips.push(current);
      current = get(`pool${l}`);
    }
  }
  for (let l = config.levels - 2; l >= 0; l--) {
    step(current, get(`up${l}`));
    const skip = skips.pop() ?? 0;
    step(skip + get(`up${l}`), get(`dec${l}/conv1`));
    step(get(`dec${l}/conv1`), get(`dec${l}/conv2`));
    current = get(`dec${l}/conv2`);
  }
  step(current, get('final') + get('trust'));
  return { largestTensor: largest, total: peak };
}

const mib = (n: number) => `${Math.round(n / 2 ** 20).toLocaleString('en-US')} MiB`;

/** Why a pass does not fit, or undefined when it does. */
export function doesNotFit(need: PassBytes, budget: GpuBudget): string | undefined {
  if (need.largestTensor > budget.maxTensorBytes) {
    return `its largest tensor takes ${mib(need.largestTensor)}, more than the GPU lets one buffer hold (maxStorageBufferBindingSize ${mib(budget.maxTensorBytes)})`;
  }
  if (need.total > budget.memoryBytes) return `it needs about ${mib(need.total)} of GPU memory, more than the ${mib(budget.memoryBytes)} available to it`;
  return undefined;
}

/**
 * The largest size that fits, scaling `size` (x, y, z) down in steps of `multiple` per axis
 * (keeping its proportions as far as the steps allow), with `sizeFor` mapping an output size to
 * the input size the pass sees and `need` its bytes. Undefined when not even the smallest fits.
 */
export function largestFitting(size: Vec3, multiple: number, budget: GpuBudget, need: (size: Vec3) => PassBytes): Vec3 | undefined {
  let current = [...size] as Vec3;
  for (let guard = 0; guard < 10_000; guard++) {
    if (!doesNotFit(need(current), budget)) return current;
    // Shrink the largest axis by one step.
    const axis = current.indexOf(Math.max(...current));
    if (current[axis] <= multiple) return undefined;
    current = current.map((n, a) => (a === axis ? Math.max(multiple, n - multiple) : n)) as Vec3;
  }
  return undefined;
}

/** The share of a device's memory the engine plans to use. */
export function memoryBudget(memoryBytes: number | undefined, software: boolean, freeSystemBytes: number): number {
  // Unknown memory (WebGPU does not tell): plan for a 4 GiB GPU.
  if (memoryBytes === undefined) return 0.8 * 4 * 2 ** 30;
  // A software adapter takes the system's memory, shared with everything else.
  if (software) return Math.min(0.5 * memoryBytes, 0.8 * freeSystemBytes);
  return 0.8 * memoryBytes;
}
