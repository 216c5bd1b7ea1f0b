import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import { Optimizer } from '../../src/engine/optimizer';
import { DEFAULT_OPTIMIZER, type OptimizerKind } from '../../src/engine/settings';
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
