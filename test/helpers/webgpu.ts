/**
 * Whether the webgpu tests can run: test/run-unit.mjs probes for a WebGPU adapter (installing
 * Vulkan's loader and Mesa's lavapipe when missing and it may) and passes its description on.
 */

/** `false` when a WebGPU adapter was found, else why the webgpu tests skip. */
export const SKIP_WITHOUT_WEBGPU: string | false = process.env.UNET3D_WEBGPU_ADAPTER
  ? false
  : 'no WebGPU adapter (test/run-unit.mjs installs Vulkan and Mesa ≥ 25 when run as root on Debian; see its log)';
