/**
 * What the engine knows about a WebGPU adapter, and why none may be there: pure functions over
 * the adapter's info and the file system, no Dawn and no TensorFlow.js (the extension host and
 * the tests read them too).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GpuAdapterReport, GpuLimits } from '../../protocol/backends';

export type { GpuAdapterReport, GpuLimits };

/** The fields of GPUAdapterInfo the engine reads. */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

const SOFTWARE_NAMES = /llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render|\bwarp\b/i;

/** Whether an adapter is a CPU emulating a GPU. */
export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter === true || info.architecture === 'software') return true;
  return SOFTWARE_NAMES.test(`${info.vendor ?? ''} ${info.device ?? ''} ${info.description ?? ''}`);
}

/** One line naming an adapter, e.g. "nvidia ada: NVIDIA H100 (hardware)". */
export function describeAdapter(a: GpuAdapterReport): string {
  const mib = (n: number) => `${Math.round(n / 2 ** 20)} MiB`;
  const memory = a.memory ? `, ${(a.memory.bytes / 2 ** 30).toFixed(1)} GiB (${a.memory.source})` : '';
  const architecture = a.architecture && a.architecture !== 'software' ? ` ${a.architecture}` : '';
  return (
    `${a.description || a.vendor || 'unknown adapter'} (${a.vendor || '?'}${architecture}, ${a.software ? 'software' : 'hardware'}${memory}; ` +
    `max buffer ${mib(a.limits.maxBufferSize)}, max storage binding ${mib(a.limits.maxStorageBufferBindingSize)})`
  );
}

/** Why no adapter was found and what to do, from what the system holds. */
export interface NoAdapterDiagnosis {
  reason: string;
  fix: string;
}

/** Where a system may hold Vulkan's loader and drivers (overridable for tests). */
export interface VulkanSearch {
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
  /** Folders searched for libvulkan.so.1. */
  libraryDirs: string[];
  /** Folders searched for driver manifests (*.json). */
  icdDirs: string[];
  exists(file: string): boolean;
  list(dir: string): string[];
}

/** NVIDIA's container runtime puts its Vulkan driver manifest here, where the loader does not look. */
export const NVIDIA_CONTAINER_ICD = '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json';

/** The folders the Vulkan loader reads on this system, by its documented defaults. */
export function defaultVulkanSearch(env: NodeJS.ProcessEnv = process.env): VulkanSearch {
  const split = (v: string | undefined) => (v ?? '').split(':').filter(Boolean);
  const multiarch = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  const libraryDirs = [
    ...split(env.LD_LIBRARY_PATH),
    `/usr/lib/${multiarch}`,
    `/lib/${multiarch}`,
    '/usr/lib64',
    '/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  const dataDirs = split(env.XDG_DATA_DIRS).length ? split(env.XDG_DATA_DIRS) : ['/usr/local/share', '/usr/share'];
  const configDirs = split(env.XDG_CONFIG_DIRS).length ? split(env.XDG_CONFIG_DIRS) : ['/etc/xdg'];
  const home = env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share');
  const icdDirs = [...configDirs, '/etc', home, ...dataDirs].map((d) => path.join(d, 'vulkan', 'icd.d'));
  return {
    platform: process.platform,
    env,
    libraryDirs,
    icdDirs,
    exists: (f) => fs.existsSync(f),
    list: (d) => {
      try {
        return fs.readdirSync(d);
      } catch {
        return [];
      }
    },
  };
}

/**
 * Why Dawn found no adapter at all, on Linux read from the files the Vulkan loader needs: the
 * loader itself (libvulkan.so.1) and at least one driver manifest. Elsewhere: the GPU driver.
 */
export function diagnoseNoAdapter(search: VulkanSearch = defaultVulkanSearch()): NoAdapterDiagnosis {
  if (search.platform === 'darwin') {
    return { reason: 'Metal offered no GPU adapter', fix: 'WebGPU needs macOS 11 or newer on a Mac with a Metal GPU' };
  }
  if (search.platform === 'win32') {
    return { reason: 'Direct3D 12 offered no GPU adapter', fix: "install or update the GPU's driver (Windows 10 or newer with a Direct3D 12 GPU)" };
  }
  const loader = search.libraryDirs.some((d) => search.exists(path.join(d, 'libvulkan.so.1')));
  if (!loader) {
    return {
      reason: 'the Vulkan loader (libvulkan.so.1) is not installed, and Dawn reaches the GPU through it',
      fix: 'install it: `sudo apt-get install libvulkan1` (Debian, Ubuntu), `sudo dnf install vulkan-loader` (Fedora), `sudo pacman -S vulkan-icd-loader` (Arch)',
    };
  }
  const named = [search.env.VK_DRIVER_FILES, search.env.VK_ICD_FILENAMES, search.env.VK_ADD_DRIVER_FILES].filter(Boolean).join(':');
  const manifests = named
    ? named.split(':').filter((f) => f && search.exists(f))
    : search.icdDirs.flatMap((d) => search.list(d).filter((f) => f.endsWith('.json')).map((f) => path.join(d, f)));
  if (manifests.length === 0) {
    const nvidia = search.exists(NVIDIA_CONTAINER_ICD);
    return {
      reason: named ? `the Vulkan driver manifests named by VK_DRIVER_FILES/VK_ICD_FILENAMES (${named}) do not exist` : 'the Vulkan loader is installed but finds no GPU driver (no manifest in any vulkan/icd.d folder)',
      fix: nvidia
        ? `NVIDIA's driver is in a container path the loader does not search: set VK_DRIVER_FILES=${NVIDIA_CONTAINER_ICD}`
        : "install the GPU's Vulkan driver: NVIDIA's proprietary driver (it includes Vulkan), or Mesa's `mesa-vulkan-drivers` for AMD and Intel",
    };
  }
  return {
    reason: `the Vulkan drivers found (${manifests.map((m) => path.basename(m)).join(', ')}) offered no adapter that Dawn accepts`,
    fix: "update the GPU's driver; Mesa's drivers need version 25 or newer (on Debian 12 from bookworm-backports: `apt-get install -t bookworm-backports mesa-vulkan-drivers`)",
  };
}

/** The fix for "only a software adapter": a GPU driver, or force it. */
export function softwareOnlyFix(search: VulkanSearch = defaultVulkanSearch()): string {
  const hint =
    search.platform === 'linux' && search.exists(NVIDIA_CONTAINER_ICD) && !search.env.VK_DRIVER_FILES
      ? `NVIDIA's driver is in a container path the loader does not search: set VK_DRIVER_FILES=${NVIDIA_CONTAINER_ICD}`
      : "install the GPU's Vulkan driver (NVIDIA's driver, or Mesa ≥ 25 for AMD and Intel)";
  return `${hint}; or set unet3d.backend (or --backend) to "webgpu" to use the software adapter anyway (slower than wasm)`;
}

/**
 * The GPU's memory, which WebGPU does not tell: nvidia-smi for NVIDIA, sysfs for AMD on Linux,
 * the system's memory for unified-memory GPUs (Apple) and for software adapters (they allocate
 * it). Undefined when none of these applies.
 */
export function detectGpuMemory(info: AdapterInfoLike, software: boolean): { bytes: number; source: string } | undefined {
  if (software) return { bytes: os.totalmem(), source: 'system memory' };
  const vendor = (info.vendor ?? '').toLowerCase();
  if (vendor.includes('nvidia')) {
    const smi = nvidiaSmiMemory();
    if (smi) return smi;
  }
  if (process.platform === 'linux' && (vendor.includes('amd') || vendor.includes('ati'))) {
    for (const card of listDir('/sys/class/drm')) {
      try {
        const bytes = Number(fs.readFileSync(path.join('/sys/class/drm', card, 'device', 'mem_info_vram_total'), 'utf8').trim());
        if (bytes > 0) return { bytes, source: 'sysfs mem_info_vram_total' };
      } catch {
        // not an AMD card
      }
    }
  }
  if (process.platform === 'darwin' || vendor.includes('apple')) return { bytes: os.totalmem(), source: 'unified memory' };
  return undefined;
}

function nvidiaSmiMemory(): { bytes: number; source: string } | undefined {
  const result = spawnSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) return undefined;
  const mib = Number(result.stdout.trim().split('\n')[0]);
  return mib > 0 ? { bytes: mib * 2 ** 20, source: 'nvidia-smi' } : undefined;
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
