import * as path from 'node:path';
import type { BackendName } from '../../engine/backends';
import { isBackendName } from '../../engine/backends';
import type { ClassWeighting } from '../../engine/loss';
import { isPresetName } from '../../engine/model';
import { trainSettings, type TrainSettingsInput } from '../../engine/settings';
import type { RunSummary, TrainEvent } from '../../protocol/worker';
import { parseCommandArgs, parseNumber, parseTriple } from '../args';
import { UsageError, type CliCommand } from '../command';

const USAGE = `Usage: unet3d train --image A.nii.gz --labels A.labels.nii.gz [--image B --labels B ...] --out RUN_DIR [options]

Trains a 3D U-Net on sparse labels (0 = unlabeled, 1 = background, 2.. = classes; unlabeled voxels
weigh 0) and writes the run folder: run.json, best/ and last/ (model.json + weights.bin).

  --image FILE          a training image (.nii, .nii.gz, .nrrd, .nhdr); repeat for several volumes;
                        a 4D image gives one input channel per frame
  --labels FILE         its label file on the same grid, in the same order as --image
  --out RUN_DIR         the run folder to create (must be new or empty)
  --preset P            network preset: fast (default), paper, bench
  --levels L            resolution levels (changes the preset)
  --base-filters F      filters of the first level, doubling per level
  --padding P           valid | same
  --patch X,Y,Z         output patch size in voxels (default: chosen from the spacing)
  --batch N             patches per step (default 1)
  --iterations N        stop after N steps (default 1000 unless --minutes is given)
  --minutes M           stop after M minutes (with --iterations: whichever comes first)
  --val-fraction F      hold out this fraction of the annotated slices for validation (default 0.2; 0: none)
  --folds K --fold I    instead: hold out fold I (0..K-1) of a K-fold split of the annotated slices
  --validate-every N    validate every N steps (default 50)
  --patience N          stop after N validations without improvement (default 8; 0: never)
  --optimizer O         sgd (momentum 0.99, the paper's; default) | adam
  --lr R                peak learning rate (default 0.01 for sgd, 0.001 for adam)
  --schedule S          poly (default) | cosine | constant
  --class-weights W     sqrt (default) | balanced | none | comma-separated weights, background first
  --no-augment          switch every augmentation off
  --no-deform           switch the elastic deformation off
  --flips               add random flips
  --backend B           auto (default) | tensorflow-gpu | tensorflow | wasm | cpu
  --seed S              random seed (default 1)
  --worker              train in the engine worker process (dist/worker.js), as the extension does
  --json                print the run summary as JSON at the end`;

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
          `backend ${event.backend.active}; network ${event.network.levels} levels, base ${event.network.baseFilters}, ${event.network.padding} padding, ` +
            `${event.parameters.toLocaleString('en-US')} parameters; patch ${event.geometry.input.join('×')} → ${event.geometry.output.join('×')}; ` +
            `classes ${event.classes.map((c) => `${c.value} ${c.name}`).join(', ')}; ${event.trainingVoxels} training / ${event.validationVoxels} validation voxels`,
        );
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
      case 'finished':
        line(`${event.summary.status} (${event.summary.stopReason}) after ${event.summary.iterations} iterations, ${formatSeconds(event.summary.seconds)}; model ${event.summary.modelDir}`);
        break;
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
        out: { type: 'string' },
        preset: { type: 'string' },
        levels: { type: 'string' },
        'base-filters': { type: 'string' },
        padding: { type: 'string' },
        patch: { type: 'string' },
        batch: { type: 'string' },
        iterations: { type: 'string' },
        minutes: { type: 'string' },
        'val-fraction': { type: 'string' },
        folds: { type: 'string' },
        fold: { type: 'string' },
        'validate-every': { type: 'string' },
        patience: { type: 'string' },
        optimizer: { type: 'string' },
        lr: { type: 'string' },
        schedule: { type: 'string' },
        'class-weights': { type: 'string' },
        'no-augment': { type: 'boolean' },
        'no-deform': { type: 'boolean' },
        flips: { type: 'boolean' },
        backend: { type: 'string' },
        seed: { type: 'string' },
        worker: { type: 'boolean' },
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
    const integer = (text: string | undefined, what: string, min = 1) => {
      const n = parseNumber(text, what, min);
      if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`${what} must be an integer, not "${text}"`);
      return n;
    };
    const input: TrainSettingsInput = {
      volumes: images.map((image, i) => ({ image: path.resolve(image), labels: path.resolve(labels[i]) })),
      outDir: path.resolve(values.out),
      network: {},
    };
    if (values.preset !== undefined) {
      if (!isPresetName(values.preset)) throw new UsageError(`unknown preset "${values.preset}" (fast, paper, bench)`);
      input.network!.preset = values.preset;
    }
    const levels = integer(values.levels, '--levels', 1);
    if (levels !== undefined) input.network!.levels = levels;
    const base = integer(values['base-filters'], '--base-filters', 1);
    if (base !== undefined) input.network!.baseFilters = base;
    if (values.padding !== undefined) {
      if (values.padding !== 'valid' && values.padding !== 'same') throw new UsageError(`--padding must be valid or same, not "${values.padding}"`);
      input.network!.padding = values.padding;
    }
    if (values.patch !== undefined) input.patchSize = parseTriple(values.patch, '--patch');
    input.batchSize = integer(values.batch, '--batch');
    input.iterations = integer(values.iterations, '--iterations');
    input.minutes = parseNumber(values.minutes, '--minutes', 0.01);
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
    if (values.optimizer !== undefined) {
      if (values.optimizer !== 'sgd' && values.optimizer !== 'adam') throw new UsageError(`--optimizer must be sgd or adam, not "${values.optimizer}"`);
      input.optimizer = { kind: values.optimizer };
    }
    const lr = parseNumber(values.lr, '--lr', 1e-8, 10);
    const schedule = values.schedule;
    if (schedule !== undefined && !['poly', 'cosine', 'constant'].includes(schedule)) throw new UsageError(`--schedule must be poly, cosine or constant, not "${schedule}"`);
    input.schedule = {};
    if (lr !== undefined) input.schedule.initial = lr;
    if (schedule !== undefined) input.schedule.kind = schedule as 'poly' | 'cosine' | 'constant';
    if (input.optimizer?.kind === 'adam' && lr === undefined) input.schedule.initial = 0.001;
    if (values['class-weights'] !== undefined) {
      const w = values['class-weights'];
      if (['sqrt', 'balanced', 'none'].includes(w)) input.classWeighting = w as ClassWeighting;
      else {
        const weights = w.split(',').map((t) => Number(t.trim()));
        if (weights.some((x) => !Number.isFinite(x) || x < 0)) throw new UsageError(`--class-weights must be sqrt, balanced, none or non-negative numbers, not "${w}"`);
        input.classWeighting = weights;
      }
    }
    if (values['no-augment']) {
      input.augmentation = { deformation: { enabled: false }, rotation: { enabled: false }, scaling: { enabled: false }, grayValue: { enabled: false }, flips: { enabled: false } };
    } else {
      input.augmentation = {};
      if (values['no-deform']) input.augmentation.deformation = { enabled: false };
      if (values.flips) input.augmentation.flips = { enabled: true };
    }
    if (values.backend !== undefined && values.backend !== 'auto') {
      if (!isBackendName(values.backend)) throw new UsageError(`unknown backend "${values.backend}" (auto, tensorflow-gpu, tensorflow, wasm, cpu)`);
      input.backend = values.backend as BackendName;
    }
    input.seed = integer(values.seed, '--seed', 0);
    for (const key of Object.keys(input) as (keyof TrainSettingsInput)[]) if (input[key] === undefined) delete input[key];
    let settings;
    try {
      settings = trainSettings(input);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const report = terminalReporter();
    const summary = values.worker ? await trainInWorker(settings, report) : await trainInProcess(settings, report);
    if (values.json) process.stdout.write(JSON.stringify({ runDir: settings.outDir, ...summary }) + '\n');
    else process.stdout.write(`${settings.outDir}\n`);
    return summary.status === 'succeeded' ? 0 : 130;
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

async function trainInProcess(settings: ReturnType<typeof trainSettings>, report: (e: TrainEvent) => void): Promise<RunSummary> {
  const { runTraining } = await import('../../engine/train');
  let stop = false;
  const release = onInterrupt(() => (stop = true));
  try {
    return await runTraining(settings, { onEvent: report, shouldStop: () => stop });
  } finally {
    release();
  }
}

async function trainInWorker(settings: ReturnType<typeof trainSettings>, report: (e: TrainEvent) => void): Promise<RunSummary> {
  const { WorkerClient } = await import('../../engine/workerClient');
  const client = await WorkerClient.start();
  const handle = client.train(settings, report);
  const release = onInterrupt(() => handle.cancel());
  try {
    return await handle.done;
  } finally {
    release();
    await client.dispose();
  }
}
