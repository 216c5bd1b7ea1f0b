/** Moving float32 tensors between TensorFlow.js and the kernels' memory with as few copies as the backend allows. */
import { tf, type Tensor } from '../../tf';
import type { SimdRuntime } from './runtime';

interface WasmBackendLike {
  dataIdMap: { has(dataId: object): boolean };
  typedArrayFromHeap(info: { dataId: object; shape: number[]; dtype: string }): Float32Array;
}

interface CpuBackendLike {
  data: { has(dataId: object): boolean };
  readSync(dataId: object): unknown;
}

/** The tensor's values: a view of the backend's own storage where possible (do not keep it). */
export function readFloats(t: Tensor): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`internal: expected a float32 tensor, got ${t.dtype}`);
  const backend = tf.backend() as unknown;
  const name = tf.getBackend();
  if (name === 'wasm') {
    const wasm = backend as WasmBackendLike;
    if (wasm.dataIdMap.has(t.dataId)) return wasm.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
  } else if (name === 'cpu') {
    const cpu = backend as CpuBackendLike;
    if (cpu.data.has(t.dataId)) {
      const values = cpu.readSync(t.dataId);
      if (values instanceof Float32Array) return values;
    }
  }
  return t.dataSync() as Float32Array;
}

/** Copies a tensor's values into the arena; returns the pointer. */
export function putTensor(rt: SimdRuntime, t: Tensor): number {
  return rt.put(readFloats(t));
}

/** A new tensor holding `size` floats at `ptr` in the arena. */
export function tensorFromArena<T extends Tensor>(rt: SimdRuntime, ptr: number, shape: number[]): T {
  const size = shape.reduce((a, b) => a * b, 1);
  const view = rt.f32.subarray(ptr >>> 2, (ptr >>> 2) + size);
  // The wasm backend copies into its heap at once; the cpu backend keeps the array it is given.
  return tf.tensor(tf.getBackend() === 'wasm' ? view : view.slice(), shape, 'float32') as T;
}
