/**
 * A training as the extension runs it: a new run folder under the runs folder, and the worker's
 * events turned into the job's live state (the Runs view, the status bar, the curves) and a
 * progress notification.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrainSettings } from '../protocol/settings';
import type { RunSummary, TrainEvent } from '../protocol/training';
import { runFolderName } from './commands/budget';
import { exists } from './volumeEditor/labelFiles';
import { formatDuration, formatIoU } from './runs/runPresentation';
import { runsFolderOf } from './settings';
import type { Job } from './workerJobs';

/** A new folder under the runs folder of the volumes' workspace folder (made unique). */
export async function newRunDir(volumes: readonly vscode.Uri[], title: string, name?: string): Promise<vscode.Uri> {
  const folder = vscode.workspace.getWorkspaceFolder(volumes[0]) ?? vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('open a folder first: runs are kept in the workspace (setting unet3d.runsFolder)');
  const runs = runsFolderOf(folder);
  await vscode.workspace.fs.createDirectory(runs);
  const base = name ?? runFolderName(title);
  for (let n = 1; ; n++) {
    const candidate = vscode.Uri.joinPath(runs, n === 1 ? base : `${base}-${n}`);
    if (!(await exists(candidate))) return candidate;
  }
}

/** One line on a training's progress: "iteration 120/1000 · loss 0.2310 · IoU 0.712 · 3 min 10 s left". */
function progressLine(e: TrainEvent & { type: 'progress' }): string {
  const best = e.bestValidation?.meanForegroundIoU;
  return (
    `iteration ${e.iteration}${e.totalIterations ? `/${e.totalIterations}` : ''} · loss ${e.smoothedLoss.toFixed(4)}` +
    `${best != null ? ` · IoU ${formatIoU(best)}` : ''}${Number.isFinite(e.etaSeconds) ? ` · ${formatDuration(e.etaSeconds)} left` : ''}`
  );
}

/**
 * Trains `settings` with the job's worker, reporting to `progress` and to the job (the Runs
 * view, the status bar, the curves). Resolves with the summary; rejects when the run fails.
 */
export async function trainWithJob(
  job: Job,
  settings: TrainSettings,
  progress: vscode.Progress<{ message?: string; increment?: number }>,
  /** A prefix for the progress messages, and the share of the progress bar (percent) this training fills. */
  part: { prefix?: string; from?: number; to?: number } = {},
): Promise<RunSummary> {
  const { prefix = '', from = 0, to = 100 } = part;
  job.runDir = path.resolve(settings.outDir);
  job.curves = { loss: [], validation: [], totalIterations: settings.iterations };
  let reported = from;
  const handle = job.client.train(settings, (event) => {
    switch (event.type) {
      case 'started':
        progress.report({ message: `${prefix}${event.backend.active}, ${event.parameters.toLocaleString('en-US')} parameters — first iterations…` });
        break;
      case 'progress': {
        job.live = { ...job.live, iteration: event.iteration, totalIterations: event.totalIterations, smoothedLoss: event.smoothedLoss, etaSeconds: event.etaSeconds, bestIoU: event.bestValidation?.meanForegroundIoU };
        job.curves?.loss.push({ iteration: event.iteration, loss: event.smoothedLoss });
        job.status = progressLine(event);
        const fraction = event.totalIterations ? event.iteration / event.totalIterations : event.elapsedSeconds / Math.max(1e-9, event.elapsedSeconds + event.etaSeconds);
        const percent = from + Math.min(1, fraction) * (to - from);
        progress.report({ message: prefix + job.status, increment: Math.max(0, percent - reported) });
        reported = Math.max(reported, percent);
        job.changed();
        break;
      }
      case 'validation':
        job.curves?.validation.push(event.result);
        job.changed();
        break;
      case 'checkpoint':
      case 'finished':
        break;
    }
  });
  job.onCancel(() => {
    handle.cancel();
    progress.report({ message: `${prefix}stopping after this step…` });
  });
  return handle.done;
}

