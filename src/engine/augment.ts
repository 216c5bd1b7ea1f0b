/**
 * On-the-fly, seeded augmentation of training patches: the paper's smooth dense deformation,
 * rotation, scaling, flips (all folded into one sampling transform, so the image is resampled
 * once, trilinearly, and the labels once, by nearest neighbour) and gray-value changes.
 */
import type { Vec3 } from '../core/geometry';
import { randomDisplacementField, type DisplacementField } from './deformation';
import type { Random } from '../core/random';

/** Every augmentation, each one switchable. Distances are voxels at the volume's finest spacing. */
export interface AugmentationSettings {
  /** Smooth dense deformation: control points every `gridSpacing` voxels, displaced with std `sigma` voxels. */
  deformation: { enabled: boolean; gridSpacing: number; sigma: number };
  /**
   * Rotation about each axis, uniform in ±`maxDegrees`, in millimetres. In a plane whose two
   * spacings differ (thick slices) the range shrinks by their ratio, so slices tilt little.
   */
  rotation: { enabled: boolean; maxDegrees: number };
  /** Isotropic zoom, the factor uniform in [min, max]. */
  scaling: { enabled: boolean; min: number; max: number };
  /**
   * Per channel: brightness (added, normal with std `brightness`, in normalized units), contrast
   * (multiplied around the patch mean, uniform in `contrast`), gamma (on the patch's range,
   * uniform in `gamma`).
   */
  grayValue: { enabled: boolean; brightness: number; contrast: [number, number]; gamma: [number, number] };
  /** Mirror along each listed axis (x, y, z) with probability ½. */
  flips: { enabled: boolean; axes: [boolean, boolean, boolean] };
  /** Probability that a patch gets the spatial augmentations at all (the rest are drawn plain). */
  spatialProbability: number;
}

/**
 * The paper's augmentation: smooth dense deformation, rotation, scaling and gray-value changes
 * (`--augment`). Training does without it by default (see TRAINING_AUGMENTATION).
 */
export const DEFAULT_AUGMENTATION: AugmentationSettings = {
  deformation: { enabled: true, gridSpacing: 32, sigma: 4 },
  rotation: { enabled: true, maxDegrees: 15 },
  scaling: { enabled: true, min: 0.85, max: 1.15 },
  grayValue: { enabled: true, brightness: 0.1, contrast: [0.8, 1.2], gamma: [0.8, 1.25] },
  flips: { enabled: false, axes: [true, true, true] },
  spatialProbability: 0.8,
};

/** Augmentation switched off entirely. */
export const NO_AUGMENTATION: AugmentationSettings = {
  deformation: { ...DEFAULT_AUGMENTATION.deformation, enabled: false },
  rotation: { ...DEFAULT_AUGMENTATION.rotation, enabled: false },
  scaling: { ...DEFAULT_AUGMENTATION.scaling, enabled: false },
  grayValue: { ...DEFAULT_AUGMENTATION.grayValue, enabled: false },
  flips: { ...DEFAULT_AUGMENTATION.flips, enabled: false },
  spatialProbability: 0,
};

/**
 * What training uses unless told otherwise: every part off, with the paper's parameters for any
 * part switched on. In the 10-minute CPU budget (about 300 steps) augmentation slowed learning
 * more than it helped: spinal cord dense IoU 0.78 with it, 0.91 without (the same settings
 * otherwise); the network sees each annotated voxel a few hundred times, too few to overfit.
 */
export const TRAINING_AUGMENTATION: AugmentationSettings = { ...NO_AUGMENTATION, spatialProbability: DEFAULT_AUGMENTATION.spatialProbability };

/** Settings merged over `base` (each group merged field by field); by default over the paper's. */
export function augmentationSettings(partial: DeepPartial<AugmentationSettings> = {}, base: AugmentationSettings = DEFAULT_AUGMENTATION): AugmentationSettings {
  const d = base;
  return {
    deformation: { ...d.deformation, ...partial.deformation },
    rotation: { ...d.rotation, ...partial.rotation },
    scaling: { ...d.scaling, ...partial.scaling },
    grayValue: { ...d.grayValue, ...partial.grayValue } as AugmentationSettings['grayValue'],
    flips: { ...d.flips, ...partial.flips } as AugmentationSettings['flips'],
    spatialProbability: partial.spatialProbability ?? d.spatialProbability,
  };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends readonly unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

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
