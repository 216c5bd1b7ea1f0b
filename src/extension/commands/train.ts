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
import { trainSettings, type NetworkSettings, type TrainSettings, type TrainSettingsInput } from '../../protocol/settings';
import { describeStop, type RunSummary } from '../../protocol/training';
import { showCommandError, showFailure } from '../notices';
import { bestValidation, formatDuration, formatIoU } from '../runs/runPresentation';
import { readLoopSettings, trainSettingsInput } from '../settings';
import { newRunDir, trainWithJob } from '../trainingJob';
import type { LoopContext } from './loopContext';
import { requireTrust } from './trust';
import { almostEmptyWarning, type VolumeAnnotations } from './annotations';
import { budgetFor, pickFraction, pickPreset, readAnnotations, runRecords, timingOfPreset, volumesToTrainOn } from './trainPicks';
import { editorDefaultClassNames, openVolumes, requireLabelFiles, saveUnsavedLabels, volumesTitle } from './volumes';
import { segmentAfterTraining } from './segment';
import type { Job } from '../workerJobs';
import type { RunEntry } from '../runs/runEntry';
import type { SegmentResult } from '../../protocol/segment';

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
  /**
   * Where to start: 'latest' (the newest compatible run of the same volumes, else from scratch),
   * 'scratch', or a run folder (which must be compatible). Default: the setting unet3d.training.warmStart.
   */
  init?: 'latest' | 'scratch' | string;
  /** Segment the trained volumes that are open in the editor when the run ends (default: the setting unet3d.training.segmentAfter). */
  segmentAfter?: boolean;
}

/** How a training ended (what the command resolves with). */
export interface TrainResult {
  runDir: string;
  status: RunStatus;
  summary?: RunSummary;
  error?: string;
  /** The run it continued from (warm start), if any. */
  parent?: string;
  /** The segmentations written right after training (train then segment). */
  segmented?: SegmentResult[];
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
    const input = trainSettingsInput(defaults, loop.backend, volumes, outDir, { preset, budget, validationFraction, classNames: await editorDefaultClassNames(volumes[0]), extra: args.settings });
    const start = await startFrom(ctx, args, fromCode, volumes, input.network ?? { preset }, loop.warmStart);
    if (start === null) return undefined;
    // Filled and checked here too, so a bad setting is named before a worker starts.
    const settings = trainSettings({ ...input, ...start });
    ctx.log.info(`training ${title} into ${outDir}${start.init ? ` from ${start.init}` : ''}`);
    // Train then segment: the user's next step is looking at the result. The trained volumes open
    // in the editor when the run ends are segmented in the training's worker, its backend warm.
    const segmentAfter = args.segmentAfter ?? loop.segmentAfter;
    const then = async (job: Job): Promise<SegmentResult[] | undefined> => {
      const open = openVolumes().filter((uri) => volumes.some((v) => v.toString() === uri.toString()));
      return open.length > 0 ? (await segmentAfterTraining(ctx, job, outDir, open)).results : undefined;
    };
    return await runTrainJob(ctx, `Training ${title}`, settings, loop.preview, segmentAfter ? then : undefined);
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`train: ${message}`);
    void showCommandError('train', message, ctx.log);
    return undefined;
  }
}

/** The newest run of exactly these volumes with the same network that has a checkpoint: what Train continues from. */
export function latestRunOf(ctx: LoopContext, volumes: readonly vscode.Uri[], network: Partial<NetworkSettings>): RunEntry | undefined {
  const wanted = volumes.map((v) => v.fsPath).sort().join('\n');
  let latest: RunEntry | undefined;
  for (const { entry } of ctx.runs.all) {
    if (entry.kind !== 'run') continue;
    const r = entry.record;
    if (!['succeeded', 'cancelled', 'interrupted'].includes(r.status) || !(r.checkpoints.best ?? r.checkpoints.last)) continue;
    if (r.settings.volumes.map((v) => path.resolve(String(v.image))).sort().join('\n') !== wanted) continue;
    const n = r.settings.network;
    if (!n || (['preset', 'levels', 'baseFilters', 'padding', 'batchNorm'] as const).some((k) => n[k] !== network[k])) continue;
    if (!latest || entry.createdMs > latest.createdMs) latest = entry;
  }
  return latest;
}

/**
 * Where a training starts: from the newest compatible run (by default; the engine trains from
 * scratch and says why if that run turns out not to fit), from scratch, or from a run given by
 * code. Null when the user dismisses the question.
 */
async function startFrom(
  ctx: LoopContext,
  args: TrainArgs,
  fromCode: boolean,
  volumes: readonly vscode.Uri[],
  network: Partial<NetworkSettings>,
  warmStart: boolean,
): Promise<Pick<TrainSettingsInput, 'init' | 'initOptional'> | null> {
  if (args.init === 'scratch') return {};
  if (args.init !== undefined && args.init !== 'latest') return { init: path.resolve(args.init) };
  const latest = latestRunOf(ctx, volumes, network);
  if (!latest) return {};
  if (fromCode) return args.init === 'latest' || warmStart ? { init: latest.dir, initOptional: true } : {};
  const best = bestValidation(latest.record);
  const continueChoice = {
    value: 'continue' as const,
    label: `$(history) Continue from ${latest.name}`,
    description: best ? `IoU ${formatIoU(best.meanForegroundIoU)}` : latest.record.status,
    detail: 'Start from its network and learn the labels as they are now: a correction costs seconds to minutes',
  };
  const scratchChoice = { value: 'scratch' as const, label: '$(circle-large-outline) From scratch', detail: 'Random weights: the whole budget to learn everything again' };
  const picked = await vscode.window.showQuickPick(warmStart ? [continueChoice, scratchChoice] : [scratchChoice, continueChoice], {
    title: '3D U-Net: Train — start from',
    ignoreFocusOut: true,
  });
  if (!picked) return null;
  return picked.value === 'continue' ? { init: latest.dir, initOptional: true } : {};
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

/**
 * Runs one training as a job with its progress notification; tells the user how it ended. `then`
 * runs in the same job (its worker) after a training that succeeded: train then segment.
 */
async function runTrainJob(ctx: LoopContext, title: string, settings: TrainSettings, preview = true, then?: (job: Job) => Promise<SegmentResult[] | undefined>): Promise<TrainResult> {
  const runDir = path.resolve(settings.outDir);
  const runName = path.basename(runDir);
  try {
    let segmented: SegmentResult[] | undefined;
    let announced = false;
    const summary = await ctx.jobs.run('train', title, async (job) => {
      const trained = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `3D U-Net: ${title}`, cancellable: true }, (progress, token) => {
        token.onCancellationRequested(() => job.cancel());
        return trainWithJob(job, settings, progress, {}, preview ? ctx.editor : undefined);
      });
      if (then && trained.status === 'succeeded' && !job.cancelled) {
        // `then` rereads the runs first (segmentAfterTraining): the Runs view shows the run then.
        announceTraining(ctx, title, runDir, trained);
        announced = true;
        try {
          segmented = await then(job);
        } catch (error) {
          const message = (error as Error).message;
          ctx.log.error(`${runName}: segmenting after training failed: ${message}`);
          void showFailure(`segmenting with ${runName} failed.`, message, ctx.log);
        }
      }
      return trained;
    });
    ctx.runs.reread();
    if (!announced) announceTraining(ctx, title, runDir, summary);
    return { runDir, status: summary.status, summary, ...(settings.init ? { parent: settings.init } : {}), ...(segmented ? { segmented } : {}) };
  } catch (error) {
    ctx.runs.reread();
    const message = (error as Error).message;
    ctx.log.error(`${runName}: failed: ${message}`);
    void showFailure(`${title} failed.`, message, ctx.log);
    return { runDir, status: 'failed', error: message };
  }
}

/** Tells the user how a training ended (with Segment and Show Curves to pick), and logs it. */
function announceTraining(ctx: LoopContext, title: string, runDir: string, summary: RunSummary): void {
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
  ctx.log.info(`${path.basename(runDir)}: ${summary.status}, ${describeStop(summary)}, IoU ${formatIoU(iou)}`);
}
