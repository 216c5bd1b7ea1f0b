/**
 * A fix for tfjs-backend-webgpu 4.22: its binary operations broadcast a short vector (2–127
 * elements) over the last axis through workgroup memory and index it with `coords[rank − 1]`,
 * which for rank 5 indexes a struct (`vec5`): the shader does not compile and the dispatch, with
 * every other command of its submission, is dropped. Every per-channel operation on an NDHWC
 * tensor (adding a bias, scaling by a batch-norm factor, weighting classes) is such a case. The
 * wrapped kernels view the 5-D operand as 2-D [voxels, channels] (a free reshape) and reshape the
 * result back.
 */
import { tf } from '../tf';

const BINARY_KERNELS = [
  'Add',
  'Sub',
  'Multiply',
  'RealDiv',
  'Maximum',
  'Minimum',
  'SquaredDifference',
  'Pow',
  'FloorDiv',
  'Mod',
  'Equal',
  'NotEqual',
  'Greater',
  'GreaterEqual',
  'Less',
  'LessEqual',
  'LogicalAnd',
  'LogicalOr',
  'Atan2',
];

type KernelFunc = (params: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => tf.TensorInfo | tf.TensorInfo[];

/** Whether tfjs-backend-webgpu would take its broken path for these shapes. */
export function needsRank5Fix(a: readonly number[], b: readonly number[]): boolean {
  const vector = (v: readonly number[], other: readonly number[]) => v.length <= 1 && other.length === 5 && (v[0] ?? 1) > 1 && v[0] < 128;
  return vector(a, b) || vector(b, a);
}

let applied = false;

/** Wraps the webgpu binary kernels (once). */
export function applyWebGpuKernelFixes(): void {
  if (applied) return;
  applied = true;
  const reshape = tf.getKernel('Reshape', 'webgpu')?.kernelFunc as KernelFunc | undefined;
  if (!reshape) return;
  for (const name of BINARY_KERNELS) {
    const kernel = tf.getKernel(name, 'webgpu');
    if (!kernel) continue;
    const original = kernel.kernelFunc as KernelFunc;
    const fixed: KernelFunc = ({ inputs, backend, attrs }) => {
      const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      if (!a || !b || !needsRank5Fix(a.shape, b.shape)) return original({ inputs, backend, attrs });
      const five = a.shape.length === 5 ? a : b;
      const c = five.shape[4];
      const flat = reshape({ inputs: { x: five }, backend, attrs: { shape: [five.shape.reduce((x, y) => x * y, 1) / c, c] as unknown as tf.NamedAttrMap[string] } }) as tf.TensorInfo;
      const out2 = original({ inputs: five === a ? { a: flat, b } : { a, b: flat }, backend, attrs }) as tf.TensorInfo;
      const out = reshape({ inputs: { x: out2 }, backend, attrs: { shape: five.shape as unknown as tf.NamedAttrMap[string] } }) as tf.TensorInfo;
      backend.disposeData(flat.dataId);
      backend.disposeData(out2.dataId);
      return out;
    };
    tf.unregisterKernel(name, 'webgpu');
    tf.registerKernel({ ...kernel, kernelFunc: fixed as tf.KernelFunc });
  }
}
