/**
 * "3D U-Net: Train" (`unet3d.train`): asks which volumes (the open one, every labeled volume of
 * the workspace, or a chosen set), the preset, the budget and the validation hold-out, each
 * answer remembered for the workspace; saves unsaved labels (or asks); then trains in a worker
 * of its own with a cancellable progress notification and a status-bar item, into a new run
 * folder under the runs folder. Label files are only read.
 *
 * From code or a test: `executeCommand('unet3d.train', { volumes, preset, iterations, ... })`
 * asks nothing and resolves with the result when the run ends. From the explorer: the selected
 * files or folders are the volumes.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { PresetName } from '../../protocol/network';
import type { RunStatus } from '../../protocol/run';
import { trainSettings, type TrainSettings, type TrainSettingsInput } from '../../protocol/settings';
import type { RunSummary } from '../../protocol/training';
import { formatDuration, formatIoU } from '../runs/runPresentation';
import { readLoopSettings, trainSettingsInput } from '../settings';
import { newRunDir, trainWithJob } from '../trainingJob';
import type { LoopContext } from './loopContext';
import { requireTrust } from './trust';
import { budgetFor, pickFraction, pickPreset, volumesToTrainOn } from './trainPicks';
import { editorDefaultClassNames, requireLabelFiles, saveUnsavedLabels, volumesTitle } from './volumes';

/** Arguments for a call from code: whatever is given is not asked. */
export interface TrainArgs {
  /** The volumes (their label files lie beside them). */
  volumes?: (vscode.Uri | string)[];
  preset?: PresetName;
  iterations?: number;
  minutes?: number;
  validationFraction?: number;
  /** Engine settings merged over the defaults (e.g. a tiny network for a test). */
  settings?: Partial<TrainSettingsInput>;
  /** The run folder's name (default: date, time and volume). */
  name?: string;
  /** Unsaved labels: save them (default for calls from code) or train on what is on disk. */
  unsavedLabels?: 'save' | 'ignore';
}

/** How a training ended (what the command resolves with). */
export interface TrainResult {
  runDir: string;
  status: RunStatus;
  summary?: RunSummary;
  error?: string;
}

export function isTrainArgs(value: unknown): value is TrainArgs {
  return typeof value === 'object' && value !== null && !(value instanceof vscode.Uri) && !Array.isArray(value);
}

export async function trainCommand(ctx: LoopContext, arg?: unknown, selection?: unknown): Promise<TrainResult | undefined> {
  if (!requireTrust('Training')) return undefined;
  const args: TrainArgs = isTrainArgs(arg) ? arg : {};
  const fromCode = isTrainArgs(arg);
  try {
    const volumes = await volumesToTrainOn(ctx, args.volumes, arg, selection, 'Train');
    if (!volumes || volumes.length === 0) return undefined;

    const title = volumesTitle(volumes);
    if (!(await saveUnsavedLabels(volumes, args.unsavedLabels ?? (fromCode ? 'save' : 'ask'), 'Training'))) return undefined;
    await requireLabelFiles(volumes);

    const loop = readLoopSettings(volumes[0]);
    const defaults = loop.training;
    const preset = args.preset ?? (fromCode ? defaults.preset : await pickPreset(ctx, defaults));
    if (!preset) return undefined;
    const budget = await budgetFor(ctx, args, fromCode, defaults);
    if (!budget) return undefined;
    const validationFraction = args.validationFraction ?? (fromCode ? defaults.validationFraction : await pickFraction(ctx, defaults));
    if (validationFraction === undefined) return undefined;

    const outDir = (await newRunDir(volumes, title, args.name)).fsPath;
    // Filled and checked here too, so a bad setting is named before a worker starts.
    const settings = trainSettings(
      trainSettingsInput(defaults, loop.backend, volumes, outDir, { preset, budget, validationFraction, classNames: await editorDefaultClassNames(volumes[0]), extra: args.settings }),
    );
    ctx.log.info(`training ${title} into ${outDir}`);
    return await runTrainJob(ctx, `Training ${title}`, settings);
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`train: ${message}`);
    void vscode.window.showErrorMessage(`3D U-Net: cannot train: ${message}`);
    return undefined;
  }
}

/** Runs one training as a job with its progress notification; tells the user how it ended. */
async function runTrainJob(ctx: LoopContext, title: string, settings: TrainSettings): Promise<TrainResult> {
  const runDir = path.resolve(settings.outDir);
  const runName = path.basename(runDir);
  try {
    const summary = await ctx.jobs.run('train', title, (job) =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `3D U-Net: ${title}`, cancellable: true }, (progress, token) => {
        token.onCancellationRequested(() => job.cancel());
        return trainWithJob(job, settings, progress);
      }),
    );
    ctx.runs.reread();
    const iou = summary.best?.meanForegroundIoU;
    const segment = 'Segment';
    const curves = 'Show Curves';
    const text =
      summary.status === 'succeeded'
        ? `3D U-Net: ${title} finished (${summary.stopReason}) after ${summary.iterations} iterations, ${formatDuration(summary.seconds)}: mean IoU ${formatIoU(iou)}.`
        : `3D U-Net: ${title} was cancelled after ${summary.iterations} iterations; its best checkpoint was kept (mean IoU ${formatIoU(iou)}).`;
    void vscode.window.showInformationMessage(text, segment, curves).then((answer) => {
      if (answer === segment) void vscode.commands.executeCommand('unet3d.segment', { run: runDir });
      if (answer === curves) ctx.curves.show(runDir);
    });
    ctx.log.info(`${runName}: ${summary.status} (${summary.stopReason}), ${summary.iterations} iterations, IoU ${formatIoU(iou)}`);
    return { runDir, status: summary.status, summary };
  } catch (error) {
    ctx.runs.reread();
    const message = (error as Error).message;
    ctx.log.error(`${runName}: failed: ${message}`);
    const showLog = 'Show Log';
    void vscode.window.showErrorMessage(`3D U-Net: ${title} failed: ${message.split('\n')[0]}`, showLog).then((a) => a === showLog && ctx.log.show());
    return { runDir, status: 'failed', error: message };
  }
}
