/**
 * Chooses the TensorFlow.js backend: the first that loads of TensorFlow with CUDA
 * (`@tensorflow/tfjs-node-gpu`), WebGPU, TensorFlow on the CPU (`@tensorflow/tfjs-node`),
 * WebAssembly with SIMD (`@tensorflow/tfjs-backend-wasm`) and plain JavaScript
 * (`@tensorflow/tfjs-backend-cpu`), unless a preference names one. Any error while loading one
 * means "absent", and the report says why in words a user can act on.
 *
 * The wasm, webgpu and cpu backends are bundled (esbuild.node.mjs). The native ones are not: they
 * are looked for in the folders the host names (WorkerStartOptions: the setting
 * unet3d.nativeTensorFlowPath, then the install of 3D U-Net: Install Native TensorFlow), then
 * beside the bundle (an optional dependency of a development checkout).
 */
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type * as tfjsWasm from '@tensorflow/tfjs-backend-wasm';
import { BACKEND_ORDER, NATIVE_PACKAGES, TFJS_VERSION, type BackendName, type BackendReport, type BackendStatus } from '../protocol/backends';
import { readWorkerStartOptions } from '../protocol/worker';
import { plural } from '../core/words';
import { simdRuntime } from './ops/simd/runtime';
import { tf } from './tf';
import { assertDeviceHealthy, loadWebGpu, releasePooledGpuBuffers } from './webgpu/backendLoader';

/** No backend (or not the one asked for) could be loaded; `report` holds every reason. */
export class BackendError extends Error {
  constructor(
    message: string,
    readonly statuses: BackendStatus[],
  ) {
    super(message);
    this.name = 'BackendError';
  }
}

const NPM_PACKAGE: Record<BackendName, string> = {
  ...NATIVE_PACKAGES,
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** The tfjs backend name each of ours registers. */
const TFJS_NAME: Record<BackendName, string> = { 'tensorflow-gpu': 'tensorflow', webgpu: 'webgpu', tensorflow: 'tensorflow', wasm: 'wasm', cpu: 'cpu' };

let nativeFolders: string[] | undefined;

/**
 * Sets the folders where the native backends are looked for first (each holding
 * node_modules/@tensorflow/tfjs-node[-gpu]); by default those of the worker's environment
 * (UNET3D_NATIVE_TENSORFLOW_PATH, see WorkerStartOptions).
 */
export function setNativeTensorFlowFolders(folders: readonly string[]): void {
  nativeFolders = folders.map((f) => path.resolve(f));
}

function nativeTensorFlowFolders(): string[] {
  return (nativeFolders ??= readWorkerStartOptions(process.env, path.delimiter).nativeTensorFlowFolders.map((f) => path.resolve(f)));
}

/** Statuses of backends already tried in this process (loading is not undone, so it is tried once). */
const tried = new Map<BackendName, BackendStatus>();
let active: BackendName | undefined;

/** The backend the engine runs on now, if initBackend has chosen one. */
export function activeBackend(): BackendName | undefined {
  return active;
}

/**
 * True when the active backend runs TensorFlow's own C++ kernels (tfjs-node or tfjs-node-gpu),
 * false for the cpu and wasm backends, whose convolutions the engine replaces by its own.
 */
export function isNativeBackend(): boolean {
  return tf.getBackend() === 'tensorflow';
}

/**
 * Throws when the active backend's device reported an error (webgpu: out of memory, device lost)
 * since the last call; the engine calls it where it reads results back.
 */
export function assertBackendHealthy(): void {
  if (active === 'webgpu') assertDeviceHealthy();
}

/** Frees memory the active backend keeps for reuse (webgpu: its pool of free GPU buffers). */
export function releaseCachedMemory(): void {
  if (active === 'webgpu' && tf.getBackend() === 'webgpu') releasePooledGpuBuffers();
}

/**
 * Loads and activates a backend: the one named, or with 'auto' the first of BACKEND_ORDER that
 * loads. Throws BackendError (with every reason) when the named one, or none, loads.
 */
export async function initBackend(preference: BackendName | 'auto' = 'auto'): Promise<BackendReport> {
  const candidates = preference === 'auto' ? BACKEND_ORDER : [preference];
  const statuses: BackendStatus[] = [];
  for (const name of candidates) {
    const status = await tryBackend(name, preference !== 'auto');
    statuses.push(status);
    if (status.available && (await activate(name))) return { active: name, statuses };
  }
  const lines = statuses.map((s) => `${s.name}: ${s.reason}${s.fix ? ` (${s.fix})` : ''}`);
  throw new BackendError(
    preference === 'auto' ? `no TensorFlow.js backend could be loaded:\n${lines.join('\n')}` : `the ${preference} backend could not be loaded: ${lines[0]}`,
    statuses,
  );
}

/**
 * Tries every backend (the answer to "which backends would work here?"), then activates the first
 * that loads, as initBackend('auto') does. Never throws: a machine with none has `active` 'cpu'
 * only if the cpu backend loaded; otherwise the error surfaces from initBackend.
 */
export async function probeBackends(): Promise<BackendReport> {
  const statuses: BackendStatus[] = [];
  for (const name of BACKEND_ORDER) statuses.push(await tryBackend(name));
  const first = statuses.find((s) => s.available);
  if (!first) throw new BackendError('no TensorFlow.js backend could be loaded', statuses);
  await activate(first.name);
  return { active: first.name, statuses };
}

async function activate(name: BackendName): Promise<boolean> {
  const failure = await setTfjsBackend(TFJS_NAME[name]);
  if (failure !== undefined) {
    const status: BackendStatus = { name, available: false, reason: `it registered but did not initialize: ${failure}` };
    tried.set(name, status);
    return false;
  }
  active = name;
  return true;
}

/** `forced`: the backend was named (webgpu then takes a software adapter too). */
async function tryBackend(name: BackendName, forced = false): Promise<BackendStatus> {
  const known = tried.get(name);
  if (known && !(forced && !known.available && known.adapter?.software)) return known;
  let status: BackendStatus;
  try {
    status = await LOADERS[name](forced);
  } catch (error) {
    status = { name, available: false, ...explainLoadError(name, error) };
  }
  tried.set(name, status);
  return status;
}

/** Each loader registers its backend and initializes it; it throws or returns a status. */
const LOADERS: Record<BackendName, (forced: boolean) => Promise<BackendStatus>> = {
  'tensorflow-gpu': () => loadNative('tensorflow-gpu'),
  webgpu: (forced) => loadWebGpu(forced, setTfjsBackend),
  tensorflow: () => loadNative('tensorflow'),
  async wasm() {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof tfjsWasm;
    const dir = wasmBinaryFolder();
    if (!dir) {
      return {
        name: 'wasm',
        available: false,
        reason: `its .wasm binaries (tfjs-backend-wasm-simd.wasm) were not found beside the engine (${__dirname})`,
        fix: 'reinstall the extension (or rebuild: npm run build copies them into dist/)',
      };
    }
    if (!wasmPathsSet) {
      // Under Node the backend reads the binary with fs from this folder (a path, not a URL).
      wasm.setWasmPaths(dir.endsWith(path.sep) ? dir : dir + path.sep);
      wasmPathsSet = true;
    }
    const failure = await setTfjsBackend('wasm');
    if (failure !== undefined) return { name: 'wasm', available: false, reason: failure };
    shareDataOnWasmClone();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    return { name: 'wasm', available: true, detail: `WebAssembly${simd ? ' with SIMD' : ' (no SIMD)'}: ${kernelsDetail()}; TensorFlow.js's other operations on ${plural(wasm.getThreadsCount(), 'thread')}` };
  },
  async cpu() {
    // Registered by tf.ts (bundled).
    const failure = await setTfjsBackend('cpu');
    if (failure !== undefined) return { name: 'cpu', available: false, reason: failure };
    return { name: 'cpu', available: true, detail: `plain JavaScript: ${kernelsDetail()}; TensorFlow.js's other operations on 1 thread` };
  },
};

let wasmPathsSet = false;

/** What the engine's own SIMD kernels run and on how many cores (they do most of a step's work). */
function kernelsDetail(): string {
  const runtime = simdRuntime();
  return `the engine's SIMD kernels (convolutions, batch norm, pooling) on ${plural(runtime.threads, 'core')}${runtime.relaxed ? ' with fused multiply-add' : ''}`;
}

/**
 * tfjs clones every tensor a custom-gradient op saves for its backward pass; the wasm backend's
 * Identity copies the data, the cpu backend's shares it (tfjs tensors are immutable). Share on wasm
 * too: it saves copying each layer's input once per training step.
 */
function shareDataOnWasmClone(): void {
  const kernel = tf.getKernel('Identity', 'wasm');
  if (!kernel || (kernel as { unet3dShared?: boolean }).unet3dShared) return;
  tf.unregisterKernel('Identity', 'wasm');
  const shared = {
    kernelName: 'Identity',
    backendName: 'wasm',
    unet3dShared: true,
    kernelFunc: ({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }) => {
      const x = inputs.x as tf.TensorInfo;
      if (x.dtype === 'string') return kernel.kernelFunc({ inputs, backend: backend as tf.KernelBackend, attrs: {} });
      (backend as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  };
  tf.registerKernel(shared as tf.KernelConfig);
}

/**
 * The folder holding tfjs-backend-wasm's .wasm files: beside this bundle (esbuild.mjs copies them
 * into dist/), else the package's own dist/ (code run unbundled, from a checkout).
 */
export function wasmBinaryFolder(): string | undefined {
  const candidates = [__dirname];
  try {
    candidates.push(path.dirname(require.resolve(NPM_PACKAGE.wasm)));
  } catch {
    // not installed beside the bundle: only the copies beside it count
  }
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm')));
}

/** Where a native package was found: its folder, and the `require` that loads it from there. */
interface NativeInstall {
  dir: string;
  load(): unknown;
}

/**
 * Finds a native package: in each folder the host named (FOLDER/node_modules/PACKAGE), then beside
 * the bundle. `searched` receives every place looked at, in order.
 */
function findNative(pkg: string, searched: string[]): NativeInstall | undefined {
  for (const folder of nativeTensorFlowFolders()) {
    const dir = path.join(folder, 'node_modules', ...pkg.split('/'));
    searched.push(dir);
    if (fs.existsSync(path.join(dir, 'package.json'))) {
      // Resolved from the folder, so that the package finds its own dependencies there.
      const folderRequire = createRequire(path.join(folder, 'package.json'));
      return { dir, load: () => folderRequire(pkg) };
    }
  }
  searched.push(`${pkg} beside the engine (${path.join(__dirname, '..', 'node_modules')} and the folders above)`);
  let main: string;
  try {
    main = require.resolve(pkg);
  } catch {
    return undefined;
  }
  return { dir: packageRootOf(main, pkg), load: () => require(pkg) };
}

/** The package folder of a resolved main file: the nearest folder above it named like the package. */
function packageRootOf(main: string, pkg: string): string {
  const tail = path.join('node_modules', ...pkg.split('/'));
  let dir = path.dirname(main);
  while (!dir.endsWith(tail) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir.endsWith(tail) ? dir : path.dirname(main);
}

/**
 * Loads tfjs-node or tfjs-node-gpu. The package comes with its own @tensorflow/tfjs and so its own
 * copy of tfjs-core; tfjs-core keeps its engine, kernel and gradient registries on the global
 * object (`_tfengine`, `_tfGlobals`), so the "tensorflow" backend and kernels it registers land
 * in the engine the bundled tfjs-core uses (and its copy of the cpu kernels replaces ours, the same
 * code). A package that registers nothing here is reported, not used.
 */
async function loadNative(name: 'tensorflow-gpu' | 'tensorflow'): Promise<BackendStatus> {
  const other = name === 'tensorflow' ? 'tensorflow-gpu' : 'tensorflow';
  const pkg = NPM_PACKAGE[name];
  if (tried.get(other)?.available) {
    // Both packages register the backend "tensorflow"; two libtensorflows in one process collide.
    return { name, available: false, reason: `not loaded: ${NPM_PACKAGE[other]} already provides the TensorFlow backend in this process` };
  }
  const searched: string[] = [];
  const install = findNative(pkg, searched);
  if (!install) return { name, available: false, ...notInstalled(name), searched };
  const where = { location: install.dir, searched };
  const version = readVersion(install.dir);
  try {
    install.load();
  } catch (error) {
    return { name, available: false, ...explainText(name, error instanceof Error ? error.message : String(error), install.dir), ...where };
  }
  if (!tf.findBackendFactory('tensorflow')) {
    return {
      name,
      available: false,
      reason: `${pkg} ${version ?? '(unknown version)'} from ${install.dir} loaded but registered no "tensorflow" backend in the engine's TensorFlow.js (${tf.version_core})`,
      fix: `install ${pkg}@${TFJS_VERSION}, the version the engine is built for (3D U-Net: Install Native TensorFlow)`,
      ...where,
    };
  }
  const failure = await setTfjsBackend('tensorflow');
  if (failure !== undefined) return { name, available: false, ...explainText(name, failure, install.dir), ...where };
  const mismatch = version && version !== TFJS_VERSION ? `; version ${version}, the engine is built with ${TFJS_VERSION}` : '';
  const kernels = name === 'tensorflow-gpu' ? 'TensorFlow 2.9 C++ kernels with CUDA' : 'TensorFlow 2.9 C++ kernels on the CPU';
  return { name, available: true, detail: `${kernels} (${pkg} from ${install.dir}${mismatch})`, ...where };
}

function readVersion(packageDir: string): string | undefined {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

/** Activates a registered tfjs backend; returns why it failed, or undefined on success. */
async function setTfjsBackend(tfjsName: string): Promise<string | undefined> {
  if (!tf.findBackendFactory(tfjsName)) return `no backend "${tfjsName}" was registered`;
  // tfjs reports an initialization failure only on the console: catch those lines as the reason.
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => warnings.push(args.map(String).join(' '));
  try {
    const ok = await tf.setBackend(tfjsName);
    if (ok && tf.getBackend() === tfjsName) return undefined;
    const detail = warnings.filter((w) => !/^Initialization of backend/.test(w)).join(' ').split('\n')[0];
    return detail || `the ${tfjsName} backend failed to initialize`;
  } catch (error) {
    return firstLine(error);
  } finally {
    console.warn = warn;
  }
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0].trim();
}

function explainLoadError(name: BackendName, error: unknown): { reason: string; fix?: string } {
  return explainText(name, error instanceof Error ? error.message : String(error));
}

/** Why a native backend is absent, and how to install it. */
function notInstalled(name: 'tensorflow-gpu' | 'tensorflow'): { reason: string; fix: string } {
  const pkg = NPM_PACKAGE[name];
  return {
    reason: `${pkg} is not installed`,
    fix:
      `run the command "3D U-Net: Install Native TensorFlow", or point the setting unet3d.nativeTensorFlowPath (the CLI: the environment variable UNET3D_NATIVE_TENSORFLOW_PATH) at a folder where \`npm install ${pkg}@${TFJS_VERSION}\` ran` +
      ` (its install script downloads libtensorflow, so it needs internet access${name === 'tensorflow-gpu' ? '; it runs on NVIDIA GPUs with CUDA 11.2 and cuDNN 8.1, on Linux and Windows' : ''})`,
  };
}

/** Turns a loader's error text into a reason and a fix; `dir`: the folder the package was loaded from. */
export function explainText(name: BackendName, message: string, dir?: string): { reason: string; fix?: string } {
  const pkg = NPM_PACKAGE[name];
  const where = dir ? ` in the folder that holds node_modules (${installFolderOf(dir)})` : '';
  const cuda = /(libcudnn[\w.]*\.so[\d.]*|libcudart[\w.]*\.so[\d.]*|libcublas\w*\.so[\d.]*|libcufft\w*\.so[\d.]*|libcurand\w*\.so[\d.]*|libcusolver\w*\.so[\d.]*|libcusparse\w*\.so[\d.]*|cudnn64_\d+\.dll|cudart64_\d+\.dll|cublas64_\d+\.dll)/.exec(message);
  if (cuda) {
    return {
      reason: `the CUDA library ${cuda[1]} was not found`,
      fix: 'tfjs-node-gpu 4.22 needs CUDA 11.2 and cuDNN 8.1 on the library path (LD_LIBRARY_PATH on Linux, PATH on Windows); install those versions, or set unet3d.backend to "tensorflow" for the CPU',
    };
  }
  if (/tfjs_binding\.node/.test(message)) {
    return {
      reason: `its native addon (tfjs_binding.node) is missing: the install script did not run or could not download libtensorflow`,
      fix: `run \`npm rebuild ${pkg}\`${where} with internet access, or "3D U-Net: Install Native TensorFlow" again`,
    };
  }
  const libtf = /(libtensorflow[\w.]*|tensorflow\.dll)/.exec(message);
  if (libtf) {
    return { reason: `${libtf[1]} was not found: the download during its install failed`, fix: `run \`npm rebuild ${pkg}\`${where} with internet access` };
  }
  const glibc = /(GLIBC(?:XX)?_[\d.]+)/.exec(message);
  if (glibc) {
    return { reason: `libtensorflow needs ${glibc[1]}, newer than this system's C/C++ library`, fix: 'use a newer Linux distribution, or the wasm backend' };
  }
  if (/NODE_MODULE_VERSION/.test(message)) {
    return { reason: 'its native addon was built for another version of Node.js', fix: `run \`npm rebuild ${pkg}\`${where}` };
  }
  const first = message.split('\n')[0].trim() || `${pkg} failed to load`;
  return { reason: dir ? `${first} (loading ${pkg} from ${dir})` : first };
}

/** 'F/node_modules/@tensorflow/tfjs-node' -> 'F'. */
function installFolderOf(packageDir: string): string {
  const at = packageDir.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  return at >= 0 ? packageDir.slice(0, at) : packageDir;
}

