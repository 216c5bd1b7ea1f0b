/**
 * `unet3d bench preview`: what the live preview costs the training. The same training runs with
 * the preview off and on (the three planes through the volume's centre previewed on the engine's
 * schedule, as the editor asks for them), in turns (off, on, on, off, ...), and the steps per second
 * of each are compared; the engine keeps previews within 15 % of the training's time by design
 * (PreviewSchedule), and this measures what that leaves of the throughput.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Vec3 } from '../../core/geometry';
import { parseCommandArgs, parseNumber } from '../args';
import { UsageError } from '../command';
import { sharedDataDir } from './benchVolume';
import type { BenchKind } from './kind';
import { median } from './stats';

/** One training of the comparison. */
export interface PreviewRun {
  preview: boolean;
  iterations: number;
  /** Seconds of the training loop (previews included). */
  seconds: number;
  stepsPerSecond: number;
  previews: number;
  /** Seconds the previews took. */
  previewSeconds: number;
}

/** What `unet3d bench preview --json` prints. */
export interface PreviewBenchJson {
  set: string;
  seconds: number;
  runs: PreviewRun[];
  /** Median steps per second without and with the preview, and the share of the throughput lost (1 − on/off). */
  off: number;
  on: number;
  cost: number;
}

const USAGE = `Usage: unet3d bench preview [--set NAME] [--seconds S] [--pairs N] [--data DIR] [--json]

Trains the same run with the live preview off and on, in turns (off, on, on, off, ...), and
compares their steps per second: what the preview costs the training. The preview follows the
three planes through the volume's centre, on the engine's schedule (every few seconds, sooner
after a better checkpoint), as the editor asks for them. Defaults otherwise, every annotated slice
trained on (3 per axis, from the set's manual labels).

  --set NAME     a semi/ set of the shared data: spinalcord, spleen (default), ctchest
  --seconds S    seconds of each training (default 60)
  --pairs N      pairs of runs (default 2: off, on, on, off)
  --data DIR     the shared data folder (default $UNET3D_DATA, else ../shared/data)
  --json         print one JSON object`;

export const preview: BenchKind = {
  summary: 'the live preview\'s cost: training throughput with the preview off and on',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { set: { type: 'string' }, seconds: { type: 'string' }, pairs: { type: 'string' }, data: { type: 'string' }, json: { type: 'boolean' } },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const seconds = parseNumber(values.seconds, '--seconds', 1) ?? 60;
    const pairs = parseNumber(values.pairs, '--pairs', 1, 20) ?? 2;
    const set = values.set ?? 'spleen';
    const dataDir = values.data ? path.resolve(values.data) : sharedDataDir();
    if (!dataDir) throw new UsageError('the shared data folder was not found: give --data DIR (or set UNET3D_DATA)');
    const { SEMI_SETS } = await import('../../experiments/timeToQuality');
    const files = SEMI_SETS[set];
    if (!files) throw new UsageError(`unknown set "${set}" (${Object.keys(SEMI_SETS).join(', ')})`);
    const { readVolumeFile } = await import('../../core/readVolume');
    const { readLabelsAs } = await import('../../core/labelConvention');
    const { chooseAnnotatedSlices, sparseLabels } = await import('../../core/sparseLabels');
    const { writeLabelMapNifti } = await import('../../core/labelMapIO');
    const { trainSettings } = await import('../../protocol/settings');
    const { runTraining } = await import('../../engine/train');
    const image = path.join(dataDir, files.image);
    const volume = readVolumeFile(image);
    const truth = readLabelsAs(path.join(dataDir, files.labels)).data;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unet3d-bench-preview-'));
    const runs: PreviewRun[] = [];
    try {
      const labels = path.join(dir, 'sparse.labels.nii.gz');
      writeLabelMapNifti(labels, { dims: volume.dims, affine: volume.affine, data: sparseLabels(truth, volume.dims, chooseAnnotatedSlices(truth, volume.dims)) }, 'sparse');
      const centre = volume.dims.map((n) => Math.floor(n / 2)) as Vec3;
      const order = Array.from({ length: pairs }, (_, p) => (p % 2 === 0 ? [false, true] : [true, false])).flat();
      for (const [i, on] of order.entries()) {
        const settings = trainSettings({ volumes: [{ image, labels }], outDir: path.join(dir, `run-${i}`), minutes: seconds / 60, validation: { fraction: 0 } });
        let previews = 0;
        let previewSeconds = 0;
        const summary = await runTraining(settings, {
          previewTarget: () => (on ? { image, voxel: centre } : undefined),
          onEvent: (e) => {
            if (e.type !== 'preview') return;
            previews++;
            previewSeconds += e.seconds;
          },
        });
        const run = { preview: on, iterations: summary.iterations, seconds: summary.seconds, stepsPerSecond: summary.iterations / summary.seconds, previews, previewSeconds };
        runs.push(run);
        process.stderr.write(`preview ${on ? 'on ' : 'off'}: ${run.iterations} steps in ${run.seconds.toFixed(1)} s (${run.stepsPerSecond.toFixed(3)}/s)${on ? `, ${previews} previews, ${previewSeconds.toFixed(1)} s` : ''}\n`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const off = median(runs.filter((r) => !r.preview).map((r) => r.stepsPerSecond));
    const on = median(runs.filter((r) => r.preview).map((r) => r.stepsPerSecond));
    const result: PreviewBenchJson = { set, seconds, runs, off, on, cost: 1 - on / off };
    if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(`${set}, ${seconds} s per run: ${off.toFixed(3)} steps/s with the preview off, ${on.toFixed(3)} on: it costs ${(100 * result.cost).toFixed(1)} % of the throughput\n`);
    return 0;
  },
};
