/**
 * Blend weights for overlapping `same`-padding tiles: a separable Gaussian that is 1 at the
 * tile's centre and falls off toward its edges, as nnU-Net's `compute_gaussian`.
 */
import type { Vec3 } from './geometry';

/** nnU-Net's default: sigma is 1/8 of the tile along each axis. */
export const DEFAULT_SIGMA_SCALE = 1 / 8;

/** Floor of every weight, so no voxel of a tile weighs exactly 0 (float32 keeps 1e−30). */
const MIN_WEIGHT = 1e-30;

/**
 * One axis of the Gaussian: `size` weights, centred at (size − 1)/2 (symmetric, unlike
 * nnU-Net's size//2), sigma = size·sigmaScale, peak 1.
 */
export function gaussian1d(size: number, sigmaScale = DEFAULT_SIGMA_SCALE): Float32Array {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`tile size must be a positive integer, not ${size}`);
  if (!(sigmaScale > 0)) throw new RangeError(`sigma scale must be positive, not ${sigmaScale}`);
  const sigma = size * sigmaScale;
  const centre = (size - 1) / 2;
  return Float32Array.from({ length: size }, (_, i) => Math.exp(-((i - centre) ** 2) / (2 * sigma * sigma)));
}

/**
 * Blend weights for a whole output tile, x fastest then y, z (tile.size product values),
 * the product of the three 1D Gaussians; peak 1. Every weight is positive (the smallest, at the
 * corners, is about exp(−24) ≈ 4e−11 for sigma = 1/8), so a voxel seen only by tile corners
 * still gets a defined blend.
 */
export function gaussianWeights(tile: Vec3, sigmaScale = DEFAULT_SIGMA_SCALE): Float32Array {
  const [gx, gy, gz] = tile.map((n) => gaussian1d(n, sigmaScale));
  const [sx, sy, sz] = tile;
  const out = new Float32Array(sx * sy * sz);
  let o = 0;
  for (let k = 0; k < sz; k++) {
    for (let j = 0; j < sy; j++) {
      const wyz = gy[j] * gz[k];
      for (let i = 0; i < sx; i++) out[o++] = Math.max(gx[i] * wyz, MIN_WEIGHT);
    }
  }
  return out;
}
