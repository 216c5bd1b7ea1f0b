/**
 * Per-volume intensity normalization: clip each channel at two percentiles of its scaled
 * intensities, then shift and scale the clipped values to zero mean and unit variance. The
 * figures are stored with the model (run.json) so prediction normalizes the same way.
 */
import type { Vec3 } from '../core/geometry';
import { sampleFinite } from '../core/sampling';
import type { Volume } from '../core/volume';
import type { ChannelNormalization, VolumeNormalization } from '../protocol/run';
import { DEFAULT_NORMALIZATION, type NormalizationSettings } from '../protocol/settings';

/**
 * A normalized multi-channel image, ready for patch sampling.
 * `data[(i + nx*(j + ny*k)) * channels + c]`: voxel-major, channels last (the NDHWC layout).
 */
export interface NormalizedImage {
  /** Voxels along x, y, z. */
  dims: Vec3;
  /** Voxel spacing along x, y, z in mm. */
  spacing: Vec3;
  channels: number;
  data: Float32Array;
  normalization: VolumeNormalization;
}

/** The most voxels a percentile is computed from; larger volumes are sampled (`sampleFinite`, no axis favoured). */
const PERCENTILE_SAMPLE = 1 << 21;

/** The channels of a volume: every frame of a 4D file (read with `allFrames`), else its one frame. */
export function volumeChannels(volume: Volume): number {
  return volume.allFrames ? volume.frames : 1;
}

function channelView(volume: Volume, channel: number): ArrayLike<number> {
  const n = volume.dims[0] * volume.dims[1] * volume.dims[2];
  const frames = volume.allFrames ?? volume.data;
  return frames.subarray(channel * n, (channel + 1) * n);
}

/**
 * The p-th percentiles (0–100) of the finite `values` (NaN and ±Infinity left out), scaled by
 * `slope` and `inter`, interpolating linearly between order statistics; from a sample of
 * PERCENTILE_SAMPLE voxels spread over the volume where there are more. `exclude` leaves one
 * stored value out too (a fill value).
 */
export function percentiles(values: ArrayLike<number>, ps: number[], slope = 1, inter = 0, exclude?: number): number[] {
  if (values.length === 0) throw new RangeError('percentiles of an empty array');
  for (const p of ps) if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile ${p} is outside 0–100`);
  const sample = sampleFinite(values, PERCENTILE_SAMPLE, exclude);
  if (sample.length === 0) throw new RangeError('the image has no finite intensity (every voxel is NaN or infinite)');
  for (let i = 0; i < sample.length; i++) sample[i] = sample[i] * slope + inter;
  sample.sort();
  return ps.map((p) => {
    const pos = (p / 100) * (sample.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, sample.length - 1);
    return sample[lo] + (sample[hi] - sample[lo]) * (pos - lo);
  });
}

/**
 * Share of the voxels the lowest intensity must hold to count as a fill value (the padding a CT
 * scanner writes outside its field of view, e.g. −3024 HU, or the zero background around a
 * skull-stripped or cropped MRI) rather than as tissue.
 */
export const FILL_SHARE = 0.05;

/**
 * Computes one channel's clip range, mean and standard deviation. When the lowest intensity is a
 * fill value (it holds at least FILL_SHARE of the voxels), the figures come from the other voxels
 * only, and the fill is clipped to their low percentile: otherwise the padding dominates the
 * spread, and the contrasts inside the body shrink (CT padding at −3024 HU can be a fifth of the
 * voxels, and then bone stands a fraction of a standard deviation above soft tissue).
 * nnU-Net normalizes MRI over its non-zero voxels for the same reason.
 */
export function channelNormalization(values: ArrayLike<number>, settings: NormalizationSettings, slope = 1, inter = 0): ChannelNormalization {
  if (!(settings.lowPercentile < settings.highPercentile)) {
    throw new RangeError(`the low percentile (${settings.lowPercentile}) must be below the high one (${settings.highPercentile})`);
  }
  // Every figure is of the finite voxels: NaN and ±Infinity are left out (normalizeVolume maps NaN to the mean).
  const n = values.length;
  let min = Infinity;
  let finite = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v - v !== 0) continue;
    finite++;
    if (v < min) min = v;
  }
  let atMin = 0;
  for (let i = 0; i < n; i++) if (values[i] === min) atMin++;
  const fill = atMin >= FILL_SHARE * finite && atMin < finite ? min : undefined;
  // Percentiles from (a sample of) the voxels that are not fill; mean and spread from all of them.
  const [low, high] = percentiles(values, [settings.lowPercentile, settings.highPercentile], slope, inter, fill);
  let sum = 0;
  let sumSq = 0;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const stored = values[i];
    if (stored === fill || stored - stored !== 0) continue;
    const v = Math.min(high, Math.max(low, stored * slope + inter));
    sum += v;
    sumSq += v * v;
    m++;
  }
  const mean = sum / m;
  const variance = Math.max(0, sumSq / m - mean * mean);
  // A constant image has no spread; dividing by 1 keeps it finite (and zero after centring).
  const std = variance > 1e-12 ? Math.sqrt(variance) : 1;
  return fill === undefined ? { low, high, mean, std } : { low, high, mean, std, fill: fill * slope + inter };
}

/** The normalization figures of every channel of a volume. */
export function computeNormalization(volume: Volume, settings: NormalizationSettings = DEFAULT_NORMALIZATION): VolumeNormalization {
  const channels: ChannelNormalization[] = [];
  for (let c = 0; c < volumeChannels(volume); c++) {
    channels.push(channelNormalization(channelView(volume, c), settings, volume.sclSlope, volume.sclInter));
  }
  return { settings: { ...settings }, channels };
}

/**
 * Normalizes a volume with given figures (computed from it, or stored with a model) into the
 * channels-last float layout the sampler reads.
 */
export function normalizeVolume(volume: Volume, normalization: VolumeNormalization = computeNormalization(volume)): NormalizedImage {
  const channels = volumeChannels(volume);
  if (normalization.channels.length !== channels) {
    throw new RangeError(`the normalization has ${normalization.channels.length} channels but the volume has ${channels}`);
  }
  const n = volume.dims[0] * volume.dims[1] * volume.dims[2];
  const data = new Float32Array(n * channels);
  const { sclSlope: slope, sclInter: inter } = volume;
  for (let c = 0; c < channels; c++) {
    const { low, high, mean, std } = normalization.channels[c];
    const values = channelView(volume, c);
    const inv = 1 / std;
    for (let i = 0, o = c; i < n; i++, o += channels) {
      const v = Math.min(high, Math.max(low, values[i] * slope + inter));
      data[o] = v === v ? (v - mean) * inv : 0; // a NaN voxel reads as the mean
    }
  }
  return { dims: [...volume.dims], spacing: [...volume.spacing], channels, data, normalization };
}

/** Millimetres per unit of a coordinate channel: positions 100 mm from the volume's centre read ±1. */
export const COORDINATE_SCALE_MM = 100;

/**
 * The image with three more channels holding each voxel's position (x, y, z) in millimetres from
 * the volume's centre, divided by COORDINATE_SCALE_MM. With them the network can learn where a
 * structure lies in this volume, as interpolating baselines do; they are resampled with the
 * image, so every augmentation moves them consistently. (Off by default with one foreground
 * class, where they let the network memorise the annotated slices: docs/quality.md.)
 */
export function withCoordinateChannels(image: NormalizedImage): NormalizedImage {
  const [nx, ny, nz] = image.dims;
  const [sx, sy, sz] = image.spacing;
  const c0 = image.channels;
  const channels = c0 + 3;
  const data = new Float32Array(nx * ny * nz * channels);
  for (let z = 0, i = 0; z < nz; z++) {
    const pz = ((z - (nz - 1) / 2) * sz) / COORDINATE_SCALE_MM;
    for (let y = 0; y < ny; y++) {
      const py = ((y - (ny - 1) / 2) * sy) / COORDINATE_SCALE_MM;
      for (let x = 0; x < nx; x++, i++) {
        const o = i * channels;
        for (let c = 0; c < c0; c++) data[o + c] = image.data[i * c0 + c];
        data[o + c0] = ((x - (nx - 1) / 2) * sx) / COORDINATE_SCALE_MM;
        data[o + c0 + 1] = py;
        data[o + c0 + 2] = pz;
      }
    }
  }
  return { ...image, channels, data };
}
