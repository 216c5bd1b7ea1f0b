/**
 * `unet3d bench loop`: time to quality on the `semi/` sets of the shared data, from scratch and
 * after a one-slice correction (src/experiments/timeToQuality.ts). `--json` prints
 * `{ "sets": [ { "name", "baseline", "scratch": [ { "seconds", "iou" } ], "correction": { "slice",
 * "before", "after": [ { "seconds", "iou" } ], "scratchSameSlices", "secondsToOverlay" } } ] }`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCommandArgs, parseNumber } from '../args';
import { UsageError } from '../command';
import { TRAIN_OPTIONS, TRAIN_OPTIONS_USAGE, trainInputFromOptions } from '../trainOptions';
import { sharedDataDir } from './benchVolume';
import type { BenchKind } from './kind';
import type { TimeToQualityDetails, TimeToQualityResult } from '../../experiments/timeToQuality';

/** What `unet3d bench loop --json` prints. */
export interface LoopBenchJson {
  sets: TimeToQualityResult[];
}

const SET_NAMES = ['spinalcord', 'spleen', 'ctchest'];
const DEFAULT_BUDGET = 600;

const USAGE = `Usage: unet3d bench loop [--sets A,B] [--budget S] [--warm S1,S2] [--data DIR] [--runs DIR] [--json] [training options]

Time to quality on the semi/ sets of the shared data, with the protocol's sparse labels (3 annotated
slices per axis, every voxel of them labeled; docs/protocol.md). Per set:
  from scratch   one run of --budget seconds, its network scored as it goes at 30, 60, 120, 180, 300
                 and 600 s (those within the budget): dense IoU on the voxels of no annotated slice,
                 next to the best densifying baseline's
  correction     the slice Suggest Next Slice picks from that run's segmentation, labeled from the
                 manual truth; a warm-started run (init: the first run) of each --warm seconds, then the
                 segmentation written, in engine workers as the editor does it; dense IoU before and
                 after, and of a run from scratch on the same 10 slices for --budget seconds
                 (these scored on the voxels of none of the 10 slices); secondsToOverlay: from
                 starting the shortest warm run to its segmentation written
Times are wall-clock unless --clock cpu: run it alone on the machine (a busy one gives fewer steps
per second).

  --sets A,B        which sets (default ${SET_NAMES.join(',')})
  --budget S        seconds of the from-scratch runs (default ${DEFAULT_BUDGET})
  --warm S1,S2      seconds of the warm runs (default 30,60)
  --clock C         wall (default) or cpu: count every training's seconds, and secondsToOverlay, as
                    CPU seconds of the processes (every thread), which a busy machine inflates far
                    less than the wall clock; a conservative stand-in for the wall time alone
  --val-fraction F  the share of the annotated slices each run holds out (default 0: the protocol
                    trains on every annotated slice)
  --data DIR        the shared data folder (default $UNET3D_DATA, else ../shared/data)
  --runs DIR        keep the runs, label files and segmentations here (default: a temporary folder,
                    removed at the end)
  --json            print one JSON object (shape in docs/benchmarks.md)
Training options (every run):
${TRAIN_OPTIONS_USAGE}`;

function secondsList(text: string, what: string): number[] {
  const list = text.split(',').map((t) => Number(t.trim()));
  if (list.length === 0 || list.some((s) => !(s > 0) || !Number.isFinite(s))) throw new UsageError(`${what} must be positive seconds separated by commas, not "${text}"`);
  return list;
}

const fmt = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(3));

function report(r: TimeToQualityResult, d: TimeToQualityDetails): string {
  const c = r.correction;
  const lines = [
    `${r.name}: best baseline ${fmt(r.baseline)} (${d.baselineName})`,
    `  from scratch  ${r.scratch.map((p, i) => `${p.seconds} s ${fmt(p.iou)} (${d.scratchIterations[i] ?? '?'} steps)`).join(' · ')}`,
    `  correction    ${'xyz'[c.slice.axis]} = ${c.slice.index}: before ${fmt(c.before)}; warm ${c.after.map((a, i) => `${a.seconds} s ${fmt(a.iou)} (${d.warm[i].iterations} steps${d.warm[i].keptParent ? ", kept the parent's weights" : ''}, segmentation after ${d.warm[i].secondsToOverlay.toFixed(1)} s)`).join(' · ')}`,
    `                from scratch on the same ${d.slices.length + 1} slices ${fmt(c.scratchSameSlices)} (${d.scratchSameSlicesIterations} steps)`,
  ];
  return lines.join('\n');
}

export const loop: BenchKind = {
  summary: 'time to quality on the semi/ sets: from scratch, and after a one-slice correction (warm start)',
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        ...TRAIN_OPTIONS,
        sets: { type: 'string' },
        budget: { type: 'string' },
        warm: { type: 'string' },
        'val-fraction': { type: 'string' },
        clock: { type: 'string' },
        data: { type: 'string' },
        runs: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const sets = values.sets ? values.sets.split(',').map((s) => s.trim()) : SET_NAMES;
    for (const s of sets) if (!SET_NAMES.includes(s)) throw new UsageError(`unknown set "${s}" (${SET_NAMES.join(', ')})`);
    const budgetSeconds = parseNumber(values.budget, '--budget', 1) ?? DEFAULT_BUDGET;
    const warmSeconds = values.warm ? secondsList(values.warm, '--warm') : undefined;
    const validationFraction = parseNumber(values['val-fraction'], '--val-fraction', 0, 0.95);
    if (values.minutes !== undefined || values.iterations !== undefined || values.init !== undefined) {
      throw new UsageError('the loop bench sets each run\'s budget and start itself: give --budget and --warm, not --minutes, --iterations or --init');
    }
    const clock = values.clock ?? 'wall';
    if (clock !== 'wall' && clock !== 'cpu') throw new UsageError(`--clock must be wall or cpu, not "${clock}"`);
    const training = trainInputFromOptions(values);
    const dataDir = values.data ? path.resolve(values.data) : sharedDataDir();
    if (!dataDir) throw new UsageError('the shared data folder was not found: give --data DIR (or set UNET3D_DATA)');
    const { SEMI_SETS, timeToQuality } = await import('../../experiments/timeToQuality');
    const keep = values.runs !== undefined;
    const root = keep ? path.resolve(values.runs!) : fs.mkdtempSync(path.join(os.tmpdir(), 'unet3d-bench-loop-'));
    const results: TimeToQualityResult[] = [];
    try {
      for (const name of sets) {
        const files = SEMI_SETS[name];
        const image = path.join(dataDir, files.image);
        const labels = path.join(dataDir, files.labels);
        for (const f of [image, labels]) if (!fs.existsSync(f)) throw new Error(`${f} is missing from the shared data`);
        const { result, details } = await timeToQuality(
          { name, image, labels, budgetSeconds, warmSeconds, validationFraction, training, clock, workDir: path.join(root, name) },
          { onStage: (line) => process.stderr.write(`${line}\n`) },
        );
        results.push(result);
        if (!values.json) process.stdout.write(`${report(result, details)}\n`);
      }
    } finally {
      if (!keep) fs.rmSync(root, { recursive: true, force: true });
    }
    if (values.json) process.stdout.write(JSON.stringify({ sets: results } satisfies LoopBenchJson) + '\n');
    return 0;
  },
};
