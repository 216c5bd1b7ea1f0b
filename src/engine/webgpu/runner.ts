/// <reference types="@webgpu/types" />
/**
 * Runs the engine's own WGSL kernels on tfjs's webgpu backend, on the tensors' own GPU buffers
 * and inside tfjs's command stream: a dispatch is recorded into the backend's open compute pass,
 * its tensors are marked as owned by the queue (so tfjs defers their release until the commands
 * are submitted), and the pass is submitted every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches as
 * tfjs does for its own programs. Every shape is a compile-time constant of the WGSL source: one
 * pipeline per layer shape, compiled once and cached by its source.
 *
 * This reaches into WebGPUBackend's private fields (tfjs-backend-webgpu is pinned at 4.22.0).
 */
import { tf, type Tensor } from '../tf';

/** The parts of tfjs-backend-webgpu 4.22's WebGPUBackend a kernel dispatch uses. */
interface WebGpuBackendInternals {
  device: GPUDevice;
  tensorMap: { get(dataId: object): { resource?: GPUBuffer } };
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  commandQueueOwnedIds: WeakSet<object>;
  dispatchCountInPass: number;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  makeTensorInfo(shape: number[], dtype: 'float32'): tf.TensorInfo;
}

/** A compiled kernel: its WGSL source (which names every shape) and workgroup count. */
export interface KernelLaunch {
  /** WGSL with bindings @group(0) @binding(i): the outputs first (read_write), then the inputs (read). */
  code: string;
  /** Workgroups to launch, [x, y, z]; each at most maxComputeWorkgroupsPerDimension. */
  workgroups: [number, number, number];
  /** A name for errors and profiles. */
  label: string;
}

const pipelines = new Map<string, GPUComputePipeline>();
let pipelineDevice: GPUDevice | undefined;

function backend(): WebGpuBackendInternals {
  if (tf.getBackend() !== 'webgpu') throw new Error(`internal: a WebGPU kernel ran on the ${tf.getBackend()} backend`);
  return tf.backend() as unknown as WebGpuBackendInternals;
}

function pipelineFor(b: WebGpuBackendInternals, launch: KernelLaunch): GPUComputePipeline {
  if (pipelineDevice !== b.device) {
    pipelines.clear();
    pipelineDevice = b.device;
  }
  let pipeline = pipelines.get(launch.code);
  if (!pipeline) {
    const module = b.device.createShaderModule({ code: launch.code, label: launch.label });
    pipeline = b.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: launch.label });
    pipelines.set(launch.code, pipeline);
  }
  return pipeline;
}

/** How many distinct kernels have been compiled (each layer shape has its own). */
export function compiledKernelCount(): number {
  return pipelines.size;
}

/**
 * Records one dispatch of `launch` reading `inputs` and writing `outputs` (tensors made with
 * `emptyOutput`). The outputs are written on the GPU when the commands run; reading them (data())
 * waits for that, as for any tfjs kernel's result.
 */
export function dispatch(launch: KernelLaunch, outputs: readonly tf.TensorInfo[], inputs: readonly tf.TensorInfo[]): void {
  const b = backend();
  const pipeline = pipelineFor(b, launch);
  const tensors = [...outputs, ...inputs];
  for (const t of tensors) b.uploadToGPU(t.dataId);
  const entries = tensors.map((t, i) => {
    const buffer = b.tensorMap.get(t.dataId).resource;
    if (!(buffer instanceof GPUBuffer)) throw new Error(`internal: ${launch.label}: binding ${i} is not a GPU buffer`);
    return { binding: i, resource: { buffer } };
  });
  const bindGroup = b.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label: launch.label });
  b.ensureCommandEncoderReady();
  if (!b.computePassEncoder) b.computePassEncoder = b.commandEncoder!.beginComputePass({});
  b.computePassEncoder.setPipeline(pipeline);
  b.computePassEncoder.setBindGroup(0, bindGroup);
  b.computePassEncoder.dispatchWorkgroups(...launch.workgroups);
  for (const t of tensors) b.commandQueueOwnedIds.add(t.dataId);
  b.dispatchCountInPass++;
  if (b.dispatchCountInPass >= tf.env().getNumber('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE')) {
    b.endComputePassEncoder();
    b.submitQueue();
  }
}

/** A new float32 tensor on the GPU whose values a kernel will write (its buffer is not cleared). */
export function emptyOutput(shape: number[]): tf.TensorInfo {
  const b = backend();
  const info = b.makeTensorInfo(shape, 'float32');
  b.uploadToGPU(info.dataId);
  return info;
}

/** The tfjs tensor of a kernel's output (tracked by tidy and disposed like any other). */
export function toTensor<T extends Tensor>(info: tf.TensorInfo): T {
  return tf.engine().makeTensorFromTensorInfo(info) as T;
}

/** The largest workgroup count per dispatch axis the device allows. */
export function maxWorkgroupsPerDimension(): number {
  return backend().device.limits.maxComputeWorkgroupsPerDimension;
}

/** Spreads `count` workgroups over x and y (each axis within the device's limit). */
export function gridFor(count: number): [number, number, number] {
  const max = maxWorkgroupsPerDimension();
  if (count <= max) return [Math.max(1, count), 1, 1];
  const y = Math.ceil(count / max);
  if (y > max) throw new Error(`internal: ${count} workgroups exceed a ${max}×${max} grid`);
  return [Math.ceil(count / y), y, 1];
}

/**
 * WGSL that sets `wg` to the flat workgroup index of a `gridFor` launch and returns from the
 * workgroups beyond `count` (uniformly: the whole workgroup leaves before any barrier).
 */
export function flatWorkgroupIndex(count: number): string {
  return `let wg = wid.x + wid.y * nwg.x;\n  if (wg >= ${count}u) { return; }`;
}
