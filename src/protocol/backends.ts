/**
 * The compute backends by name, and what a probe of them reports. Part of the engine's contract:
 * the extension (settings, Show Compute Backend), the CLI (`--backend`) and the engine share it.
 * No TensorFlow.js here; src/engine/backends.ts loads them.
 */

/** A backend by the name the setting `unet3d.backend` and `--backend` use. */
export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

/** The TensorFlow.js version the engine is built with (package.json); a native package must be the same. */
export const TFJS_VERSION = '4.22.0';

/** The npm packages of the native backends (not bundled: installed by the user, see WorkerStartOptions). */
export const NATIVE_PACKAGES = { tensorflow: '@tensorflow/tfjs-node', 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu' } as const;

/** The order `auto` tries them in: fastest first (webgpu only on a hardware adapter). */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/** One line per choice, for the setting's enumDescriptions and the help. */
export const BACKEND_DESCRIPTIONS: Record<BackendChoice, string> = {
  auto: 'The first that loads, fastest first',
  'tensorflow-gpu': 'TensorFlow with CUDA (@tensorflow/tfjs-node-gpu, installed separately)',
  webgpu: "Any GPU through WebGPU (Dawn: Vulkan, Metal or Direct3D 12) with the engine's WGSL kernels; `auto` takes it on a hardware adapter only",
  tensorflow: 'TensorFlow on the CPU (@tensorflow/tfjs-node, installed separately)',
  wasm: "WebAssembly with SIMD and the engine's own kernels: works everywhere",
  cpu: 'Plain JavaScript: the slowest, a last resort',
};

/** What the setting and `--backend` accept: a backend, or `auto` (the first of BACKEND_ORDER that loads). */
export type BackendChoice = BackendName | 'auto';

export function isBackendName(text: unknown): text is BackendName {
  return typeof text === 'string' && (BACKEND_ORDER as readonly string[]).includes(text);
}

export function isBackendChoice(text: unknown): text is BackendChoice {
  return text === 'auto' || isBackendName(text);
}

/** The limits of an adapter that decide what fits (bytes unless named otherwise). */
export interface GpuLimits {
  /** The largest GPU buffer. */
  maxBufferSize: number;
  /** The largest buffer one shader may bind as storage: no tensor may be larger. */
  maxStorageBufferBindingSize: number;
  /** Workgroup (shared) memory per workgroup. */
  maxComputeWorkgroupStorageSize: number;
  /** Threads per workgroup. */
  maxComputeInvocationsPerWorkgroup: number;
  /** Workgroups per dispatch along each axis. */
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
}

/** A WebGPU adapter as run.json and Show Compute Backend record it. */
export interface GpuAdapterReport {
  /** e.g. "nvidia", "amd", "mesa", "apple". */
  vendor: string;
  /** e.g. "ada", "rdna-3", "software". */
  architecture: string;
  /** e.g. "NVIDIA H100 80GB HBM3", "llvmpipe: Mesa 25.0.7 ...". */
  description: string;
  /** A CPU emulating a GPU (llvmpipe/lavapipe, SwiftShader, WARP): `auto` never picks one. */
  software: boolean;
  limits: GpuLimits;
  /** The GPU's memory in bytes and where the figure comes from; absent when unknown. */
  memory?: { bytes: number; source: string };
}

/** Whether one backend loaded, and if not, why and what to do about it. */
export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** Why it did not load (absent when it loaded). */
  reason?: string;
  /** What a user can do to make it load. */
  fix?: string;
  /** For a loaded backend: what runs on it and on how many cores or threads. */
  detail?: string;
  /** webgpu: the adapter found (also when it was not used: a software one under `auto`). */
  adapter?: GpuAdapterReport;
  /** Native backends: the package folder it was loaded (or failed to load) from. */
  location?: string;
  /** Native backends: every place the engine looked for the package, in order. */
  searched?: string[];
}

/** The backend in use and the fate of each backend tried. */
export interface BackendReport {
  active: BackendName;
  statuses: BackendStatus[];
}

/** The backend in use in a few words: its name, and on webgpu the adapter, e.g. "webgpu (NVIDIA H100, hardware)". */
export function activeBackendLabel(report: BackendReport): string {
  const adapter = report.statuses.find((s) => s.name === report.active)?.adapter;
  return adapter ? `${report.active} (${adapter.description || adapter.vendor}, ${adapter.software ? 'software adapter' : 'hardware'})` : report.active;
}
