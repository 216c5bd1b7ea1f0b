/// <reference types="@webgpu/types" />
/**
 * The WebGPU backend's device: Dawn (npm `webgpu`, its prebuilt `dawn.node` for this platform)
 * loaded into this process, an adapter chosen (a hardware one unless a software one is allowed),
 * TensorFlow.js's webgpu backend registered on a device with the adapter's full limits, and the
 * device watched for errors (out of memory, device lost) so they surface as clear messages at the
 * engine's next synchronisation point instead of silently wrong numbers.
 *
 * tfjs-backend-webgpu looks for `navigator.gpu` when its module loads and when its backend is
 * constructed. Node 20 has no global `navigator` (an object is assigned); Node ≥ 21 (and
 * Electron, VS Code's extension host) has one whose assignment is silently ignored, so `gpu` is
 * defined on it as a property.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf } from '../tf';
import {
  describeAdapter,
  detectGpuMemory,
  diagnoseNoAdapter,
  isSoftwareAdapter,
  softwareOnlyFix,
  type AdapterInfoLike,
  type GpuAdapterReport,
  type GpuLimits,
} from './adapter';
import { setGemmStaging } from './kernels/gemm';
import { applyWebGpuKernelFixes } from './tfjsFixes';

/** The npm packages this backend loads. */
export const WEBGPU_PACKAGES = { dawn: 'webgpu', tfjs: '@tensorflow/tfjs-backend-webgpu' } as const;

/** What dawn.node exports. */
interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/** The outcome of loading Dawn and choosing an adapter (no device yet). */
export type WebGpuProbe =
  | { ok: true; adapter: GPUAdapter; report: GpuAdapterReport }
  | { ok: false; reason: string; fix?: string; report?: GpuAdapterReport };

/** The folder of npm `webgpu`'s binary for this platform, as the package's own index.js names it. */
export function dawnPlatformFolder(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  return `${platform}-${platform === 'darwin' ? 'universal' : arch}`;
}

/**
 * Where dawn.node for this platform is, or why it is not there: beside the bundle
 * (dist/dawn/<platform>/dawn.node, where the .vsix carries it), else in npm `webgpu` (a checkout).
 */
export function findDawnBinary(): { file: string } | { reason: string; fix: string } {
  const folder = dawnPlatformFolder();
  const beside = path.join(__dirname, 'dawn', folder, 'dawn.node');
  if (fs.existsSync(beside)) return { file: beside };
  let packageDir: string;
  try {
    packageDir = path.dirname(require.resolve(`${WEBGPU_PACKAGES.dawn}/package.json`));
  } catch {
    return {
      reason: `Dawn's WebGPU binary for ${folder} is not installed (neither ${beside} nor the npm package ${WEBGPU_PACKAGES.dawn})`,
      fix: `install the extension package built for ${folder} (one .vsix per platform)`,
    };
  }
  const file = path.join(packageDir, 'dist', folder, 'dawn.node');
  if (fs.existsSync(file)) return { file };
  return {
    reason: `this installation has no Dawn binary for ${folder} (dist/${folder}/dawn.node)`,
    fix: `install the extension package built for ${folder} (one .vsix per platform)`,
  };
}

let dawn: DawnModule | undefined;
let gpu: GPU | undefined;
let probed: WebGpuProbe | undefined;

function loadDawn(file: string): DawnModule {
  if (!dawn) {
    dawn = require(file) as DawnModule;
    // GPUBufferUsage, GPUMapMode, ...: tfjs-backend-webgpu reads them as globals.
    const g = globalThis as Record<string, unknown>;
    for (const [name, value] of Object.entries(dawn.globals)) if (g[name] === undefined) g[name] = value;
  }
  return dawn;
}

/** Makes `navigator.gpu` the given GPU, on Node without and with a global navigator. */
export function installNavigatorGpu(value: GPU | undefined): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) {
    if (value !== undefined) (globalThis as Record<string, unknown>).navigator = { gpu: value };
    return;
  }
  Object.defineProperty(g.navigator, 'gpu', { value, configurable: true, writable: true, enumerable: true });
}

/** GPUAdapter.info (newer than the WebGPU types tfjs pins). */
function infoOf(adapter: GPUAdapter): AdapterInfoLike {
  return (adapter as unknown as { info: AdapterInfoLike }).info;
}

function limitsOf(adapter: GPUAdapter): GpuLimits {
  const l = adapter.limits;
  return {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
}

function reportOf(adapter: GPUAdapter): GpuAdapterReport {
  const info = infoOf(adapter);
  const software = isSoftwareAdapter(info);
  const report: GpuAdapterReport = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    description: info.description || info.device || '',
    software,
    limits: limitsOf(adapter),
  };
  const memory = detectGpuMemory(info, software);
  if (memory) report.memory = memory;
  return report;
}

/**
 * Loads Dawn and picks an adapter: the high-performance one, else a low-power one, preferring
 * hardware. Done once per process (an adapter gives one device).
 */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  if (probed) return probed;
  const binary = findDawnBinary();
  if ('reason' in binary) return (probed = { ok: false, ...binary });
  try {
    gpu = loadDawn(binary.file).create([]);
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    const glibc = /(GLIBC(?:XX)?_[\d.]+)/.exec(message);
    return (probed = {
      ok: false,
      reason: `Dawn (dawn.node) did not load: ${message}`,
      fix: glibc ? `it needs ${glibc[1]}: use a newer Linux distribution, or the wasm backend` : `reinstall the extension (or \`npm rebuild ${WEBGPU_PACKAGES.dawn}\`)`,
    });
  }
  const candidates: GPUAdapter[] = [];
  for (const powerPreference of ['high-performance', 'low-power'] as const) {
    const adapter = await gpu.requestAdapter({ powerPreference });
    if (adapter) candidates.push(adapter);
    if (adapter && !isSoftwareAdapter(infoOf(adapter))) break;
  }
  const adapter = candidates.find((a) => !isSoftwareAdapter(infoOf(a))) ?? candidates[0];
  if (!adapter) return (probed = { ok: false, ...diagnoseNoAdapter() });
  return (probed = { ok: true, adapter, report: reportOf(adapter) });
}

/** The device's state: errors reported by the GPU since the last check, and a loss. */
interface DeviceWatch {
  device: GPUDevice;
  report: GpuAdapterReport;
  errors: string[];
  lost?: string;
}

let watch: DeviceWatch | undefined;

/** The adapter the webgpu backend runs on, once its device exists. */
export function activeAdapter(): GpuAdapterReport | undefined {
  return watch?.report;
}

/**
 * Registers tfjs's webgpu backend on a device of `adapter`, asking for the adapter's limits
 * (WebGPU's defaults cap a storage binding at 128 MiB). Replaces the factory tfjs-backend-webgpu
 * registers itself (which would pick its own adapter, maybe a software one).
 */
export function registerWebGpuBackend(adapter: GPUAdapter, report: GpuAdapterReport): void {
  installNavigatorGpu(gpu);
  // Bundled (esbuild.node.mjs); loaded only here, once Dawn has given an adapter.
  const { WebGPUBackend } = require('@tensorflow/tfjs-backend-webgpu') as typeof import('@tensorflow/tfjs-backend-webgpu');
  applyWebGpuKernelFixes();
  // llvmpipe (a software adapter) takes seconds to compile each workgroup barrier: there the
  // GEMMs read their operands per thread (the same kernels otherwise; the tests check both).
  setGemmStaging(report.software ? 'registers' : 'workgroup');
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', async () => {
    const l = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
      requiredLimits: {
        maxBufferSize: l.maxBufferSize,
        maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
        maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
        maxComputeWorkgroupSizeZ: l.maxComputeWorkgroupSizeZ,
        maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
        maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      },
    });
    const w: DeviceWatch = { device, report, errors: [] };
    watch = w;
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      if (w.errors.length < 8) w.errors.push(`${error.constructor?.name ?? 'GPUError'}: ${error.message.split('\n')[0]}`);
    });
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') w.lost = info.message || String(info.reason);
    });
    return new WebGPUBackend(device, infoOf(adapter) as GPUAdapterInfo);
  }, 1);
}

/** Adapter and device errors surface here as one Error (call at synchronisation points). */
export function assertDeviceHealthy(): void {
  const w = watch;
  if (!w) return;
  if (w.lost !== undefined) throw new Error(`the GPU device was lost (${w.lost}); ${describeAdapter(w.report)}. Restart the engine; if it recurs, use a smaller patch or tile`);
  if (w.errors.length === 0) return;
  const errors = w.errors.splice(0);
  const oom = errors.some((e) => /OutOfMemory|out of memory/i.test(e));
  throw new Error(
    oom
      ? `the GPU ran out of memory (${errors[0]}); use a smaller patch or tile, or close other programs that use the GPU`
      : `the GPU reported an error: ${errors.join('; ')}`,
  );
}

/** The tfjs webgpu backend's buffer pool (sizes in bytes). */
export interface GpuBufferStats {
  used: number;
  free: number;
  bytesUsed: number;
  bytesAllocated: number;
}

interface BufferManagerLike {
  numBytesUsed: number;
  numBytesAllocated: number;
  getNumUsedBuffers(): number;
  getNumFreeBuffers(): number;
  freeBuffers: Map<string, GPUBuffer[]>;
  numFreeBuffers: number;
}

function bufferManager(): BufferManagerLike | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  return (tf.backend() as unknown as { bufferManager: BufferManagerLike }).bufferManager;
}

/** How many GPU buffers tfjs holds, in use and pooled for reuse; undefined off webgpu. */
export function gpuBufferStats(): GpuBufferStats | undefined {
  const m = bufferManager();
  if (!m) return undefined;
  return { used: m.getNumUsedBuffers(), free: m.getNumFreeBuffers(), bytesUsed: m.numBytesUsed, bytesAllocated: m.numBytesAllocated };
}

/**
 * Destroys the pooled free buffers. tfjs keeps every released buffer for reuse by size and never
 * frees them: between phases that use other sizes (training, validation, a segmentation's
 * tiles) the pool would only grow.
 */
export function releasePooledGpuBuffers(): void {
  const m = bufferManager();
  if (!m) return;
  for (const buffers of m.freeBuffers.values()) {
    for (const b of buffers) {
      m.numBytesAllocated -= b.size;
      b.destroy();
    }
    buffers.length = 0;
  }
  m.numFreeBuffers = 0;
}

/** The device's storage-binding limit: the largest tensor a shader may read or write. */
export function maxBindingBytes(): number {
  return watch?.report.limits.maxStorageBufferBindingSize ?? 128 * 2 ** 20;
}

export { describeAdapter, softwareOnlyFix };
