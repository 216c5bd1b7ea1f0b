/**
 * How a run decides from its network's logits, chosen after training on slices the network was
 * not given as input (left-out groups, held-out slices): the fraction of the class weights' shift
 * taken back (see logitAdjustment) and, for a network with a trust map, how much more or less to
 * follow each class's annotations than the map learned (ApplyOptions.annotationOffsets).
 *
 * Why the offsets: the trust map is one for all classes. Early in a run, the network's own logits
 * can outweigh it for a rare class whose look it has not learned (on the chest CT, a class of 140
 * annotated voxels predicted nowhere although the nearest annotation says it), while for others
 * it already beats the annotations. Choosing a per-class offset on the checks keeps the network
 * where it does better and falls back to the annotations where they do.
 *
 * One pass of the network: every candidate decides from the same logits, kept for the scored
 * voxels (a sample where there are very many).
 */
import { logitAdjustment } from './loss';
import type { UNet } from './model';
import type { PatchGeometry } from '../protocol/training';
import type { SliceScore } from './parentComparison';
import { forScoredVoxels, scoredSlices, sliceTileLogits, validationScores, type ValidationVolume } from './validation';

/** The fractions of the class weights' shift tried. */
export const ADJUSTMENT_FRACTIONS = [0, 0.25, 0.5, 0.75, 1];

/**
 * The fractions a decision chooses among for the logit adjustment `setting`: that fraction, or for
 * `auto` every one of ADJUSTMENT_FRACTIONS (only 0 when the weights are equal).
 */
export function adjustmentFractions(setting: number | 'auto', weights: readonly number[]): number[] {
  if (setting !== 'auto') return [setting];
  return weights.some((w) => w !== weights[0]) ? ADJUSTMENT_FRACTIONS : [0];
}

/** The chosen decision's own score on the checks: its mean IoU, fraction and offsets. */
export function chosenScore(c: DecisionCalibration): SliceScore {
  return { meanIoU: c.meanIoU[c.fractions.indexOf(c.fraction)] ?? null, fraction: c.fraction, ...(c.offsets ? { offsets: c.offsets } : {}), voxels: c.voxels };
}

/** The offsets tried per class, nearest 0 first (a tie keeps the smaller). */
export const OFFSET_STEPS = [0, 1, 2, 4, 8];

/** Scored voxels kept at most (their logits: this × classes floats); more are sampled evenly. */
const MAX_KEPT_VOXELS = 1_000_000;

/** What an offset must add to the mean IoU of the checks to be taken. */
const MIN_GAIN = 1e-4;

/** The scored voxels of the checks: their logits, truth and nearest annotation. */
export interface ScoredLogits {
  classes: number;
  /** Voxel v's logits at [v·classes, (v + 1)·classes). */
  logits: Float32Array;
  /** Truth label value (1..classes). */
  truth: Uint16Array;
  /** The nearest annotation's label value (1..classes), 0 without annotation channels. */
  nearest: Uint16Array;
  /** Voxels scored (the sample's length may be less). */
  voxels: number;
}

/** The chosen decision. */
export interface DecisionCalibration {
  /** The fractions tried, and the one chosen. */
  fractions: number[];
  fraction: number;
  /** Per class; absent when the network has no trust map (or no offset helped). */
  offsets?: number[];
  /** Mean foreground IoU on the checks, per fraction tried (each with its best offsets). */
  meanIoU: (number | null)[];
  /** The same without offsets (what the adjustment alone would give). */
  meanIoUWithoutOffsets: (number | null)[];
  voxels: number;
}

/** Runs `net` over the checks' scored voxels and keeps their logits (see ScoredLogits). */
export async function scoredLogits(net: UNet, volumes: readonly ValidationVolume[], geometry: PatchGeometry, classes: number, maxKept = MAX_KEPT_VOXELS): Promise<ScoredLogits> {
  const voxels = volumes.reduce((n, v) => n + scoredVoxelCount(v), 0);
  // Every `stride`-th scored voxel (in the order they are met) is kept.
  const stride = Math.max(1, Math.ceil(voxels / maxKept));
  const kept = Math.ceil(voxels / stride);
  const logits = new Float32Array(kept * classes);
  const truth = new Uint16Array(kept);
  const nearest = new Uint16Array(kept);
  let met = 0;
  let n = 0;
  const maxTileVoxels = 4 * geometry.input[0] * geometry.input[1] * geometry.input[2];
  for (const v of volumes) {
    const seen = new Uint8Array(v.mask.length);
    for (const { ordinal, slice } of scoredSlices(v)) {
      await sliceTileLogits(net, v, slice, geometry, maxTileVoxels, (tile, start, size) =>
        forScoredVoxels(v, slice, ordinal, start, size, seen, (i, o) => {
          if (met++ % stride !== 0 || n >= kept) return;
          logits.set(tile.subarray(o * classes, (o + 1) * classes), n * classes);
          truth[n] = v.labels[i];
          nearest[n] = v.annotation ? v.annotation.nearest[i] : 0;
          n++;
        }),
      );
    }
  }
  return { classes, logits: logits.subarray(0, n * classes), truth: truth.subarray(0, n), nearest: nearest.subarray(0, n), voxels };
}

/** How many voxels validation scores in `volume`: those on each scored slice's plane whose mask names that slice. */
function scoredVoxelCount(volume: ValidationVolume): number {
  const [nx, ny, nz] = volume.image.dims;
  let count = 0;
  for (const { ordinal, slice } of scoredSlices(volume)) {
    const lo = [0, 0, 0];
    const hi = [nx, ny, nz];
    lo[slice.axis] = slice.index;
    hi[slice.axis] = slice.index + 1;
    for (let z = lo[2]; z < hi[2]; z++) for (let y = lo[1]; y < hi[1]; y++) for (let x = lo[0]; x < hi[0]; x++) if (volume.mask[x + nx * (y + ny * z)] === ordinal + 1) count++;
  }
  return count;
}

/** The class (0-based) voxel `v` decides for, with `shift` subtracted and `offsets` added where its nearest annotation is that class. */
function decide(s: ScoredLogits, v: number, shift: readonly number[], offsets: readonly number[]): number {
  const K = s.classes;
  const near = s.nearest[v] - 1;
  let best = 0;
  let bestValue = -Infinity;
  for (let c = 0; c < K; c++) {
    const value = s.logits[v * K + c] - (shift[c] ?? 0) + (c === near ? offsets[c] : 0);
    if (value > bestValue) {
      bestValue = value;
      best = c;
    }
  }
  return best;
}

/** Mean foreground IoU of a confusion matrix counts[truth][predicted] (label values). */
function meanIoU(counts: number[][], classes: number, total: number): number | null {
  return validationScores({ labelCount: classes + 1, counts, total }, classes).meanForegroundIoU;
}

/**
 * The decision's score with `shift`, and with per-class offsets chosen by coordinate ascent over
 * OFFSET_STEPS when `withOffsets` (each class's offset only moves the voxels whose nearest
 * annotation is that class, so a step re-decides those alone).
 */
export function chooseOffsets(s: ScoredLogits, shift: readonly number[], withOffsets: boolean): { offsets: number[]; meanIoU: number | null; meanIoUWithoutOffsets: number | null } {
  const K = s.classes;
  const n = s.truth.length;
  const offsets = new Array<number>(K).fill(0);
  const decided = new Int32Array(n);
  const counts = Array.from({ length: K + 1 }, () => new Array<number>(K + 1).fill(0));
  for (let v = 0; v < n; v++) {
    decided[v] = decide(s, v, shift, offsets);
    counts[s.truth[v]][decided[v] + 1]++;
  }
  const without = meanIoU(counts, K, n);
  if (!withOffsets || n === 0) return { offsets, meanIoU: without, meanIoUWithoutOffsets: without };
  const byNearest = Array.from({ length: K }, () => [] as number[]);
  for (let v = 0; v < n; v++) if (s.nearest[v] > 0) byNearest[s.nearest[v] - 1].push(v);
  let current = without ?? -1;
  const trial = new Int32Array(n);
  for (let sweep = 0; sweep < 3; sweep++) {
    let changed = false;
    for (let c = 0; c < K; c++) {
      const voxels = byNearest[c];
      if (voxels.length === 0) continue;
      let bestStep = offsets[c];
      let bestScore = current;
      for (const step of OFFSET_STEPS) {
        if (step === offsets[c]) continue;
        const tried = [...offsets];
        tried[c] = step;
        // Move the voxels this class's offset touches, score, and move them back.
        for (const v of voxels) {
          trial[v] = decide(s, v, shift, tried);
          counts[s.truth[v]][decided[v] + 1]--;
          counts[s.truth[v]][trial[v] + 1]++;
        }
        const score = meanIoU(counts, K, n) ?? -1;
        for (const v of voxels) {
          counts[s.truth[v]][trial[v] + 1]--;
          counts[s.truth[v]][decided[v] + 1]++;
        }
        if (score > bestScore + MIN_GAIN) {
          bestScore = score;
          bestStep = step;
        }
      }
      if (bestStep !== offsets[c]) {
        offsets[c] = bestStep;
        for (const v of voxels) {
          const d = decide(s, v, shift, offsets);
          counts[s.truth[v]][decided[v] + 1]--;
          counts[s.truth[v]][d + 1]++;
          decided[v] = d;
        }
        current = bestScore;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return { offsets, meanIoU: meanIoU(counts, K, n), meanIoUWithoutOffsets: without };
}

/**
 * The decision that scores best on `volumes`' slices (mean foreground IoU over their voxels): the
 * fraction of the class weights' shift among `fractions` (the smaller on a tie) and, for a network
 * with a trust map whose checks carry annotations, the per-class offsets.
 */
export async function calibrateDecision(
  net: UNet,
  volumes: readonly ValidationVolume[],
  geometry: PatchGeometry,
  classes: number,
  weights: readonly number[],
  fractions: readonly number[] = ADJUSTMENT_FRACTIONS,
): Promise<DecisionCalibration> {
  const scored = await scoredLogits(net, volumes, geometry, classes);
  const withOffsets = (net.config.annotationResidual ?? 0) > 0 && volumes.every((v) => v.annotation);
  const tried = fractions.map((f) => chooseOffsets(scored, logitAdjustment(weights, f), withOffsets));
  let best = 0;
  tried.forEach((t, i) => {
    if ((t.meanIoU ?? -1) > (tried[best].meanIoU ?? -1) + 1e-9) best = i;
  });
  const offsets = tried[best].offsets;
  return {
    fractions: [...fractions],
    fraction: fractions[best],
    ...(withOffsets && offsets.some((o) => o !== 0) ? { offsets } : {}),
    meanIoU: tried.map((t) => t.meanIoU),
    meanIoUWithoutOffsets: tried.map((t) => t.meanIoUWithoutOffsets),
    voxels: scored.voxels,
  };
}
