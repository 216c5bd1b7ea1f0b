/**
 * "3D U-Net: Suggest Next Slice" (`unet3d.suggestNextSlice`): after a segmentation with
 * probabilities, moves the volume editor's crosshair to the slice of each axis where the model is
 * least certain (highest mean entropy of its class probabilities, slices that already carry
 * labels left out), so that the user's next stroke teaches the model most.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { axisCodes, type Vec3 } from '../../core/geometry';
import { readVolumeFile } from '../../core/readVolume';
import type { SegmentationRecord } from '../runs/runEntry';
import type { LoopContext } from './loopContext';
import { annotatedSliceSets, mostUncertainSlices, sliceEntropy, type SliceEntropy, type SuggestedSlice } from '../../core/sliceEntropy';
import { activeVolume, fileName, labelsUriOf } from './volumes';

export interface SuggestResult {
  volume: string;
  /** The probability map used. */
  probabilities: string;
  /** One per axis (x, y, z), the most uncertain unlabeled slice. */
  slices: (SuggestedSlice & { plane: string })[];
  /** Where the crosshair was put (i, j, k). */
  voxel: Vec3;
}

const PLANE_OF_CODE: Record<string, string> = { L: 'sagittal', R: 'sagittal', A: 'coronal', P: 'coronal', S: 'axial', I: 'axial' };

/** Entropy profiles already computed, by probability file (recomputed when the file changes). */
const cache = new Map<string, { mtimeMs: number; entropy: SliceEntropy; dims: Vec3; codes: string }>();

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

function entropyOf(file: string): { entropy: SliceEntropy; dims: Vec3; codes: string } {
  const mtimeMs = fs.statSync(file).mtimeMs;
  const known = cache.get(file);
  if (known && known.mtimeMs === mtimeMs) return known;
  const map = readVolumeFile(file, { allFrames: true });
  const data = map.allFrames ?? map.data;
  if (!(data instanceof Uint8Array)) throw new Error(`${path.basename(file)} is not a uint8 probability map`);
  const computed = { mtimeMs, entropy: sliceEntropy(data, map.dims, map.frames), dims: map.dims, codes: axisCodes(map.affine) };
  cache.set(file, computed);
  return computed;
}

export async function suggestNextSliceCommand(ctx: LoopContext, arg?: unknown): Promise<SuggestResult | undefined> {
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
    const { entropy, dims, codes } = entropyOf(segmentation.probabilities);
    let exclude: Set<number>[] | undefined;
    const labelsFile = labelsUriOf(volume).fsPath;
    if (fs.existsSync(labelsFile)) {
      const labels = readVolumeFile(labelsFile);
      if (labels.dims.every((n, a) => n === dims[a]) && (labels.data instanceof Uint8Array || labels.data instanceof Uint16Array)) {
        exclude = annotatedSliceSets(labels.data, dims);
      }
    }
    const slices = mostUncertainSlices(entropy, exclude).map((s) => ({ ...s, plane: PLANE_OF_CODE[codes[s.axis]] ?? `axis ${'xyz'[s.axis]}` }));
    if (slices.length === 0) {
      void vscode.window.showInformationMessage(`3D U-Net: every slice of ${fileName(volume)} carries labels already.`);
      return undefined;
    }
    const voxel = [0, 1, 2].map((a) => slices.find((s) => s.axis === a)?.index ?? Math.floor(dims[a] / 2)) as Vec3;
    const top = slices.reduce((a, b) => (b.entropy > a.entropy ? b : a));
    const describe = (s: SuggestedSlice & { plane: string }) => `${s.plane} ${'xyz'[s.axis]} = ${s.index} (${s.entropy.toFixed(2)} bits)`;
    const message = `Least certain: ${slices.map(describe).join(', ')}. Most of all the ${top.plane} slice ${top.index}.`;
    const shown = ctx.editor.revealVoxel(volume, voxel, message);
    if (!shown) {
      await vscode.commands.executeCommand('vscode.openWith', volume, 'unet3d.volume');
      ctx.editor.revealVoxel(volume, voxel, message);
    }
    void vscode.window.showInformationMessage(`3D U-Net: ${message}`);
    ctx.log.info(`${fileName(volume)}: suggested slices ${slices.map(describe).join(', ')} from ${segmentation.probabilities}`);
    return { volume: volume.fsPath, probabilities: segmentation.probabilities, slices, voxel };
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`suggest next slice: ${message}`);
    void vscode.window.showErrorMessage(`3D U-Net: cannot suggest a slice: ${message}`);
    return undefined;
  }
}
