/**
 * The webgpu backend: where it sits in the chain and why `auto` passes over a software adapter,
 * what a user is told when there is no adapter, GPU memory plans (patches and tiles sized to the
 * adapter, a clear refusal instead of a device loss), a short training run with GPU memory flat
 * over the steps and the adapter in run.json, and a tiled segmentation on webgpu of a run trained
 * on wasm, which gives wasm's labels. Where no GPU is, the adapter is Mesa's lavapipe (installed
 * by test/run-unit.mjs); the kernel checks are in engine-kernels.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { readVolumeFile } from '../../src/core/readVolume';
import { initBackend, probeBackends } from '../../src/engine/backends';
import { createUNet, PRESETS } from '../../src/engine/model';
import { planPrediction, plannedInputSize, type PredictionTiling } from '../../src/engine/predictionPlan';
import { readRunRecord } from '../../src/engine/runFolder';
import { segmentVolumeFile } from '../../src/engine/segmentFile';
import { trainSettings } from '../../src/protocol/settings';
import { tf } from '../../src/engine/tf';
import { runTraining } from '../../src/engine/train';
import { diagnoseNoAdapter, isSoftwareAdapter, NVIDIA_CONTAINER_ICD, type VulkanSearch } from '../../src/engine/webgpu/adapter';
import { gpuBufferStats, installNavigatorGpu } from '../../src/engine/webgpu/device';
import { fitPredictionTiling, fitTrainingGeometry, GpuMemoryError } from '../../src/engine/webgpu/fit';
import { inferenceBytes, trainingBytes, type GpuBudget } from '../../src/engine/webgpu/memoryPlan';
import { needsRank5Fix, pad5As4 } from '../../src/engine/webgpu/tfjsFixes';
import { tempDir } from '../helpers/data';
import { writeBallVolume } from '../helpers/engineData';
import { SKIP_WITHOUT_WEBGPU } from '../helpers/webgpu';

const work = tempDir('engine-webgpu');
after(() => fs.rmSync(work, { recursive: true, force: true }));

test('software adapters are recognised by their info (isFallbackAdapter, architecture, name)', () => {
  const cases: [Parameters<typeof isSoftwareAdapter>[0], boolean][] = [
    [{ vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' }, true],
    [{ vendor: 'google', description: 'SwiftShader Device (Subzero)' }, true],
    [{ vendor: 'microsoft', description: 'Microsoft Basic Render Driver' }, true],
    [{ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3', isFallbackAdapter: true }, true],
    [{ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' }, false],
    [{ vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX (RADV NAVI31)' }, false],
    [{ vendor: 'apple', architecture: 'metal-3', description: 'Apple M2' }, false],
  ];
  for (const [info, software] of cases) assert.equal(isSoftwareAdapter(info), software, info.description);
});

test('no adapter: the reason and the fix name what is missing (Vulkan loader, driver, NVIDIA container path)', () => {
  const search = (files: string[], env: NodeJS.ProcessEnv = {}): VulkanSearch => ({
    platform: 'linux',
    env,
    libraryDirs: ['/usr/lib/x86_64-linux-gnu'],
    icdDirs: ['/usr/share/vulkan/icd.d'],
    exists: (f) => files.includes(f),
    list: (d) => files.filter((f) => path.dirname(f) === d).map((f) => path.basename(f)),
  });
  const noLoader = diagnoseNoAdapter(search([]));
  assert.match(noLoader.reason, /Vulkan loader \(libvulkan\.so\.1\) is not installed/);
  assert.match(noLoader.fix, /apt-get install libvulkan1/);
  const noDriver = diagnoseNoAdapter(search(['/usr/lib/x86_64-linux-gnu/libvulkan.so.1']));
  assert.match(noDriver.reason, /finds no GPU driver/);
  assert.match(noDriver.fix, /NVIDIA's proprietary driver|mesa-vulkan-drivers/);
  const container = diagnoseNoAdapter(search(['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', NVIDIA_CONTAINER_ICD]));
  assert.match(container.fix, new RegExp(`VK_DRIVER_FILES=${NVIDIA_CONTAINER_ICD}`));
  const refused = diagnoseNoAdapter(search(['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/share/vulkan/icd.d/lvp_icd.json']));
  assert.match(refused.reason, /lvp_icd\.json\) offered no adapter/);
  assert.match(refused.fix, /Mesa's drivers need version 25/);
  assert.match(diagnoseNoAdapter({ ...search([]), platform: 'win32' }).fix, /Direct3D 12/);
});

test("navigator.gpu is installed on Node without a global navigator and on Node ≥ 21's (whose assignment is ignored)", () => {
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  const before = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const gpu = { fake: true } as unknown as GPU;
  try {
    delete g.navigator;
    installNavigatorGpu(gpu);
    assert.equal((g.navigator as { gpu?: unknown } | undefined)?.gpu, gpu);
    // Node ≥ 21: a getter on globalThis returning an object whose `gpu` a plain assignment cannot set.
    const nodeNavigator = Object.freeze({ userAgent: 'Node.js' });
    const proxy = Object.create(nodeNavigator) as { gpu?: unknown };
    Object.defineProperty(globalThis, 'navigator', { get: () => proxy, configurable: true });
    installNavigatorGpu(gpu);
    assert.equal((g.navigator as { gpu?: unknown } | undefined)?.gpu, gpu);
  } finally {
    delete g.navigator;
    if (before) Object.defineProperty(globalThis, 'navigator', before);
  }
});

test('rank-5 workarounds for tfjs-backend-webgpu: which shapes, and the 4-D padding that equals a 5-D one', () => {
  assert.equal(needsRank5Fix([1, 4, 4, 4, 16], [16]), true);
  assert.equal(needsRank5Fix([16], [2, 3, 4, 5, 16]), true);
  assert.equal(needsRank5Fix([1, 4, 4, 4, 200], [200]), false, '128 and more: tfjs takes its other path');
  assert.equal(needsRank5Fix([4, 4, 4, 16], [16]), false);
  assert.equal(needsRank5Fix([1, 4, 4, 4, 1], [1]), false);
  assert.deepEqual(pad5As4([2, 3, 4, 5, 6], [[0, 0], [1, 1], [2, 0], [1, 2], [0, 0]]), {
    shape: [2, 3, 4, 30],
    paddings: [[0, 0], [1, 1], [2, 0], [6, 12]],
  });
  assert.equal(pad5As4([2, 3, 4, 5, 6], [[0, 0], [0, 0], [0, 0], [0, 0], [1, 0]]), undefined);
});

test('GPU memory: patches and tiles are sized to the adapter, a patch asked for that cannot fit is refused with what fits', () => {
  const paper = createUNet(PRESETS.paper, 1);
  const fast = createUNet({ ...PRESETS.fast }, 1);
  try {
    // The paper's tile: the largest tensor is level 0's second convolution, 64 channels at 128×128×112 (448 MiB).
    const paperInput: Vec3 = [132, 132, 116];
    assert.equal(inferenceBytes(PRESETS.paper, paperInput).largestTensor, 4 * 64 * 128 * 128 * 112);
    assert.ok(trainingBytes(PRESETS.paper, paperInput, 1).total > inferenceBytes(PRESETS.paper, paperInput).total);
    const lavapipe: GpuBudget = { maxTensorBytes: 128 * 2 ** 20, memoryBytes: 8 * 2 ** 30 };
    const h100: GpuBudget = { maxTensorBytes: 4 * 2 ** 30 - 4, memoryBytes: 0.8 * 80 * 2 ** 30 };
    const paperGeometry = { input: paperInput, output: [44, 44, 28] as Vec3 };
    assert.deepEqual(fitTrainingGeometry(paper, paperGeometry, 1, true, h100), paperGeometry);
    const small: GpuBudget = { maxTensorBytes: 256 * 2 ** 20, memoryBytes: 8 * 2 ** 30 };
    assert.throws(
      () => fitTrainingGeometry(paper, paperGeometry, 1, true, small),
      (e: Error) => e instanceof GpuMemoryError && /does not fit the GPU: its largest tensor takes 448 MiB.*maxStorageBufferBindingSize 256 MiB.*the largest that fits is about \d+×\d+×\d+: set patchSize/.test(e.message),
    );
    // Chosen by the engine (not asked for): shrunk until it fits.
    const shrunk = fitTrainingGeometry(paper, paperGeometry, 1, false, small);
    assert.ok(trainingBytes(PRESETS.paper, shrunk.input, 1).largestTensor <= small.maxTensorBytes);
    assert.ok(shrunk.output.every((n, a) => n <= paperGeometry.output[a]));
    // lavapipe's 128 MiB binding: the paper's network has no valid size whose level-0 tensors fit.
    assert.throws(() => fitTrainingGeometry(paper, paperGeometry, 1, false, lavapipe), /not even the smallest patch fits/);
    // Segmentation: the default tile grows to what fits (up to 256 per axis), a tile asked for is checked.
    const dims: Vec3 = [512, 512, 512];
    const onH100 = fitPredictionTiling(fast, dims, {}, h100).tile!;
    const onLavapipe = fitPredictionTiling(fast, dims, {}, lavapipe).tile!;
    assert.ok(onH100[0] * onH100[1] * onH100[2] > onLavapipe[0] * onLavapipe[1] * onLavapipe[2]);
    assert.ok(onLavapipe.every((n) => n % 4 === 0));
    assert.ok(inferenceBytes(PRESETS.fast, onLavapipe).largestTensor <= lavapipe.maxTensorBytes);
    assert.throws(() => fitPredictionTiling(fast, dims, { tile: [256, 256, 256] }, lavapipe), /the segmentation tile 256×256×256 does not fit the GPU.*the largest that fits is about/);
    assert.deepEqual(fitPredictionTiling(fast, dims, { tile: [64, 64, 64] }, lavapipe).tile, [64, 64, 64]);
    // The sizing reads the plan's input tile without making the plan: the same figure.
    for (const [net, volume, tiling] of [
      [fast, [100, 90, 40], {}],
      [fast, [100, 90, 40], { tile: [40, 36, 20], context: 5 }],
      [paper, [300, 280, 90], {}],
      [paper, [300, 280, 90], { tile: [100, 60, 30] }],
    ] as const) {
      assert.deepEqual(plannedInputSize(net, [...volume], tiling as PredictionTiling), planPrediction(net, [...volume], tiling as PredictionTiling).inputSize);
    }
  } finally {
    paper.dispose();
    fast.dispose();
  }
});

test('the chain: auto never takes a software adapter, says why, and names the fix; --backend webgpu takes it', { skip: SKIP_WITHOUT_WEBGPU }, async () => {
  const report = await probeBackends();
  assert.deepEqual(
    report.statuses.map((s) => s.name),
    ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'],
  );
  const webgpu = report.statuses.find((s) => s.name === 'webgpu')!;
  assert.ok(webgpu.adapter, 'the adapter found is reported');
  assert.ok(webgpu.adapter.limits.maxStorageBufferBindingSize > 0 && webgpu.adapter.limits.maxBufferSize > 0);
  if (webgpu.adapter.software) {
    assert.equal(webgpu.available, false);
    assert.notEqual(report.active, 'webgpu');
    assert.match(webgpu.reason ?? '', /only a software adapter was found .*auto does not use it/);
    assert.match(webgpu.fix ?? '', /Vulkan driver.*or set unet3d\.backend \(or --backend\) to "webgpu"/);
  }
  const forced = await initBackend('webgpu');
  assert.equal(forced.active, 'webgpu');
  assert.equal(tf.getBackend(), 'webgpu');
  assert.match(forced.statuses[0].detail ?? '', /WebGPU on .*max storage binding/);
});

test('training on webgpu: the loop runs, GPU buffers and tensors stay flat over the steps, run.json names the adapter; a patch that cannot fit is refused', { skip: SKIP_WITHOUT_WEBGPU }, async () => {
  const ball = writeBallVolume(work, 'ball-train');
  const outDir = path.join(work, 'run-webgpu');
  const buffers: number[] = [];
  const tensors: number[] = [];
  const summary = await runTraining(
    trainSettings({
      volumes: [ball],
      outDir,
      network: { preset: 'fast', levels: 2, baseFilters: 4 },
      patchSize: [12, 12, 4],
      iterations: 8,
      validation: { fold: 0, folds: 3 },
      validateEvery: 8,
      // No refit: its validation frees the pooled buffers mid-run (the refit has tests of its own).
      refit: 0,
      backend: 'webgpu',
    }),
    {
      onEvent(event) {
        if (event.type !== 'progress') return;
        const stats = gpuBufferStats()!;
        buffers.push(stats.used + stats.free);
        tensors.push(tf.memory().numTensors);
      },
    },
  );
  assert.equal(summary.status, 'succeeded');
  assert.equal(summary.iterations, 8);
  assert.ok(Number.isFinite(summary.finalLoss ?? NaN));
  // After the first steps (which create the optimizer's state and fill tfjs's buffer pool), the
  // same tensors and the same GPU buffers every step.
  assert.ok(tensors.slice(2).every((n) => n === tensors[2]), `tensors per step: ${tensors.join(' ')}`);
  assert.ok(buffers.slice(2).every((n) => n === buffers[2]), `GPU buffers per step: ${buffers.join(' ')}`);
  const record = readRunRecord(outDir);
  assert.equal(record.backend, 'webgpu');
  assert.ok(record.adapter?.description, 'run.json records the adapter');
  assert.equal(typeof record.adapter?.software, 'boolean');
  assert.ok(record.adapter!.limits.maxStorageBufferBindingSize > 0);

  // A patch far beyond the adapter's binding limit: refused before anything is allocated, in words.
  const tooBig = path.join(work, 'run-too-big');
  const limit = record.adapter!.limits.maxStorageBufferBindingSize;
  const edge = Math.ceil(Math.cbrt((4 * limit) / (4 * 16)) / 4) * 4;
  await assert.rejects(
    runTraining(trainSettings({ volumes: [ball], outDir: tooBig, network: { preset: 'fast' }, patchSize: [edge, edge, edge], iterations: 1, backend: 'webgpu' })),
    /does not fit the GPU: its largest tensor takes .* the largest that fits is about/,
  );
  assert.match(readRunRecord(tooBig).error ?? '', /does not fit the GPU/);
});

test('a run trained on wasm segments the same on webgpu as on wasm, tiled: labels ≥ 99.9 %, probabilities within 1/255', { skip: SKIP_WITHOUT_WEBGPU }, async () => {
  const ball = writeBallVolume(work, 'ball-seg', [32, 28, 16]);
  const runDir = path.join(work, 'run-wasm');
  await runTraining(
    trainSettings({
      volumes: [ball],
      outDir: runDir,
      network: { preset: 'fast', levels: 2, baseFilters: 4 },
      patchSize: [16, 16, 8],
      iterations: 15,
      optimizer: { kind: 'adam' },
      validation: { fold: 0, folds: 3 },
      validateEvery: 15,
      backend: 'wasm',
    }),
  );
  const results: { labels: ArrayLike<number>; probabilities: ArrayLike<number>; tiles: number; backend: string }[] = [];
  for (const backend of ['wasm', 'webgpu'] as const) {
    const out = path.join(work, `seg-${backend}.nii.gz`);
    const probabilities = path.join(work, `prob-${backend}.nii.gz`);
    // Tiles of 16×16×8 over 32×28×16: several, Gaussian-blended where they overlap.
    const result = await segmentVolumeFile({ runDir, image: ball.image, out, probabilities, tile: [16, 16, 8], overlap: 0.25, backend });
    results.push({ labels: readVolumeFile(out).data, probabilities: readVolumeFile(probabilities, { allFrames: true }).allFrames!, tiles: result.tiles, backend: result.backend });
  }
  const [wasm, webgpu] = results;
  assert.equal(webgpu.backend, 'webgpu');
  assert.ok(wasm.tiles > 1, `${wasm.tiles} tile(s)`);
  let same = 0;
  for (let i = 0; i < wasm.labels.length; i++) if (wasm.labels[i] === webgpu.labels[i]) same++;
  assert.ok(same / wasm.labels.length >= 0.999, `labels agree on ${((100 * same) / wasm.labels.length).toFixed(3)} % of the voxels`);
  let worst = 0;
  for (let i = 0; i < wasm.probabilities.length; i++) worst = Math.max(worst, Math.abs(wasm.probabilities[i] - webgpu.probabilities[i]));
  assert.ok(worst <= 1, `probabilities differ by up to ${worst}/255`);
  assert.ok(wasm.labels.length > 0 && new Set(Array.from(webgpu.labels)).size >= 2, 'the segmentation finds the ball');
});
