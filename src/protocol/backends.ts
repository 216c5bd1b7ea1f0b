/**
 * The compute backends by name, and what a probe of them reports. Part of the engine's contract:
 * the extension (settings, Show Compute Backend), the CLI (`--backend`) and the engine share it.
 * No TensorFlow.js here; src/engine/backends.ts loads them.
 */

/** A backend by the name the setting `unet3d.backend` and `--backend` use. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/** The order `auto` tries them in: fastest first. */
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** One line per choice, for the setting's enumDescriptions and the help. */
export const BACKEND_DESCRIPTIONS: Record<BackendChoice, string> = {
  auto: 'The first that loads, fastest first',
  'tensorflow-gpu': 'TensorFlow with CUDA (@tensorflow/tfjs-node-gpu, installed separately)',
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
}

/** The backend in use and the fate of each backend tried. */
export interface BackendReport {
  active: BackendName;
  statuses: BackendStatus[];
}
