/**
 * "3D U-Net: Segment" (`unet3d.segment`): segments volumes with a run (the best by default, or
 * one chosen) in a worker of its own, tile by tile with a cancellable progress notification.
 * Each result is written beside its volume as `NAME.seg.nii.gz` (and `NAME.seg.nrrd` for NRRD
 * sources; see src/engine/segmentFile.ts) and shown at once as the prediction overlay of any
 * open editor of that volume. The per-class probabilities go into the run folder
 * (`segmentations/`), listed in its `segmentations.json`, for Suggest Next Slice.
 *
 * Targets: the volume of the editor (editor title), the explorer's selection (files or
 * folders), `{ volumes }` from code, else the open volume or a choice of files or a folder.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../../core/atomicWrite';
import { makeFolders } from '../../core/folders';
import { volumeBaseName } from '../../core/labels';
import { plural } from '../../core/words';
import type { SegmentResult } from '../../protocol/segment';
import { readSegmentations, SEGMENTATIONS_FILE, serializeSegmentations, type RunEntry, type SegmentationRecord } from '../runs/runEntry';
import { bestValidation, formatDuration, formatIoU } from '../runs/runPresentation';
import { showCommandError, showFailure } from '../notices';
import { readLoopSettings } from '../settings';
import type { LoopContext } from './loopContext';
import type { Job } from '../workerJobs';
import { requireTrust } from './trust';
import { activeVolume, displayPath, fileName, isVolumeFile, labelsUriOf, predictionUriOf, volumesOfSelection, workspaceVolumes } from './volumes';

export interface SegmentArgs {
  /** The run folder (default: the best run). */
  run?: string;
  /** The volumes (default: asked, the open one first). */
  volumes?: (vscode.Uri | string)[];
  /** Write the class probabilities (default: the setting unet3d.segment.probabilities). */
  probabilities?: boolean;
}

export interface SegmentCommandResult {
  run: string;
  results: SegmentResult[];
  failed: { volume: string; error: string }[];
  cancelled: boolean;
}

const PROBABILITIES_FOLDER = 'segmentations';

function isSegmentArgs(value: unknown): value is SegmentArgs {
  return typeof value === 'object' && value !== null && !(value instanceof vscode.Uri) && !Array.isArray(value) && !('row' in value);
}

/** Where a volume's probabilities go in the run folder: its base name and a hash of its path (two volumes may share a name). */
export function probabilitiesPath(runDir: string, volume: string): string {
  const hash = createHash('sha256').update(path.resolve(volume)).digest('hex').slice(0, 8);
  return path.join(runDir, PROBABILITIES_FOLDER, `${volumeBaseName(path.basename(volume))}-${hash}.prob.nii.gz`);
}

/** Adds a segmentation to the run's segmentations.json (replacing an older one of the same output). */
export function recordSegmentation(runDir: string, result: SegmentResult, volume: string, seconds: number): SegmentationRecord {
  const relative = (file: string | undefined) => (file && path.resolve(file).startsWith(path.resolve(runDir) + path.sep) ? path.relative(runDir, file) : file);
  const record: SegmentationRecord = {
    volume: path.resolve(volume),
    output: result.out,
    ...(result.segNrrd ? { segNrrd: result.segNrrd } : {}),
    ...(result.probabilities ? { probabilities: relative(result.probabilities) } : {}),
    createdAt: new Date().toISOString(),
    seconds,
  };
  const others = readSegmentations(runDir).filter((s) => s.output !== result.out).map((s) => ({ ...s, probabilities: relative(s.probabilities) }));
  writeFileAtomic(path.join(runDir, SEGMENTATIONS_FILE), serializeSegmentations([...others, record]));
  return record;
}

function runDescription(run: RunEntry): string {
  const iou = bestValidation(run.record)?.meanForegroundIoU;
  return `IoU ${formatIoU(iou)} · ${run.record.settings.network?.preset ?? '?'} · ${run.record.status}`;
}

async function pickRun(ctx: LoopContext, interactive: boolean): Promise<RunEntry | undefined> {
  const runs = ctx.runs.runsWithModel.filter((r) => r.record.status !== 'running' || !ctx.jobs.jobOf(r.dir));
  const best = ctx.runs.bestRun;
  if (runs.length === 0) {
    void vscode.window.showWarningMessage('3D U-Net: there is no trained run yet. Train first (3D U-Net: Train).');
    return undefined;
  }
  if (!interactive || runs.length === 1) return best ?? runs[0];
  const ordered = best ? [best, ...runs.filter((r) => r.dir !== best.dir)] : runs;
  const picked = await vscode.window.showQuickPick(
    ordered.map((run) => ({
      run,
      label: run.name,
      description: `${run === best ? 'best · ' : ''}${runDescription(run)}`,
      detail: `learned from ${run.record.settings.volumes.map((v) => path.basename(String(v.image))).join(', ')}`,
    })),
    { title: '3D U-Net: Segment — with which run?', ignoreFocusOut: true },
  );
  return picked?.run;
}

async function pickTargets(): Promise<vscode.Uri[] | undefined> {
  const open = activeVolume();
  type How = 'open' | 'files' | 'folder';
  const items: (vscode.QuickPickItem & { how: How })[] = [];
  if (open) items.push({ how: 'open', label: `$(file) ${fileName(open)}`, detail: 'The open volume' });
  items.push({ how: 'files', label: '$(checklist) Choose volumes…', detail: 'Volumes of this workspace' });
  items.push({ how: 'folder', label: '$(folder) Every volume in a folder…' });
  const how = items.length === 1 ? items[0] : await vscode.window.showQuickPick(items, { title: '3D U-Net: Segment — which volumes?', ignoreFocusOut: true });
  if (!how) return undefined;
  if (how.how === 'open') return open ? [open] : undefined;
  if (how.how === 'folder') {
    const folder = await vscode.window.showOpenDialog({ canSelectFiles: false, canSelectFolders: true, canSelectMany: false, openLabel: 'Segment Volumes in Folder' });
    if (!folder?.[0]) return undefined;
    return workspaceVolumes(folder[0]);
  }
  const candidates = await workspaceVolumes();
  const picked = await vscode.window.showQuickPick(
    candidates.map((uri) => ({ uri, label: fileName(uri), description: displayPath(uri) })),
    { title: '3D U-Net: Segment — choose volumes', canPickMany: true, ignoreFocusOut: true },
  );
  return picked?.map((p) => p.uri);
}

export async function segmentCommand(ctx: LoopContext, arg?: unknown, selection?: unknown): Promise<SegmentCommandResult | undefined> {
  if (!requireTrust('Segmenting')) return undefined;
  const args: SegmentArgs = isSegmentArgs(arg) ? arg : {};
  try {
    // Targets first when they come with the call (explorer, editor title, code).
    let volumes: vscode.Uri[] | undefined;
    if (args.volumes) volumes = args.volumes.map((v) => (typeof v === 'string' ? vscode.Uri.file(path.resolve(v)) : v));
    else if (arg instanceof vscode.Uri) {
      const selected = Array.isArray(selection) && selection.every((s) => s instanceof vscode.Uri) ? (selection as vscode.Uri[]) : [arg];
      volumes = await volumesOfSelection(selected);
      if (volumes.length === 0) throw new Error('the selection holds no volume (.nii, .nii.gz, .nrrd, .nhdr)');
    }
    const fromCode = isSegmentArgs(arg) && (args.run !== undefined || args.volumes !== undefined);
    let run: RunEntry | undefined;
    if (args.run) {
      const entry = ctx.runs.find(args.run) ?? (ctx.runs.reread(), ctx.runs.find(args.run));
      if (entry?.kind !== 'run') throw new Error(`${args.run} is not a training run of this workspace${entry?.kind === 'broken' ? ` (${entry.reason})` : ''}`);
      if (!(entry.record.checkpoints.best ?? entry.record.checkpoints.last)) throw new Error(`the run ${entry.name} has no model yet (${entry.record.status})`);
      run = entry;
    } else run = await pickRun(ctx, !fromCode && !(arg instanceof vscode.Uri));
    if (!run) return undefined;
    // No targets came with the call (the palette, the Runs view's Segment with This Run, the
    // Segment button after training): ask, the open volume first.
    volumes ??= await pickTargets();
    if (!volumes || volumes.length === 0) return undefined;
    const bad = volumes.filter((v) => !isVolumeFile(fileName(v)));
    if (bad.length) throw new Error(`${bad.map(fileName).join(', ')} ${bad.length === 1 ? 'is' : 'are'} not a volume to segment`);
    const probabilities = args.probabilities ?? readLoopSettings(volumes[0]).segmentProbabilities;
    return await runSegmentJob(ctx, run, volumes, probabilities);
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`segment: ${message}`);
    void showCommandError('segment', message, ctx.log);
    return undefined;
  }
}

const segmentingTitle = (volumes: readonly vscode.Uri[]) => (volumes.length === 1 ? `Segmenting ${fileName(volumes[0])}` : `Segmenting ${volumes.length} volumes`);

async function runSegmentJob(ctx: LoopContext, run: RunEntry, volumes: vscode.Uri[], probabilities: boolean): Promise<SegmentCommandResult> {
  const outcome = await ctx.jobs.run('segment', segmentingTitle(volumes), (job) => segmentInJob(ctx, job, run, volumes, probabilities));
  ctx.runs.reread();
  report(outcome, run, volumes, ctx.log);
  return outcome;
}

/**
 * Train then segment: the run just trained segments `volumes` in its training's worker, whose
 * backend is up and warm (no second worker to start); reported as Segment reports.
 */
export async function segmentAfterTraining(ctx: LoopContext, job: Job, runDir: string, volumes: vscode.Uri[]): Promise<SegmentCommandResult> {
  ctx.runs.reread();
  const run = ctx.runs.find(runDir);
  if (run?.kind !== 'run') throw new Error(`${runDir} is not a training run of this workspace${run?.kind === 'broken' ? ` (${run.reason})` : ''}`);
  const outcome = await segmentInJob(ctx, job, run, volumes, readLoopSettings(volumes[0]).segmentProbabilities);
  ctx.runs.reread();
  report(outcome, run, volumes, ctx.log);
  return outcome;
}

/** Segments `volumes` with `run` in `job`'s worker, one after the other, with a cancellable progress notification. */
async function segmentInJob(ctx: LoopContext, job: Job, run: RunEntry, volumes: vscode.Uri[], probabilities: boolean): Promise<SegmentCommandResult> {
  const outcome: SegmentCommandResult = { run: run.dir, results: [], failed: [], cancelled: false };
  const title = segmentingTitle(volumes);
  if (probabilities) makeFolders(path.join(run.dir, PROBABILITIES_FOLDER));
  const backend = readLoopSettings(volumes[0]).backend;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `3D U-Net: ${title} with ${run.name}`, cancellable: true }, async (progress, token) => {
    token.onCancellationRequested(() => job.cancel());
    for (const [index, volume] of volumes.entries()) {
      if (job.cancelled) break;
      const name = fileName(volume);
      const prefix = volumes.length > 1 ? `${name} (${index + 1}/${volumes.length}): ` : '';
      const started = Date.now();
      let reported = 0;
      // A run with annotation channels reads the volume's own (saved) annotations.
      const labelsFile = labelsUriOf(volume).fsPath;
      const labels = run.record.settings.annotationChannels === true && fs.existsSync(labelsFile) ? labelsFile : undefined;
      const handle = job.client.segment(
        { runDir: run.dir, image: volume.fsPath, ...(labels ? { labels } : {}), ...(probabilities ? { probabilities: probabilitiesPath(run.dir, volume.fsPath) } : {}), backend },
        (event) => {
          if (event.type === 'segmentStarted') {
            job.status = `${prefix}${plural(event.info.tiles, 'tile')} on ${event.info.backend.active}`;
            progress.report({ message: job.status });
          } else {
            const p = event.progress;
            job.status = `${prefix}tile ${p.done}/${p.total}${Number.isFinite(p.etaSeconds) ? ` · ${formatDuration(p.etaSeconds)} left` : ''}`;
            const percent = ((index + p.done / p.total) / volumes.length) * 100;
            progress.report({ message: job.status, increment: Math.max(0, percent - reported) });
            reported = Math.max(reported, percent);
          }
          job.changed();
        },
      );
      const stop = () => handle.cancel();
      job.onCancel(stop);
      try {
        const result = await handle.done;
        outcome.results.push(result);
        recordSegmentation(run.dir, result, volume.fsPath, (Date.now() - started) / 1000);
        ctx.log.info(`${name}: segmented with ${run.name} in ${result.seconds.toFixed(1)} s (${plural(result.tiles, 'tile')}, ${result.backend}) → ${result.out}`);
        // The editor also reloads on the file's change; asking at once shows it without waiting for the watcher.
        await ctx.editor.showPrediction(volume, vscode.Uri.file(result.out)).catch((error: unknown) => {
          ctx.log.warn(`${name}: the prediction is not shown: ${(error as Error).message}`);
          return false;
        });
      } catch (error) {
        if (job.cancelled) break;
        const message = (error as Error).message;
        outcome.failed.push({ volume: volume.fsPath, error: message });
        ctx.log.error(`${name}: segmentation failed: ${message}`);
        if (job.client.isExited) break;
      }
    }
    outcome.cancelled = job.cancelled;
  });
  return outcome;
}

function report(outcome: SegmentCommandResult, run: RunEntry, volumes: vscode.Uri[], log: vscode.LogOutputChannel): void {
  const done = outcome.results.length;
  if (outcome.failed.length) {
    const first = outcome.failed[0];
    const more = outcome.failed.length > 1 ? ` (and ${plural(outcome.failed.length - 1, 'more volume', 'more volumes')})` : '';
    void showFailure(`segmenting ${path.basename(first.volume)} failed${more}.`, outcome.failed.map((f) => `${path.basename(f.volume)}: ${f.error}`).join('\n'), log);
  }
  if (outcome.cancelled) {
    void vscode.window.showInformationMessage(`3D U-Net: segmentation cancelled after ${done} of ${plural(volumes.length, 'volume')}.`);
    return;
  }
  if (done === 0) return;
  const open = 'Open';
  const suggest = 'Suggest Next Slice';
  const first = outcome.results[0];
  const text =
    done === 1
      ? `3D U-Net: ${path.basename(first.out)} written with ${run.name} in ${formatDuration(first.seconds)}.`
      : `3D U-Net: ${done} volumes segmented with ${run.name}.`;
  const firstVolume = volumes.find((v) => predictionUriOf(v).fsPath === first.out) ?? volumes[0];
  void vscode.window.showInformationMessage(text, open, ...(first.probabilities ? [suggest] : [])).then((answer) => {
    if (answer === open) void vscode.commands.executeCommand('vscode.openWith', firstVolume, 'unet3d.volume');
    if (answer === suggest) void vscode.commands.executeCommand('unet3d.suggestNextSlice');
  });
}
