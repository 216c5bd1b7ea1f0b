/**
 * The Evaluate command's record (`evaluation.json`): the paper's k-fold check on annotated
 * slices, one training run per fold in the evaluation's folder, each scored on the slices it
 * held out. Pure: unit-tested.
 */
import type { RunRecord, RunStatus } from '../../protocol/run';
import type { EvaluationFold, EvaluationRecord } from './runEntry';

export function newEvaluationRecord(input: { folds: number; volumes: { image: string; labels: string }[]; preset: string; classNames?: string[] }, now = new Date()): EvaluationRecord {
  const time = now.toISOString();
  return {
    format: 'unet3d-evaluation',
    version: 1,
    status: 'running',
    createdAt: time,
    updatedAt: time,
    folds: input.folds,
    volumes: input.volumes,
    preset: input.preset,
    classNames: input.classNames,
    results: [],
    meanIoU: [],
    meanForegroundIoU: null,
  };
}

function mean(values: readonly (number | null | undefined)[]): number | null {
  const present = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : null;
}

/**
 * A fold's score from its run: the last validation (the model as trained to the end, not the
 * best one: choosing the best on the held-out fold would score the choice on its own test data).
 */
export function foldResult(fold: number, runDir: string, record: Pick<RunRecord, 'validation'>): EvaluationFold {
  const last = record.validation[record.validation.length - 1];
  return { fold, runDir, iou: last ? [...last.iou] : [], meanForegroundIoU: last?.meanForegroundIoU ?? null };
}

/** The record with `result` added (or replaced) and the means recomputed. */
export function withFold(record: EvaluationRecord, result: EvaluationFold): EvaluationRecord {
  const results = [...record.results.filter((r) => r.fold !== result.fold), result].sort((a, b) => a.fold - b.fold);
  const classes = Math.max(0, ...results.map((r) => r.iou.length));
  const meanIoU = Array.from({ length: classes }, (_, c) => mean(results.map((r) => r.iou[c])));
  return { ...record, results, meanIoU, meanForegroundIoU: mean(results.map((r) => r.meanForegroundIoU)), updatedAt: new Date().toISOString() };
}

/** The record ended with `status` (and why, when it failed). */
export function finishedEvaluation(record: EvaluationRecord, status: Exclude<RunStatus, 'running'>, error?: string): EvaluationRecord {
  const time = new Date().toISOString();
  return { ...record, status, ...(error ? { error: error.split('\n')[0] } : {}), updatedAt: time, finishedAt: time };
}
