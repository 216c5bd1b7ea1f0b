/**
 * Training patches drawn around labeled voxels. A patch's input box (what the network reads)
 * and its output box (what it predicts, centred in the input; smaller for a 'valid' network)
 * are resampled from the volume through one transform, with mirror padding beyond the borders:
 * the image trilinearly, the labels by nearest neighbour (so label values stay in their set and
 * unlabeled stays unlabeled).
 */
import { annotationChannelCount, writeAnnotationChannels, type AnnotationField } from '../core/annotationField';
import type { LabelArray } from '../core/editDeltas';
import type { Vec3 } from '../core/geometry';
import type { PatchGeometry } from '../protocol/training';
import { augmentGrayValues, IDENTITY_TRANSFORM, randomPatchTransform, type PatchTransform } from './augment';
import type { AugmentationSettings } from '../protocol/settings';
import type { NormalizedImage } from './normalize';
import type { Random } from '../core/random';
import type { AnnotatedSlice } from '../core/sparseLabels';



/** One volume to train on: its normalized image and its sparse labels on the same grid. */
export interface TrainingVolume {
  name: string;
  image: NormalizedImage;
  labels: LabelArray;
  /**
   * The nearest annotation of every voxel, for a network with annotation channels: they come
   * first in a patch, before the image's channels. Built without the slices `labels` holds.
   */
  annotation?: AnnotationField;
  /** Slices to draw more patches around (SamplerOptions.focusFraction): those added since a parent run. */
  focus?: readonly Pick<AnnotatedSlice, 'axis' | 'index'>[];
}

/** Input channels of a patch of `v`: its annotation channels, then the image's. */
export function patchChannels(v: Pick<TrainingVolume, 'image' | 'annotation'>): number {
  return (v.annotation ? annotationChannelCount(v.annotation.classes) : 0) + v.image.channels;
}

/** A batch ready for the network: NDHWC image and NDHW labels (0 = unlabeled). */
export interface PatchBatch {
  /** [n, input z, input y, input x, channels], flattened. */
  image: Float32Array;
  /** [n, output z, output y, output x], flattened; the label values of the label map. */
  labels: Int32Array;
  n: number;
}

/** Mirror (reflect about the first and last voxel centres) a continuous coordinate into [0, n − 1]. */
export function mirrorCoordinate(p: number, n: number): number {
  if (n <= 1) return 0;
  const period = 2 * (n - 1);
  const r = ((p % period) + period) % period;
  return r > n - 1 ? period - r : r;
}

/** The offset of the output box inside the input box, per axis. */
export function outputMargin(geometry: PatchGeometry): Vec3 {
  return [0, 1, 2].map((a) => {
    const d = geometry.input[a] - geometry.output[a];
    if (d < 0 || d % 2 !== 0) throw new RangeError(`input patch ${geometry.input.join('×')} cannot centre output patch ${geometry.output.join('×')}`);
    return d / 2;
  }) as Vec3;
}

/** The voxel of a patch box that lands on its centre voxel. */
export function patchAnchor(size: Vec3): Vec3 {
  return [Math.floor(size[0] / 2), Math.floor(size[1] / 2), Math.floor(size[2] / 2)];
}

/**
 * Resamples one patch whose input anchor voxel lands on `centre` (volume voxels), writing the
 * image into `imageOut` (input box, channels last) and, when given, labels into `labelsOut`
 * (output box).
 */
export function samplePatch(
  image: NormalizedImage,
  labels: LabelArray | undefined,
  centre: Vec3,
  geometry: PatchGeometry,
  transform: PatchTransform,
  imageOut: Float32Array,
  labelsOut?: Int32Array,
  annotation?: AnnotationField,
): void {
  const [nx, ny, nz] = image.dims;
  const C = image.channels;
  const A = annotation ? annotationChannelCount(annotation.classes) : 0;
  const CT = A + C;
  const src = image.data;
  const [px, py, pz] = geometry.input;
  const anchor = patchAnchor(geometry.input);
  const m = transform.matrix;
  const field = transform.field?.data;
  if (transform.field && transform.field.size.some((s, a) => s !== geometry.input[a])) throw new RangeError('the displacement field does not match the input patch');
  if (imageOut.length !== px * py * pz * CT) throw new RangeError('image buffer size does not match the patch');
  if (annotation && annotation.dims.join() !== image.dims.join()) throw new RangeError('the annotation field is not on the image grid');
  const plane = nx * ny;
  const coordinate = (qx: number, qy: number, qz: number, q: number): [number, number, number] => {
    const dx = qx - anchor[0];
    const dy = qy - anchor[1];
    const dz = qz - anchor[2];
    let x = centre[0] + m[0] * dx + m[1] * dy + m[2] * dz;
    let y = centre[1] + m[3] * dx + m[4] * dy + m[5] * dz;
    let z = centre[2] + m[6] * dx + m[7] * dy + m[8] * dz;
    if (field) {
      x += field[q * 3];
      y += field[q * 3 + 1];
      z += field[q * 3 + 2];
    }
    return [mirrorCoordinate(x, nx), mirrorCoordinate(y, ny), mirrorCoordinate(z, nz)];
  };
  let q = 0;
  for (let qz = 0; qz < pz; qz++) {
    for (let qy = 0; qy < py; qy++) {
      for (let qx = 0; qx < px; qx++, q++) {
        const [x, y, z] = coordinate(qx, qy, qz, q);
        const x0 = Math.floor(x);
        const y0 = Math.floor(y);
        const z0 = Math.floor(z);
        const x1 = Math.min(x0 + 1, nx - 1);
        const y1 = Math.min(y0 + 1, ny - 1);
        const z1 = Math.min(z0 + 1, nz - 1);
        const wx = x - x0;
        const wy = y - y0;
        const wz = z - z0;
        const i000 = (x0 + nx * y0 + plane * z0) * C;
        const i100 = (x1 + nx * y0 + plane * z0) * C;
        const i010 = (x0 + nx * y1 + plane * z0) * C;
        const i110 = (x1 + nx * y1 + plane * z0) * C;
        const i001 = (x0 + nx * y0 + plane * z1) * C;
        const i101 = (x1 + nx * y0 + plane * z1) * C;
        const i011 = (x0 + nx * y1 + plane * z1) * C;
        const i111 = (x1 + nx * y1 + plane * z1) * C;
        for (let c = 0; c < C; c++) {
          const c00 = src[i000 + c] + (src[i100 + c] - src[i000 + c]) * wx;
          const c10 = src[i010 + c] + (src[i110 + c] - src[i010 + c]) * wx;
          const c01 = src[i001 + c] + (src[i101 + c] - src[i001 + c]) * wx;
          const c11 = src[i011 + c] + (src[i111 + c] - src[i011 + c]) * wx;
          const c0 = c00 + (c10 - c00) * wy;
          const c1 = c01 + (c11 - c01) * wy;
          imageOut[q * CT + A + c] = c0 + (c1 - c0) * wz;
        }
        // Annotation channels by nearest neighbour, like the labels.
        if (annotation) writeAnnotationChannels(annotation, Math.round(x) + nx * Math.round(y) + plane * Math.round(z), imageOut, q * CT);
      }
    }
  }
  if (!labels || !labelsOut) return;
  const [ox, oy, oz] = geometry.output;
  if (labelsOut.length !== ox * oy * oz) throw new RangeError('label buffer size does not match the output patch');
  const margin = outputMargin(geometry);
  let o = 0;
  for (let z = 0; z < oz; z++) {
    for (let y = 0; y < oy; y++) {
      for (let x = 0; x < ox; x++, o++) {
        const qx = x + margin[0];
        const qy = y + margin[1];
        const qz = z + margin[2];
        const [sx, sy, sz] = coordinate(qx, qy, qz, qx + px * (qy + py * qz));
        // Round after mirroring: the result is always a voxel inside the volume.
        labelsOut[o] = labels[Math.round(sx) + nx * Math.round(sy) + plane * Math.round(sz)];
      }
    }
  }
}

/** Options of the training sampler. */
export interface SamplerOptions {
  geometry: PatchGeometry;
  /** Number of classes including background (label values 1..classes). */
  classes: number;
  /** Probability that a patch is centred on a foreground voxel (a class ≥ 2, chosen uniformly among the classes present). */
  foregroundFraction: number;
  augmentation: AugmentationSettings;
  /**
   * Probability that a patch is centred on a labeled voxel of a volume's `focus` slices (where
   * any volume has some); the rest are drawn as usual. Default 0.
   */
  focusFraction?: number;
}

interface VolumeIndex {
  /** Labeled voxel indices, all classes. */
  labeled: Uint32Array;
  /** Labeled voxel indices per label value (index = label value; 0 and absent classes empty). */
  byLabel: Uint32Array[];
  /** Labeled voxel indices on the volume's focus slices. */
  focus: Uint32Array;
}

/** The labeled voxels of `labels` that lie on one of `slices`. */
function focusVoxels(labels: LabelArray, dims: Vec3, slices: readonly Pick<AnnotatedSlice, 'axis' | 'index'>[] | undefined): Uint32Array {
  if (!slices || slices.length === 0) return new Uint32Array(0);
  const [nx, ny] = dims;
  const out: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === 0) continue;
    const p = [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))];
    if (slices.some((s) => p[s.axis] === s.index)) out.push(i);
  }
  return Uint32Array.from(out);
}

function indexLabels(labels: LabelArray, classes: number, focus: Uint32Array): VolumeIndex {
  const counts = new Uint32Array(classes + 1);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v > classes) throw new RangeError(`label value ${v} at voxel ${i} exceeds the ${classes} classes`);
    counts[v]++;
  }
  const byLabel = Array.from(counts, (n, v) => new Uint32Array(v === 0 ? 0 : n));
  const fill = new Uint32Array(classes + 1);
  const labeled = new Uint32Array(labels.length - counts[0]);
  let l = 0;
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (v === 0) continue;
    byLabel[v][fill[v]++] = i;
    labeled[l++] = i;
  }
  return { labeled, byLabel, focus };
}

/** Draws augmented training batches around labeled voxels of several volumes. */
export class PatchSampler {
  private readonly index: VolumeIndex[];
  /** The volumes with focus voxels. */
  private readonly focused: number[];
  private readonly margin: Vec3;

  constructor(
    private readonly volumes: TrainingVolume[],
    private readonly options: SamplerOptions,
    private readonly rng: Random,
  ) {
    if (volumes.length === 0) throw new RangeError('no volumes to train on');
    const channels = patchChannels(volumes[0]);
    for (const v of volumes) {
      const n = v.image.dims[0] * v.image.dims[1] * v.image.dims[2];
      if (v.labels.length !== n) throw new RangeError(`${v.name}: the labels have ${v.labels.length} voxels, the image ${n}`);
      if (patchChannels(v) !== channels) throw new RangeError(`${v.name}: ${patchChannels(v)} input channels, the first volume has ${channels}`);
    }
    this.index = volumes.map((v) => indexLabels(v.labels, options.classes, focusVoxels(v.labels, v.image.dims, v.focus)));
    this.focused = this.index.flatMap((ix, i) => (ix.focus.length > 0 ? [i] : []));
    this.index.forEach((ix, i) => {
      if (ix.labeled.length === 0) throw new RangeError(`${volumes[i].name}: no labeled voxels to train on`);
    });
    this.margin = outputMargin(options.geometry);
  }

  /** Labeled voxels per class (index c = class c, i.e. label value c + 1) over every volume. */
  classCounts(): number[] {
    const counts = new Array<number>(this.options.classes).fill(0);
    for (const ix of this.index) for (let c = 0; c < this.options.classes; c++) counts[c] += ix.byLabel[c + 1].length;
    return counts;
  }

  /** Picks a volume, a labeled voxel, and a patch centre that puts that voxel somewhere in the output box. */
  private drawCentre(): { volume: number; centre: Vec3 } {
    const focus = this.focused.length > 0 && this.rng.chance(this.options.focusFraction ?? 0);
    const volume = focus ? this.focused[this.rng.int(this.focused.length)] : this.rng.int(this.volumes.length);
    const ix = this.index[volume];
    let pool = focus ? ix.focus : ix.labeled;
    if (!focus && this.rng.chance(this.options.foregroundFraction)) {
      const present = ix.byLabel.filter((list, v) => v >= 2 && list.length > 0);
      if (present.length > 0) pool = present[this.rng.int(present.length)];
    }
    const voxel = pool[this.rng.int(pool.length)];
    const [nx, ny] = this.volumes[volume].image.dims;
    const p = [voxel % nx, Math.floor(voxel / nx) % ny, Math.floor(voxel / (nx * ny))];
    const { input, output } = this.options.geometry;
    const anchor = patchAnchor(input);
    // The voxel lands at a random position r of the output box: centre = p − (r + margin − anchor).
    const centre = [0, 1, 2].map((a) => p[a] - (this.rng.int(output[a]) + this.margin[a] - anchor[a])) as Vec3;
    return { volume, centre };
  }

  /**
   * Plain (unaugmented) input patches with centres drawn uniformly over the volumes (not only
   * near labels): what the network meets when it predicts whole volumes. [n, z, y, x, channels].
   * `rng`: draw with another generator than the training's (its sequence is then untouched).
   */
  uniformBatch(n: number, rng: Random = this.rng): Float32Array {
    const { geometry } = this.options;
    const channels = patchChannels(this.volumes[0]);
    const inVoxels = geometry.input[0] * geometry.input[1] * geometry.input[2] * channels;
    const image = new Float32Array(n * inVoxels);
    for (let b = 0; b < n; b++) {
      const v = this.volumes[rng.int(this.volumes.length)];
      const centre = v.image.dims.map((d) => rng.int(d)) as Vec3;
      samplePatch(v.image, undefined, centre, geometry, IDENTITY_TRANSFORM, image.subarray(b * inVoxels, (b + 1) * inVoxels), undefined, v.annotation);
    }
    return image;
  }

  /** Draws `n` patches into one batch. */
  batch(n: number): PatchBatch {
    const { geometry, augmentation } = this.options;
    const channels = patchChannels(this.volumes[0]);
    const inVoxels = geometry.input[0] * geometry.input[1] * geometry.input[2];
    const outVoxels = geometry.output[0] * geometry.output[1] * geometry.output[2];
    const image = new Float32Array(n * inVoxels * channels);
    const labels = new Int32Array(n * outVoxels);
    for (let b = 0; b < n; b++) {
      const { volume, centre } = this.drawCentre();
      const v = this.volumes[volume];
      const transform = randomPatchTransform(geometry.input, v.image.spacing, augmentation, this.rng);
      const imageOut = image.subarray(b * inVoxels * channels, (b + 1) * inVoxels * channels);
      samplePatch(v.image, v.labels, centre, geometry, transform, imageOut, labels.subarray(b * outVoxels, (b + 1) * outVoxels), v.annotation);
      const first = channels - v.image.channels;
      augmentGrayValues(imageOut, channels, augmentation.grayValue, this.rng, first, first + v.image.normalization.channels.length);
    }
    return { image, labels, n };
  }
}

/** Extracts a plain (unaugmented) patch whose anchor voxel is `centre`. */
export function extractPatch(image: NormalizedImage, centre: Vec3, geometry: PatchGeometry, annotation?: AnnotationField): Float32Array {
  const out = new Float32Array(geometry.input[0] * geometry.input[1] * geometry.input[2] * patchChannels({ image, annotation }));
  samplePatch(image, undefined, centre, geometry, IDENTITY_TRANSFORM, out, undefined, annotation);
  return out;
}

/**
 * An output patch size (x, y, z) of about `voxels` voxels, no larger than the volume (rounded up
 * to `multiple`), each side a multiple of `multiple` (2^(levels−1) for a 'same' network, so every
 * pooling divides it). The sides go as (finest spacing / spacing)^1.5: equal on an isotropic
 * grid, and across thick slices fewer voxels than an isotropic extent in millimetres would give,
 * because the context that tells structures apart lies mostly in the slice plane (on thick-slice
 * CT, flat patches learned far better than cubic ones: docs/quality.md).
 */
export function choosePatchSize(dims: Vec3, spacing: Vec3, voxels: number, multiple: number): Vec3 {
  const finest = Math.min(...spacing);
  const shape = spacing.map((s) => Math.pow(finest / s, 1.5));
  const cap = dims.map((n) => Math.max(multiple, Math.ceil(n / multiple) * multiple));
  const size = [0, 0, 0];
  const free = new Set([0, 1, 2]);
  let budget = voxels;
  // Axes that reach their cap are fixed there and the others share the rest of the budget.
  for (let round = 0; round < 3; round++) {
    const axes = [...free];
    const c = Math.pow(budget / axes.reduce((p, a) => p * shape[a], 1), 1 / axes.length);
    let capped = false;
    for (const a of axes) {
      const want = c * shape[a];
      if (want >= cap[a]) {
        size[a] = cap[a];
        free.delete(a);
        budget /= cap[a];
        capped = true;
      } else size[a] = want;
    }
    if (!capped) break;
  }
  return size.map((s, a) => Math.min(cap[a], Math.max(multiple, Math.round(s / multiple) * multiple))) as Vec3;
}
