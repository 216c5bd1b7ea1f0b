/**
 * The sparse-label loss: softmax cross-entropy weighted per voxel, where an unlabeled voxel
 * (label 0) weighs exactly 0 and each class's labeled voxels weigh its class weight.
 */
import { AUTO_UNWEIGHTED_SHARE, type ClassWeighting, type LossKind } from '../protocol/settings';
import { tf, type Tensor } from './tf';
import { activeFormulation } from './ops';
import { customOp } from './ops/customOp';



/**
 * Class weights from labeled voxel counts (index c = class c, background first):
 * - `balanced`: inverse frequency, every class weighs the same in total;
 * - `sqrt`: inverse square root of the frequency (frequent background lowered, less extreme);
 * - `none`: 1 for all;
 * - `auto`: `none` when every class holds at least AUTO_UNWEIGHTED_SHARE of the labeled voxels,
 *   else `sqrt` with one foreground class and `balanced` with several. For a structure that is
 *   not rare, re-weighting mostly trades precision for recall and grows it beyond its edges
 *   between the annotated slices; a rare one (lesions) is never predicted without it; among
 *   several classes, small ones (ribs) were learned with balanced weights where sqrt left them
 *   unlearned. The measurements are in docs/quality.md.
 * Weights are scaled so that the average weight over the labeled voxels is 1; a class with no
 * labeled voxel gets the largest weight of the others (it never contributes anyway).
 */
/**
 * Per-class amounts to subtract from the logits at prediction: `fraction` × log(weight). A
 * weighted loss shifts the trained network's decisions toward the classes it weighs up, by
 * log(weight) in the logits when it has fitted (the logit adjustment of Menon et al., ICLR 2021);
 * subtracting part of that keeps what the weights did for learning a rare class and takes back
 * part of the over-prediction. A weight of 0 or less leaves its class alone. All zeros for equal
 * weights or a fraction of 0.
 */
export function logitAdjustment(weights: readonly number[], fraction: number): number[] {
  return weights.map((w) => (w > 0 && fraction > 0 ? fraction * Math.log(w) : 0));
}

export function classWeights(counts: readonly number[], weighting: ClassWeighting | readonly number[]): number[] {
  if (typeof weighting !== 'string') {
    if (weighting.length !== counts.length) throw new RangeError(`${weighting.length} class weights for ${counts.length} classes`);
    if (weighting.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new RangeError('class weights must be finite and ≥ 0');
    return [...weighting];
  }
  if (weighting === 'auto') {
    const labeled = counts.reduce((a, b) => a + b, 0);
    const rarest = Math.min(...counts.filter((n) => n > 0));
    if (labeled > 0 && rarest >= AUTO_UNWEIGHTED_SHARE * labeled) return classWeights(counts, 'none');
    return classWeights(counts, counts.length > 2 ? 'balanced' : 'sqrt');
  }
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return counts.map(() => 1);
  const raw = counts.map((n) => {
    if (n === 0) return NaN;
    if (weighting === 'balanced') return 1 / n;
    if (weighting === 'sqrt') return 1 / Math.sqrt(n);
    return 1;
  });
  let weighted = 0;
  counts.forEach((n, c) => {
    if (n > 0) weighted += n * raw[c];
  });
  const scale = total / weighted;
  const present = raw.filter((w) => !Number.isNaN(w)).map((w) => w * scale);
  const fallback = Math.max(...present);
  return raw.map((w) => (Number.isNaN(w) ? fallback : w * scale));
}

/**
 * Weighted softmax cross-entropy, a scalar.
 * @param logits [..., classes] (e.g. [N, D, H, W, K])
 * @param labels int32 of the same shape without the class axis: 0 = unlabeled, c + 1 = class c
 * @param weights one weight per class (length K)
 * @returns Σ wᵢ·CEᵢ / Σ wᵢ over the voxels (0 when no voxel is labeled); unlabeled voxels add
 *   exactly 0 to it and to its gradient.
 */
export function sparseWeightedCrossEntropy(logits: Tensor, labels: Tensor, weights: readonly number[]): tf.Scalar {
  const classes = logitClasses(logits, labels);
  if (weights.length !== classes) throw new RangeError(`${weights.length} class weights for ${classes} output classes`);
  return tf.tidy(() => {
    const { flatLogits, flatLabels, target } = sparseTargets(logits, labels, classes);
    // Weight per voxel: a table lookup with 0 in front for "unlabeled".
    const table = tf.tensor1d([0, ...weights], 'float32');
    const voxelWeights = tf.gather(table, flatLabels);
    const logProbabilities = tf.logSoftmax(flatLogits);
    const perVoxel = tf.neg(tf.sum(tf.mul(target, logProbabilities), -1));
    const total = tf.sum(voxelWeights);
    // Σw can be 0 (a patch without labels): divide by max(Σw, tiny) so the loss is 0, not NaN.
    return tf.div(tf.sum(tf.mul(perVoxel, voxelWeights)), tf.maximum(total, 1e-12)) as tf.Scalar;
  });
}

/** The class count of [..., classes] logits, after checking that the labels have their shape without the class axis. */
function logitClasses(logits: Tensor, labels: Tensor): number {
  if (labels.shape.join() !== logits.shape.slice(0, -1).join()) {
    throw new RangeError(`labels of shape [${labels.shape}] do not match logits [${logits.shape}]`);
  }
  return logits.shape[logits.shape.length - 1];
}

/**
 * Logits as [voxels, classes], labels as int32 [voxels], and the one-hot target [voxels, classes].
 * The target of an unlabeled voxel is class 0's (clipped so oneHot stays in range): each loss
 * gives those voxels weight 0 itself.
 */
function sparseTargets(logits: Tensor, labels: Tensor, classes: number): { flatLogits: tf.Tensor2D; flatLabels: tf.Tensor1D; target: tf.Tensor2D } {
  const flatLogits = tf.reshape(logits, [-1, classes]) as tf.Tensor2D;
  const flatLabels = tf.cast(tf.reshape(labels, [-1]), 'int32') as tf.Tensor1D;
  const classIndex = tf.maximum(tf.sub(flatLabels, tf.scalar(1, 'int32')), tf.scalar(0, 'int32'));
  const target = tf.cast(tf.oneHot(classIndex as tf.Tensor1D, classes), 'float32') as tf.Tensor2D;
  return { flatLogits, flatLabels, target };
}

/**
 * Soft Dice over the labeled voxels of a batch, as a loss: −(mean over the foreground classes of
 * (2·Σ p·y + ε) / (Σ p + Σ y + ε)), where p is the softmax probability and y the one-hot label,
 * both counted only where a voxel is labeled (nnU-Net's batch Dice without background). A class
 * absent from the batch's labels adds about 0 (ε is tiny), so it neither pulls nor pushes. Unlike
 * cross-entropy it weighs a class by its overlap, not its voxel count: a rib or a lesion matters as
 * much as the lung.
 * @returns a scalar in [−1, 0]
 */
export function sparseSoftDiceLoss(logits: Tensor, labels: Tensor): tf.Scalar {
  const classes = logitClasses(logits, labels);
  if (classes < 2) throw new RangeError('Dice needs at least two classes');
  return tf.tidy(() => {
    const sparse = sparseTargets(logits, labels, classes);
    const labeled = tf.expandDims(tf.cast(tf.greater(sparse.flatLabels, tf.scalar(0, 'int32')), 'float32'), 1);
    const target = tf.mul(sparse.target, labeled);
    const probabilities = tf.mul(tf.softmax(sparse.flatLogits), labeled);
    const intersection = tf.sum(tf.mul(probabilities, target), 0);
    const sizes = tf.add(tf.sum(probabilities, 0), tf.sum(target, 0));
    const dice = tf.div(tf.add(tf.mul(intersection, 2), DICE_EPSILON), tf.add(sizes, DICE_EPSILON));
    // Foreground classes only: background is most of every patch and its Dice is near 1 anyway.
    return tf.neg(tf.mean(tf.slice(dice, [1], [classes - 1]))) as tf.Scalar;
  });
}

/** Dice's smoothing term: small enough that a class absent from a batch adds ~0 to the loss. */
const DICE_EPSILON = 1e-5;


/**
 * What `auto` resolves to: cross-entropy plus Dice with several foreground classes, where the
 * small ones (ribs, a level of the spine) otherwise drown in the large; cross-entropy alone with
 * one (docs/quality.md).
 */
export function resolveLossKind(kind: LossKind | 'auto', classes: number): LossKind {
  if (kind !== 'auto') return kind;
  return classes > 2 ? 'ce+dice' : 'ce';
}

/**
 * The training loss: weighted sparse cross-entropy, plus soft Dice for `ce+dice`. With the
 * engine's own kernels (cpu and wasm backends) it is computed by fusedTrainingLoss, the same
 * function in one pass; on the tensorflow backends by the tfjs ops below.
 */
export function trainingLoss(kind: LossKind, logits: Tensor, labels: Tensor, weights: readonly number[]): tf.Scalar {
  if (activeFormulation() === 'simd') return fusedTrainingLoss(kind, logits, labels, weights);
  if (kind === 'ce') return sparseWeightedCrossEntropy(logits, labels, weights);
  return tf.tidy(() => tf.add(sparseWeightedCrossEntropy(logits, labels, weights), sparseSoftDiceLoss(logits, labels)) as tf.Scalar);
}

/**
 * The training loss (sparseWeightedCrossEntropy, plus sparseSoftDiceLoss for `ce+dice`) and its
 * gradient, computed together in plain loops over the voxels: on the cpu and wasm backends the
 * twenty-odd tfjs kernels of the op-by-op version (gathers, one-hots, softmaxes, their gradients)
 * cost more than the arithmetic. Sums in float64. `labels` get no gradient.
 */
export function fusedTrainingLoss(kind: LossKind, logits: Tensor, labels: Tensor, weights: readonly number[]): tf.Scalar {
  const K = logitClasses(logits, labels);
  if (weights.length !== K) throw new RangeError(`${weights.length} class weights for ${K} output classes`);
  if (kind === 'ce+dice' && K < 2) throw new RangeError('Dice needs at least two classes');
  const label = labels.dataSync();
  const op = customOp<tf.Scalar>(1, ([z]) => {
    const { value, gradient } = lossAndGradient(kind, z.dataSync() as Float32Array, label, weights, K);
    return {
      value: tf.scalar(value),
      gradFunc: (dy) => {
        const scale = dy.dataSync()[0];
        if (scale !== 1) for (let i = 0; i < gradient.length; i++) gradient[i] *= scale;
        return [tf.tensor(gradient, z.shape)];
      },
    };
  });
  return op(logits);
}

/** The loss of fusedTrainingLoss and its gradient with respect to the logits (voxels × K, class fastest). */
function lossAndGradient(kind: LossKind, z: Float32Array, label: ArrayLike<number>, weights: readonly number[], K: number): { value: number; gradient: Float32Array } {
  const V = label.length;
  const p = new Float32Array(V * K);
  const gradient = new Float32Array(V * K);
  let weightSum = 0;
  let ce = 0;
  // Dice's sums per class over the labeled voxels: Σ p·y and Σ p + Σ y.
  const intersection = new Float64Array(K);
  const sizes = new Float64Array(K);
  for (let i = 0; i < V; i++) {
    const o = i * K;
    let peak = -Infinity;
    for (let k = 0; k < K; k++) if (z[o + k] > peak) peak = z[o + k];
    let total = 0;
    for (let k = 0; k < K; k++) {
      const e = Math.exp(z[o + k] - peak);
      p[o + k] = e;
      total += e;
    }
    for (let k = 0; k < K; k++) p[o + k] /= total;
    const l = label[i];
    if (l <= 0) continue;
    const c = l - 1;
    const w = weights[c];
    weightSum += w;
    // −log p_c from the logits themselves (no log of a rounded probability).
    ce += w * (peak + Math.log(total) - z[o + c]);
    if (kind === 'ce+dice') {
      for (let k = 0; k < K; k++) sizes[k] += p[o + k];
      intersection[c] += p[o + c];
      sizes[c] += 1;
    }
  }
  // Σw can be 0 (a patch without labels): the loss and its gradient are then 0, not NaN.
  const W = Math.max(weightSum, 1e-12);
  let value = ce / W;
  const g = new Float64Array(K);
  const dice = new Float64Array(K);
  if (kind === 'ce+dice') {
    for (let k = 1; k < K; k++) {
      dice[k] = (2 * intersection[k] + DICE_EPSILON) / (sizes[k] + DICE_EPSILON);
      value -= dice[k] / (K - 1);
    }
  }
  for (let i = 0; i < V; i++) {
    const l = label[i];
    if (l <= 0) continue;
    const c = l - 1;
    const o = i * K;
    const w = weights[c] / W;
    for (let k = 0; k < K; k++) gradient[o + k] = w * (p[o + k] - (k === c ? 1 : 0));
    if (kind !== 'ce+dice') continue;
    // d(−mean Dice)/dp_k for the foreground classes, then through the softmax.
    let pg = 0;
    for (let k = 0; k < K; k++) {
      g[k] = k === 0 ? 0 : -((k === c ? 2 : 0) - dice[k]) / (sizes[k] + DICE_EPSILON) / (K - 1);
      pg += p[o + k] * g[k];
    }
    for (let k = 0; k < K; k++) gradient[o + k] += p[o + k] * (g[k] - pg);
  }
  return { value, gradient };
}
