/**
 * A training as the extension runs it: a new run folder under the runs folder, and the worker's
 * events turned into the job's live state (the Runs view, the status bar, the curves) and a
 * progress notification.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { TrainSettings } from '../protocol/settings';
import type { Vec3 } from '../core/geometry';
import type { RunSummary, TrainEvent, TrainPreviewEvent } from '../protocol/training';
import type { PreviewPlaneData } from '../protocol/webview';
import { activeVolume } from './commands/volumes';
import type { VolumeEditorApi } from './volumeEditor/register';
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
  /** Show the network's live preview in the volume editor, over the training volumes open there. */
  preview?: VolumeEditorApi,
): Promise<RunSummary> {
  const { prefix = '', from = 0, to = 100 } = part;
  job.runDir = path.resolve(settings.outDir);
  const live = preview ? new LivePreview(preview, settings, path.basename(job.runDir)) : undefined;
  job.curves = { loss: [], validation: [], totalIterations: settings.iterations };
  let reported = from;
  const handle = job.client.train(settings, (event) => {
    switch (event.type) {
      case 'started':
        progress.report({
          message: `${prefix}${event.backend.active}, ${event.parameters.toLocaleString('en-US')} parameters${event.parent ? `, continuing from ${path.basename(event.parent.runDir)}` : ''} — first iterations…`,
        });
        live?.start((target) => handle.preview(target));
        break;
      case 'preview':
        live?.show(event);
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
  try {
    return await handle.done;
  } finally {
    live?.end();
  }
}

/**
 * A training's live preview in the volume editor: the training volume open there (the one in
 * front first) asks for the planes through its crosshair, and moving the crosshair moves them.
 */
class LivePreview {
  private volume: vscode.Uri | undefined;
  private listener: vscode.Disposable | undefined;

  constructor(
    private readonly editor: VolumeEditorApi,
    private readonly settings: TrainSettings,
    private readonly runName: string,
  ) {}

  private trained(uri: vscode.Uri): boolean {
    return this.settings.volumes.some((v) => path.resolve(v.image) === uri.fsPath);
  }

  start(request: (target: { image: string; voxel: Vec3 } | null) => void): void {
    const open = this.settings.volumes.map((v) => vscode.Uri.file(path.resolve(v.image))).filter((uri) => this.editor.crosshairOf(uri));
    const front = activeVolume();
    this.volume = open.find((uri) => front && uri.toString() === front.toString()) ?? open[0];
    if (this.volume) request({ image: this.volume.fsPath, voxel: this.editor.crosshairOf(this.volume)! });
    this.listener = this.editor.onDidMoveCrosshair(({ volume, voxel }) => {
      if (!this.trained(volume)) return;
      if (this.volume && this.volume.toString() !== volume.toString()) this.editor.showTrainingPreview(this.volume, null);
      this.volume = volume;
      request({ image: volume.fsPath, voxel });
    });
  }

  show(event: TrainPreviewEvent): void {
    const planes: PreviewPlaneData[] = event.planes.map((p) => ({
      axis: p.axis,
      index: p.index,
      width: p.width,
      height: p.height,
      // An exact-size buffer: a view would carry its whole backing store across the channel.
      labels: p.labels.slice().buffer as ArrayBuffer,
      labelType: p.labels instanceof Uint16Array ? 'uint16' : 'uint8',
    }));
    this.editor.showTrainingPreview(vscode.Uri.file(event.image), { run: this.runName, iteration: event.iteration, planes });
  }

  end(): void {
    this.listener?.dispose();
    if (this.volume) this.editor.showTrainingPreview(this.volume, null);
  }
}

