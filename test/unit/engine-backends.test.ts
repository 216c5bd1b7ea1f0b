/** Backend choice: what loads, and why the others did not, in words a user can act on. */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { test } from 'node:test';
import { BackendError, explainText, initBackend, probeBackends } from '../../src/engine/backends';
import { tf } from '../../src/engine/tf';

test('probeBackends tries every backend; here tfjs-node(-gpu) are absent, webgpu has no hardware adapter, and wasm wins', async () => {
  const report = await probeBackends();
  assert.deepEqual(
    report.statuses.map((s) => s.name),
    ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'],
  );
  const byName = Object.fromEntries(report.statuses.map((s) => [s.name, s]));
  for (const native of ['tensorflow-gpu', 'tensorflow']) {
    if (byName[native].available) continue; // a machine with tfjs-node installed
    assert.match(byName[native].reason ?? '', /is not installed|native addon|CUDA|libtensorflow/);
    assert.match(byName[native].fix ?? '', /npm (install|rebuild) @tensorflow\/tfjs-node|CUDA 11\.2/);
  }
  // A machine with a GPU takes webgpu; without one there is a software adapter at best, which auto passes over.
  if (!byName.webgpu.available) assert.match(byName.webgpu.reason ?? '', /software adapter|Vulkan|no adapter|offered no|not installed|Dawn/);
  assert.equal(byName.wasm.available, true);
  // The engine's kernels run on every core (the env's UNET3D_THREADS aside); tfjs's own wasm ops on one thread.
  const cores = Number(process.env.UNET3D_THREADS) || Math.min(16, os.availableParallelism());
  const kernels = new RegExp(`the engine's SIMD kernels \\(convolutions, batch norm, pooling\\) on ${cores} cores?`);
  assert.match(byName.wasm.detail ?? '', kernels);
  assert.match(byName.wasm.detail ?? '', /TensorFlow\.js's other operations on 1 thread$/);
  assert.match(byName.cpu.detail ?? '', kernels);
  assert.doesNotMatch(`${byName.wasm.detail} ${byName.cpu.detail}`, /\(s\)/);
  assert.equal(byName.cpu.available, true);
  assert.equal(report.active, report.statuses.find((s) => s.available)?.name);
  assert.equal(tf.getBackend(), report.active === 'tensorflow-gpu' ? 'tensorflow' : report.active);
});

test('a backend named but absent is an error that says why and what to do', async () => {
  let native = false;
  try {
    await initBackend('tensorflow');
    native = true;
  } catch (error) {
    assert.ok(error instanceof BackendError);
    assert.match(error.message, /the tensorflow backend could not be loaded: .*@tensorflow\/tfjs-node/);
    assert.equal(error.statuses[0].name, 'tensorflow');
  }
  if (!native) assert.equal((await initBackend('cpu')).active, 'cpu');
  assert.equal((await initBackend('wasm')).active, 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
});

test('load errors become reasons and fixes', () => {
  const cuda = explainText('tensorflow-gpu', 'libcudnn.so.8: cannot open shared object file: No such file or directory');
  assert.match(cuda.reason, /libcudnn\.so\.8 was not found/);
  assert.match(cuda.fix ?? '', /CUDA 11\.2 and cuDNN 8\.1/);
  assert.match(explainText('tensorflow-gpu', 'libcudart.so.11.0: cannot open shared object file').reason, /libcudart\.so\.11\.0/);
  assert.match(explainText('tensorflow', 'The Node.js native addon module (tfjs_binding.node) can not be found at path: x').fix ?? '', /npm rebuild @tensorflow\/tfjs-node/);
  assert.match(explainText('tensorflow', 'libtensorflow.so.2: cannot open shared object file').reason, /libtensorflow\.so\.2 was not found/);
  assert.match(explainText('tensorflow', "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.29' not found").reason, /GLIBC_2\.29/);
  assert.match(explainText('tensorflow', 'was compiled against a different Node.js version using NODE_MODULE_VERSION 108').fix ?? '', /npm rebuild/);
  assert.equal(explainText('cpu', 'something odd\nstack').reason, 'something odd');
});
