/**
 * Overlap measures of a prediction against labels: confusion matrix, IoU and Dice per class,
 * their mean over the foreground classes.
 *
 * Conventions (the editor's): truth 0 = unlabeled (never counted), 1 = background,
 * 2.. = foreground classes; predictions 1..K in the same labels (a segmentation file, 0 =
 * background, is read as value + 1 by readLabelsAs first; a prediction of 0 here counts as "no
 * class": a miss for the truth's class, a false positive for none).
 * A class absent from both truth and prediction inside the scored voxels has no IoU or Dice:
 * it is reported as null and left out of the means.
 */

/** Counts of (truth label, predicted label) pairs over the scored voxels. */
export interface ConfusionMatrix {
  /** Labels 0..labelCount−1 index both axes; row 0 (unlabeled truth) is always zero. */
  labelCount: number;
  /** counts[truth][pred]. */
  counts: number[][];
  /** Voxels counted (labeled truth inside the mask). */
  total: number;
}

/** Scores of one class. null where the class is in neither truth nor prediction. */
export interface ClassScore {
  iou: number | null;
  dice: number | null;
  /** Voxels of this class in the truth / in the prediction (scored voxels only). */
  truthVoxels: number;
  predictedVoxels: number;
}

/** Scores of a prediction. */
export interface Scores {
  /** By label value (as a string key, JSON-ready), every label ≥ 1 that either side holds. */
  classes: Record<string, ClassScore>;
  /** Mean IoU over the foreground labels (≥ 2) that have one; null when none has. */
  meanIoU: number | null;
  meanDice: number | null;
  /** Voxels scored. */
  voxels: number;
}

type Labels = ArrayLike<number>;

/**
 * Counts (truth, prediction) pairs where the truth is labeled (≠ 0) and the mask, if any, is
 * non-zero. Every array is the same voxel grid. Labels must be integers 0..65535.
 */
export function confusionMatrix(prediction: Labels, truth: Labels, mask?: Labels): ConfusionMatrix {
  const n = truth.length;
  if (prediction.length !== n) throw new RangeError(`prediction has ${prediction.length} voxels, truth ${n}`);
  if (mask && mask.length !== n) throw new RangeError(`mask has ${mask.length} voxels, truth ${n}`);
  // Pair counts keyed by truth·65536 + pred: a sparse map keeps 16-bit labels cheap.
  const pairs = new Map<number, number>();
  let labelCount = 1;
  let total = 0;
  let lastKey = -1;
  let lastCount = 0;
  for (let i = 0; i < n; i++) {
    const t = truth[i];
    if (t === 0 || (mask && mask[i] === 0)) continue;
    const p = prediction[i];
    const key = t * 65536 + p;
    // Runs of one pair are the common case: count them before touching the map.
    if (key === lastKey) {
      lastCount++;
    } else {
      if (!(Number.isInteger(t) && Number.isInteger(p) && t > 0 && t <= 65535 && p >= 0 && p <= 65535)) {
        throw new RangeError(`labels must be integers 0..65535: voxel ${i} has truth ${t}, prediction ${p}`);
      }
      if (lastKey >= 0) pairs.set(lastKey, (pairs.get(lastKey) ?? 0) + lastCount);
      lastKey = key;
      lastCount = 1;
    }
    total++;
  }
  if (lastKey >= 0) pairs.set(lastKey, (pairs.get(lastKey) ?? 0) + lastCount);
  for (const key of pairs.keys()) labelCount = Math.max(labelCount, Math.floor(key / 65536) + 1, (key % 65536) + 1);
  const counts = Array.from({ length: labelCount }, () => new Array<number>(labelCount).fill(0));
  for (const [key, count] of pairs) counts[Math.floor(key / 65536)][key % 65536] += count;
  return { labelCount, counts, total };
}

/** Adds confusion matrices (e.g. of several folds or volumes) into one. */
export function addConfusionMatrices(matrices: ConfusionMatrix[]): ConfusionMatrix {
  const labelCount = Math.max(1, ...matrices.map((m) => m.labelCount));
  const counts = Array.from({ length: labelCount }, () => new Array<number>(labelCount).fill(0));
  let total = 0;
  for (const m of matrices) {
    for (let t = 0; t < m.labelCount; t++) for (let p = 0; p < m.labelCount; p++) counts[t][p] += m.counts[t][p];
    total += m.total;
  }
  return { labelCount, counts, total };
}

/** IoU = TP / (TP + FP + FN) and Dice = 2TP / (2TP + FP + FN) of every label ≥ 1. */
export function scoresFromConfusion(matrix: ConfusionMatrix, labels?: number[]): Scores {
  const { counts, labelCount } = matrix;
  const classes: Record<string, ClassScore> = {};
  const wanted = labels ?? Array.from({ length: labelCount - 1 }, (_, i) => i + 1);
  for (const label of wanted) {
    let tp = 0;
    let truthVoxels = 0;
    let predictedVoxels = 0;
    if (label < labelCount) {
      tp = counts[label][label];
      for (let p = 0; p < labelCount; p++) truthVoxels += counts[label][p];
      for (let t = 1; t < labelCount; t++) predictedVoxels += counts[t][label];
    }
    if (labels === undefined && truthVoxels === 0 && predictedVoxels === 0) continue;
    const union = truthVoxels + predictedVoxels - tp;
    classes[String(label)] = {
      iou: union > 0 ? tp / union : null,
      dice: union > 0 ? (2 * tp) / (truthVoxels + predictedVoxels) : null,
      truthVoxels,
      predictedVoxels,
    };
  }
  return { classes, meanIoU: meanOverForeground(classes, 'iou'), meanDice: meanOverForeground(classes, 'dice'), voxels: matrix.total };
}

/** Mean of a score over the foreground labels (≥ 2) where it is defined; null if none is. */
export function meanOverForeground(classes: Record<string, ClassScore>, key: 'iou' | 'dice'): number | null {
  const values = Object.entries(classes)
    .filter(([label, s]) => Number(label) >= 2 && s[key] !== null)
    .map(([, s]) => s[key] as number);
  return values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

/**
 * Scores a prediction against the truth where the truth is labeled and the mask, if given,
 * is non-zero. `labels` lists the labels to report (default: every label ≥ 1 present on
 * either side); a listed label present on neither side is reported with null scores.
 */
export function scoreLabels(prediction: Labels, truth: Labels, mask?: Labels, labels?: number[]): Scores {
  return scoresFromConfusion(confusionMatrix(prediction, truth, mask), labels);
}
