/**
 * The sparse-label loss: softmax cross-entropy weighted per voxel, where an unlabeled voxel
 * (label 0) weighs exactly 0 and each class's labeled voxels weigh its class weight.
 */
import { tf, type Tensor } from './tf';

/** How class weights are derived from the labeled voxel counts. */
export type ClassWeighting = 'auto' | 'balanced' | 'sqrt' | 'none';

/** The share of the labeled voxels below which a class counts as rare for `auto` weighting. */
export const AUTO_UNWEIGHTED_SHARE = 0.05;

/**
 * Class weights from labeled voxel counts (index c = class c, background first):
 * - `balanced`: inverse frequency, every class weighs the same in total;
 * - `sqrt`: inverse square root of the frequency (frequent background lowered, less extreme);
 * - `none`: 1 for all;
 * - `auto`: `none` when every class holds at least AUTO_UNWEIGHTED_SHARE of the labeled voxels,
 *   else `sqrt`. For a structure that is not rare (the spleen, 22 % of its annotated voxels; the
 *   spinal cord, 9 %) re-weighting mostly trades precision for recall and grew them beyond their
 *   edges between the annotated slices; a rare one (MS lesions, 1.7 %; ribs, 1.6 %; the cervical
 *   spine, 0.2 %) is never predicted without it.
 * Weights are scaled so that the average weight over the labeled voxels is 1; a class with no
 * labeled voxel gets the largest weight of the others (it never contributes anyway).
 */
export function classWeights(counts: readonly number[], weighting: ClassWeighting | readonly number[]): number[] {
  if (typeof weighting !== 'string') {
    if (weighting.length !== counts.length) throw new RangeError(`${weighting.length} class weights for ${counts.length} classes`);
    if (weighting.some((w) => !(w >= 0) || !Number.isFinite(w))) throw new RangeError('class weights must be finite and ≥ 0');
    return [...weighting];
  }
  if (weighting === 'auto') {
    const labeled = counts.reduce((a, b) => a + b, 0);
    const rarest = Math.min(...counts.filter((n) => n > 0));
    return classWeights(counts, labeled > 0 && rarest >= AUTO_UNWEIGHTED_SHARE * labeled ? 'none' : 'sqrt');
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
  const classes = logits.shape[logits.shape.length - 1];
  if (weights.length !== classes) throw new RangeError(`${weights.length} class weights for ${classes} output classes`);
  if (labels.shape.join() !== logits.shape.slice(0, -1).join()) {
    throw new RangeError(`labels of shape [${labels.shape}] do not match logits [${logits.shape}]`);
  }
  return tf.tidy(() => {
    const flatLogits = tf.reshape(logits, [-1, classes]);
    const flatLabels = tf.cast(tf.reshape(labels, [-1]), 'int32');
    // Weight per voxel: a table lookup with 0 in front for "unlabeled".
    const table = tf.tensor1d([0, ...weights], 'float32');
    const voxelWeights = tf.gather(table, flatLabels);
    // Class index of unlabeled voxels is irrelevant (weight 0); clip so oneHot stays in range.
    const classIndex = tf.maximum(tf.sub(flatLabels, tf.scalar(1, 'int32')), tf.scalar(0, 'int32'));
    const target = tf.cast(tf.oneHot(classIndex, classes), 'float32');
    const logProbabilities = tf.logSoftmax(flatLogits);
    const perVoxel = tf.neg(tf.sum(tf.mul(target, logProbabilities), -1));
    const total = tf.sum(voxelWeights);
    // Σw can be 0 (a patch without labels): divide by max(Σw, tiny) so the loss is 0, not NaN.
    return tf.div(tf.sum(tf.mul(perVoxel, voxelWeights)), tf.maximum(total, 1e-12)) as tf.Scalar;
  });
}
