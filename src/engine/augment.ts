/**
 * On-the-fly, seeded augmentation of training patches: the paper's smooth dense deformation,
 * rotation, scaling, flips (all folded into one sampling transform, so the image is resampled
 * once, trilinearly, and the labels once, by nearest neighbour) and gray-value changes.
 */
import type { Vec3 } from '../core/geometry';
import { randomDisplacementField, type DisplacementField } from './deformation';
import type { Random } from '../core/random';
import type { AugmentationSettings } from '../protocol/settings';

/**
 * Where each voxel q of a patch samples the volume: `centre + matrix·(q − anchor) + field(q)`,
 * in voxel coordinates of the volume (x, y, z). `anchor` is the patch's centre voxel.
 */
export interface PatchTransform {
  /** 3×3 row-major linear part, in voxels of the volume per voxel of the patch. */
  matrix: number[];
  /** Optional dense displacement over the (input) patch, in voxels of the volume. */
  field?: DisplacementField;
}

export const IDENTITY_TRANSFORM: PatchTransform = { matrix: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

function mul3(a: number[], b: number[]): number[] {
  const out = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) out[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c];
  return out;
}

/** Rotation by `angle` radians in the plane of axes (a, b). */
function planeRotation(a: number, b: number, angle: number): number[] {
  const m = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const c = Math.cos(angle);
  const s = Math.sin(angle);
  m[a * 3 + a] = c;
  m[a * 3 + b] = -s;
  m[b * 3 + a] = s;
  m[b * 3 + b] = c;
  return m;
}

/**
 * Draws the spatial transform of one patch of `size` voxels (x, y, z) on a volume with voxel
 * `spacing` (mm). Rotation and scaling act in millimetres, so thick slices stay thick.
 */
export function randomPatchTransform(size: Vec3, spacing: Vec3, settings: AugmentationSettings, rng: Random): PatchTransform {
  if (!rng.chance(settings.spatialProbability)) return IDENTITY_TRANSFORM;
  const finest = Math.min(...spacing);
  // Linear part in mm: rotation · zoom; then mm → voxels around it: S⁻¹ · R · Z · S · F.
  let linear = [1, 0, 0, 0, 1, 0, 0, 0, 1];
  if (settings.rotation.enabled && settings.rotation.maxDegrees > 0) {
    for (const [a, b] of [[1, 2], [0, 2], [0, 1]] as const) {
      const anisotropy = Math.min(spacing[a], spacing[b]) / Math.max(spacing[a], spacing[b]);
      const max = (settings.rotation.maxDegrees * Math.PI) / 180 * anisotropy;
      linear = mul3(planeRotation(a, b, rng.uniform(-max, max)), linear);
    }
  }
  if (settings.scaling.enabled) {
    const zoom = rng.uniform(settings.scaling.min, settings.scaling.max);
    linear = linear.map((v) => v * zoom);
  }
  const toMm = [spacing[0], 0, 0, 0, spacing[1], 0, 0, 0, spacing[2]];
  const toVoxels = [1 / spacing[0], 0, 0, 0, 1 / spacing[1], 0, 0, 0, 1 / spacing[2]];
  let matrix = mul3(toVoxels, mul3(linear, toMm));
  if (settings.flips.enabled) {
    const flip = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    for (let a = 0; a < 3; a++) if (settings.flips.axes[a] && rng.chance(0.5)) flip[a * 4] = -1;
    matrix = mul3(matrix, flip);
  }
  const transform: PatchTransform = { matrix };
  const { deformation } = settings;
  if (deformation.enabled && deformation.sigma > 0) {
    const grid = spacing.map((s) => (deformation.gridSpacing * finest) / s) as Vec3;
    const sigma = spacing.map((s) => (deformation.sigma * finest) / s) as Vec3;
    transform.field = randomDisplacementField(size, grid, sigma, rng);
  }
  return transform;
}

/**
 * Gray-value augmentation in place on a patch (channels last, `channels` interleaved):
 * gamma on the patch's range, then contrast around the mean, then brightness. Only the image's
 * channels `[first, end)` change: annotation and coordinate channels are not gray values.
 */
export function augmentGrayValues(patch: Float32Array, channels: number, settings: AugmentationSettings['grayValue'], rng: Random, first = 0, end = channels): void {
  if (!settings.enabled) return;
  const voxels = patch.length / channels;
  for (let c = first; c < end; c++) {
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = c; i < patch.length; i += channels) {
      const v = patch[i];
      if (v < min) min = v;
      if (v > max) max = v;
      sum += v;
    }
    const gamma = rng.uniform(settings.gamma[0], settings.gamma[1]);
    const range = max - min;
    if (range > 1e-6 && gamma !== 1) {
      for (let i = c; i < patch.length; i += channels) patch[i] = min + range * Math.pow((patch[i] - min) / range, gamma);
      sum = 0;
      for (let i = c; i < patch.length; i += channels) sum += patch[i];
    }
    const mean = sum / voxels;
    const contrast = rng.uniform(settings.contrast[0], settings.contrast[1]);
    const brightness = rng.normal() * settings.brightness;
    for (let i = c; i < patch.length; i += channels) patch[i] = (patch[i] - mean) * contrast + mean + brightness;
  }
}
