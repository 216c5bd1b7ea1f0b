/**
 * The gradients of the losses training minimises (trainingLoss: weighted sparse cross-entropy,
 * soft Dice, and their sum) against central differences of independent float64 references
 * (test/helpers/engineReference.ts), with class weights, unlabeled (label 0) voxels, a class
 * absent from the patch, and logits shifted by the logit adjustment; and the proof, for Dice and
 * ce+dice as for cross-entropy, that unlabeled voxels add exactly nothing to loss or gradient.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import type { BackendName } from '../../src/protocol/backends';
import type { LossKind } from '../../src/protocol/settings';
import { classWeights, logitAdjustment, sparseSoftDiceLoss, trainingLoss } from '../../src/engine/loss';
import { tf, type Tensor } from '../../src/engine/tf';
import { finiteDifferenceGrad, normals, relativeError, sparseSoftDiceRef, sparseWeightedCrossEntropyRef } from '../helpers/engineReference';

const BACKENDS: BackendName[] = ['cpu', 'wasm'];
const VALUE_TOLERANCE = 1e-5;
const GRAD_TOLERANCE = 1e-4;

/** Which loss: the two kinds training resolves to, and Dice alone (the half ce+dice adds). */
type Loss = LossKind | 'dice';

interface Case {
  name: string;
  /** [n, d, h, w] of the labels; the logits add the class axis. */
  shape: [number, number, number, number];
  classes: number;
  /** Label of voxel i (0 = unlabeled, c + 1 = class c). */
  label: (i: number) => number;
  /** Fraction of the class weights' shift taken off the logits first (see logitAdjustment); 0 = none. */
  adjustment: number;
}

const CASES: Case[] = [
  // A third of the voxels unlabeled; every class present.
  { name: '3 classes, a third unlabeled', shape: [1, 2, 3, 4], classes: 3, label: (i) => (i % 3 === 0 ? 0 : [1, 1, 2, 1, 3][i % 5]), adjustment: 0 },
  // Batch of 2, class 3 (label 4) never labeled: Dice's ε keeps it from pulling or pushing.
  { name: '4 classes, one absent, batch 2', shape: [2, 2, 2, 3], classes: 4, label: (i) => [0, 1, 2, 1, 3, 0, 2, 1][i % 8], adjustment: 0 },
  // The logits as prediction adjusts them: raw − ½·log(weight).
  { name: '3 classes, logits shifted by the logit adjustment', shape: [1, 3, 2, 4], classes: 3, label: (i) => (i % 4 === 1 ? 0 : [1, 2, 1, 1, 3, 1, 2][i % 7]), adjustment: 0.5 },
];

/** Class weights as training derives them: balanced over the labeled voxel counts. */
function weightsOf(labels: number[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) if (l > 0) counts[l - 1]++;
  return classWeights(counts, 'balanced');
}

function lossOf(kind: Loss, logits: Tensor, labels: Tensor, weights: readonly number[]): tf.Scalar {
  return kind === 'dice' ? sparseSoftDiceLoss(logits, labels) : trainingLoss(kind, logits, labels, weights);
}

function referenceOf(kind: Loss, logits: Float64Array, k: number, labels: number[], weights: readonly number[]): number {
  const ce = () => sparseWeightedCrossEntropyRef(logits, k, labels, weights);
  const dice = () => sparseSoftDiceRef(logits, k, labels);
  return kind === 'ce' ? ce() : kind === 'dice' ? dice() : ce() + dice();
}

for (const backend of BACKENDS) {
  for (const kind of ['ce', 'dice', 'ce+dice'] as Loss[]) {
    test(`${backend}: the ${kind} loss and its gradient match central differences of a float64 reference`, async () => {
      await initBackend(backend);
      CASES.forEach((c, ci) => {
        const voxels = c.shape.reduce((a, b) => a * b, 1);
        const k = c.classes;
        const labels = Array.from({ length: voxels }, (_, i) => c.label(i));
        const weights = weightsOf(labels, k);
        assert.ok(new Set(weights).size > 1, `${c.name}: the weights differ between classes`);
        const shift = logitAdjustment(weights, c.adjustment);
        // The logits as float32 sees them, so both sides start from the same numbers.
        const raw = Float64Array.from(Float32Array.from(normals(voxels * k, 40 + ci, 2)));
        const adjusted = (l: Float64Array) => l.map((v, j) => v - shift[j % k]);

        const before = tf.memory().numTensors;
        const labelTensor = tf.tensor(labels, c.shape, 'int32');
        const logitTensor = tf.tensor(Float32Array.from(raw), [...c.shape, k]);
        const shiftTensor = tf.tensor1d(shift);
        const f = (x: Tensor) => lossOf(kind, tf.sub(x, shiftTensor), labelTensor, weights);
        const value = tf.tidy(() => f(logitTensor).dataSync()[0]);
        const grad = tf.tidy(() => tf.grad(f)(logitTensor).dataSync());
        tf.dispose([labelTensor, logitTensor, shiftTensor]);
        assert.equal(tf.memory().numTensors, before, `${c.name}: no tensor leaks`);

        const expected = referenceOf(kind, adjusted(raw), k, labels, weights);
        assert.ok(Math.abs(value - expected) < VALUE_TOLERANCE * Math.max(1, Math.abs(expected)), `${c.name}: loss ${value} vs ${expected}`);
        const fd = finiteDifferenceGrad(([l]) => Float64Array.of(referenceOf(kind, adjusted(l), k, labels, weights)), [Float64Array.from(raw)], 0, Float64Array.of(1), 1e-5);
        const error = relativeError(grad, fd);
        assert.ok(error < GRAD_TOLERANCE, `${c.name}: gradient off by ${error.toExponential(2)} of its largest element`);
        // The reference itself: unlabeled voxels have no gradient, labeled ones do.
        labels.forEach((l, v) => {
          for (let j = 0; j < k; j++) if (l === 0) assert.equal(fd[v * k + j], 0);
        });
      });
    });
  }
}

test('the references agree with hand-computed values', () => {
  // Two voxels, two classes: one labeled background (weight 0.5), one unlabeled.
  const logits = Float64Array.of(1, 0, 3, -3);
  const ce = Math.log(Math.exp(1) + 1) - 1;
  assert.ok(Math.abs(sparseWeightedCrossEntropyRef(logits, 2, [1, 0], [0.5, 2]) - ce) < 1e-12);
  assert.equal(sparseWeightedCrossEntropyRef(logits, 2, [0, 0], [1, 1]), 0);
  // Dice of class 1 over the labeled voxel: p1 = 1/(1 + e), y = 0 → (0 + ε) / (p1 + ε).
  const p1 = 1 / (1 + Math.E);
  assert.ok(Math.abs(sparseSoftDiceRef(logits, 2, [1, 0]) + 1e-5 / (p1 + 1e-5)) < 1e-12);
});

for (const kind of ['dice', 'ce+dice'] as Loss[]) {
  test(`${kind}: an unlabeled voxel contributes exactly zero to the loss and its gradient`, async () => {
    await initBackend('cpu');
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
    const f = (x: Tensor) => lossOf(kind, x, labels, weights);
    const lossA = tf.tidy(() => f(logitsA).dataSync()[0]);
    const lossB = tf.tidy(() => f(logitsB).dataSync()[0]);
    assert.equal(lossA, lossB, 'changing unlabeled logits leaves the loss unchanged');
    for (const logits of [logitsA, logitsB]) {
      const g = tf.tidy(() => tf.grad(f)(logits).dataSync());
      let labeledNonZero = 0;
      labelValues.forEach((l, v) => {
        for (let c = 0; c < 3; c++) {
          if (l === 0) assert.ok(g[v * 3 + c] === 0, `gradient at unlabeled voxel ${v}, class ${c} is ${g[v * 3 + c]}`); // ±0
          else if (g[v * 3 + c] !== 0) labeledNonZero++;
        }
      });
      assert.ok(labeledNonZero > 0, 'labeled voxels do have a gradient');
    }
    // A patch without any label: a finite loss and a gradient of exactly zero.
    const none = tf.zeros([1, 2, 3, 4], 'int32');
    const empty = tf.tidy(() => lossOf(kind, logitsA, none, weights).dataSync()[0]);
    assert.ok(Number.isFinite(empty), `loss ${empty} without labels`);
    const g0 = tf.tidy(() => tf.grad((x: Tensor) => lossOf(kind, x, none, weights))(logitsA).dataSync());
    assert.ok(g0.every((v) => v === 0), 'no labels, no gradient');
    tf.dispose([logitsA, unlabeledMask, logitsB, labels, none]);
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  });
}
