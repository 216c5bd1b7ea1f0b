/** Pure parts of the loop's commands: budgets, run folder names, the k-fold record, the backend report. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendReportMarkdown, chosenBackend } from '../../src/extension/commands/backendReport';
import { parseBudget, runFolderName } from '../../src/extension/commands/budget';
import { finishedEvaluation, foldResult, newEvaluationRecord, withFold } from '../../src/extension/runs/evaluation';
import type { BackendReport } from '../../src/protocol/backends';

test('budgets as typed: iterations, or minutes with an m', () => {
  assert.deepEqual(parseBudget('500'), { kind: 'iterations', value: 500 });
  assert.deepEqual(parseBudget(' 800 iterations '), { kind: 'iterations', value: 800 });
  assert.deepEqual(parseBudget('5m'), { kind: 'minutes', value: 5 });
  assert.deepEqual(parseBudget('1.5 minutes'), { kind: 'minutes', value: 1.5 });
  for (const bad of ['', 'soon', '0', '2.5', '-3', '0m', '5 hours']) assert.equal(parseBudget(bad), undefined, bad);
});

test('run folder names: local date and time, then a safe title', () => {
  const date = new Date(2026, 10, 27, 9, 5, 3);
  assert.equal(runFolderName('t2', date), '20261127-090503-t2');
  assert.equal(runFolderName('sub-spleen2_ct + 2 more', date), '20261127-090503-sub-spleen2_ct-2-more');
  assert.equal(runFolderName('../..', date), '20261127-090503-..-..');
  assert.equal(runFolderName('///', date), '20261127-090503');
});

test('k-fold: each fold scores its last validation; the means skip classes a fold lacks', () => {
  let record = newEvaluationRecord({ folds: 3, volumes: [{ image: '/a.nii.gz', labels: '/a.labels.nii.gz' }], preset: 'fast' }, new Date('2026-01-01T00:00:00Z'));
  assert.equal(record.status, 'running');
  const validation = (iou: (number | null)[], mean: number | null) => [
    { iteration: 50, iou: [1, 1, 1], meanForegroundIoU: 1, seconds: 1 },
    { iteration: 100, iou, meanForegroundIoU: mean, seconds: 2 },
  ];
  record = withFold(record, foldResult(0, 'fold-1', { validation: validation([0.9, 0.6, 0.4], 0.5) }));
  record = withFold(record, foldResult(1, 'fold-2', { validation: validation([0.8, null, 0.6], 0.6) }));
  assert.deepEqual(record.results.map((r) => r.fold), [0, 1]);
  assert.deepEqual(record.meanIoU.map((v) => v && +v.toFixed(6)), [0.85, 0.6, 0.5]);
  assert.equal(record.meanForegroundIoU && +record.meanForegroundIoU.toFixed(6), 0.55);
  record = withFold(record, foldResult(1, 'fold-2', { validation: validation([0.8, 0.2, 0.6], 0.4) }));
  assert.equal(record.results.length, 2, 'a fold scored again replaces its result');
  assert.deepEqual(foldResult(2, 'fold-3', { validation: [] }), { fold: 2, runDir: 'fold-3', iou: [], meanForegroundIoU: null });
  const done = finishedEvaluation(record, 'failed', 'the worker died\nstack');
  assert.equal(done.status, 'failed');
  assert.equal(done.error, 'the worker died');
  assert.ok(done.finishedAt);
});

const REPORT: BackendReport = {
  active: 'wasm',
  statuses: [
    { name: 'tensorflow-gpu', available: false, reason: 'the CUDA library libcudnn.so.8 was not found', fix: 'install CUDA 11.2 and cuDNN 8.1' },
    {
      name: 'webgpu',
      available: false,
      reason: 'only a software adapter was found (llvmpipe): a CPU emulating a GPU, slower than the wasm backend, so auto does not use it',
      fix: 'install the GPU\'s Vulkan driver; or set unet3d.backend (or --backend) to "webgpu" to use the software adapter anyway',
      adapter: {
        vendor: 'mesa',
        architecture: 'software',
        description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)',
        software: true,
        limits: { maxBufferSize: 2 ** 32 - 1, maxStorageBufferBindingSize: 2 ** 27, maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupsPerDimension: 65535, maxStorageBuffersPerShaderStage: 16 },
        memory: { bytes: 16 * 2 ** 30, source: 'system memory' },
      },
    },
    {
      name: 'tensorflow',
      available: false,
      reason: '@tensorflow/tfjs-node is not installed',
      fix: 'run `npm install @tensorflow/tfjs-node@4.22.0`',
      searched: ['/opt/tf/node_modules/@tensorflow/tfjs-node', '/home/u/.vscode/globalStorage/unet3d.unet3d-vscode/native-tensorflow/node_modules/@tensorflow/tfjs-node'],
    },
    { name: 'wasm', available: true, detail: "WebAssembly with SIMD: the engine's SIMD kernels (convolutions, batch norm, pooling) on 2 cores; TensorFlow.js's other operations on 1 thread" },
    { name: 'cpu', available: true, detail: 'plain JavaScript' },
  ],
};

test('the backend report names the one in use and, for each one that does not load, why and the fix', () => {
  const md = backendReportMarkdown(REPORT, 'auto');
  assert.match(md, /run on \*\*wasm\*\*/);
  assert.match(md, /\| WebAssembly \(wasm\) \| ✓ \(in use\) \| WebAssembly with SIMD: the engine's SIMD kernels \(convolutions, batch norm, pooling\) on 2 cores/);
  assert.match(md, /### TensorFlow with CUDA \(tensorflow-gpu\)\n\n- Why: the CUDA library libcudnn\.so\.8 was not found\n- Fix: install CUDA 11\.2 and cuDNN 8\.1/);
  assert.match(md, /- Why: @tensorflow\/tfjs-node is not installed/);
  // Where the engine looked for the native package, in order (the setting's folder, then the install).
  assert.match(md, /- Looked in, in this order: `\/opt\/tf\/node_modules\/@tensorflow\/tfjs-node`, `\/home\/u\/\.vscode\/globalStorage\/unet3d\.unet3d-vscode\/native-tensorflow\/node_modules\/@tensorflow\/tfjs-node`/);
  const loaded = backendReportMarkdown({ active: 'tensorflow', statuses: [{ name: 'tensorflow', available: true, detail: 'TensorFlow 2.9 C++ kernels on the CPU', location: '/opt/tf/node_modules/@tensorflow/tfjs-node', searched: ['/opt/tf/node_modules/@tensorflow/tfjs-node'] }] }, 'auto');
  assert.match(loaded, /## Native TensorFlow\n\n- TensorFlow on the CPU \(tensorflow\): loaded from `\/opt\/tf\/node_modules\/@tensorflow\/tfjs-node`/);
  assert.deepEqual(chosenBackend(REPORT, 'cpu'), { name: 'cpu', note: 'the setting unet3d.backend asks for it' });
  assert.equal(chosenBackend(REPORT, 'tensorflow').name, undefined);
  assert.match(backendReportMarkdown(REPORT, 'tensorflow'), /\*\*No backend\*\*: the setting unet3d\.backend asks for tensorflow, which does not load here/);
  // The adapter, and the software adapter that only a setting naming webgpu uses.
  assert.match(md, /## GPU adapter \(WebGPU\)\n\n- llvmpipe: Mesa 25\.0\.7 \(LLVM 15\.0\.6\): vendor mesa, architecture software, \*\*software \(a CPU emulating a GPU\)\*\*/);
  assert.match(md, /largest storage binding \(tensor\) 128 MiB/);
  assert.match(md, /### WebGPU on the GPU \(webgpu\)\n\n- Why: only a software adapter was found/);
  assert.equal(chosenBackend(REPORT, 'webgpu').name, 'webgpu');
  assert.match(chosenBackend(REPORT, 'webgpu').note, /software adapter/);
});
