import * as path from 'node:path';
import { BASELINES, baselineByName, type Baseline, type BaselineName } from '../../experiments/baselines';
import { evaluateDensifier, type DensifyEvaluation } from '../../experiments/densifyEvaluation';
import { readLabelsAs, type LabelConvention } from '../../core/labelConvention';
import { readVolumeFile } from '../../core/readVolume';
import { annotatedFraction, chooseAnnotatedSlices, type AnnotatedSlice } from '../../core/sparseLabels';
import { gridMismatch } from '../../core/volumeFiles';
import { parseCommandArgs, parseNumber } from '../args';
import { UsageError, type CliCommand } from '../command';
import { parseConvention } from './evaluate';

/** What `unet3d baselines --json` prints. IoU keys are labels in the editor's convention (2 = first foreground class). */
export interface BaselinesJson {
  image: string;
  labels: string;
  labelsConvention: LabelConvention;
  dims: number[];
  spacing: number[];
  /** The protocol's annotated slices, axis by axis (dealt round-robin into the folds). */
  slices: AnnotatedSlice[];
  annotatedFraction: number;
  folds: number;
  /** Names of the foreground labels, when the file has them. */
  names: Record<string, string>;
  baselines: Partial<Record<BaselineName, DensifyEvaluation & { title: string }>>;
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '  –  ' : v.toFixed(3));

export const baselines: CliCommand = {
  summary: 'score the densifying baselines on sparse slices made from full labels (slice and dense IoU)',
  usage: `Usage: unet3d baselines --image I --labels FULL_LABELS [--baseline NAME]... [--folds K] [--labels-convention C] [--json]

  --image              the volume (its grid and voxel spacing are used)
  --labels             dense manual labels of the whole volume, on the image's grid
  --baseline           one of (repeatable; all by default):
                         nearest-slice          copy from the nearest annotated slice of any axis (mm)
                         nearest-slice-x|y|z    copy from the nearest annotated slice of that axis only
                                                (the best axis is QUALITY.md's "nearest annotated slice")
                         nearest-voxel          label of the nearest annotated voxel in 3D (exact EDT, mm)
                         contour-interpolation  ITK morphological contour interpolation, class by class
  --folds              folds of the slice-wise cross-validation (default 3)
  --labels-convention  auto (default), mask (0 = background) or labels (0 = unlabeled), as in unet3d evaluate
  --json               one JSON object: the slices, and per baseline sliceIoU and denseIoU (meanIoU, classes, folds)
The protocol (../shared/QUALITY.md): per axis, the 3 slices with foreground nearest the quarter,
middle and three-quarter points of the foreground's range are kept, every other voxel is unlabeled.
Slice IoU: the slices, listed axis by axis, dealt round-robin into K folds; densify from the other
folds and score the held-out slices less the lines where they cross a training slice; the mean IoU
over every (fold, foreground class) pair where it is defined. Dense IoU: densify from all slices,
score every voxel on no annotated slice against the full labels.`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        image: { type: 'string' },
        labels: { type: 'string' },
        baseline: { type: 'string', multiple: true },
        folds: { type: 'string' },
        'labels-convention': { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (!values.image) throw new UsageError('--image is required');
    if (!values.labels) throw new UsageError('--labels is required');
    const folds = parseNumber(values.folds, '--folds', 2, 100) ?? 3;
    if (!Number.isInteger(folds)) throw new UsageError(`--folds must be an integer, not ${values.folds}`);
    let chosen: Baseline[];
    try {
      chosen = values.baseline ? values.baseline.map(baselineByName) : [...BASELINES];
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const image = readVolumeFile(values.image);
    const truth = readLabelsAs(values.labels, parseConvention(values['labels-convention'], '--labels-convention'));
    if (gridMismatch(image, truth, 'labels')) {
      throw new Error(`${path.basename(values.labels)} (${truth.dims.join('×')}) is not on the voxel grid of ${path.basename(values.image)} (${image.dims.join('×')})`);
    }
    for (let i = 0; i < truth.data.length; i++) {
      if (truth.data[i] === 0) throw new Error(`${path.basename(values.labels)} has unlabeled voxels (0) in the editor's convention: the baselines need full labels`);
    }
    const slices = chooseAnnotatedSlices(truth.data, image.dims);
    const report: BaselinesJson = {
      image: values.image,
      labels: values.labels,
      labelsConvention: truth.convention,
      dims: image.dims,
      spacing: image.spacing,
      slices,
      annotatedFraction: annotatedFraction(image.dims, slices),
      folds,
      names: truth.names,
      baselines: {},
    };
    for (const baseline of chosen) {
      const result = await evaluateDensifier(truth.data, image.dims, image.spacing, slices, baseline.densify, { folds });
      report.baselines[baseline.name] = { title: baseline.title, ...result };
      if (!values.json) process.stderr.write(`${baseline.name}: done in ${result.seconds.toFixed(1)} s\n`);
    }
    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const axes = 'xyz';
    const lines = [
      `labels   ${path.basename(values.labels)}: ${truth.convention} (${truth.reason})`,
      `slices   ${slices.map((s) => `${axes[s.axis]}=${s.index}`).join(' ')}  (${(100 * report.annotatedFraction).toFixed(1)} % of the voxels)`,
      '',
      `baseline                                         slice IoU (${folds}-fold)  dense IoU (unannotated)  seconds`,
      ...chosen.map((b) => {
        const r = report.baselines[b.name]!;
        return `${b.title.padEnd(48)} ${fmt(r.sliceIoU?.meanIoU).padStart(16)}  ${fmt(r.denseIoU?.meanIoU).padStart(23)}  ${r.seconds.toFixed(1).padStart(7)}`;
      }),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
