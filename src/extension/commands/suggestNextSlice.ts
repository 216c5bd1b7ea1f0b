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
import { readVolumeFile } from '../../core/readVolume';
import { showCommandError } from '../notices';
import type { SegmentationRecord } from '../runs/runEntry';
import type { LoopContext } from './loopContext';
import { annotatedSliceSets, bestTeachingSlices, suggestionMessage, teachingScores, type SliceScores, type SuggestedSlice } from '../../core/sliceEntropy';
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

/** Scores already computed, by probability file (recomputed when the file changes). */
const cache = new Map<string, { mtimeMs: number; scores: SliceScores; dims: Vec3; affine: number[][] }>();

/** The newest segmentation of `volume` (any run) whose probability map exists. */
function latestSegmentation(ctx: LoopContext, volume: string): SegmentationRecord | undefined {
  let latest: SegmentationRecord | undefined;
  for (const { entry } of ctx.runs.all) {
    const runs = entry.kind === 'run' ? [entry] : entry.kind === 'evaluation' ? entry.folds : [];
    for (const run of runs) {
      if (run.kind !== 'run') continue;
      for (const s of run.segmentations) {
        if (s.volume !== volume || !s.probabilities || !fs.existsSync(s.probabilities)) continue;
        if (!latest || Date.parse(s.createdAt) > Date.parse(latest.createdAt)) latest = s;
      }
    }
  }
  return latest;
}

function scoresOf(file: string): { scores: SliceScores; dims: Vec3; affine: number[][] } {
  const mtimeMs = fs.statSync(file).mtimeMs;
  const known = cache.get(file);
  if (known && known.mtimeMs === mtimeMs) return known;
  const map = readVolumeFile(file, { allFrames: true });
  const data = map.allFrames ?? map.data;
  if (!(data instanceof Uint8Array)) throw new Error(`${path.basename(file)} is not a uint8 probability map`);
  const computed = { mtimeMs, scores: teachingScores(data, map.dims, map.frames, map.spacing), dims: map.dims, affine: map.affine };
  cache.set(file, computed);
  return computed;
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
  const segmentation = latestSegmentation(ctx, volume.fsPath);
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
    const { scores, dims, affine } = scoresOf(segmentation.probabilities);
    let exclude: Set<number>[] | undefined;
    const labelsFile = labelsUriOf(volume).fsPath;
    if (fs.existsSync(labelsFile)) {
      const labels = readVolumeFile(labelsFile);
      if (labels.dims.every((n, a) => n === dims[a]) && (labels.data instanceof Uint8Array || labels.data instanceof Uint16Array)) {
        exclude = annotatedSliceSets(labels.data, dims);
      }
    }
    const slices = bestTeachingSlices(scores, exclude).map((s) => ({ ...s, plane: planeOfAxis(affine, s.axis), number: s.index + 1, count: dims[s.axis] }));
    if (slices.length === 0) {
      void vscode.window.showInformationMessage(`3D U-Net: every slice of ${fileName(volume)} where the model is unsure carries labels already.`);
      return undefined;
    }
    const voxel = [0, 1, 2].map((a) => slices.find((s) => s.axis === a)?.index ?? Math.floor(dims[a] / 2)) as Vec3;
    const top = slices.reduce((a, b) => (b.entropy > a.entropy ? b : a));
    const message = suggestionMessage(slices, top, scores.foreground);
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
