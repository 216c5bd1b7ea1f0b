import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import { Optimizer } from '../../src/engine/optimizer';
import { setFormulation } from '../../src/engine/ops';
import { DEFAULT_OPTIMIZER, type OptimizerKind } from '../../src/protocol/settings';
import { tf } from '../../src/engine/tf';

before(async () => {
  await initBackend('cpu');
});

for (const [kind, lr] of [['sgd', 0.01], ['adam', 0.05]] as [OptimizerKind, number][]) {
  test(`${kind} minimizes a quadratic without leaking tensors`, async () => {
    const target = tf.tensor1d([1, -2, 3]);
    const w = tf.variable(tf.zeros([3]), true, `quadratic-${kind}`);
    const optimizer = new Optimizer({ ...DEFAULT_OPTIMIZER, kind, momentum: 0.9, weightDecay: 0 });
    const lossOf = () => tf.tidy(() => tf.sum(tf.square(tf.sub(w, target))).dataSync()[0]);
    const start = lossOf();
    let tensors = -1;
    for (let i = 0; i < 300; i++) {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(tf.sub(w, target))) as tf.Scalar, [w]);
      await optimizer.apply([w], [grads[w.name]], lr);
      tf.dispose([value, ...Object.values(grads)]);
      if (i === 1) tensors = tf.memory().numTensors;
      if (i > 1) assert.equal(tf.memory().numTensors, tensors, `tensor count at step ${i}`);
    }
    assert.ok(lossOf() < start * 1e-3, `loss ${lossOf()} from ${start}`);
    optimizer.dispose();
    tf.dispose([w, target]);
  });
}

test('gradients are clipped to the global norm, and a NaN gradient is an error', async () => {
  const w = tf.variable(tf.zeros([2]), true, 'clipped');
  const optimizer = new Optimizer({ ...DEFAULT_OPTIMIZER, kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0, clipNorm: 1 });
  const g = tf.tensor1d([30, 40]);
  assert.equal(await optimizer.apply([w], [g], 1), 50);
  const [a, b] = w.dataSync();
  assert.ok(Math.abs(a + 0.6) < 1e-6 && Math.abs(b + 0.8) < 1e-6, `${a}, ${b}`);
  const nan = tf.tensor1d([NaN, 1]);
  await assert.rejects(() => optimizer.apply([w], [nan], 1), /not finite/);
  optimizer.dispose();
  tf.dispose([w, g, nan]);
});

for (const kind of ['sgd', 'adam'] as OptimizerKind[]) {
  test(`${kind}: the update in JavaScript (cpu and wasm) equals the op-by-op update (tensorflow backends)`, async () => {
    const settings = { ...DEFAULT_OPTIMIZER, kind, momentum: 0.9, weightDecay: 0.01, clipNorm: 3 };
    const run = async (formulation: 'simd' | 'tfjs') => {
      setFormulation(formulation);
      const w = tf.variable(tf.tensor2d([0.5, -1, 2, 0.25, 3, -0.5], [2, 3]), true, `same-${kind}-${formulation}`);
      const b = tf.variable(tf.tensor1d([0.1, -0.2]), true, `same-b-${kind}-${formulation}`);
      const optimizer = new Optimizer(settings);
      const norms: number[] = [];
      for (let i = 0; i < 5; i++) {
        // A gradient that changes from step to step; its norm is clipped on some steps.
        const g = [tf.tensor2d([i + 1, -2, 0.5, 1, -i, 3], [2, 3]), tf.tensor1d([0.3 * i, -1])];
        norms.push(await optimizer.apply([w, b], g, 0.05));
        tf.dispose(g);
      }
      const values = [...w.dataSync(), ...b.dataSync()];
      optimizer.dispose();
      tf.dispose([w, b]);
      setFormulation('auto');
      return { values, norms };
    };
    const inPlace = await run('simd');
    const opByOp = await run('tfjs');
    inPlace.norms.forEach((n, i) => assert.ok(Math.abs(n - opByOp.norms[i]) < 1e-5 * n));
    inPlace.values.forEach((v, i) => assert.ok(Math.abs(v - opByOp.values[i]) < 1e-5, `${kind}: weight ${i}: ${v} vs ${opByOp.values[i]}`));
  });
}
