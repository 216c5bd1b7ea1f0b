/**
 * "3D U-Net: Suggest Next Slice" (`unet3d.suggestNextSlice`): after a segmentation with
 * probabilities, moves the volume editor's crosshair to the slice of each axis where the model's
 * uncertainty can teach most (the entropy of its class probabilities near what it predicts as
 * foreground, away from the volume's rim; slices that already carry labels left out), so that
 * the user's next stroke teaches the model most. Slices are numbered from 1, as the panes do.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Vec3 } from '../../core/geometry';
import { describeSlice, planeOfAxis, type PlaneName } from '../../core/planes';
import { showCommandError } from '../notices';
import type { SegmentationRecord } from '../runs/runEntry';
import type { LoopContext } from './loopContext';
import { suggestionMessage, type SuggestedSlice } from '../../core/sliceEntropy';
import { runSuggestThread } from '../suggest/runSuggestThread';
import { requireTrust } from './trust';
import { activeVolume, fileName, labelsUriOf } from './volumes';

export interface SuggestResult {
  volume: string;
  /** The probability map used. */
  probabilities: string;
  /** One per axis (x, y, z) where there is something to teach: the slice (`index` from 0), its plane, its number as the pane shows it (from 1) and the slices along the axis. */
  slices: (SuggestedSlice & { plane: PlaneName; number: number; count: number })[];
  /** Where the crosshair was put (i, j, k). */
  voxel: Vec3;
}

/** The newest segmentation of `volume` (any run) whose probability map exists (checked without blocking the host). */
async function latestSegmentation(ctx: LoopContext, volume: string): Promise<SegmentationRecord | undefined> {
  const candidates: SegmentationRecord[] = [];
  for (const { entry } of ctx.runs.all) {
    const runs = entry.kind === 'run' ? [entry] : entry.kind === 'evaluation' ? entry.folds : [];
    for (const run of runs) {
      if (run.kind !== 'run') continue;
      for (const s of run.segmentations) if (s.volume === volume && s.probabilities) candidates.push(s);
    }
  }
  candidates.sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt));
  for (const s of candidates) {
    if (await fs.promises.stat(s.probabilities!).then((st) => st.isFile(), () => false)) return s;
  }
  return undefined;
}

export async function suggestNextSliceCommand(ctx: LoopContext, arg?: unknown): Promise<SuggestResult | undefined> {
  // The run records of an untrusted workspace name the probability files to read: any file.
  if (!requireTrust('Suggest Next Slice', "It reads the class probabilities that this workspace's run records point to")) return undefined;
  const volume = arg instanceof vscode.Uri ? arg : typeof arg === 'string' ? vscode.Uri.file(path.resolve(arg)) : activeVolume();
  if (!volume) {
    void vscode.window.showInformationMessage('3D U-Net: open a volume in the volume editor first; Suggest Next Slice moves its crosshair.');
    return undefined;
  }
  ctx.runs.reread();
  const segmentation = await latestSegmentation(ctx, volume.fsPath);
  if (!segmentation?.probabilities) {
    const segment = 'Segment';
    void vscode.window
      .showInformationMessage(
        `3D U-Net: segment ${fileName(volume)} first. Suggest Next Slice reads the model's class probabilities, which Segment writes (setting unet3d.segment.probabilities).`,
        segment,
      )
      .then((a) => a === segment && vscode.commands.executeCommand('unet3d.segment', { volumes: [volume] }));
    return undefined;
  }
  try {
    // Read and scored on a worker thread: a large map takes seconds to inflate and score.
    const labelsFile = labelsUriOf(volume).fsPath;
    const scored = await runSuggestThread({ probabilities: segmentation.probabilities, labels: labelsFile });
    const { dims, affine } = scored;
    const slices = scored.slices.map((s) => ({ ...s, plane: planeOfAxis(affine, s.axis), number: s.index + 1, count: dims[s.axis] }));
    if (slices.length === 0) {
      void vscode.window.showInformationMessage(`3D U-Net: every slice of ${fileName(volume)} where the model is unsure carries labels already.`);
      return undefined;
    }
    const voxel = [0, 1, 2].map((a) => slices.find((s) => s.axis === a)?.index ?? Math.floor(dims[a] / 2)) as Vec3;
    const top = slices.reduce((a, b) => (b.entropy > a.entropy ? b : a));
    const message = suggestionMessage(slices, top, scored.foreground);
    const shown = ctx.editor.revealVoxel(volume, voxel, message);
    if (!shown) {
      await vscode.commands.executeCommand('vscode.openWith', volume, 'unet3d.volume');
      ctx.editor.revealVoxel(volume, voxel, message);
    }
    void vscode.window.showInformationMessage(`3D U-Net: ${message}`);
    ctx.log.info(`${fileName(volume)}: suggested ${slices.map((s) => `${describeSlice(s.plane, s.index, s.count)} (${s.entropy.toFixed(2)} bits)`).join(', ')} from ${segmentation.probabilities}`);
    return { volume: volume.fsPath, probabilities: segmentation.probabilities, slices, voxel };
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`suggest next slice: ${message}`);
    void showCommandError('suggest a slice', message, ctx.log);
    return undefined;
  }
}
