import * as path from 'node:path';
import { TRAIN_DEFAULTS as D, trainSettings, type TrainSettingsInput } from '../../protocol/settings';
import { describeStop, type RunSummary, type TrainEvent } from '../../protocol/training';
import { activeBackendLabel } from '../../protocol/backends';
import { parseCommandArgs, parseNumber } from '../args';
import { UsageError, type CliCommand } from '../command';
import { TRAIN_OPTIONS, TRAIN_OPTIONS_USAGE, trainInputFromOptions } from '../trainOptions';
import type { WorkerClient } from '../../engine/workerClient';
import { createEmptyFolder, soleFileText } from '../../core/folders';
import { isFailedRunOnly, RUN_FILE } from '../../protocol/run';
import { segmentInWorker } from './segment';

const USAGE = `Usage: unet3d train --image A.nii.gz --labels A.labels.nii.gz [--image B --labels B ...] --out RUN_DIR [options]

Trains a 3D U-Net on sparse labels (0 = unlabeled, 1 = background, 2.. = classes; unlabeled voxels
weigh 0), or on dense masks (--labels-convention mask), and writes the run folder: run.json, best/
and last/ (model.json + weights.bin).

  --image FILE          a training image (.nii, .nii.gz, .nrrd, .nhdr); repeat for several volumes;
                        a 4D image gives one input channel per frame
  --labels FILE         its label file on the same grid, in the same order as --image
  --labels-convention C labels: 0 = unlabeled, 1 = background, 2.. classes | mask: dense masks,
                        0 = background, 1.. classes (nnU-Net, MONAI), every voxel labeled. Default:
                        labels, except a segmentation whose .json sidecar says 0 = background and a
                        3D Slicer .seg.nrrd whose segment 1 is not named background (masks)
  --out RUN_DIR         the run folder to create (must be new or empty)
  --val-fraction F      hold out this fraction of the annotated slices for validation (default ${D.validationFraction}; 0: none)
  --folds K --fold I    instead: hold out fold I (0..K-1) of a K-fold split of the annotated slices
  --validate-every N    validate every N steps (default ${D.validateEvery})
  --patience N          stop after N validations without improvement (default ${D.patience}; 0: never)
  --refit F             spend this share of the budget at the end training on every annotated slice,
                        the held-out ones included (default ${D.refit}; 0: none); the IoU reported is the
                        held-out one, of the network before the refit
${TRAIN_OPTIONS_USAGE}
  --clock C             wall (default) | cpu: --minutes counts CPU seconds of the worker, every thread
                        (a busy machine slows the wall clock's steps, not these)
  --segment FILE        when the run succeeds, segment the first --image with it (reading its --labels
                        for annotation channels) into FILE, .nii.gz or .nii, in the training's worker
                        (as the editor's Train does); as unet3d segment --out FILE would
  --probabilities FILE  with --segment: also write the class probabilities (see unet3d segment)
  --json                print the run summary as JSON at the end (and with --segment what was written)`;

function progressLine(event: TrainEvent & { type: 'progress' }): string {
  const total = event.totalIterations ? `/${event.totalIterations}` : '';
  const eta = Number.isFinite(event.etaSeconds) ? ` eta ${formatSeconds(event.etaSeconds)}` : '';
  const best = event.bestValidation?.meanForegroundIoU;
  return (
    `iter ${event.iteration}${total}  loss ${event.smoothedLoss.toFixed(4)}  lr ${event.learningRate.toExponential(2)}  ` +
    `${Math.round(event.voxelsPerSecond)} vox/s  ${formatSeconds(event.elapsedSeconds)}${eta}${best != null ? `  best IoU ${best.toFixed(3)}` : ''}`
  );
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
}

/** Prints a training's events on the terminal (one line per event; progress at most every 2 s off a TTY). */
export function terminalReporter(stream: NodeJS.WriteStream = process.stderr): (event: TrainEvent) => void {
  let lastProgress = 0;
  const tty = stream.isTTY;
  let pending = false;
  const line = (text: string) => {
    if (pending) stream.write('\n');
    pending = false;
    stream.write(text + '\n');
  };
  return (event) => {
    switch (event.type) {
      case 'started':
        line(
          `backend ${activeBackendLabel(event.backend)}; network ${event.network.levels} levels, base ${event.network.baseFilters}, ${event.network.padding} padding, ` +
            `${event.parameters.toLocaleString('en-US')} parameters; patch ${event.geometry.input.join('×')} → ${event.geometry.output.join('×')}; ` +
            `classes ${event.classes.map((c) => `${c.value} ${c.name}`).join(', ')}; ${event.trainingVoxels} training / ${event.validationVoxels} validation voxels`,
        );
        if (event.masks) line(`labels read as masks (0 = background, every voxel labeled): ${event.masks.join(', ')}`);
        if (event.parent) {
          const p = event.parent;
          line(`warm start from ${p.runDir} (${p.checkpoint} checkpoint, iteration ${p.iteration}${p.classesAdded ? `, ${p.classesAdded} class${p.classesAdded === 1 ? '' : 'es'} added` : ''})`);
        }
        break;
      case 'progress': {
        const now = Date.now();
        if (tty) {
          stream.write(`\r${progressLine(event)}\x1b[K`);
          pending = true;
        } else if (now - lastProgress > 2000) {
          line(progressLine(event));
          lastProgress = now;
        }
        break;
      }
      case 'validation': {
        const r = event.result;
        const iou = r.iou.map((v, c) => `${c + 1}:${v === null ? '–' : v.toFixed(3)}`).join(' ');
        line(`validation at ${r.iteration}: mean foreground IoU ${r.meanForegroundIoU?.toFixed(3) ?? '–'} (per class ${iou})${event.improved ? ' best' : ''}`);
        break;
      }
      case 'checkpoint':
        if (event.kind === 'last') line(`checkpoint ${event.kind} at iteration ${event.iteration}: ${event.dir}`);
        break;
      case 'finished': {
        const s = event.summary;
        const refit = s.refit ? `; then trained on all ${s.refit.slices} annotated slices (${s.refit.heldOutSlices} held out before) for ${s.refit.iterations} iterations` : '';
        const heldOut = s.best?.meanForegroundIoU != null ? `; held-out IoU ${s.best.meanForegroundIoU.toFixed(3)}${s.refit ? ' (before the refit)' : ''}` : '';
        line(`${s.status}: ${describeStop(s)} in ${formatSeconds(s.seconds)}${heldOut}${refit}; model ${s.modelDir}`);
        if (s.keptParent) {
          const iou = (v: number | null) => v?.toFixed(3) ?? '–';
          line(`kept the parent's weights: they fit the annotated slices better (IoU ${iou(s.keptParent.parentIoU)}, ${iou(s.keptParent.trainedIoU)} after training)`);
        }
        break;
      }
    }
  };
}

export const train: CliCommand = {
  summary: 'train a 3D U-Net on sparsely labeled volumes; writes a run folder',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        image: { type: 'string', multiple: true },
        labels: { type: 'string', multiple: true },
        'labels-convention': { type: 'string' },
        out: { type: 'string' },
        ...TRAIN_OPTIONS,
        'val-fraction': { type: 'string' },
        folds: { type: 'string' },
        fold: { type: 'string' },
        'validate-every': { type: 'string' },
        patience: { type: 'string' },
        refit: { type: 'string' },
        worker: { type: 'boolean' },
        clock: { type: 'string' },
        segment: { type: 'string' },
        probabilities: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const images = values.image ?? [];
    const labels = values.labels ?? [];
    if (images.length === 0) throw new UsageError('give at least one --image with its --labels');
    if (images.length !== labels.length) throw new UsageError(`${images.length} --image but ${labels.length} --labels: give one label file per image, in the same order`);
    if (!values.out) throw new UsageError('--out RUN_DIR is required');
    if (values.probabilities !== undefined && values.segment === undefined) throw new UsageError('--probabilities goes with --segment');
    // Named now, not after the training.
    for (const [option, file] of [['--segment', values.segment], ['--probabilities', values.probabilities]] as const) {
      if (file !== undefined && !/\.nii(\.gz)?$/i.test(file)) throw new UsageError(`${option} ${file}: the file must end in .nii.gz or .nii`);
    }
    const integer = (text: string | undefined, what: string, min = 1) => {
      const n = parseNumber(text, what, min);
      if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${what} must be an integer, not "${text}"`);
      return n;
    };
    const convention = values['labels-convention'];
    if (convention !== undefined && convention !== 'labels' && convention !== 'mask') throw new UsageError(`--labels-convention must be labels or mask, not "${convention}"`);
    const input: TrainSettingsInput = {
      ...trainInputFromOptions(values),
      volumes: images.map((image, i) => ({ image: path.resolve(image), labels: path.resolve(labels[i]), ...(convention ? { labelsConvention: convention } : {}) })),
      outDir: path.resolve(values.out),
    };
    if (values.folds !== undefined || values.fold !== undefined) {
      const folds = integer(values.folds, '--folds', 2);
      const fold = integer(values.fold, '--fold', 0);
      if (folds === undefined || fold === undefined) throw new UsageError('--folds and --fold go together');
      if (values['val-fraction'] !== undefined) throw new UsageError('give --val-fraction or --folds/--fold, not both');
      if (fold >= folds) throw new UsageError(`--fold must be 0..${folds - 1}`);
      input.validation = { fold, folds };
    } else if (values['val-fraction'] !== undefined) {
      input.validation = { fraction: parseNumber(values['val-fraction'], '--val-fraction', 0, 0.95)! };
    }
    input.validateEvery = integer(values['validate-every'], '--validate-every');
    input.patience = integer(values.patience, '--patience', 0);
    input.refit = parseNumber(values.refit, '--refit', 0, 0.95);
    if (values.clock !== undefined && values.clock !== 'wall' && values.clock !== 'cpu') throw new UsageError(`--clock must be wall or cpu, not "${values.clock}"`);
    input.clock = values.clock;
    for (const key of Object.keys(input) as (keyof TrainSettingsInput)[]) if (input[key] === undefined) delete input[key];
    let settings;
    try {
      settings = trainSettings(input);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    // A folder that cannot be made (or is not empty) fails now, not after TensorFlow.js has loaded;
    // the worker takes back one that holds only a failed run (createRunFolder).
    if (!isFailedRunOnly(soleFileText(settings.outDir, RUN_FILE))) createEmptyFolder(settings.outDir, 'the run folder');
    const report = terminalReporter();
    // Always in the engine's worker process (dist/worker.js), as the extension trains; `--worker`,
    // once needed for that, is still accepted.
    const segment = values.segment === undefined ? undefined : { runDir: settings.outDir, image: settings.volumes[0].image, labels: settings.volumes[0].labels, out: path.resolve(values.segment), ...(values.probabilities !== undefined ? { probabilities: path.resolve(values.probabilities) } : {}) };
    return trainInWorker(settings, report, async (client, summary) => {
      if (values.json) process.stdout.write(JSON.stringify({ runDir: settings.outDir, ...summary }) + '\n');
      else process.stdout.write(`${settings.outDir}\n`);
      if (summary.status !== 'succeeded') return 130;
      return segment ? segmentInWorker(client, segment, values.json === true) : 0;
    });
  },
};

/** Ctrl-C once: stop after the current step (the run keeps its best checkpoint); twice: exit now. */
function onInterrupt(cancel: () => void): () => void {
  let count = 0;
  const handler = () => {
    count++;
    if (count === 1) {
      process.stderr.write('\nstopping after this step (Ctrl-C again to quit at once)\n');
      cancel();
    } else process.exit(130);
  };
  process.on('SIGINT', handler);
  return () => process.off('SIGINT', handler);
}

/** Trains in a worker, then runs `then` with the same worker (segmenting after training); resolves with its exit code. */
async function trainInWorker(settings: ReturnType<typeof trainSettings>, report: (e: TrainEvent) => void, then: (client: WorkerClient, summary: RunSummary) => Promise<number>): Promise<number> {
  const { WorkerClient } = await import('../../engine/workerClient');
  const client = await WorkerClient.start();
  try {
    const handle = client.train(settings, report);
    const release = onInterrupt(() => handle.cancel());
    let summary: RunSummary;
    try {
      summary = await handle.done;
    } finally {
      release();
    }
    return await then(client, summary);
  } finally {
    await client.dispose();
  }
}
