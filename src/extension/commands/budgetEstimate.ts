/**
 * How long a training will take on this machine, from the runs it made before: each run's
 * record holds the seconds since its training loop began at every few iterations (`loss`), and
 * when it was created and finished. The newest comparable runs (same network, patch and batch)
 * give the seconds per iteration (validations included) and the time around the loop (reading
 * the volumes, building the network, the last checkpoint). Pure: unit-tested.
 */
import { median } from '../../core/statistics';
import type { RunRecord } from '../../protocol/run';
import type { TrainSettings } from '../../protocol/settings';
import type { Budget } from './budget';

/** How long a training takes here: seconds per iteration, and the seconds around the loop. */
export interface StepTiming {
  secondsPerIteration: number;
  overheadSeconds: number;
  /** How many runs it was measured from (newest first, at most `MAX_RUNS`). */
  runs: number;
}

/** The newest comparable runs an estimate reads. */
const MAX_RUNS = 3;
/** A run needs this many iterations between its first and last loss record to time a step. */
const MIN_TIMED_ITERATIONS = 5;

/** What makes two trainings take the same time per iteration: the network, the patch, the batch. */
export function comparableKey(settings: Pick<TrainSettings, 'network' | 'patchSize' | 'patchVoxels' | 'batchSize'>): string {
  const network = Object.fromEntries(Object.entries(settings.network ?? {}).sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify({ network, patchSize: settings.patchSize ?? null, patchVoxels: settings.patchVoxels, batchSize: settings.batchSize });
}

/** One run's seconds per iteration (from its loss record) and, once it has finished, the seconds outside its loop. */
export function runTiming(record: RunRecord): { secondsPerIteration: number; overheadSeconds?: number } | undefined {
  const loss = record.loss;
  if (loss.length < 2) return undefined;
  const first = loss[0];
  const last = loss[loss.length - 1];
  const iterations = last.iteration - first.iteration;
  if (iterations < MIN_TIMED_ITERATIONS || !(last.seconds > first.seconds)) return undefined;
  const secondsPerIteration = (last.seconds - first.seconds) / iterations;
  let overheadSeconds: number | undefined;
  const total = record.finishedAt ? (Date.parse(record.finishedAt) - Date.parse(record.createdAt)) / 1000 : NaN;
  const loop = record.summary?.seconds;
  if (Number.isFinite(total) && loop !== undefined && total >= loop) overheadSeconds = total - loop;
  return { secondsPerIteration, overheadSeconds };
}

/**
 * The timing of a training like `settings` here: the median over the newest (at most three)
 * runs with the same comparableKey that ran long enough to time; undefined when there is none.
 */
export function timingFor(records: readonly RunRecord[], settings: Parameters<typeof comparableKey>[0]): StepTiming | undefined {
  const key = comparableKey(settings);
  const timed = records
    .filter((r) => comparableKey(r.settings) === key)
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .map(runTiming)
    .filter((t): t is NonNullable<typeof t> => t !== undefined)
    .slice(0, MAX_RUNS);
  if (timed.length === 0) return undefined;
  const overheads = timed.map((t) => t.overheadSeconds).filter((s): s is number => s !== undefined);
  return {
    secondsPerIteration: median(timed.map((t) => t.secondsPerIteration)),
    overheadSeconds: overheads.length ? median(overheads) : 0,
    runs: timed.length,
  };
}

/** The expected wall time of a training with `budget` (an upper bound: it may stop early), and the iterations it reaches. */
export function expectedRun(budget: Budget, timing: StepTiming): { seconds: number; iterations: number } {
  if (budget.kind === 'iterations') return { seconds: timing.overheadSeconds + budget.value * timing.secondsPerIteration, iterations: budget.value };
  return { seconds: timing.overheadSeconds + budget.value * 60, iterations: Math.max(1, Math.floor((budget.value * 60) / timing.secondsPerIteration)) };
}

/** A duration as a rough figure: "≈ 45 s", "≈ 20 min", "≈ 2 h 10 min". */
export function approximately(seconds: number): string {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) return '≈ ?';
  if (seconds < 90) return `≈ ${Math.max(5, Math.round(seconds / 5) * 5)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `≈ ${minutes} min`;
  return `≈ ${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** "≈ 1,000" iterations, rounded to two significant figures above 100. */
export function approximateCount(n: number): string {
  const rounded = n >= 100 ? Number(n.toPrecision(2)) : Math.round(n);
  return `≈ ${rounded.toLocaleString('en-US')}`;
}

/**
 * What the budget pick says beside a budget: its expected duration (iterations) or the
 * iterations it reaches (minutes), for `folds` trainings one after another (Evaluate).
 */
export function budgetEstimate(budget: Budget, timing: StepTiming | undefined, folds = 1): string | undefined {
  if (!timing) return undefined;
  const { seconds, iterations } = expectedRun(budget, timing);
  const each = folds > 1 ? ` per fold, ${approximately(seconds * folds)} in all` : '';
  return budget.kind === 'iterations' ? `${approximately(seconds)}${each}` : `${approximateCount(iterations)} iterations${folds > 1 ? ' per fold' : ''}`;
}

/** "1.2 s per iteration here (3 runs)" */
export function stepText(timing: StepTiming): string {
  const s = timing.secondsPerIteration;
  const figure = s >= 10 ? s.toFixed(0) : s >= 1 ? s.toFixed(1) : s.toFixed(2);
  return `${figure} s per iteration here (${timing.runs === 1 ? 'from the last run' : `from the last ${timing.runs} runs`})`;
}
