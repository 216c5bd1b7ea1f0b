/**
 * The optimizer's first steps against their closed forms, written out step by step in float64
 * from the definitions (not by running the recursion): SGD with momentum, Nesterov momentum, Adam
 * with bias correction, and L2 weight decay added to the gradient (coupled, as OptimizerSettings
 * documents). A descent method that is not the one configured fails here.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import { Optimizer } from '../../src/engine/optimizer';
import { DEFAULT_OPTIMIZER, type OptimizerSettings } from '../../src/protocol/settings';
import { tf } from '../../src/engine/tf';

before(async () => {
  await initBackend('cpu');
});

/** Start weights and three different gradients (per element: signs, sizes and zeros vary). */
const W0 = [0.5, -1.25, 2, 0];
const G = [
  [0.3, -0.8, 1.5, 0],
  [-0.2, -0.4, 0.25, 1],
  [0.7, 0.1, -2, -0.5],
];
const LR = [0.1, 0.05, 0.2];

/** Runs the engine's optimizer from W0 over the gradients G; the weights after each step. */
function engineSteps(settings: OptimizerSettings): number[][] {
  const w = tf.variable(tf.tensor1d(W0), true);
  const optimizer = new Optimizer(settings);
  const out: number[][] = [];
  for (let t = 0; t < G.length; t++) {
    const g = tf.tensor1d(G[t]);
    optimizer.apply([w], [g], LR[t]);
    g.dispose();
    out.push(Array.from(w.dataSync()));
  }
  optimizer.dispose();
  w.dispose();
  return out;
}

function assertClose(actual: number[][], expected: number[][], what: string): void {
  expected.forEach((row, t) =>
    row.forEach((x, i) => {
      const a = actual[t][i];
      assert.ok(Math.abs(a - x) <= 2e-6 * Math.max(1, Math.abs(x)), `${what}, step ${t + 1}, element ${i}: ${a}, expected ${x}`);
    }),
  );
}

const plain: OptimizerSettings = { ...DEFAULT_OPTIMIZER, weightDecay: 0, clipNorm: 0 };

test('SGD with momentum μ: w₃ = w₀ − η₁g₁ − η₂(μg₁ + g₂) − η₃(μ²g₁ + μg₂ + g₃)', () => {
  const mu = 0.9;
  const actual = engineSteps({ ...plain, kind: 'sgd', momentum: mu, nesterov: false });
  const expected = W0.map((w0, i) => {
    const [g1, g2, g3] = G.map((g) => g[i]);
    const w1 = w0 - LR[0] * g1;
    const w2 = w1 - LR[1] * (mu * g1 + g2);
    const w3 = w2 - LR[2] * (mu * mu * g1 + mu * g2 + g3);
    return [w1, w2, w3];
  });
  assertClose(actual, [0, 1, 2].map((t) => expected.map((e) => e[t])), 'sgd momentum');
});

test('SGD with Nesterov momentum: the step is g_t + μ·m_t, m_t = μ·m_{t−1} + g_t', () => {
  const mu = 0.99;
  const actual = engineSteps({ ...plain, kind: 'sgd', momentum: mu, nesterov: true });
  const expected = W0.map((w0, i) => {
    const [g1, g2, g3] = G.map((g) => g[i]);
    const m1 = g1;
    const m2 = mu * g1 + g2;
    const m3 = mu * mu * g1 + mu * g2 + g3;
    const w1 = w0 - LR[0] * (g1 + mu * m1);
    const w2 = w1 - LR[1] * (g2 + mu * m2);
    const w3 = w2 - LR[2] * (g3 + mu * m3);
    return [w1, w2, w3];
  });
  assertClose(actual, [0, 1, 2].map((t) => expected.map((e) => e[t])), 'nesterov');
});

test('SGD without momentum is plain gradient descent', () => {
  const actual = engineSteps({ ...plain, kind: 'sgd', momentum: 0, nesterov: false });
  let w = [...W0];
  const expected = G.map((g, t) => (w = w.map((x, i) => x - LR[t] * g[i])));
  assertClose(actual, expected, 'sgd');
});

test('Adam: bias-corrected moments, m̂_t = Σ β₁^(t−s)(1−β₁)g_s / (1 − β₁^t), and likewise v̂ with g²', () => {
  const [b1, b2, eps] = [0.9, 0.999, 1e-8];
  const actual = engineSteps({ ...plain, kind: 'adam', beta1: b1, beta2: b2, epsilon: eps });
  const expected = W0.map((w0, i) => {
    const [g1, g2, g3] = G.map((g) => g[i]);
    // Step 1: m̂ = g, v̂ = g², the step is η·g/(|g| + ε) (about η·sign g).
    const w1 = w0 - (LR[0] * g1) / (Math.abs(g1) + eps);
    const m2 = (b1 * g1 + g2) / (1 + b1);
    const v2 = (b2 * g1 * g1 + g2 * g2) / (1 + b2);
    const w2 = w1 - (LR[1] * m2) / (Math.sqrt(v2) + eps);
    const m3 = ((1 - b1) * (b1 * b1 * g1 + b1 * g2 + g3)) / (1 - b1 ** 3);
    const v3 = ((1 - b2) * (b2 * b2 * g1 * g1 + b2 * g2 * g2 + g3 * g3)) / (1 - b2 ** 3);
    const w3 = w2 - (LR[2] * m3) / (Math.sqrt(v3) + eps);
    return [w1, w2, w3];
  });
  assertClose(actual, [0, 1, 2].map((t) => expected.map((e) => e[t])), 'adam');
  // The first step moves every element with a gradient by the learning rate: Adam's signature.
  actual[0].forEach((w, i) => assert.ok(Math.abs(Math.abs(w - W0[i]) - (G[0][i] === 0 ? 0 : LR[0])) < 1e-6, `element ${i} moved ${w - W0[i]}`));
});

test('weight decay λ adds λ·w (the weights before the step) to the gradient, for SGD and Adam', () => {
  const lambda = 0.1;
  // SGD with momentum, decay coupled: g'_t = g_t + λ·w_{t−1}.
  const mu = 0.9;
  const sgd = engineSteps({ ...plain, kind: 'sgd', momentum: mu, nesterov: false, weightDecay: lambda });
  const expectedSgd = W0.map((w0, i) => {
    const [g1, g2, g3] = G.map((g) => g[i]);
    const d1 = g1 + lambda * w0;
    const w1 = w0 - LR[0] * d1;
    const d2 = g2 + lambda * w1;
    const w2 = w1 - LR[1] * (mu * d1 + d2);
    const d3 = g3 + lambda * w2;
    const w3 = w2 - LR[2] * (mu * mu * d1 + mu * d2 + d3);
    return [w1, w2, w3];
  });
  assertClose(sgd, [0, 1, 2].map((t) => expectedSgd.map((e) => e[t])), 'sgd + weight decay');
  // Adam's first step with decay: the decayed gradient's sign, so a weight with no gradient still moves toward 0.
  const adam = engineSteps({ ...plain, kind: 'adam', weightDecay: lambda });
  W0.forEach((w0, i) => {
    const d = G[0][i] + lambda * w0;
    const expected = d === 0 ? w0 : w0 - (LR[0] * d) / (Math.abs(d) + plain.epsilon);
    assert.ok(Math.abs(adam[0][i] - expected) < 1e-6, `adam + decay, element ${i}: ${adam[0][i]} vs ${expected}`);
  });
});
