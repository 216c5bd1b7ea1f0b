/**
 * Every kernel the network uses, on every backend available here (cpu, wasm, webgpu), against
 * independent float64 references: naive loops for the values, central finite differences for the
 * gradients. On cpu both formulations run (TensorFlow.js kernels as on the tensorflow backends,
 * and the engine's SIMD kernels); on wasm the SIMD kernels, which replace tfjs's wrong
 * Conv3DBackpropInputV2; on webgpu (lavapipe where there is no GPU) the engine's WGSL kernels and,
 * for comparison, tfjs's own webgpu kernels.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import type { BackendName } from '../../src/protocol/backends';
import { networkOps, setFormulation, type Formulation } from '../../src/engine/ops';
import { BN_EPSILON, BN_MOMENTUM } from '../../src/engine/ops/types';
import { SimdRuntime } from '../../src/engine/ops/simd/runtime';
import { setWinograd } from '../../src/engine/ops/simdOps';
import { setGemmStaging } from '../../src/engine/webgpu/kernels/gemm';
import { tf, type Tensor, type Tensor1D, type Tensor5D } from '../../src/engine/tf';
import { REPO_ROOT } from '../helpers/data';
import { SKIP_WITHOUT_WEBGPU } from '../helpers/webgpu';
import {
  batchNormReluRef,
  conv3dRef,
  finiteDifferenceGrad,
  maxPoolRef,
  normals,
  relativeError,
  relativeErrorAt,
  sampleIndices,
  size,
  softmaxCrossEntropyRef,
  upConvRef,
  type Shape,
} from '../helpers/engineReference';

const CASES: { backend: BackendName; formulation: Formulation }[] = [
  { backend: 'cpu', formulation: 'simd' },
  { backend: 'cpu', formulation: 'tfjs' },
  { backend: 'wasm', formulation: 'simd' },
  { backend: 'webgpu', formulation: 'webgpu' },
  { backend: 'webgpu', formulation: 'tfjs' },
];

const VALUE_TOLERANCE = 2e-5;
const GRAD_TOLERANCE = 1e-4;

/** Runs `op` on float32 copies of `args`; returns its value and the gradient of Σ op(args)·r for each argument. */
async function runOp(op: (...ts: Tensor[]) => Tensor, args: { data: Float64Array; shape: Shape }[], r: Float64Array): Promise<{ value: Float32Array; shape: number[]; grads: Float32Array[] }> {
  const [value, ...grads] = tf.tidy(() => {
    const tensors = args.map((a) => tf.tensor(Float32Array.from(a.data), a.shape));
    const y = op(...tensors);
    const weights = tf.tensor(Float32Array.from(r), y.shape);
    return [y, ...tf.grads((...ts: Tensor[]) => tf.sum(tf.mul(op(...ts), weights)))(tensors)];
  });
  // Read back asynchronously: the webgpu backend cannot read synchronously under Node.
  try {
    return { value: (await value.data()) as Float32Array, shape: value.shape, grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)) };
  } finally {
    tf.dispose([value, ...grads]);
  }
}

/** Checks value and every gradient of a tfjs op against a float64 reference `ref(args)`. */
async function checkOp(
  name: string,
  op: (...ts: Tensor[]) => Tensor,
  ref: (args: Float64Array[]) => { data: Float64Array; shape: Shape },
  args: { data: Float64Array; shape: Shape }[],
  h = 1e-4,
): Promise<void> {
  const expected = ref(args.map((a) => a.data));
  const r = normals(expected.data.length, 99);
  const actual = await runOp(op, args, r);
  assert.deepEqual(actual.shape, expected.shape, `${name}: output shape`);
  const valueError = relativeError(actual.value, expected.data);
  assert.ok(valueError < VALUE_TOLERANCE, `${name}: value off by ${valueError.toExponential(2)} (relative)`);
  args.forEach((a, i) => {
    // Finite differences cost two reference passes per element: check a spread of elements.
    const at = sampleIndices(a.data.length, 48);
    const fd = finiteDifferenceGrad((x) => ref(x).data, args.map((x) => x.data), i, r, h, at);
    const gradError = relativeErrorAt(actual.grads[i], fd, at);
    assert.ok(gradError < GRAD_TOLERANCE, `${name}: gradient of argument ${i} off by ${gradError.toExponential(2)} (relative)`);
  });
}

const arg = (shape: Shape, seed: number, scale = 1, offset = 0) => ({ data: normals(size(shape), seed, scale, offset), shape });

for (const { backend, formulation } of CASES) {
  const label = `${backend}, ${formulation} kernels`;
  const options = { skip: backend === 'webgpu' && SKIP_WITHOUT_WEBGPU };
  const setup = async () => {
    await initBackend(backend);
    setFormulation(formulation);
  };

  test(`${label}: conv3d forward, input, filter and bias gradients`, options, async () => {
    await setup();
    const convCases: { name: string; inputs: Shape[]; k: number; cout: number; padding: 'same' | 'valid' }[] = [
      { name: 'same, 1 → 5 channels', inputs: [[1, 3, 4, 5, 1]], k: 3, cout: 5, padding: 'same' },
      { name: 'same, batch 2, 6 → 16', inputs: [[2, 3, 4, 3, 6]], k: 3, cout: 16, padding: 'same' },
      { name: 'valid, 3 → 8', inputs: [[1, 5, 4, 6, 3]], k: 3, cout: 8, padding: 'valid' },
      { name: 'valid, cropped concat 4 + 3 → 4', inputs: [[1, 7, 6, 8, 4], [1, 4, 3, 5, 3]], k: 3, cout: 4, padding: 'valid' },
      { name: '1×1×1, 16 → 3', inputs: [[1, 2, 3, 4, 16]], k: 1, cout: 3, padding: 'valid' },
      // Multiples of 4 input channels: the Winograd kernel on the SIMD formulation, odd and even edges.
      { name: 'same, batch 2, 8 → 20 (Winograd)', inputs: [[2, 5, 4, 7, 8]], k: 3, cout: 20, padding: 'same' },
      { name: 'valid, cropped concat 4 + 4 → 6 (Winograd)', inputs: [[1, 8, 7, 9, 4], [1, 5, 6, 6, 4]], k: 3, cout: 6, padding: 'valid' },
    ];
    for (const c of convCases) {
      const cin = c.inputs.reduce((s, shape) => s + shape[4], 0);
      const wShape = [c.k, c.k, c.k, cin, c.cout];
      const args = [...c.inputs.map((shape, i) => arg(shape, 10 + i)), arg(wShape, 20, 0.3), arg([c.cout], 30)];
      const m = c.inputs.length;
      await checkOp(
        `conv ${c.name}`,
        (...ts) => networkOps().conv(ts.slice(0, m) as Tensor5D[], ts[m] as Tensor5D, ts[m + 1] as Tensor1D, c.padding),
        (a) => conv3dRef(a.slice(0, m).map((data, i) => ({ data, shape: c.inputs[i] })), a[m], wShape, a[m + 1], c.padding),
        args,
      );
    }
  });

  test(`${label}: conv3d without the input gradient (the network's first layer) keeps the filter and bias gradients`, options, async () => {
    await setup();
    const xShape: Shape = [1, 3, 4, 5, 2];
    const wShape = [3, 3, 3, 2, 6];
    const args = [arg(xShape, 40), arg(wShape, 41, 0.3), arg([6], 42)];
    const r = normals(size([1, 3, 4, 5, 6]), 43);
    const run = (inputGradient: boolean) =>
      runOp((x, w, b) => networkOps().conv([x as Tensor5D], w as Tensor5D, b as Tensor1D, 'same', { inputGradient }), args, r);
    const full = await run(true);
    const without = await run(false);
    assert.deepEqual(without.value, full.value);
    assert.ok(without.grads[0].every((v) => v === 0), 'no input gradient');
    assert.ok(full.grads[0].some((v) => v !== 0));
    for (const i of [1, 2]) assert.ok(relativeError(without.grads[i], full.grads[i]) < 1e-6, `gradient of argument ${i}`);
  });

  test(`${label}: a channel range and its gradient`, options, async () => {
    await setup();
    const shape: Shape = [1, 2, 3, 4, 7];
    for (const [first, count] of [[0, 3], [4, 3], [2, 1]]) {
      await checkOp(
        `channels [${first}, ${first + count})`,
        (x) => networkOps().channels(x as Tensor5D, first, count),
        ([x]) => ({ data: Float64Array.from({ length: (x.length / 7) * count }, (_, i) => x[Math.floor(i / count) * 7 + first + (i % count)]), shape: [1, 2, 3, 4, count] }),
        [arg(shape, 44)],
      );
    }
  });

  test(`${label}: transposed convolution 2×2×2 stride 2 and its gradients`, options, async () => {
    await setup();
    for (const [xShape, cout] of [
      [[1, 2, 3, 2, 8], 8],
      [[2, 2, 2, 3, 3], 5],
    ] as [Shape, number][]) {
      const cin = xShape[4];
      await checkOp(
        `upConv ${cin} → ${cout}`,
        (x, w) => networkOps().upConv(x as Tensor5D, w as Tensor5D),
        ([x, w]) => upConvRef(x, xShape, w, cout),
        [arg(xShape, 1), arg([2, 2, 2, cout, cin], 2, 0.5)],
      );
    }
  });

  test(`${label}: max pooling 2×2×2 and its gradient`, options, async () => {
    await setup();
    for (const shape of [
      [1, 4, 4, 6, 8],
      [2, 5, 4, 3, 3],
    ] as Shape[]) {
      await checkOp(`maxPool [${shape.join(', ')}]`, (x) => networkOps().maxPool(x as Tensor5D), ([x]) => maxPoolRef(x, shape), [arg(shape, 3)], 1e-6);
    }
  });

  test(`${label}: batch norm (batch statistics) + ReLU and its gradients`, options, async () => {
    await setup();
    for (const shape of [
      [2, 3, 4, 3, 8],
      [1, 4, 3, 5, 6],
    ] as Shape[]) {
      const c = shape[4];
      const movingMean = tf.variable(tf.zeros([c]), false);
      const movingVariance = tf.variable(tf.ones([c]), false);
      await checkOp(
        `batchNormRelu [${shape.join(', ')}]`,
        (x, gamma, beta) => networkOps().batchNormRelu(x as Tensor5D, { gamma: gamma as tf.Variable, beta: beta as tf.Variable, movingMean, movingVariance }, true),
        ([x, g, b]) => ({ data: batchNormReluRef(x, c, g, b, BN_EPSILON), shape }),
        [arg(shape, 4, 2, 1.5), arg([c], 5, 0.5, 1), arg([c], 6, 0.5)],
        1e-5,
      );
      movingMean.dispose();
      movingVariance.dispose();
    }
  });

  test(`${label}: batch norm (moving statistics) + ReLU and its gradients`, options, async () => {
    await setup();
    const shape = [1, 3, 4, 5, 6];
    const c = 6;
    const mean = normals(c, 11);
    const variance = normals(c, 12, 0.3, 1.5);
    const movingMean = tf.variable(tf.tensor1d(Float32Array.from(mean)), false);
    const movingVariance = tf.variable(tf.tensor1d(Float32Array.from(variance)), false);
    await checkOp(
      'batchNormRelu, inference',
      (x, gamma, beta) => networkOps().batchNormRelu(x as Tensor5D, { gamma: gamma as tf.Variable, beta: beta as tf.Variable, movingMean, movingVariance }, false),
      ([x, g, b]) => ({ data: x.map((v, i) => Math.max(0, (g[i % c] * (v - mean[i % c])) / Math.sqrt(variance[i % c] + BN_EPSILON) + b[i % c])), shape }),
      [arg(shape, 13, 2, 0.5), arg([c], 14, 0.5, 1), arg([c], 15, 0.5)],
      1e-5,
    );
    movingMean.dispose();
    movingVariance.dispose();
  });

  test(`${label}: convolution fused with batch norm (moving statistics) + ReLU, where the formulation fuses them`, { skip: options.skip || (formulation !== 'webgpu' && 'no fused kernel') }, async () => {
    await setup();
    const fused = networkOps().convBatchNormRelu;
    assert.ok(fused, 'the formulation has a fused convolution + batch norm + ReLU');
    for (const c of [
      { inputs: [[1, 4, 3, 5, 3]] as Shape[], cout: 6, padding: 'same' as const },
      { inputs: [[1, 6, 5, 7, 4], [1, 4, 3, 5, 2]] as Shape[], cout: 5, padding: 'valid' as const },
    ]) {
      const cin = c.inputs.reduce((s, shape) => s + shape[4], 0);
      const wShape = [3, 3, 3, cin, c.cout];
      const mean = normals(c.cout, 21);
      const variance = normals(c.cout, 22, 0.3, 1.5);
      const movingMean = tf.variable(tf.tensor1d(Float32Array.from(mean)), false);
      const movingVariance = tf.variable(tf.tensor1d(Float32Array.from(variance)), false);
      const m = c.inputs.length;
      await checkOp(
        `fused conv ${cin} → ${c.cout} ${c.padding}`,
        (...ts) => fused(ts.slice(0, m) as Tensor5D[], ts[m] as Tensor5D, ts[m + 1] as Tensor1D, c.padding, { gamma: ts[m + 2] as tf.Variable, beta: ts[m + 3] as tf.Variable, movingMean, movingVariance }),
        (a) => {
          const y = conv3dRef(a.slice(0, m).map((data, i) => ({ data, shape: c.inputs[i] })), a[m], wShape, a[m + 1], c.padding);
          const [g, b] = [a[m + 2], a[m + 3]];
          const k = c.cout;
          return { data: y.data.map((v, i) => Math.max(0, (g[i % k] * (v - mean[i % k])) / Math.sqrt(variance[i % k] + BN_EPSILON) + b[i % k])), shape: y.shape };
        },
        [...c.inputs.map((shape, i) => arg(shape, 30 + i)), arg(wShape, 40, 0.3), arg([c.cout], 41), arg([c.cout], 42, 0.5, 1), arg([c.cout], 43, 0.5)],
      );
      movingMean.dispose();
      movingVariance.dispose();
    }
  });

  test(`${label}: batch norm moving averages follow the batch statistics`, options, async () => {
    await setup();
    const shape: [number, number, number, number, number] = [1, 4, 4, 4, 4];
    const x = arg(shape, 7, 3, 2);
    const p = {
      gamma: tf.variable(tf.ones([4])),
      beta: tf.variable(tf.zeros([4])),
      movingMean: tf.variable(tf.zeros([4]), false),
      movingVariance: tf.variable(tf.ones([4]), false),
    };
    tf.tidy(() => networkOps().batchNormRelu(tf.tensor(Float32Array.from(x.data), shape) as Tensor5D, p, true));
    // moving ← m · moving + (1 − m) · batch, from 0 (mean) and 1 (variance).
    const m = BN_MOMENTUM;
    const mean = new Float64Array(4);
    const variance = new Float64Array(4);
    const v = x.data.length / 4;
    for (let i = 0; i < x.data.length; i++) mean[i % 4] += x.data[i] / v;
    for (let i = 0; i < x.data.length; i++) variance[i % 4] += (x.data[i] - mean[i % 4]) ** 2 / v;
    assert.ok(relativeError(await p.movingMean.data(), [...mean].map((v) => (1 - m) * v)) < 1e-5);
    assert.ok(relativeError(await p.movingVariance.data(), [...variance].map((v) => m + (1 - m) * v)) < 1e-5);
    tf.dispose(Object.values(p));
  });

  test(`${label}: softmax cross-entropy and its gradient`, options, async () => {
    await setup();
    const k = 3;
    const v = 40;
    const logits = arg([v, k], 8, 2);
    const labels = Array.from({ length: v }, (_, i) => (i * 7) % k);
    const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), k);
    const expected = softmaxCrossEntropyRef(logits.data, k, labels);
    const t = tf.tensor(Float32Array.from(logits.data), logits.shape);
    const [lossT, gradT] = tf.tidy(() => {
      const f = (l: Tensor) => tf.losses.softmaxCrossEntropy(oneHot, l);
      return [f(t), tf.grad(f)(t)];
    });
    const [loss, grad] = [(await lossT.data())[0], await gradT.data()];
    tf.dispose([lossT, gradT]);
    assert.ok(Math.abs(loss - expected) < 1e-5 * Math.max(1, expected), `loss ${loss} vs ${expected}`);
    const fd = finiteDifferenceGrad(([l]) => Float64Array.of(softmaxCrossEntropyRef(l, k, labels)), [Float64Array.from(logits.data)], 0, Float64Array.of(1), 1e-5);
    assert.ok(relativeError(grad, fd) < 1e-4, `gradient off by ${relativeError(grad, fd)}`);
    tf.dispose([oneHot, t]);
  });
}

test("wasm: tfjs 4.22's own conv3d input gradient is wrong there, the check catches it (why the engine bypasses it)", async () => {
  await initBackend('wasm');
  setFormulation('tfjs');
  try {
    const xShape = [1, 3, 4, 5, 2];
    const wShape = [3, 3, 3, 2, 4];
    const args = [arg(xShape, 1), arg(wShape, 2, 0.3), arg([4], 3)];
    const ref = (a: Float64Array[]) => conv3dRef([{ data: a[0], shape: xShape }], a[1], wShape, a[2], 'same');
    const r = normals(size([1, 3, 4, 5, 4]), 99);
    const actual = await runOp((x, w, b) => networkOps().conv([x as Tensor5D], w as Tensor5D, b as Tensor1D, 'same'), args, r);
    const fd = finiteDifferenceGrad((a) => ref(a).data, args.map((a) => a.data), 0, r);
    assert.ok(relativeError(actual.grads[0], fd) > 1e-2, 'tfjs-backend-wasm Conv3DBackpropInputV2 now agrees: the engine could use it');
  } finally {
    setFormulation('auto');
  }
});

test('webgpu: the GEMMs staged in workgroup memory (what GPUs run; a software adapter runs them per thread) against the references', { skip: SKIP_WITHOUT_WEBGPU }, async () => {
  await initBackend('webgpu');
  setFormulation('webgpu');
  const previous = setGemmStaging('workgroup');
  try {
    // The three tile shapes (by output channels: 256×16, 128×32, 64×64), sizes off the tile grid,
    // a cropped concatenation, batch 2, split-K filter gradients, the transposed convolution.
    await checkOp(
      'conv valid, concat 6 + 3 → 24',
      (x, y, w, b) => networkOps().conv([x as Tensor5D, y as Tensor5D], w as Tensor5D, b as Tensor1D, 'valid'),
      (a) => conv3dRef([{ data: a[0], shape: [1, 7, 6, 8, 6] }, { data: a[1], shape: [1, 5, 4, 6, 3] }], a[2], [3, 3, 3, 9, 24], a[3], 'valid'),
      [arg([1, 7, 6, 8, 6], 4), arg([1, 5, 4, 6, 3], 5), arg([3, 3, 3, 9, 24], 6, 0.3), arg([24], 7)],
    );
    await checkOp(
      'conv same, batch 2, 4 → 40',
      (x, w, b) => networkOps().conv([x as Tensor5D], w as Tensor5D, b as Tensor1D, 'same'),
      (a) => conv3dRef([{ data: a[0], shape: [2, 3, 4, 5, 4] }], a[1], [3, 3, 3, 4, 40], a[2], 'same'),
      [arg([2, 3, 4, 5, 4], 8), arg([3, 3, 3, 4, 40], 9, 0.3), arg([40], 10)],
    );
    await checkOp('upConv 12 → 20', (x, w) => networkOps().upConv(x as Tensor5D, w as Tensor5D), ([x, w]) => upConvRef(x, [1, 2, 3, 2, 12], w, 20), [arg([1, 2, 3, 2, 12], 11), arg([2, 2, 2, 20, 12], 12, 0.5)]);
  } finally {
    setGemmStaging(previous);
    setFormulation('auto');
  }
});

test('wasm: the Winograd convolution, its input gradient and filter gradient match the direct kernels over many tiles, odd edges and two samples', async () => {
  await initBackend('wasm');
  setFormulation('simd');
  // Wide enough for several blocks of tiles (and a partial one) along x; odd sizes leave half tiles.
  const cases: { x: Shape; cout: number; padding: 'same' | 'valid' }[] = [
    { x: [2, 5, 7, 37, 8], cout: 20, padding: 'same' },
    { x: [1, 9, 6, 44, 12], cout: 8, padding: 'valid' },
  ];
  for (const c of cases) {
    const wShape = [3, 3, 3, c.x[4], c.cout];
    const args = [arg(c.x, 50), arg(wShape, 51, 0.3), arg([c.cout], 52)];
    const outShape: Shape = [c.x[0], ...[1, 2, 3].map((a) => (c.padding === 'same' ? c.x[a] : c.x[a] - 2)), c.cout];
    const r = normals(size(outShape), 53);
    const run = (winograd: boolean) => {
      setWinograd(winograd);
      try {
        return runOp((x, w, b) => networkOps().conv([x as Tensor5D], w as Tensor5D, b as Tensor1D, c.padding), args, r);
      } finally {
        setWinograd(true);
      }
    };
    const direct = await run(false);
    const winograd = await run(true);
    const name = `${c.padding} ${c.x.join('×')} → ${c.cout}`;
    assert.ok(relativeError(winograd.value, Float64Array.from(direct.value)) < 1e-5, `${name}: value`);
    ['input', 'filter', 'bias'].forEach((what, i) => {
      const error = relativeError(winograd.grads[i], Float64Array.from(direct.grads[i]));
      assert.ok(error < 1e-5, `${name}: ${what} gradient off by ${error.toExponential(2)}`);
    });
  }
  setFormulation('auto');
});

test('the SIMD kernels give the same results on 1 and 3 threads', () => {
  const results = [1, 3].map((threads) => {
    const rt = new SimdRuntime(threads);
    const [s, cin, cout] = [7, 5, 8];
    const sp = s + 2;
    const x = rt.put(Float32Array.from(normals(sp ** 3 * cin, 1)));
    const w = rt.put(Float32Array.from(normals(27 * cin * cout, 2)));
    const y = rt.alloc(s ** 3 * cout);
    const row = sp * cin;
    rt.run('conv', [x, cin, row, sp * row, cin, row, sp * row, 3, cin, w, cout, 0, y, cout, s * cout, s * s * cout, s, s, 0], s);
    const dw = rt.alloc(27 * cin * cout * threads);
    rt.zero(dw, 27 * cin * cout * threads);
    rt.run('convFilterGrad', [x, cin, row, sp * row, cin, row, sp * row, 3, cin, y, cout, s * cout, s * s * cout, cout, dw, s, s], s, { index: 14, stride: 4 * 27 * cin * cout });
    for (let t = 1; t < threads; t++) rt.run('addInto', [dw, dw + 4 * t * 27 * cin * cout], 27 * cin * cout);
    const out = { y: rt.f32.slice(y >> 2, (y >> 2) + s ** 3 * cout), dw: rt.f32.slice(dw >> 2, (dw >> 2) + 27 * cin * cout) };
    void rt.dispose();
    return out;
  });
  assert.deepEqual(results[1].y, results[0].y);
  assert.ok(relativeError(results[1].dw, results[0].dw) < 1e-6);
});

test('src/engine/ops/simd/kernelsWasm.ts is built from assembly/kernels.ts', () => {
  const result = spawnSync(process.execPath, ['assembly/build.mjs', '--check'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr || result.stdout);
});
