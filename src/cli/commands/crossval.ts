import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { FullEvaluationResult, SemiCrossvalResult, TrainingInput } from '../../experiments/crossval';
import type { TileProgress } from '../../protocol/segment';
import type { TrainEvent } from '../../protocol/training';
import { parseCommandArgs, parseNumber, parseTriple } from '../args';
import { UsageError, type CliCommand } from '../command';
import { TRAIN_OPTIONS, TRAIN_OPTIONS_USAGE, trainInputFromOptions } from '../trainOptions';
import { parseConvention } from './evaluate';
import { terminalReporter } from './train';

const USAGE = `Usage:
  unet3d crossval --image A.nii.gz --labels A_LABELS [--folds 3] [options]          (semi-automated)
  unet3d crossval --image A --labels LA --image B --labels LB ... [--test C --test-labels LC ...] [options]
                                                                                    (fully-automated)

Semi-automated (one --image/--labels pair; the paper's §4.1, the protocol of QUALITY.md):
  With full manual labels (a mask with 0 = background, a Slicer .seg.nrrd, or editor labels with no
  unlabeled voxel), the sparse training labels are made from them: per axis, --slices-per-axis slices
  holding foreground, spread evenly over its range (3: the quarter, middle and three-quarter points),
  every other voxel unlabeled. Reported: slice IoU (the annotated slices dealt round-robin into --folds
  folds; train on the others, score the held-out slices less the lines where they cross a training
  slice) and dense IoU (train on all annotated slices, score every voxel on none against the full labels).
  With a sparse label file (the editor's NAME.labels.nii.gz: 0 = unlabeled), its own annotated slices
  are found and only the slice IoU can be scored.
Fully-automated (several pairs; the paper's §4.2): with --test volumes, train on the pairs and segment
  the test volumes; without, rotate: the pairs are dealt into --folds folds (default: one per volume),
  each fold's volumes are segmented by a run trained on the others. IoU and Dice per test volume.
Every training uses all the labels it is given (no validation split) for --iterations or --minutes,
and its last checkpoint segments. The figures compare with \`unet3d baselines\`.

  --image FILE           an image (repeat for several volumes)
  --labels FILE          its labels, same grid, in the same order as --image
  --test FILE            a volume to segment and score (fully-automated; repeatable)
  --test-labels FILE     its labels, in the same order as --test
  --labels-convention C  auto (default) | mask (0 = background) | labels (0 = unlabeled), as unet3d evaluate
  --folds K              folds (semi: default 3; fully-automated rotation: default one per volume)
  --slices-per-axis N    semi, full labels: annotated slices per axis (default 3); fully-automated:
                         train on that many annotated slices per axis of each training volume
                         (default: its labels as given), the test volumes scored on their full labels
  --no-slice             semi: skip the slice k-fold (dense IoU only: one training)
  --no-dense             semi: skip the dense evaluation
  --tile X,Y,Z           output tile of the predictions (see unet3d segment)
  --runs DIR             keep the run folders, label files and segmentations here (default: a
                         temporary folder, removed at the end)
  --json                 print the result as one JSON object
Training options (every run of the experiment):
${TRAIN_OPTIONS_USAGE}`;

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '  –  ' : v.toFixed(3));

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
}

function semiReport(r: SemiCrossvalResult): string {
  const axes = 'xyz';
  const names = Object.fromEntries(r.classes.map((c) => [String(c.value), c.name]));
  const lines = [
    `labels   ${path.basename(r.labels)}: ${r.labelsKind} (${r.labelsConvention} convention)`,
    `slices   ${r.slices.map((s) => `${axes[s.axis]}=${s.index}`).join(' ')}  (${(100 * r.annotatedFraction).toFixed(1)} % of the voxels)`,
    '',
    `3D U-Net                        slice IoU (${r.folds}-fold)  dense IoU (unannotated)`,
    `mean over foreground classes    ${fmt(r.sliceIoU?.meanIoU).padStart(16)}  ${fmt(r.denseIoU?.meanIoU).padStart(23)}`,
  ];
  for (const c of r.classes.slice(1)) {
    const key = String(c.value);
    if (!(key in (r.sliceIoU?.classes ?? {})) && !(key in (r.denseIoU?.classes ?? {}))) continue;
    lines.push(`  ${`${key} ${names[key]}`.slice(0, 30).padEnd(30)}${fmt(r.sliceIoU?.classes[key]).padStart(16)}  ${fmt(r.denseIoU?.classes[key]).padStart(23)}`);
  }
  lines.push('', `runs     ${r.runs.map((run) => `${run.label}: ${run.iterations} it, ${formatSeconds(run.trainSeconds)} (${formatSeconds(run.trainCpuSeconds)} CPU) + ${formatSeconds(run.predictSeconds)}`).join('; ')}`);
  lines.push(`time     training ${formatSeconds(r.trainSeconds)}, segmenting ${formatSeconds(r.predictSeconds)} (backend ${r.runs[0]?.backend ?? '?'})`);
  return lines.join('\n');
}

function fullReport(r: FullEvaluationResult): string {
  const lines = [`volume                                  fold   mean IoU   mean Dice   ${r.classes.slice(1).map((c) => `${c.value} ${c.name}`.slice(0, 12).padStart(12)).join(' ')}`];
  for (const v of r.volumes) {
    const perClass = r.classes.slice(1).map((c) => fmt(v.classes[String(c.value)]?.iou ?? null).padStart(12)).join(' ');
    lines.push(`${path.basename(v.image).slice(0, 38).padEnd(38)}  ${String(v.fold).padStart(4)}   ${fmt(v.meanIoU).padStart(8)}   ${fmt(v.meanDice).padStart(9)}   ${perClass}`);
  }
  lines.push(`${'mean'.padEnd(38)}        ${fmt(r.meanIoU).padStart(8)}   ${fmt(r.meanDice).padStart(9)}`);
  lines.push('', `time     training ${formatSeconds(r.trainSeconds)}, segmenting ${formatSeconds(r.predictSeconds)} (backend ${r.folds[0]?.run.backend ?? '?'})`);
  return lines.join('\n');
}

export const crossval: CliCommand = {
  summary: "the paper's experiments: semi-automated slice k-fold / dense IoU, or train on volumes and score others",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        image: { type: 'string', multiple: true },
        labels: { type: 'string', multiple: true },
        test: { type: 'string', multiple: true },
        'test-labels': { type: 'string', multiple: true },
        'labels-convention': { type: 'string' },
        folds: { type: 'string' },
        'slices-per-axis': { type: 'string' },
        'no-slice': { type: 'boolean' },
        'no-dense': { type: 'boolean' },
        tile: { type: 'string' },
        runs: { type: 'string' },
        json: { type: 'boolean' },
        ...TRAIN_OPTIONS,
      },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const images = values.image ?? [];
    const labels = values.labels ?? [];
    const tests = values.test ?? [];
    const testLabels = values['test-labels'] ?? [];
    if (images.length === 0) throw new UsageError('give at least one --image with its --labels');
    if (images.length !== labels.length) throw new UsageError(`${images.length} --image but ${labels.length} --labels: give one label file per image, in the same order`);
    if (tests.length !== testLabels.length) throw new UsageError(`${tests.length} --test but ${testLabels.length} --test-labels: give one label file per test volume`);
    for (const file of [...images, ...labels, ...tests, ...testLabels]) if (!fs.existsSync(file)) throw new UsageError(`${file} does not exist`);
    const folds = parseNumber(values.folds, '--folds', 2, 100);
    if (folds !== undefined && !Number.isInteger(folds)) throw new UsageError(`--folds must be an integer, not "${values.folds}"`);
    const slicesPerAxis = parseNumber(values['slices-per-axis'], '--slices-per-axis', 1, 100);
    if (slicesPerAxis !== undefined && !Number.isInteger(slicesPerAxis)) throw new UsageError(`--slices-per-axis must be an integer, not "${values['slices-per-axis']}"`);
    const convention = parseConvention(values['labels-convention'], '--labels-convention');
    const tile = values.tile === undefined ? undefined : parseTriple(values.tile, '--tile');
    const training: TrainingInput = trainInputFromOptions(values);
    const semi = images.length === 1 && tests.length === 0;
    if (!semi && (values['no-slice'] || values['no-dense'])) {
      throw new UsageError('--no-slice and --no-dense belong to the semi-automated experiment (one --image/--labels pair, no --test)');
    }
    if (!semi && tests.length > 0 && folds !== undefined) throw new UsageError('--folds rotates the volumes; with --test volumes there is one training');

    const keep = values.runs !== undefined;
    const workDir = keep ? path.resolve(values.runs!) : fs.mkdtempSync(path.join(os.tmpdir(), 'unet3d-crossval-'));
    if (keep && fs.existsSync(workDir) && fs.readdirSync(workDir).length > 0) throw new UsageError(`--runs ${values.runs} is not empty: choose a new folder`);
    const report = terminalReporter();
    const controller = new AbortController();
    const onInterrupt = () => {
      if (controller.signal.aborted) process.exit(130);
      process.stderr.write('\nstopping (Ctrl-C again to quit at once)\n');
      controller.abort();
    };
    let lastTile = 0;
    const hooks = {
      signal: controller.signal,
      onTrainEvent: (label: string, event: TrainEvent) => {
        if (event.type === 'started') process.stderr.write(`— ${label} —\n`);
        report(event);
      },
      onPredictProgress: (label: string, p: TileProgress) => {
        if (p.done === p.total || Date.now() - lastTile > 5000) {
          process.stderr.write(`${label}: segmenting, tile ${p.done}/${p.total}\n`);
          lastTile = Date.now();
        }
      },
    };
    process.on('SIGINT', onInterrupt);
    try {
      const engine = await import('../../experiments/crossval');
      const tiling = tile ? { tile } : undefined;
      const result = semi
        ? await engine.semiAutomatedCrossval(
            { image: images[0], labels: labels[0], labelsConvention: convention, folds, slicesPerAxis, slice: !values['no-slice'], dense: !values['no-dense'], training, tiling, workDir },
            hooks,
          )
        : await engine.fullyAutomatedEvaluation(
            {
              volumes: images.map((image, i) => ({ image, labels: labels[i] })),
              test: tests.length ? tests.map((image, i) => ({ image, labels: testLabels[i] })) : undefined,
              folds,
              labelsConvention: convention,
              slicesPerAxis,
              training,
              tiling,
              workDir,
            },
            hooks,
          );
      if (values.json) process.stdout.write(JSON.stringify({ ...result, runsKept: keep ? workDir : null }) + '\n');
      else process.stdout.write((result.mode === 'semi' ? semiReport(result) : fullReport(result)) + (keep ? `\nruns     ${workDir}` : '') + '\n');
      return 0;
    } catch (error) {
      if ((error as Error).name === 'AbortError') {
        process.stderr.write('cancelled\n');
        return 130;
      }
      throw error;
    } finally {
      process.off('SIGINT', onInterrupt);
      if (!keep) fs.rmSync(workDir, { recursive: true, force: true });
    }
  },
};
