import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import { classWeights, fusedTrainingLoss, logitAdjustment, resolveLossKind, sparseSoftDiceLoss, sparseWeightedCrossEntropy, trainingLoss } from '../../src/engine/loss';
import { tf } from '../../src/engine/tf';

before(async () => {
  await initBackend('cpu');
});

test('class weights balance the labeled voxels and average 1', () => {
  const counts = [900, 100];
  const balanced = classWeights(counts, 'balanced');
  // Every class weighs the same in total, and the mean weight over labeled voxels is 1.
  assert.ok(Math.abs(counts[0] * balanced[0] - counts[1] * balanced[1]) < 1e-9);
  assert.ok(Math.abs(counts[0] * balanced[0] + counts[1] * balanced[1] - 1000) < 1e-9);
  const sqrt = classWeights(counts, 'sqrt');
  assert.ok(sqrt[0] < 1 && sqrt[1] > 1, 'frequent background weighs less');
  assert.ok(Math.abs(sqrt[1] / sqrt[0] - 3) < 1e-9, 'inverse square root of the frequency');
  assert.deepEqual(classWeights(counts, 'none'), [1, 1]);
  assert.deepEqual(classWeights(counts, [0.5, 2]), [0.5, 2]);
  // auto: none when no class is rare (under 5 % of the labeled voxels), else sqrt with one
  // foreground class and balanced with several.
  assert.deepEqual(classWeights(counts, 'auto'), [1, 1]);
  assert.deepEqual(classWeights([900, 100, 80], 'auto'), [1, 1, 1]);
  assert.deepEqual(classWeights([900, 100, 25], 'auto'), classWeights([900, 100, 25], 'balanced'), 'a rare class among several: balanced');
  assert.deepEqual(classWeights([983, 17], 'auto'), classWeights([983, 17], 'sqrt'));
  // A class without labeled voxels gets the largest weight of the others.
  const absent = classWeights([100, 0, 50], 'balanced');
  assert.equal(absent[1], Math.max(absent[0], absent[2]));
  assert.throws(() => classWeights(counts, [1]), /2 classes/);
  assert.throws(() => classWeights(counts, [1, -1]), /≥ 0/);
});

test('the logit adjustment takes back a fraction of log(weight), nothing for equal or non-positive weights', () => {
  const w = [0.25, 4, 16, 1];
  assert.deepEqual(logitAdjustment(w, 0.5), [0.5 * Math.log(0.25), 0.5 * Math.log(4), 0.5 * Math.log(16), 0]);
  assert.deepEqual(logitAdjustment(w, 0), [0, 0, 0, 0]);
  assert.deepEqual(logitAdjustment([1, 1, 1], 0.5), [0, 0, 0]);
  assert.deepEqual(logitAdjustment([0, 2], 1), [0, Math.log(2)]);
  // A fraction of 1 undoes balanced weights: softmax(logits − log w) ∝ p / w.
  const p = [0.2, 0.8];
  const weights = [1, 8];
  const adjusted = p.map((x, c) => Math.log(x) - logitAdjustment(weights, 1)[c]);
  assert.ok(adjusted[0] > adjusted[1], 'class 0 wins once the 8× weight of class 1 is taken back');
});

test('the loss is the weighted mean cross-entropy over labeled voxels', () => {
  // 4 voxels, 2 classes: labels 1 (background), 2, 0 (unlabeled), 2.
  const logits = [
    [2, 0],
    [0, 1],
    [5, -5],
    [1, 3],
  ];
  const labels = [1, 2, 0, 2];
  const weights = [0.5, 2];
  const ce = (l: number[], c: number) => Math.log(Math.exp(l[0]) + Math.exp(l[1])) - l[c];
  const expected = (0.5 * ce(logits[0], 0) + 2 * ce(logits[1], 1) + 2 * ce(logits[3], 1)) / (0.5 + 2 + 2);
  const loss = tf.tidy(() => sparseWeightedCrossEntropy(tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), weights).dataSync()[0]);
  assert.ok(Math.abs(loss - expected) < 1e-5, `${loss} vs ${expected}`);
});

test('an unlabeled voxel contributes exactly zero to the loss and its gradient', () => {
  const shape: [number, number, number, number, number] = [1, 2, 3, 4, 3];
  const voxels = 2 * 3 * 4;
  const labelValues = Array.from({ length: voxels }, (_, i) => (i % 3 === 0 ? 0 : 1 + (i % 3)));
  const weights = [0.7, 1.3, 2];
  const before = tf.memory().numTensors;
  const logitsA = tf.randomNormal(shape, 0, 2, 'float32', 7);
  // Same logits except wildly different ones on the unlabeled voxels.
  const unlabeledMask = tf.tensor5d(labelValues.flatMap((l) => [l === 0 ? 1 : 0, l === 0 ? 1 : 0, l === 0 ? 1 : 0]), shape);
  const logitsB = tf.tidy(() => tf.add(logitsA, tf.mul(unlabeledMask, tf.randomNormal(shape, 0, 50, 'float32', 8))));
  const labels = tf.tensor4d(labelValues, [1, 2, 3, 4], 'int32');
  const f = (x: tf.Tensor) => sparseWeightedCrossEntropy(x, labels, weights);
  const lossA = tf.tidy(() => f(logitsA).dataSync()[0]);
  const lossB = tf.tidy(() => f(logitsB).dataSync()[0]);
  assert.equal(lossA, lossB, 'changing unlabeled logits leaves the loss unchanged');
  const grad = tf.grad(f)(logitsA);
  const g = grad.dataSync();
  let labeledNonZero = 0;
  labelValues.forEach((l, v) => {
    for (let c = 0; c < 3; c++) {
      if (l === 0) assert.ok(g[v * 3 + c] === 0, `gradient at unlabeled voxel ${v}, class ${c} is ${g[v * 3 + c]}`); // ±0
      else if (g[v * 3 + c] !== 0) labeledNonZero++;
    }
  });
  assert.ok(labeledNonZero > 0, 'labeled voxels do have a gradient');
  tf.dispose([logitsA, unlabeledMask, logitsB, labels, grad]);
  assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
});

test('a patch without labels gives loss 0 and gradient 0, not NaN', () => {
  const logits = tf.randomNormal([1, 2, 2, 2, 2], 0, 1, 'float32', 3);
  const labels = tf.zeros([1, 2, 2, 2], 'int32');
  const loss = sparseWeightedCrossEntropy(logits, labels, [1, 1]);
  assert.equal(loss.dataSync()[0], 0);
  const grad = tf.grad((x: tf.Tensor) => sparseWeightedCrossEntropy(x, labels, [1, 1]))(logits);
  assert.ok(Array.from(grad.dataSync()).every((v) => v === 0)); // -0 === 0
  tf.dispose([logits, labels, loss, grad]);
});

test('the loss rejects mismatched shapes and weights', () => {
  const logits = tf.zeros([1, 2, 2, 2, 3]);
  assert.throws(() => sparseWeightedCrossEntropy(logits, tf.zeros([1, 2, 2, 3], 'int32'), [1, 1, 1]), /do not match/);
  assert.throws(() => sparseWeightedCrossEntropy(logits, tf.zeros([1, 2, 2, 2], 'int32'), [1, 1]), /2 class weights for 3/);
  logits.dispose();
});

test('soft Dice counts labeled voxels only, foreground classes only', () => {
  // 5 voxels, 3 classes; labels 1 (background), 2, 3, 0 (unlabeled), 2.
  const logits = [
    [2, 0, 0],
    [0, 1, -1],
    [0, 0, 2],
    [-9, 9, 9],
    [1, 3, 0],
  ];
  const labels = [1, 2, 3, 0, 2];
  const softmax = (l: number[]) => {
    const e = l.map(Math.exp);
    const s = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / s);
  };
  const p = logits.map(softmax);
  const labeled = [0, 1, 2, 4];
  const dice = (c: number) => {
    let inter = 0;
    let sum = 0;
    for (const i of labeled) {
      const y = labels[i] === c + 1 ? 1 : 0;
      inter += p[i][c] * y;
      sum += p[i][c] + y;
    }
    return (2 * inter + 1e-5) / (sum + 1e-5);
  };
  const expected = -(dice(1) + dice(2)) / 2;
  const value = tf.tidy(() => sparseSoftDiceLoss(tf.tensor2d(logits), tf.tensor1d(labels, 'int32')).dataSync()[0]);
  assert.ok(Math.abs(value - expected) < 1e-5, `${value} vs ${expected}`);
  // Perfect logits give about −1; ce+dice adds the cross-entropy.
  const perfect = tf.tensor2d(labels.map((l) => [0, 1, 2].map((c) => (c === Math.max(l, 1) - 1 ? 30 : -30))));
  const ideal = tf.tidy(() => sparseSoftDiceLoss(perfect, tf.tensor1d(labels, 'int32')).dataSync()[0]);
  assert.ok(Math.abs(ideal + 1) < 1e-4, `${ideal}`);
  const both = tf.tidy(() => trainingLoss('ce+dice', tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), [1, 1, 1]).dataSync()[0]);
  const ce = tf.tidy(() => sparseWeightedCrossEntropy(tf.tensor2d(logits), tf.tensor1d(labels, 'int32'), [1, 1, 1]).dataSync()[0]);
  assert.ok(Math.abs(both - (ce + expected)) < 1e-5);
  perfect.dispose();
  assert.throws(() => sparseSoftDiceLoss(tf.zeros([2, 3]), tf.zeros([3], 'int32')), /do not match/);
});

test("'auto' loss: cross-entropy plus Dice with several foreground classes, cross-entropy with one", () => {
  assert.equal(resolveLossKind('auto', 2), 'ce');
  assert.equal(resolveLossKind('auto', 8), 'ce+dice');
  assert.equal(resolveLossKind('ce', 8), 'ce');
  assert.equal(resolveLossKind('ce+dice', 2), 'ce+dice');
});

test('the fused loss (one pass in JavaScript, the cpu and wasm path) equals the op-by-op loss, value and gradient', () => {
  const shape: [number, number, number, number, number] = [1, 3, 4, 5, 4];
  const voxels = 3 * 4 * 5;
  // Every label value, unlabeled voxels included; class 3 absent from this patch.
  const labelValues = Array.from({ length: voxels }, (_, i) => [0, 1, 2, 1, 4, 0, 2][i % 7]);
  const labels = tf.tensor4d(labelValues, [1, 3, 4, 5], 'int32');
  const logits = tf.randomNormal(shape, 0, 3, 'float32', 11);
  const weights = [0.4, 2.5, 7, 1.2];
  const opByOp = {
    ce: (x: tf.Tensor) => sparseWeightedCrossEntropy(x, labels, weights),
    'ce+dice': (x: tf.Tensor) => tf.add(sparseWeightedCrossEntropy(x, labels, weights), sparseSoftDiceLoss(x, labels)) as tf.Scalar,
  };
  for (const kind of ['ce', 'ce+dice'] as const) {
    const [expected, fused] = [opByOp[kind], (x: tf.Tensor) => fusedTrainingLoss(kind, x, labels, weights)].map((f) =>
      tf.tidy(() => ({ value: f(logits).dataSync()[0], grad: Float32Array.from(tf.grad((x: tf.Tensor) => tf.mul(f(x), 3) as tf.Scalar)(logits).dataSync()) })),
    );
    assert.ok(Math.abs(fused.value - expected.value) < 1e-5 * Math.max(1, Math.abs(expected.value)), `${kind}: ${fused.value} vs ${expected.value}`);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < expected.grad.length; i++) {
      worst = Math.max(worst, Math.abs(fused.grad[i] - expected.grad[i]));
      scale = Math.max(scale, Math.abs(expected.grad[i]));
    }
    assert.ok(worst < 1e-5 * scale, `${kind}: gradient off by ${worst} (largest ${scale})`);
    // Unlabeled voxels: exactly no gradient.
    labelValues.forEach((l, v) => {
      if (l === 0) for (let c = 0; c < 4; c++) assert.equal(fused.grad[v * 4 + c], 0);
    });
  }
  // No labels at all: 0, not NaN.
  const none = tf.zeros([1, 3, 4, 5], 'int32');
  assert.equal(tf.tidy(() => fusedTrainingLoss('ce', logits, none, weights).dataSync()[0]), 0);
  tf.dispose([labels, logits, none]);
});
