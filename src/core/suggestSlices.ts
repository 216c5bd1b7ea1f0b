/**
 * Suggest Next Slice's reading and scoring, from files: the probability map a segmentation wrote
 * and the volume's sparse labels. Synchronous and CPU-bound (a 512³ map is hundreds of MB to
 * inflate and score): the extension runs it on a worker thread (src/extension/suggest/), never
 * on the extension host's own.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from './geometry';
import { readVolumeFile } from './readVolume';
import { annotatedSliceSets, bestTeachingSlices, teachingScores, type SuggestedSlice } from './sliceEntropy';

/** What to read: the probability map (K uint8 frames) and, when it exists, the volume's label map. */
export interface SuggestRequest {
  probabilities: string;
  labels?: string;
}

/** The best slice per axis (annotated slices left out), and the grid they are on. */
export interface SuggestScores {
  slices: SuggestedSlice[];
  dims: Vec3;
  affine: number[][];
  /** False when the model predicts no foreground at all. */
  foreground: boolean;
}

export function suggestSlicesFromFiles(request: SuggestRequest): SuggestScores {
  const map = readVolumeFile(request.probabilities, { allFrames: true });
  const data = map.allFrames ?? map.data;
  if (!(data instanceof Uint8Array)) throw new Error(`${path.basename(request.probabilities)} is not a uint8 probability map`);
  const scores = teachingScores(data, map.dims, map.frames, map.spacing);
  let exclude: Set<number>[] | undefined;
  if (request.labels && fs.existsSync(request.labels)) {
    const labels = readVolumeFile(request.labels);
    if (labels.dims.every((n, a) => n === map.dims[a]) && (labels.data instanceof Uint8Array || labels.data instanceof Uint16Array)) {
      exclude = annotatedSliceSets(labels.data, map.dims);
    }
  }
  return { slices: bestTeachingSlices(scores, exclude), dims: map.dims, affine: map.affine, foreground: scores.foreground };
}
