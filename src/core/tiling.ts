/**
 * Tile plans for predicting a volume of any size with a fixed-size network, and mirror-padded
 * box extraction. Pure: no I/O, no tensors.
 *
 * Two strategies share one plan:
 * - `valid` networks (the paper's overlap-tile strategy): the network reads an input tile
 *   enlarged by its context `margin` on every side and returns exactly the output tile. Each
 *   voxel is written by exactly one tile (`blend: false`), so the stitched result equals running
 *   the network on the whole mirror-padded volume.
 * - `same` networks: output tiles overlap by `overlap` and are blended with weights that fall
 *   off toward the tile edges (`blend: true`, see blending.ts and tileMerger.ts).
 *
 * Tile starts follow nnU-Net's `compute_steps_for_sliding_window`: evenly spaced, the first flush
 * with the volume's start and the last flush with its end.
 */
import type { Vec3 } from './geometry';

/** An axis-aligned box of voxels: `start` (may be negative) and `size`, both (x, y, z). */
export interface Box {
  start: Vec3;
  size: Vec3;
}

/** One tile of a plan. All boxes are in voxel indices of the volume, (x, y, z). */
export interface Tile {
  /** Position in the plan; tiles are ordered x fastest, z slowest. */
  index: number;
  /** What the network reads: `region` grown by `margin` per side. May reach outside the volume (mirror-padded there). */
  input: Box;
  /** Where the network's whole output tile lies (size = plan.tile). Reaches past the volume's end only where the volume is smaller than the tile. */
  region: Box;
  /** The voxels this tile writes into the volume; always inside the volume. */
  output: Box;
  /** Offset of `output` inside the network's output tile, (x, y, z). */
  cropStart: Vec3;
}

/** What to plan. Sizes in voxels, (x, y, z). */
export interface TilePlanOptions {
  /** The volume's dimensions. */
  dims: Vec3;
  /** The network's output tile size. */
  tile: Vec3;
  /** Context per side: the network's input tile is `tile + 2·margin` (0 for a `same` network that needs none). Default 0. */
  margin?: Vec3;
  /** Fraction of the tile by which neighbouring tiles overlap at least, in [0, 1). Default 0. */
  overlap?: number;
  /** Blend overlapping tiles (`same` networks); otherwise each voxel is written by the one tile whose centre part holds it. Default false. */
  blend?: boolean;
  /**
   * The tile starts along each axis, when the caller places them itself (a `valid` network's
   * starts are multiples of its pooling factor); default `tileStarts` with `overlap`. A last tile
   * may pass the volume's end, which mirror padding fills.
   */
  starts?: [number[], number[], number[]];
}

/** A complete tile plan. */
export interface TilePlan {
  dims: Vec3;
  /** Output tile size. */
  tile: Vec3;
  margin: Vec3;
  /** Network input tile size: tile + 2·margin. */
  inputSize: Vec3;
  overlap: number;
  blend: boolean;
  /** Tile starts along each axis (region.start values). */
  starts: [number[], number[], number[]];
  tiles: Tile[];
}

function checkTriple(v: readonly number[], what: string, min: number): void {
  if (v.length !== 3 || v.some((n) => !Number.isInteger(n) || n < min)) {
    throw new RangeError(`${what} must be three integers ≥ ${min}, not [${v.join(', ')}]`);
  }
}

/**
 * Starts of the tiles along one axis: a single tile at 0 when the tile covers the axis,
 * otherwise the fewest evenly spaced tiles whose step is at most `tile·(1 − overlap)`, the last
 * flush with the end (nnU-Net's compute_steps_for_sliding_window).
 */
export function tileStarts(size: number, tile: number, overlap = 0): number[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`axis size must be a positive integer, not ${size}`);
  if (!Number.isInteger(tile) || tile < 1) throw new RangeError(`tile size must be a positive integer, not ${tile}`);
  if (!(overlap >= 0 && overlap < 1)) throw new RangeError(`overlap must be in [0, 1), not ${overlap}`);
  if (size <= tile) return [0];
  const targetStep = tile * (1 - overlap);
  if (targetStep < 1) throw new RangeError(`overlap ${overlap} leaves a step under one voxel for a tile of ${tile}`);
  const count = Math.ceil((size - tile) / targetStep) + 1;
  const step = (size - tile) / (count - 1);
  return Array.from({ length: count }, (_, i) => Math.round(step * i));
}

/**
 * Where each tile's written part begins and ends along one axis when tiles do not blend: the
 * overlap of two neighbours is split at its middle, so every voxel has exactly one writer and it
 * is the tile in which it lies further from the edge.
 */
function writeRanges(size: number, tile: number, starts: number[]): [number, number][] {
  return starts.map((start, i) => {
    const from = i === 0 ? 0 : Math.floor((start + starts[i - 1] + tile) / 2);
    const to = i === starts.length - 1 ? size : Math.min(size, Math.floor((starts[i + 1] + start + tile) / 2));
    return [from, to];
  });
}

/** Plans the tiles that cover a volume. See the module comment for the two strategies. */
export function planTiles(options: TilePlanOptions): TilePlan {
  const { dims, tile } = options;
  const margin: Vec3 = options.margin ?? [0, 0, 0];
  const overlap = options.overlap ?? 0;
  const blend = options.blend ?? false;
  checkTriple(dims, 'volume dimensions', 1);
  checkTriple(tile, 'tile size', 1);
  checkTriple(margin, 'margin', 0);
  const starts = options.starts ?? ([0, 1, 2].map((a) => tileStarts(dims[a], tile[a], overlap)) as [number[], number[], number[]]);
  // Per axis: [written from, written to) for each start.
  const ranges = [0, 1, 2].map((a) =>
    blend
      ? starts[a].map((s): [number, number] => [s, Math.min(s + tile[a], dims[a])])
      : writeRanges(dims[a], tile[a], starts[a]),
  );
  const inputSize: Vec3 = [tile[0] + 2 * margin[0], tile[1] + 2 * margin[1], tile[2] + 2 * margin[2]];
  const tiles: Tile[] = [];
  for (let k = 0; k < starts[2].length; k++) {
    for (let j = 0; j < starts[1].length; j++) {
      for (let i = 0; i < starts[0].length; i++) {
        const at = [i, j, k];
        const regionStart = [0, 1, 2].map((a) => starts[a][at[a]]) as Vec3;
        const from = [0, 1, 2].map((a) => ranges[a][at[a]][0]) as Vec3;
        const to = [0, 1, 2].map((a) => ranges[a][at[a]][1]) as Vec3;
        tiles.push({
          index: tiles.length,
          input: { start: [0, 1, 2].map((a) => regionStart[a] - margin[a]) as Vec3, size: inputSize },
          region: { start: regionStart, size: [tile[0], tile[1], tile[2]] },
          output: { start: from, size: [to[0] - from[0], to[1] - from[1], to[2] - from[2]] },
          cropStart: [from[0] - regionStart[0], from[1] - regionStart[1], from[2] - regionStart[2]],
        });
      }
    }
  }
  return { dims: [dims[0], dims[1], dims[2]], tile: [tile[0], tile[1], tile[2]], margin: [margin[0], margin[1], margin[2]], inputSize, overlap, blend, starts, tiles };
}

/**
 * The index inside 0..size−1 that mirror padding reads for index `i`: reflection about the
 * edge voxels without repeating them (numpy 'reflect', scipy 'mirror'): for size 4,
 * … 2 1 | 0 1 2 3 | 2 1 0 1 …; periodic, so any distance from the volume works.
 */
export function reflectIndex(i: number, size: number): number {
  if (size === 1) return 0;
  const period = 2 * (size - 1);
  const m = ((i % period) + period) % period;
  return m < size ? m : period - m;
}

/** Where a box extraction writes, for channel-last (interleaved) multi-channel input. */
export interface ExtractTarget {
  /** Destination; box.size product × channels values, channel fastest then x, y, z. Allocated when absent. */
  out?: Float32Array;
  /** Channel to fill (default 0). */
  channel?: number;
  /** Channels interleaved in `out` (default 1). */
  channels?: number;
}

/** Per axis, the source offset (already multiplied by the axis stride) of each box position, mirrored. */
function mirroredOffsets(dims: Vec3, box: Box): [Int32Array, Int32Array, Int32Array] {
  const [nx, ny, nz] = dims;
  checkTriple(dims, 'volume dimensions', 1);
  checkTriple(box.size, 'box size', 1);
  const [sx, sy, sz] = box.size;
  return [
    Int32Array.from({ length: sx }, (_, i) => reflectIndex(box.start[0] + i, nx)),
    Int32Array.from({ length: sy }, (_, j) => reflectIndex(box.start[1] + j, ny) * nx),
    Int32Array.from({ length: sz }, (_, k) => reflectIndex(box.start[2] + k, nz) * nx * ny),
  ];
}

/**
 * Copies a box of a volume's voxels into a Float32Array, mirror-padding (see `reflectIndex`)
 * wherever the box reaches outside the volume. `data` is dims-sized, x fastest. The result is
 * x fastest, in the tfjs order [D=z, H=y, W=x, C]. The tiled predictor pads with this; the
 * training sampler (src/engine/sampler.ts, `mirrorCoordinate`) reflects the same way, so a
 * network sees the same borders in training and in prediction.
 */
export function extractMirroredBox(data: ArrayLike<number>, dims: Vec3, box: Box, target: ExtractTarget = {}): Float32Array {
  const [nx, ny, nz] = dims;
  if (data.length !== nx * ny * nz) throw new RangeError(`voxel array has ${data.length} values, dims ${dims.join('×')} need ${nx * ny * nz}`);
  const channels = target.channels ?? 1;
  const channel = target.channel ?? 0;
  if (!Number.isInteger(channels) || channels < 1 || !Number.isInteger(channel) || channel < 0 || channel >= channels) {
    throw new RangeError(`channel ${channel} of ${channels} is not a valid channel`);
  }
  const [xs, ys, zs] = mirroredOffsets(dims, box);
  const count = xs.length * ys.length * zs.length;
  const out = target.out ?? new Float32Array(count * channels);
  if (out.length !== count * channels) throw new RangeError(`output has ${out.length} values, the box needs ${count * channels}`);
  let o = channel;
  for (let k = 0; k < zs.length; k++) {
    for (let j = 0; j < ys.length; j++) {
      const row = zs[k] + ys[j];
      for (let i = 0; i < xs.length; i++, o += channels) out[o] = data[row + xs[i]];
    }
  }
  return out;
}

/**
 * The same for a channel-last source holding `channels` values per voxel
 * (`data[voxel·channels + c]`, as the engine's NormalizedImage): every channel is copied.
 */
export function extractMirroredBoxInterleaved(data: ArrayLike<number>, dims: Vec3, channels: number, box: Box, out?: Float32Array): Float32Array {
  const [nx, ny, nz] = dims;
  if (!Number.isInteger(channels) || channels < 1) throw new RangeError(`channels must be a positive integer, not ${channels}`);
  if (data.length !== nx * ny * nz * channels) {
    throw new RangeError(`voxel array has ${data.length} values, dims ${dims.join('×')} × ${channels} channels need ${nx * ny * nz * channels}`);
  }
  const [xs, ys, zs] = mirroredOffsets(dims, box);
  const count = xs.length * ys.length * zs.length;
  const result = out ?? new Float32Array(count * channels);
  if (result.length !== count * channels) throw new RangeError(`output has ${result.length} values, the box needs ${count * channels}`);
  let o = 0;
  for (let k = 0; k < zs.length; k++) {
    for (let j = 0; j < ys.length; j++) {
      const row = zs[k] + ys[j];
      for (let i = 0; i < xs.length; i++) {
        const src = (row + xs[i]) * channels;
        for (let c = 0; c < channels; c++) result[o++] = data[src + c];
      }
    }
  }
  return result;
}
