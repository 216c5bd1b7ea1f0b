/**
 * The webgpu entry of the backend chain (src/engine/backends.ts): Dawn loaded, an adapter chosen,
 * tfjs's webgpu backend registered and initialised on it. Under `auto` only a hardware adapter
 * counts; a backend named explicitly takes a software one too (the tests run on lavapipe).
 */
import type { BackendStatus } from '../../protocol/backends';
import { softwareOnlyFix } from './adapter';
export { assertDeviceHealthy, releasePooledGpuBuffers } from './device';
import { describeAdapter, probeWebGpu, registerWebGpuBackend } from './device';

let registered = false;

/**
 * Loads the webgpu backend. `setBackend` activates a registered tfjs backend and returns why it
 * failed (backends.ts's setTfjsBackend).
 */
export async function loadWebGpu(forced: boolean, setBackend: (tfjsName: string) => Promise<string | undefined>): Promise<BackendStatus> {
  const probe = await probeWebGpu();
  if (!probe.ok) return { name: 'webgpu', available: false, reason: probe.reason, fix: probe.fix, adapter: probe.report };
  const { adapter, report } = probe;
  if (report.software && !forced) {
    return {
      name: 'webgpu',
      available: false,
      reason: `only a software adapter was found (${report.description || report.vendor}): a CPU emulating a GPU, slower than the wasm backend, so auto does not use it`,
      fix: softwareOnlyFix(),
      adapter: report,
    };
  }
  if (!registered) {
    registerWebGpuBackend(adapter, report);
    registered = true;
  }
  const failure = await setBackend('webgpu');
  if (failure !== undefined) return { name: 'webgpu', available: false, reason: `the GPU device could not be created: ${failure}`, adapter: report };
  return { name: 'webgpu', available: true, detail: `WebGPU on ${describeAdapter(report)}; convolutions by the engine's WGSL kernels`, adapter: report };
}
