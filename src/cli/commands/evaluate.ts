import * as path from 'node:path';
import { readLabelsAs, type LabelConvention } from '../../core/labelConvention';
import { confusionMatrix, scoresFromConfusion } from '../../core/metrics';
import { readVolumeFile } from '../../core/readVolume';
import { gridMismatch } from '../../core/volumeFiles';
import { parseCommandArgs } from '../args';
import { UsageError, type CliCommand } from '../command';

/** What `unet3d evaluate --json` prints. Labels are in the editor's convention (1 = background). */
export interface EvaluateJson {
  classes: Record<string, { iou: number | null; dice: number | null; truthVoxels: number; predictedVoxels: number; name?: string }>;
  /** Mean IoU over the foreground labels (≥ 2) that have one; null if none has. */
  meanIoU: number | null;
  meanDice: number | null;
  /** Voxels scored: labeled in the truth and inside the mask. */
  voxels: number;
  /** counts[truth][prediction], labels 0..N−1 (row 0, unlabeled truth, is empty). */
  confusion: number[][];
  truthConvention: LabelConvention;
  predConvention: LabelConvention;
}

export function parseConvention(text: string | undefined, what: string): LabelConvention | 'auto' {
  if (text === undefined || text === 'auto' || text === 'mask' || text === 'labels') return text ?? 'auto';
  throw new UsageError(`${what} must be auto, mask or labels, not "${text}"`);
}

const fmt = (v: number | null) => (v === null ? '  –  ' : v.toFixed(3));

export const evaluate: CliCommand = {
  summary: 'IoU and Dice of a segmentation against labels, per class and their foreground mean',
  usage: `Usage: unet3d evaluate --pred P.nii.gz --truth T.nii.gz [--mask M.nii.gz] [--truth-convention C] [--pred-convention C] [--json]

  --pred              the segmentation to score (unet3d segment's C.seg.nii.gz: 0 = background, or one
                      written by 0.1: 1 = background; its C.seg.json says which)
  --truth             the labels to score against, on the same grid
  --mask              score only where this volume is non-zero (same grid)
  --truth-convention  labels: 0 = unlabeled (never counted), 1 = background, 2.. classes (the editor's
                      NAME.labels.nii.gz); mask: 0 = background, 1.. classes (a manual segmentation,
                      a Slicer .seg.nrrd, unet3d segment's output), read as value + 1; auto (default):
                      labels for a .labels.* file; with a .json sidecar, what it says (a segmentation's
                      "labelValues", else labels); otherwise labels for a file with no 0 voxel, else mask
  --pred-convention   the same for --pred
  --json              { "classes": { "<label>": { "iou", "dice", ... } }, "meanIoU", "meanDice", "voxels",
                      "confusion", "truthConvention", "predConvention" }
Labels are reported in the editor's convention (a mask file's value v is label v + 1). A class in
neither the truth nor the prediction (within the scored voxels) has IoU null and is left out of the mean.`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        pred: { type: 'string' },
        truth: { type: 'string' },
        mask: { type: 'string' },
        'truth-convention': { type: 'string' },
        'pred-convention': { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.pred) throw new UsageError('--pred is required');
    if (!values.truth) throw new UsageError('--truth is required');
    const truthConvention = parseConvention(values['truth-convention'], '--truth-convention');
    const predConvention = parseConvention(values['pred-convention'], '--pred-convention');
    const truth = readLabelsAs(values.truth, truthConvention);
    const pred = readLabelsAs(values.pred, predConvention);
    if (gridMismatch(truth, pred, 'pred')) {
      throw new Error(`${path.basename(values.pred)} (${pred.dims.join('×')}) and ${path.basename(values.truth)} (${truth.dims.join('×')}) are not on the same voxel grid`);
    }
    let mask: ArrayLike<number> | undefined;
    if (values.mask) {
      const m = readVolumeFile(values.mask);
      if (gridMismatch(truth, m, 'mask')) throw new Error(`the mask ${path.basename(values.mask)} (${m.dims.join('×')}) is not on the truth's voxel grid`);
      mask = m.data;
    }
    const matrix = confusionMatrix(pred.data, truth.data, mask);
    const scores = scoresFromConfusion(matrix);
    const names = { ...pred.names, ...truth.names };
    const report: EvaluateJson = {
      classes: Object.fromEntries(
        Object.entries(scores.classes).map(([label, s]) => [label, names[label] ? { ...s, name: names[label] } : s]),
      ),
      meanIoU: scores.meanIoU,
      meanDice: scores.meanDice,
      voxels: scores.voxels,
      confusion: matrix.counts,
      truthConvention: truth.convention,
      predConvention: pred.convention,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const lines = [
      `truth      ${path.basename(values.truth)}: ${truth.convention} (${truth.reason})`,
      `prediction ${path.basename(values.pred)}: ${pred.convention} (${pred.reason})`,
      `voxels     ${scores.voxels}${values.mask ? ' (inside the mask)' : ''}`,
      '',
      'label   IoU    Dice   truth voxels  predicted voxels',
      ...Object.entries(report.classes).map(
        ([label, s]) =>
          `${label.padStart(5)}  ${fmt(s.iou)}  ${fmt(s.dice)}  ${String(s.truthVoxels).padStart(12)}  ${String(s.predictedVoxels).padStart(16)}${s.name ? `  ${s.name}` : ''}${label === '1' ? '  (background)' : ''}`,
      ),
      '',
      `mean over foreground (labels ≥ 2): IoU ${fmt(scores.meanIoU)}, Dice ${fmt(scores.meanDice)}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
