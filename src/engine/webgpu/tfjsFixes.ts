/**
 * Fixes for tfjs-backend-webgpu 4.22's rank-5 shaders, which index its 5-vector struct (`vec5`)
 * like an array: the shader does not compile, and the dispatch, with every other command of its
 * submission, is dropped (results silently wrong). Two kernels the engine meets:
 *  - binary operations broadcasting a short vector (2–127 elements) over the last axis (adding a
 *    bias, scaling by a batch-norm factor, weighting classes on NDHWC tensors): the 5-D operand
 *    is viewed as 2-D [voxels, channels] (a free reshape) and the result reshaped back;
 *  - padding (PadV2, also the gradient of a 5-D slice): with the channels unpadded, [N, D, H, W, C]
 *    is padded as [N, D, H, W·C] with the W padding times C.
 * And one limit: AddN binds every input at once, past WebGPU's 16 storage buffers per shader for
 * more than 15 inputs (the optimizer's global gradient norm sums one term per variable): the
 * wrapped kernel adds them in groups.
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

/** The 4-D padding equivalent to a 5-D one that leaves the channels alone, or undefined. */
export function pad5As4(shape: readonly number[], paddings: readonly (readonly [number, number])[]): { shape: number[]; paddings: [number, number][] } | undefined {
  if (shape.length !== 5 || paddings[4][0] !== 0 || paddings[4][1] !== 0) return undefined;
  const c = shape[4];
  return {
    shape: [shape[0], shape[1], shape[2], shape[3] * c],
    paddings: [[...paddings[0]], [...paddings[1]], [...paddings[2]], [paddings[3][0] * c, paddings[3][1] * c]] as [number, number][],
  };
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
    replaceKernel(kernel, fixed);
  }
  fixAddN();
  const pad = tf.getKernel('PadV2', 'webgpu');
  if (pad) {
    const original = pad.kernelFunc as KernelFunc;
    replaceKernel(pad, ({ inputs, backend, attrs }) => {
      const x = (inputs as { x: tf.TensorInfo }).x;
      const { paddings, constantValue } = attrs as unknown as { paddings: [number, number][]; constantValue: number };
      const as4 = pad5As4(x.shape, paddings);
      if (!as4) return original({ inputs, backend, attrs });
      const x4 = reshape({ inputs: { x }, backend, attrs: { shape: as4.shape as unknown as tf.NamedAttrMap[string] } }) as tf.TensorInfo;
      const y4 = original({ inputs: { x: x4 }, backend, attrs: { paddings: as4.paddings, constantValue } as unknown as tf.NamedAttrMap }) as tf.TensorInfo;
      const shape = x.shape.map((n, a) => n + paddings[a][0] + paddings[a][1]);
      const y = reshape({ inputs: { x: y4 }, backend, attrs: { shape: shape as unknown as tf.NamedAttrMap[string] } }) as tf.TensorInfo;
      backend.disposeData(x4.dataId);
      backend.disposeData(y4.dataId);
      return y;
    });
  }
}

/** Inputs per AddN dispatch: its output and inputs must fit 16 storage bindings (WebGPU's default). */
export const ADDN_GROUP = 8;

function fixAddN(): void {
  const addN = tf.getKernel('AddN', 'webgpu');
  if (!addN) return;
  const original = addN.kernelFunc as KernelFunc;
  const fixed: KernelFunc = ({ inputs, backend, attrs }) => {
    const list = inputs as unknown as tf.TensorInfo[];
    if (list.length <= ADDN_GROUP) return original({ inputs, backend, attrs });
    let rest = list;
    const partials: tf.TensorInfo[] = [];
    while (rest.length > 0) {
      const group = rest.slice(0, ADDN_GROUP);
      rest = rest.slice(ADDN_GROUP);
      partials.push(group.length === 1 ? group[0] : (original({ inputs: group as unknown as tf.NamedTensorInfoMap, backend, attrs }) as tf.TensorInfo));
    }
    const out = fixed({ inputs: partials as unknown as tf.NamedTensorInfoMap, backend, attrs }) as tf.TensorInfo;
    for (const p of partials) if (!list.includes(p)) backend.disposeData(p.dataId);
    return out;
  };
  replaceKernel(addN, fixed);
}

function replaceKernel(kernel: tf.KernelConfig, kernelFunc: KernelFunc): void {
  tf.unregisterKernel(kernel.kernelName, kernel.backendName);
  tf.registerKernel({ ...kernel, kernelFunc: kernelFunc as tf.KernelFunc });
}
