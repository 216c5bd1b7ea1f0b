/**
 * Validation on held-out annotated slices: the network predicts tiles that cover each held-out
 * slice, and the labeled voxels of that slice (minus the lines it shares with training slices)
 * are scored into a confusion matrix, then IoU per class.
 */
import type { Vec3 } from '../core/geometry';
import { scoresFromConfusion, type ConfusionMatrix } from '../core/metrics';
import { sameReceptiveReach, type ApplyOptions, type UNet, type UNetConfig } from './model';
import type { NormalizedImage } from './normalize';
import { extractPatch, outputMargin, patchAnchor, patchChannels } from './sampler';
import type { LabelArray } from '../core/editDeltas';
import type { PatchGeometry } from '../protocol/training';
import type { AnnotationField } from '../core/annotationField';
import type { AnnotatedSlice } from '../core/sparseSplit';

/** A slice: the plane perpendicular to `axis` at `index`. */
type SlicePlane = Pick<AnnotatedSlice, 'axis' | 'index'> & { voxels?: number };
import { assertBackendHealthy } from './backends';
import { tf, type Tensor, type Tensor5D } from './tf';

/** One volume's held-out slices and what to score on them. */
export interface ValidationVolume {
  name: string;
  image: NormalizedImage;
  /** The full sparse labels (0 = unlabeled, c + 1 = class c). */
  labels: LabelArray;
  /** 0 = not scored, s + 1 = scored as part of `slices[s]` (see splitLabels). */
  mask: Uint16Array;
  slices: AnnotatedSlice[];
  /** Which of `slices` (positions) to score; all when absent. */
  scored?: number[];
  /** The nearest training annotation of every voxel, for a network with annotation channels. */
  annotation?: AnnotationField;
}

/** Scores of one validation pass. */
export interface ValidationScores {
  /** IoU per class (index c = class c, label value c + 1, background first); null where the class is absent from truth and prediction. */
  iou: (number | null)[];
  /** Mean IoU over the foreground classes that are not null; null if none. */
  meanForegroundIoU: number | null;
  /** Counts of (truth label value, predicted label value). */
  confusion: ConfusionMatrix;
}

/** IoU per class and their foreground mean, for `classes` classes (label values 1..classes). */
export function validationScores(confusion: ConfusionMatrix, classes: number): ValidationScores {
  const labels = Array.from({ length: classes }, (_, c) => c + 1);
  const scores = scoresFromConfusion(confusion, labels);
  return { iou: labels.map((l) => scores.classes[String(l)].iou), meanForegroundIoU: scores.meanIoU, confusion };
}

/** Evenly spaced tile starts covering [0, n) with tiles of `tile` voxels, the last flush with the end. */
export function tileStarts(n: number, tile: number): number[] {
  if (n <= tile) return [0];
  const count = Math.ceil(n / tile);
  return Array.from({ length: count }, (_, i) => Math.round((i * (n - tile)) / (count - 1)));
}

/**
 * Output boxes (their start voxel, x, y, z) whose union covers slice `slice` of a volume of `dims`;
 * `before`: voxels of each box before the slice (default: half the box across it).
 */
export function sliceTiles(dims: Vec3, slice: SlicePlane, output: Vec3, before = Math.floor(output[slice.axis] / 2)): Vec3[] {
  const starts = [0, 1, 2].map((a) => (a === slice.axis ? [slice.index - before] : tileStarts(dims[a], output[a])));
  const boxes: Vec3[] = [];
  for (const z of starts[2]) for (const y of starts[1]) for (const x of starts[0]) boxes.push([x, y, z]);
  return boxes;
}

/**
 * The output tile for predicting one slice: as thick as the training output patch across the
 * slice, and in the slice's plane as large as the volume (rounded up to `multiple`) while the
 * tile holds at most `maxVoxels` voxels (larger tiles waste less work on overlaps and borders).
 */
export function validationTile(dims: Vec3, slice: SlicePlane, output: Vec3, maxVoxels: number, multiple: number): Vec3 {
  const tile = [0, 1, 2].map((a) => (a === slice.axis ? output[a] : Math.max(output[a], Math.ceil(dims[a] / multiple) * multiple))) as Vec3;
  const inPlane = [0, 1, 2].filter((a) => a !== slice.axis);
  while (tile[0] * tile[1] * tile[2] > maxVoxels) {
    const a = tile[inPlane[0]] >= tile[inPlane[1]] ? inPlane[0] : inPlane[1];
    const smaller = Math.max(output[a], Math.ceil(tile[a] / 2 / multiple) * multiple);
    if (smaller === tile[a]) break;
    tile[a] = smaller;
  }
  return tile;
}

/**
 * How thick a tile across a slice needs to be, and where the slice lies in it (`before`: voxels
 * before it), for the output on the slice to be that of a tile `thickness` thick with the slice
 * in its middle. With 'same' padding, the slice's receptive reach on either side (see
 * sameReceptiveReach) at the same place in the pooling grid: what lies further only feeds other
 * slices' outputs, so the thinner tile gives the slice the same output for less work (48 voxels
 * instead of the chest CT's 92 across an x or y slice). A 'valid' network keeps its tile.
 */
export function sliceCrossing(config: Pick<UNetConfig, 'padding' | 'levels'>, thickness: number): { thickness: number; before: number } {
  const middle = Math.floor(thickness / 2);
  if (config.padding !== 'same') return { thickness, before: middle };
  const cell = 2 ** (config.levels - 1);
  const reach = sameReceptiveReach(config.levels);
  const r = middle % cell;
  const before = r + cell * Math.ceil(Math.max(0, reach.before[r] - r) / cell);
  const needed = Math.ceil((before + 1 + reach.after[r]) / cell) * cell;
  return needed < thickness ? { thickness: needed, before } : { thickness, before: middle };
}

const xyz = (zyx: readonly number[]): Vec3 => [zyx[2], zyx[1], zyx[0]];
const zyx = (v: readonly number[]): [number, number, number] => [v[2], v[1], v[0]];

/**
 * Predicts the held-out slices of every volume and scores them. Runs the network in inference
 * mode, one tile at a time (tiles of up to `maxTileVoxels` output voxels); tensors are disposed
 * as it goes. `geometry` is the training patch geometry; `adjustment` is subtracted from the
 * logits per class, as prediction does (see logitAdjustment).
 */
export async function validate(
  net: UNet,
  volumes: readonly ValidationVolume[],
  geometry: PatchGeometry,
  classes: number,
  adjustment?: readonly number[],
  options: ApplyOptions = {},
  maxTileVoxels = 4 * geometry.input[0] * geometry.input[1] * geometry.input[2],
): Promise<ValidationScores> {
  return validationScores((await sliceConfusions(net, volumes, geometry, classes, [adjustment ?? []], options, maxTileVoxels))[0], classes);
}

/** The slices of `volume` that are scored (all unless `scored` names some), with their positions in `slices`. */
export function scoredSlices(volume: Pick<ValidationVolume, 'slices' | 'scored'>): { ordinal: number; slice: AnnotatedSlice }[] {
  return volume.slices.flatMap((slice, ordinal) => (!volume.scored || volume.scored.includes(ordinal) ? [{ ordinal, slice }] : []));
}

/**
 * Visits the voxels of a tile's output box (`start`, `size`; x, y, z) that lie on slice number
 * `ordinal` of `volume` and are scored there (`mask`), once each: `seen` marks them as they go
 * (neighbouring tiles overlap). `i` is the voxel's index in the volume, `o` in the tile (x fastest).
 */
export function forScoredVoxels(volume: Pick<ValidationVolume, 'image' | 'mask'>, slice: SlicePlane, ordinal: number, start: Vec3, size: Vec3, seen: Uint8Array, visit: (i: number, o: number) => void): void {
  const [nx, ny, nz] = volume.image.dims;
  const [ox, oy, oz] = size;
  const lo = [0, 1, 2].map((a) => Math.max(0, start[a]));
  const hi = [Math.min(nx, start[0] + ox), Math.min(ny, start[1] + oy), Math.min(nz, start[2] + oz)];
  lo[slice.axis] = slice.index;
  hi[slice.axis] = slice.index + 1;
  for (let z = lo[2]; z < hi[2]; z++) {
    for (let y = lo[1]; y < hi[1]; y++) {
      for (let x = lo[0]; x < hi[0]; x++) {
        const i = x + nx * (y + ny * z);
        if (volume.mask[i] !== ordinal + 1 || seen[i]) continue;
        seen[i] = 1;
        visit(i, x - start[0] + ox * (y - start[1] + oy * (z - start[2])));
      }
    }
  }
}

/** One confusion matrix per adjustment over the scored slices of `volumes` (see validate). */
async function sliceConfusions(
  net: UNet,
  volumes: readonly ValidationVolume[],
  geometry: PatchGeometry,
  classes: number,
  adjustments: readonly (readonly number[])[],
  options: ApplyOptions,
  maxTileVoxels: number,
): Promise<ConfusionMatrix[]> {
  // counts[truth label][predicted label], label values 0..classes (row and column 0 stay empty).
  const counts = adjustments.map(() => Array.from({ length: classes + 1 }, () => new Array<number>(classes + 1).fill(0)));
  let total = 0;
  const shifts = adjustments.map((a) => (a.some((x) => x !== 0) ? [...a] : undefined));
  for (const v of volumes) {
    // Neighbouring tiles overlap where the volume is not a multiple of the tile: score once.
    const scored = new Uint8Array(v.mask.length);
    for (const { ordinal, slice } of scoredSlices(v)) {
      await predictSliceTiles(net, v, slice, geometry, shifts, maxTileVoxels, (labels, start, size) =>
        forScoredVoxels(v, slice, ordinal, start, size, scored, (i, o) => {
          for (let a = 0; a < labels.length; a++) counts[a][v.labels[i]][labels[a][o] + 1]++;
          total++;
        }),
      options);
    }
  }
  return counts.map((c) => ({ labelCount: classes + 1, counts: c, total }));
}

/**
 * Predicts the tiles that cover one slice of a volume (see validationTile: as thick across the
 * slice as `geometry`'s output, as large in its plane as `maxTileVoxels` allows), and hands each
 * tile's decided labels (0-based classes, one array per shift, x fastest), its output box start
 * and size to `visit`. `shifts` are subtracted from the logits (undefined: none).
 */
export async function predictSliceTiles(
  net: UNet,
  volume: Pick<ValidationVolume, 'image' | 'annotation'>,
  slice: SlicePlane,
  geometry: PatchGeometry,
  shifts: readonly (readonly number[] | undefined)[],
  maxTileVoxels: number,
  visit: (labels: Int32Array[], start: Vec3, size: Vec3) => void,
  options: ApplyOptions = {},
): Promise<void> {
  await sliceTiles3d(net, volume, slice, geometry, maxTileVoxels, options, (logits) => shifts.map((shift) => tf.argMax(shift ? tf.sub(logits, tf.tensor1d([...shift])) : logits, -1)), (read, start, size) =>
    visit(read as Int32Array[], start, size),
  );
}

/** As predictSliceTiles, handing each tile's logits (x fastest, the classes innermost) to `visit`. */
export async function sliceTileLogits(
  net: UNet,
  volume: Pick<ValidationVolume, 'image' | 'annotation'>,
  slice: SlicePlane,
  geometry: PatchGeometry,
  maxTileVoxels: number,
  visit: (logits: Float32Array, start: Vec3, size: Vec3) => void,
  options: ApplyOptions = {},
): Promise<void> {
  await sliceTiles3d(net, volume, slice, geometry, maxTileVoxels, options, (logits) => [logits], ([logits], start, size) => visit(logits as Float32Array, start, size));
}

/** The tiles across one slice, each run through the network and what `outputs` makes of its logits read back. */
async function sliceTiles3d(
  net: UNet,
  volume: Pick<ValidationVolume, 'image' | 'annotation'>,
  slice: SlicePlane,
  geometry: PatchGeometry,
  maxTileVoxels: number,
  options: ApplyOptions,
  outputs: (logits: Tensor5D) => Tensor[],
  visit: (read: (Int32Array | Float32Array)[], start: Vec3, size: Vec3) => void,
): Promise<void> {
  const multiple = net.config.padding === 'same' ? 2 ** (net.config.levels - 1) : 1;
  const channels = patchChannels(volume);
  const crossing = sliceCrossing(net.config, geometry.output[slice.axis]);
  const output = [...geometry.output] as Vec3;
  output[slice.axis] = crossing.thickness;
  const wanted = validationTile(volume.image.dims, slice, output, maxTileVoxels, multiple);
  const input = xyz(net.inputSizeFor(zyx(wanted)));
  const tileGeometry: PatchGeometry = { input, output: xyz(net.outputSize(zyx(input))) };
  const margin = outputMargin(tileGeometry);
  const anchor = patchAnchor(input);
  for (const start of sliceTiles(volume.image.dims, slice, tileGeometry.output, crossing.before)) {
    const centre = [0, 1, 2].map((a) => start[a] - margin[a] + anchor[a]) as Vec3;
    const patch = extractPatch(volume.image, centre, tileGeometry, volume.annotation);
    const made = tf.tidy(() => outputs(net.apply(tf.tensor5d(patch, [1, input[2], input[1], input[0], channels]), false, options)));
    // Read back asynchronously: the webgpu backend cannot read synchronously under Node.
    const read = (await Promise.all(made.map((t) => t.data()))) as (Int32Array | Float32Array)[];
    tf.dispose(made);
    assertBackendHealthy();
    visit(read, start, tileGeometry.output);
  }
}
