/**
 * Tile plans for predicting a whole volume with a 3D U-Net. Pure arithmetic over the network's
 * sizes (no TensorFlow.js): the extension host may plan and estimate memory with it.
 *
 * - `valid` networks (the paper's overlap-tile strategy): every output tile is predicted from an
 *   input tile grown by the network's context on each side, the volume mirrored beyond its
 *   borders. Max pooling makes a U-Net shift-equivariant only for shifts that are multiples of
 *   2^(levels−1), so tile starts here are multiples of that: then each tile computes exactly what
 *   one run over the whole mirror-padded volume computes at those voxels, and the stitched result
 *   equals it (up to float rounding), whatever the tile size. Neighbouring tiles overlap by less
 *   than one alignment step where the volume is not a multiple of it; both compute the same values
 *   there and the merger takes each voxel from one of them.
 * - `same` networks: tiles overlap by a fraction and are blended with a Gaussian (nnU-Net's
 *   scheme, src/core/blending.ts); the plan is src/core/tiling.ts's `planTiles`.
 *
 * Sizes are (x, y, z) voxels here; a UNet's size functions take and return [z, y, x].
 */
import type { Vec3 } from '../core/geometry';
import { planTiles, type TilePlan } from '../core/tiling';
import type { UNet } from './model';
import { DEFAULT_CONTEXT, DEFAULT_OVERLAP, DEFAULT_TILE } from '../protocol/segment';

/** What a plan needs of a network: its config and its size arithmetic ([z, y, x]). */
export type NetworkSizes = Pick<UNet, 'config' | 'inputSizeFor' | 'outputSize'>;

/** How to tile. */
export interface PredictionTiling {
  /**
   * Output tile size (x, y, z) in voxels. Rounded up to a size the network takes (a multiple of
   * 2^(levels−1) for `same`; a valid output size for `valid`) and down to the volume where the
   * volume is smaller. Default: DEFAULT_TILE[padding].
   */
  tile?: Vec3;
  /** `same` networks: the fraction by which neighbouring tiles overlap at least, [0, 1). Default DEFAULT_OVERLAP. */
  overlap?: number;
  /**
   * `same` networks: voxels of context per side around each output tile (the volume mirrored
   * beyond its borders, as the training sampler mirrors it), cropped off the network's output, so
   * that no predicted voxel sits at the network's zero padding. Rounded up to keep the input a
   * multiple of the pooling factor. Default DEFAULT_CONTEXT. (A `valid` network has its own.)
   */
  context?: number;
}

const zyx = (v: readonly number[]): [number, number, number] => [v[2], v[1], v[0]];
const xyz = (v: readonly number[]): Vec3 => [v[2], v[1], v[0]];

/** The pooling factor 2^(levels−1): tile starts of a valid network are multiples of it. */
export function alignmentOf(net: NetworkSizes): number {
  return 2 ** (net.config.levels - 1);
}

function checkTile(tile: readonly number[], what: string): void {
  if (tile.length !== 3 || tile.some((n) => !Number.isInteger(n) || n < 1)) throw new RangeError(`${what} must be three positive integers, not [${tile.join(', ')}]`);
}

/**
 * Starts of output tiles of size `tile` along an axis of `size` voxels, all multiples of
 * `align`: one tile when it covers the axis; otherwise the fewest whose step is at most the
 * largest multiple of `align` within the tile, spread evenly, the last reaching the end (it may
 * pass it by less than `align` voxels, which the mirror padding fills).
 */
export function alignedStarts(size: number, tile: number, align: number): number[] {
  if (size <= tile) return [0];
  const step = Math.floor(tile / align) * align;
  if (step < align) throw new RangeError(`an output tile of ${tile} voxels is smaller than the network's pooling factor ${align}`);
  const count = Math.ceil((size - tile) / step) + 1;
  const lastUnits = Math.ceil((size - tile) / align);
  return Array.from({ length: count }, (_, k) => align * Math.round((k * lastUnits) / (count - 1)));
}

/** The output tile a valid network computes for a requested size along each axis, and its input. */
function validTileSizes(net: NetworkSizes, dims: Vec3, requested: Vec3): { tile: Vec3; input: Vec3 } {
  const align = alignmentOf(net);
  // A tile at least one alignment step wide, and no larger than needed for the volume.
  const want = requested.map((r, a) => Math.max(Math.min(r, dims[a]), Math.min(align, dims[a]), 1));
  const input = xyz(net.inputSizeFor(zyx(want)));
  const tile = xyz(net.outputSize(zyx(input)));
  for (let a = 0; a < 3; a++) {
    if (dims[a] > tile[a] && tile[a] < align) throw new RangeError(`internal: output tile ${tile[a]} under the alignment ${align}`);
  }
  return { tile, input };
}

/** The plan for a `valid` network: aligned, non-blended tiles (see the module comment). */
function planValid(net: NetworkSizes, dims: Vec3, requested: Vec3): TilePlan {
  const align = alignmentOf(net);
  const { tile, input } = validTileSizes(net, dims, requested);
  const margin = [0, 1, 2].map((a) => {
    const d = input[a] - tile[a];
    if (d < 0 || d % 2 !== 0) throw new RangeError(`internal: input ${input[a]} does not centre output ${tile[a]}`);
    return d / 2;
  }) as Vec3;
  const starts = [0, 1, 2].map((a) => alignedStarts(dims[a], tile[a], align)) as [number[], number[], number[]];
  // Each voxel is written by one tile: where two tiles overlap, the cut is at the middle.
  return planTiles({ dims, tile, margin, starts });
}

/** The tile and margin of a `same` network's plan. */
function sameTileAndMargin(net: NetworkSizes, dims: Vec3, requested: Vec3, isDefault: boolean, context: number): { tile: Vec3; margin: number } {
  const align = alignmentOf(net);
  // tile + 2·margin stays a multiple of the pooling factor.
  const step = Math.max(1, align / 2);
  const margin = Math.ceil(context / step) * step;
  const roundUp = (n: number) => Math.ceil(n / align) * align;
  const whole = dims.map(roundUp) as Vec3;
  if (isDefault && whole[0] * whole[1] * whole[2] <= requested[0] * requested[1] * requested[2]) requested = whole;
  // No larger than the volume rounded up to the pooling factor: a small axis is one tile.
  const tile = requested.map((r, a) => Math.max(align, Math.min(roundUp(r), roundUp(dims[a])))) as Vec3;
  net.outputSize(zyx(tile.map((t) => t + 2 * margin)));
  return { tile, margin };
}

/** The plan for a `same` network: the tile a multiple of the pooling factor, blended overlapping tiles. */
function planSame(net: NetworkSizes, dims: Vec3, requested: Vec3, overlap: number, isDefault: boolean, context: number): TilePlan {
  const { tile, margin } = sameTileAndMargin(net, dims, requested, isDefault, context);
  return planTiles({ dims, tile, margin: [margin, margin, margin], overlap, blend: true });
}

/** The input tile (x, y, z) planPrediction would give, without making the plan (cheap: for sizing tiles). */
export function plannedInputSize(net: NetworkSizes, dims: Vec3, options: PredictionTiling = {}): Vec3 {
  const requested = options.tile ?? DEFAULT_TILE[net.config.padding];
  if (net.config.padding === 'valid') return validTileSizes(net, dims, [...requested]).input;
  const { tile, margin } = sameTileAndMargin(net, dims, [...requested], options.tile === undefined, options.context ?? DEFAULT_CONTEXT);
  return tile.map((t) => t + 2 * margin) as Vec3;
}

/** Plans the tiles that predict a volume of `dims` (x, y, z) with `net`. */
export function planPrediction(net: NetworkSizes, dims: Vec3, options: PredictionTiling = {}): TilePlan {
  checkTile(dims, 'volume dimensions');
  const padding = net.config.padding;
  const requested = options.tile ?? DEFAULT_TILE[padding];
  checkTile(requested, 'the tile size');
  const overlap = options.overlap ?? DEFAULT_OVERLAP;
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`the overlap must be in [0, 1), not ${overlap}`);
  const context = options.context ?? DEFAULT_CONTEXT;
  if (!(Number.isInteger(context) && context >= 0)) throw new RangeError(`the context must be an integer ≥ 0, not ${context}`);
  return padding === 'valid' ? planValid(net, dims, [...requested]) : planSame(net, dims, [...requested], overlap, options.tile === undefined, context);
}

/** Bytes a tiled prediction holds besides the network's own activations (see estimatePredictionMemory). */
export interface PredictionMemory {
  /** The label volume (uint8) and, when kept, the uint8 probabilities: the only whole-volume outputs. */
  outputs: number;
  /** The blend accumulators: a slab of tile-z planes, never the whole volume. */
  accumulators: number;
  /** One input tile and one output tile as float32, on the JavaScript side. */
  tileBuffers: number;
}

/**
 * What a plan holds in memory apart from the network's activations for one tile: the point of
 * tiling is that no float array spans the whole volume.
 */
export function estimatePredictionMemory(plan: TilePlan, channels: number, classes: number, probabilities: boolean): PredictionMemory {
  const [nx, ny, nz] = plan.dims;
  const voxels = nx * ny * nz;
  const labelBytes = classes + 1 > 255 ? 2 : 1;
  const tileVoxels = plan.tile[0] * plan.tile[1] * plan.tile[2];
  const inputVoxels = plan.inputSize[0] * plan.inputSize[1] * plan.inputSize[2];
  return {
    outputs: voxels * labelBytes + (probabilities ? voxels * classes : 0),
    accumulators: plan.blend ? (classes + 1) * 4 * nx * ny * Math.min(plan.tile[2], nz) : 0,
    tileBuffers: 4 * (inputVoxels * channels + tileVoxels * classes),
  };
}
