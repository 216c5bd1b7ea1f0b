/** Small synthetic training data for the engine's tests: a bright ball in noise, labeled on a few slices. */
import * as path from 'node:path';
import { writeFileAtomic } from '../../src/core/atomicWrite';
import type { Mat4, Vec3 } from '../../src/core/geometry';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import { Random } from '../../src/core/random';
import { trainSettings, type TrainSettings, type TrainSettingsInput } from '../../src/protocol/settings';

export interface BallVolume {
  image: string;
  labels: string;
  dims: Vec3;
}

/**
 * Writes `name.nii.gz` (float32: a ball of intensity 100 in a background of 20, plus noise) and
 * `name.labels.nii.gz` (2 inside the ball, 1 outside, on the planes x = 10, x = 16, y = 14,
 * z = 3 and z = 6; 0 elsewhere) into `dir`. With `halves`, the ball's half at x ≥ its centre is
 * labeled 3 instead: two foreground classes that look alike and differ only by where they lie.
 */
export function writeBallVolume(dir: string, name = 'ball', dims: Vec3 = [32, 28, 12], seed = 1, halves = false): BallVolume {
  const [nx, ny, nz] = dims;
  const spacing: Vec3 = [1, 1, 2];
  const affine: Mat4 = [
    [spacing[0], 0, 0, 0],
    [0, spacing[1], 0, 0],
    [0, 0, spacing[2], 0],
    [0, 0, 0, 1],
  ];
  const rng = new Random(seed);
  const image = new Float32Array(nx * ny * nz);
  const labels = new Uint8Array(nx * ny * nz);
  const centre = [nx / 2, ny / 2, nz / 2];
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const inside = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + ((z - centre[2]) * spacing[2]) ** 2 < 7 ** 2;
        image[i] = (inside ? 100 : 20) + 10 * rng.normal();
        if (x === 10 || x === 16 || y === 14 || z === 3 || z === 6) labels[i] = inside ? (halves && x >= centre[0] ? 3 : 2) : 1;
      }
    }
  }
  const imageFile = path.join(dir, `${name}.nii.gz`);
  const labelFile = path.join(dir, `${name}.labels.nii.gz`);
  writeFileAtomic(imageFile, encodeNiftiGz({ dims, affine, data: image, intentCode: 0 }));
  writeFileAtomic(labelFile, encodeNiftiGz({ dims, affine, data: labels }));
  return { image: imageFile, labels: labelFile, dims };
}

/** The backend the engine's tests run on: the engine's choice unless UNET3D_TEST_BACKEND names one. */
export const TEST_BACKEND = (process.env.UNET3D_TEST_BACKEND ?? 'auto') as TrainSettingsInput['backend'];

/** Settings for a tiny network and patch on a ball volume: for tests of the loop, not of learning well. */
export function tinyTrainSettings(volume: { image: string; labels: string }, outDir: string, change: Partial<TrainSettingsInput> = {}): TrainSettings {
  return trainSettings({
    volumes: [volume],
    outDir,
    network: { preset: 'fast', levels: 2, baseFilters: 4 },
    patchSize: [12, 12, 4],
    iterations: 12,
    validation: { fold: 0, folds: 3 },
    validateEvery: 4,
    // The refit at the end has tests of its own (engine-refit).
    refit: 0,
    backend: TEST_BACKEND,
    ...change,
  });
}

/** A 3-class label map on dims with full slices at the given planes (class by x: 2 left, 3 right, 1 in the top rows). */
export function slicedLabels(dims: Vec3, planes: { axis: 0 | 1 | 2; index: number }[]): Uint8Array {
  const [nx, ny, nz] = dims;
  const labels = new Uint8Array(nx * ny * nz);
  for (let z = 0, i = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const p = [x, y, z];
        if (planes.some((s) => p[s.axis] === s.index)) labels[i] = y < 3 ? 1 : x < nx / 2 ? 2 : 3;
      }
    }
  }
  return labels;
}
