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
import { describeSlice } from '../../core/planes';
import { plural } from '../../core/words';
import type { PresetName } from '../../protocol/network';
import type { RunStatus } from '../../protocol/run';
import { trainSettings, type TrainSettings, type TrainSettingsInput } from '../../protocol/settings';
import { describeStop, type RunSummary } from '../../protocol/training';
import { showCommandError, showFailure } from '../notices';
import { formatDuration, formatIoU } from '../runs/runPresentation';
import { readLoopSettings, trainSettingsInput } from '../settings';
import { newRunDir, trainWithJob } from '../trainingJob';
import type { LoopContext } from './loopContext';
import { requireTrust } from './trust';
import { almostEmptyWarning, type VolumeAnnotations } from './annotations';
import { budgetFor, pickFraction, pickPreset, readAnnotations, runRecords, timingOfPreset, volumesToTrainOn } from './trainPicks';
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
    // Read while the user answers: the validation pick says what a fraction holds out, and
    // almost empty annotated slices are pointed out before training starts.
    const annotations = fromCode ? Promise.resolve([]) : readAnnotations(volumes);
    const records = runRecords(ctx);
    const timingOf = (p: PresetName) => timingOfPreset(records, defaults, loop.backend, volumes, p, args.settings);
    const preset = args.preset ?? (fromCode ? defaults.preset : await pickPreset(ctx, defaults, timingOf));
    if (!preset) return undefined;
    const budget = await budgetFor(ctx, args, fromCode, defaults, timingOf(preset));
    if (!budget) return undefined;
    const validationFraction = args.validationFraction ?? (fromCode ? defaults.validationFraction : await pickFraction(ctx, defaults, annotations));
    if (validationFraction === undefined) return undefined;
    if (!fromCode && !(await confirmAlmostEmpty(ctx, volumes, await annotations))) return undefined;

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
    void showCommandError('train', message, ctx.log);
    return undefined;
  }
}

/**
 * Asks before training on almost empty annotated slices (a stray click makes a slice an annotated
 * one): train anyway, show the first such slice in the editor (and not train), or cancel.
 */
async function confirmAlmostEmpty(ctx: LoopContext, volumes: readonly vscode.Uri[], annotations: VolumeAnnotations[]): Promise<boolean> {
  const warning = almostEmptyWarning(annotations);
  if (!warning) return true;
  const train = 'Train Anyway';
  const show = 'Show the Slice';
  const answer = await vscode.window.showWarningMessage(warning.message, { modal: true, detail: warning.detail }, train, show);
  if (answer === train) return true;
  if (answer === show) {
    const first = annotations.flatMap((a) => a.almostEmpty)[0];
    const volume = volumes.find((v) => path.basename(v.fsPath) === first.volume) ?? volumes[0];
    const where = `${describeSlice(first.plane, first.index, first.count)}: ${plural(first.ownVoxels, 'labeled voxel')}, almost empty`;
    if (!ctx.editor.revealVoxel(volume, first.voxel, where)) {
      await vscode.commands.executeCommand('vscode.openWith', volume, 'unet3d.volume');
      ctx.editor.revealVoxel(volume, first.voxel, where);
    }
  }
  return false;
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
        ? `3D U-Net: ${title} ${describeStop(summary)} in ${formatDuration(summary.seconds)}: mean IoU ${formatIoU(iou)}.`
        : `3D U-Net: ${title} ${describeStop(summary)}; its best checkpoint was kept (mean IoU ${formatIoU(iou)}).`;
    void vscode.window.showInformationMessage(text, segment, curves).then((answer) => {
      if (answer === segment) void vscode.commands.executeCommand('unet3d.segment', { run: runDir });
      if (answer === curves) void ctx.curves.show(runDir);
    });
    ctx.log.info(`${runName}: ${summary.status}, ${describeStop(summary)}, IoU ${formatIoU(iou)}`);
    return { runDir, status: summary.status, summary };
  } catch (error) {
    ctx.runs.reread();
    const message = (error as Error).message;
    ctx.log.error(`${runName}: failed: ${message}`);
    void showFailure(`${title} failed.`, message, ctx.log);
    return { runDir, status: 'failed', error: message };
  }
}
