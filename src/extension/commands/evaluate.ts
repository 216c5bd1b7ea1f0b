/**
 * "3D U-Net: Evaluate" (`unet3d.evaluate`): the paper's k-fold check (§4.1) on the annotated
 * slices of the chosen volumes. The annotated slices are dealt round-robin into k folds; for each
 * fold a network is trained on the others and scored (IoU per class) on the fold's slices. The
 * evaluation is recorded as an entry of the runs folder: `evaluation.json` with the per-fold and
 * mean IoU, and one run folder per fold inside it. One worker runs the folds one after another.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PresetName } from '../../protocol/network';
import { trainSettings, type TrainSettingsInput } from '../../protocol/settings';
import { writeFileAtomic } from '../../core/atomicWrite';
import { finishedEvaluation, foldResult, newEvaluationRecord, withFold } from '../runs/evaluation';
import { EVALUATION_FILE, loadEntry, type EvaluationRecord } from '../runs/runEntry';
import { formatDuration, formatIoU } from '../runs/runPresentation';
import { showCommandError, showFailure } from '../notices';
import { readLoopSettings, trainSettingsInput } from '../settings';
import type { LoopContext } from './loopContext';
import { requireTrust } from './trust';
import { isTrainArgs } from './train';
import { budgetFor, pickPreset, runRecords, timingOfPreset, volumesToTrainOn } from './trainPicks';
import { classNamesOf, editorDefaultClassNames, requireLabelFiles, saveUnsavedLabels, volumesTitle } from './volumes';
import { newRunDir, trainWithJob } from '../trainingJob';

export interface EvaluateArgs {
  volumes?: (vscode.Uri | string)[];
  folds?: number;
  preset?: PresetName;
  iterations?: number;
  minutes?: number;
  settings?: Partial<TrainSettingsInput>;
  name?: string;
}

export interface EvaluateResult {
  dir: string;
  evaluation: EvaluationRecord;
}

function writeRecord(dir: string, record: EvaluationRecord): void {
  writeFileAtomic(path.join(dir, EVALUATION_FILE), JSON.stringify(record, null, 2) + '\n');
}

export async function evaluateCommand(ctx: LoopContext, arg?: unknown, selection?: unknown): Promise<EvaluateResult | undefined> {
  if (!requireTrust('Evaluation')) return undefined;
  const fromCode = isTrainArgs(arg);
  const args: EvaluateArgs = fromCode ? (arg as EvaluateArgs) : {};
  let dir: string | undefined;
  let record: EvaluationRecord | undefined;
  try {
    const volumes = await volumesToTrainOn(ctx, args.volumes, arg, selection, 'Evaluate');
    if (!volumes || volumes.length === 0) return undefined;
    if (!(await saveUnsavedLabels(volumes, fromCode ? 'save' : 'ask', 'Evaluation'))) return undefined;
    await requireLabelFiles(volumes);

    const loop = readLoopSettings(volumes[0]);
    const folds = args.folds ?? loop.evaluationFolds;
    if (!(Number.isInteger(folds) && folds >= 2)) throw new Error(`the number of folds must be an integer ≥ 2, not ${folds}`);
    const records = runRecords(ctx);
    const timingOf = (p: PresetName) => timingOfPreset(records, loop.training, loop.backend, volumes, p, args.settings);
    const preset = args.preset ?? (fromCode ? loop.training.preset : await pickPreset(ctx, loop.training, timingOf));
    if (!preset) return undefined;
    const budget = await budgetFor(ctx, args, fromCode, loop.training, timingOf(preset), folds);
    if (!budget) return undefined;

    const title = volumesTitle(volumes);
    const evalDir = (await newRunDir(volumes, `eval-${title}`, args.name)).fsPath;
    const classNames = await classNamesOf(volumes[0]);
    const unlistedNames = await editorDefaultClassNames(volumes[0]);
    // Every fold's settings, checked before anything starts.
    const foldSettings = Array.from({ length: folds }, (_, fold) =>
      trainSettings({
        ...trainSettingsInput(loop.training, loop.backend, volumes, path.join(evalDir, `fold-${fold + 1}`), { preset, budget, validationFraction: 0, classNames: unlistedNames, extra: args.settings }),
        validation: { fold, folds },
        // Scored on the held-out fold: no early stop on it (the test data would choose the model).
        patience: 0,
        // The fold's held-out IoU is the figure: no refit on it at the end.
        refit: 0,
      }),
    );
    dir = evalDir;
    await vscode.workspace.fs.createDirectory(vscode.Uri.file(evalDir));
    record = newEvaluationRecord({ folds, volumes: foldSettings[0].volumes, preset, classNames });
    writeRecord(evalDir, record);
    ctx.runs.reread();
    ctx.log.info(`evaluating ${title} (${folds} folds) into ${evalDir}`);

    const outcome = await ctx.jobs.run('evaluate', `Evaluating ${title}`, (job) =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `3D U-Net: Evaluating ${title} (${folds}-fold)`, cancellable: true }, async (progress, token) => {
        token.onCancellationRequested(() => job.cancel());
        for (let fold = 0; fold < folds; fold++) {
          if (job.cancelled) return 'cancelled' as const;
          const settings = foldSettings[fold];
          // While a fold trains, the job's folder is the fold's (the Runs view finds its evaluation as the parent).
          job.live = { iteration: 0, smoothedLoss: NaN, etaSeconds: NaN, fold: fold + 1, folds };
          const summary = await trainWithJob(job, settings, progress, { prefix: `fold ${fold + 1}/${folds}: `, from: (100 * fold) / folds, to: (100 * (fold + 1)) / folds });
          // A fold stopped early is not scored: its model is not the one the check is about.
          if (summary.status === 'cancelled') return 'cancelled' as const;
          const run = loadEntry(settings.outDir);
          if (run.kind !== 'run') throw new Error(`fold ${fold + 1}'s run cannot be read: ${run.kind === 'broken' ? run.reason : 'not a run'}`);
          record = withFold(record!, foldResult(fold, path.relative(evalDir, settings.outDir), run.record));
          writeRecord(evalDir, record);
          ctx.runs.reread();
        }
        return 'succeeded' as const;
      }),
      (job) => {
        job.runDir = evalDir;
      },
    );
    record = finishedEvaluation(record, outcome);
    writeRecord(evalDir, record);
    ctx.runs.reread();
    const seconds = (Date.parse(record.finishedAt!) - Date.parse(record.createdAt)) / 1000;
    void vscode.window.showInformationMessage(
      outcome === 'succeeded'
        ? `3D U-Net: ${folds}-fold evaluation of ${title}: mean IoU ${formatIoU(record.meanForegroundIoU)} (${record.results.map((r) => formatIoU(r.meanForegroundIoU)).join(', ')}) in ${formatDuration(seconds)}.`
        : `3D U-Net: the evaluation of ${title} was cancelled after ${record.results.length} of ${folds} folds.`,
    );
    return { dir: evalDir, evaluation: record };
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`evaluate: ${message}`);
    if (dir && record) {
      record = finishedEvaluation(record, 'failed', message);
      writeRecord(dir, record);
      ctx.runs.reread();
      void showFailure('the evaluation failed.', message, ctx.log);
      return { dir, evaluation: record };
    }
    void showCommandError('evaluate', message, ctx.log);
    return undefined;
  }
}
