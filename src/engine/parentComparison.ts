/**
 * A warm start never ends worse than its parent on what it can measure. Before the first step the
 * parent's network is scored on the run's annotated slices (the new ones included: the parent
 * never saw them), and at the end the trained network is scored on the same voxels; when the
 * trained one scores below the parent, the run leaves the parent's weights (run.json
 * `parent.comparison`).
 *
 * What is scored: with annotation channels, each left-out group of training slices with the
 * field built from the other slices (as the network learned them, so the answer is never in the
 * input); without, the segmentation of the whole volume on every annotated voxel (small volumes),
 * else the training slices. Held-out slices, when there are any, too.
 * These are slices the networks trained on (a user who corrects one slice has no others to spare),
 * so the score says how well each network fits what the user painted, the correction included: a
 * short warm run that has not learned the new slice, or has unlearned older ones, loses to its
 * parent. On the bench's three sets that fit tracked the dense IoU of warm runs against their
 * parent, though not always (docs/benchmarks.md).
 */
import { forEachOnPlane, type AnnotatedSlice } from '../core/sparseSplit';
import type { LabelArray } from '../core/editDeltas';
import type { NormalizedImage } from './normalize';
import type { UNet } from './model';
import type { PatchGeometry } from '../protocol/training';
import type { PreparedVolume } from './trainingData';
import { validationScores, type ValidationVolume } from './validation';
import { adjustmentFractions, calibrateDecision, chosenScore } from './decisionCalibration';
import { logitAdjustment } from './loss';
import { predictVolume, type VolumePrediction } from './predict';
import { readVolumeFile } from '../core/readVolume';
import type { VolumeNormalization } from '../protocol/run';
import { tf } from './tf';

/** Slices scored per volume at most (the new ones always, then older ones spread evenly). */
export const MAX_COMPARISON_SLICES = 12;
/**
 * Left-out groups scored per volume at most (those holding a new slice always). Each group is its
 * own pass of the network with its own annotation field (about 1.5 s per group on the 2-core
 * machine for the 128×128×34 chest CT), and the comparison is made twice per warm run.
 */
export const MAX_COMPARISON_GROUPS = 4;

/**
 * Every labeled voxel of `slices` as one validation volume (a voxel where two slices cross is
 * scored once, with the first). `scored`: positions of the slices to score (all when absent).
 */
export function sliceCheck(name: string, image: NormalizedImage, labels: LabelArray, slices: AnnotatedSlice[], scored?: number[]): ValidationVolume {
  const mask = new Uint16Array(labels.length);
  slices.forEach((s, ordinal) => {
    forEachOnPlane(image.dims, s.axis, s.index, (i) => {
      if (labels[i] !== 0 && mask[i] === 0) mask[i] = ordinal + 1;
    });
  });
  return { name, image, labels, mask, slices, ...(scored ? { scored } : {}) };
}

/** Of `slices`, which to score (positions): those in `first` always, then others spread evenly, `max` in all. */
export function slicesToScore(slices: readonly Pick<AnnotatedSlice, 'axis' | 'index'>[], first: readonly Pick<AnnotatedSlice, 'axis' | 'index'>[], max: number): number[] | undefined {
  if (slices.length <= max) return undefined;
  const isFirst = (s: Pick<AnnotatedSlice, 'axis' | 'index'>) => first.some((f) => f.axis === s.axis && f.index === s.index);
  const chosen = slices.map((s, i) => (isFirst(s) ? i : -1)).filter((i) => i >= 0).slice(0, max);
  const others = slices.map((_, i) => i).filter((i) => !chosen.includes(i));
  const room = max - chosen.length;
  for (let j = 0; j < room; j++) chosen.push(others[Math.floor(((j + 0.5) * others.length) / room)]);
  return chosen.sort((a, b) => a - b);
}

/**
 * Volumes of at most this many voxels are segmented whole, as Segment does (the largest-component
 * clean-up included), and scored on their annotated voxels: one pass of the network, where tiles
 * across each slice cost one pass per slice on an axis the patch is long along (the spleen's
 * 164×166×26 with 128×128×8 patches). Larger ones are scored slice by slice.
 */
export const WHOLE_VOLUME_VOXELS = 1 << 22;

/** A training volume segmented whole and scored on its annotated voxels (held-out slices included). */
export interface WholeVolumeCheck {
  image: string;
  normalization: VolumeNormalization;
  /** Every annotated voxel's label (0 = unlabeled, c + 1 = class c). */
  labels: LabelArray;
}

/** What the comparison scores: slices (tiles across each), or whole volumes. */
export type ComparisonChecks = { kind: 'slices'; checks: ValidationVolume[] } | { kind: 'volumes'; volumes: WholeVolumeCheck[]; slices: number };

/**
 * What the parent and the trained network are scored on (see the module comment): without
 * annotation channels and with a fixed logit adjustment, small volumes whole; else slices.
 */
export function comparisonChecks(volumes: readonly PreparedVolume[], validation: readonly ValidationVolume[], adjustment: number | 'auto'): ComparisonChecks {
  const whole = adjustment !== 'auto' && volumes.every((v) => v.leftOut.length === 0 && v.record.dims[0] * v.record.dims[1] * v.record.dims[2] <= WHOLE_VOLUME_VOXELS);
  if (whole) {
    const checks = volumes.map((v) => ({ image: v.files.image, normalization: v.record.normalization, labels: v.allLabels }));
    return { kind: 'volumes', volumes: checks, slices: volumes.reduce((n, v) => n + v.allSlices.length, 0) };
  }
  return { kind: 'slices', checks: sliceChecks(volumes, validation) };
}

/** The slices scored when volumes are not segmented whole. */
function sliceChecks(volumes: readonly PreparedVolume[], validation: readonly ValidationVolume[]): ValidationVolume[] {
  const checks = volumes.flatMap((v) => {
    if (v.leftOut.length > 0) {
      // A group stands for its slices: those holding a new slice first.
      const holdsNew = v.leftOut.map((g) => g.slices.some((s) => v.newSlices.some((n) => n.axis === s.axis && n.index === s.index)));
      const keep = slicesToScore(v.leftOut.map((_, i) => ({ axis: 0 as const, index: i })), holdsNew.flatMap((h, i) => (h ? [{ axis: 0 as const, index: i }] : [])), MAX_COMPARISON_GROUPS);
      return keep ? keep.map((i) => v.leftOut[i]) : v.leftOut;
    }
    const slices = v.record.trainingSlices;
    return [sliceCheck(v.training.name, v.training.image, v.training.labels, slices, slicesToScore(slices, v.newSlices, MAX_COMPARISON_SLICES))];
  });
  return [...checks, ...validation];
}

/** A network's score on the comparison's slices. */
export interface SliceScore {
  /** Mean foreground IoU over every scored voxel (null: no foreground in truth or prediction). */
  meanIoU: number | null;
  /** The fraction of the class weights' shift taken back (see logitAdjustment) it was scored with. */
  fraction: number;
  /** The annotation offsets it was scored with (see calibrateDecision); absent: none. */
  offsets?: number[];
  voxels: number;
  /**
   * Whole-volume checks: each volume's segmentation, probabilities included, exactly as Segment
   * makes it with this network (the same options, tiling and clean-up).
   */
  segmentations?: VolumePrediction[];
}

/** How a run predicts (see runPredictOptions): what whole-volume checks segment with. */
export interface ComparisonPrediction {
  coordinateChannels: boolean;
  singleObjectClasses?: readonly number[];
}

/** Scores `net` on the comparison's checks with the logit adjustment `setting` (see scoreOnSlices). */
export async function scoreComparison(net: UNet, checks: ComparisonChecks, geometry: PatchGeometry, classes: number, weights: readonly number[], setting: number | 'auto', prediction: ComparisonPrediction): Promise<SliceScore> {
  if (checks.kind === 'slices') return scoreOnSlices(net, checks.checks, geometry, classes, weights, setting);
  const fraction = setting === 'auto' ? 0 : setting;
  const counts = Array.from({ length: classes + 1 }, () => new Array<number>(classes + 1).fill(0));
  let total = 0;
  const segmentations: VolumePrediction[] = [];
  for (const v of checks.volumes) {
    const volume = readVolumeFile(v.image, { allFrames: true });
    // With the probabilities: the kept network's segmentation is handed on to Segment (TrainHooks.onSegmentation).
    const predicted = await predictVolume(net, volume, v.normalization, { coordinateChannels: prediction.coordinateChannels, singleObjectClasses: prediction.singleObjectClasses, logitAdjustment: logitAdjustment(weights, fraction), probabilities: true });
    for (let i = 0; i < v.labels.length; i++) {
      if (v.labels[i] === 0) continue;
      counts[v.labels[i]][predicted.labels[i]]++;
      total++;
    }
    segmentations.push(predicted);
  }
  return { meanIoU: validationScores({ labelCount: classes + 1, counts, total }, classes).meanForegroundIoU, fraction, voxels: total, segmentations };
}

/**
 * Scores `net` on `checks` with its best decision, as the run's end chooses it (calibrateDecision):
 * the logit adjustment `setting`, a fixed fraction or `auto` (the best of ADJUSTMENT_FRACTIONS;
 * only 0 when the weights are equal), and a trust map's annotation offsets.
 */
export async function scoreOnSlices(net: UNet, checks: readonly ValidationVolume[], geometry: PatchGeometry, classes: number, weights: readonly number[], setting: number | 'auto'): Promise<SliceScore> {
  return chosenScore(await calibrateDecision(net, checks, geometry, classes, weights, adjustmentFractions(setting, weights)));
}

/** Whether the trained network's score is below the parent's (then the run keeps the parent's weights). */
export function parentScoresHigher(parent: SliceScore, trained: SliceScore): boolean {
  return (parent.meanIoU ?? -1) > (trained.meanIoU ?? -1);
}

/** A copy of every variable of `net` (weights and batch-norm statistics), to put back with `restoreWeights`. */
export function copyWeights(net: UNet): Map<string, tf.Tensor> {
  return new Map([...net.namedVariables].map(([name, v]) => [name, tf.clone(v)]));
}

/** Puts the copy back into `net`. */
export function restoreWeights(net: UNet, copy: ReadonlyMap<string, tf.Tensor>): void {
  for (const [name, variable] of net.namedVariables) {
    const saved = copy.get(name);
    if (!saved) throw new Error(`internal: no saved copy of the weight ${name}`);
    variable.assign(saved);
  }
}
