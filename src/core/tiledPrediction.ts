/**
 * Predicting a whole volume tile by tile with any network, given as a callback: extract the
 * mirror-padded input tile, run the network, stitch its output. Engine-independent: the engine
 * passes a `runTile` that wraps its model; tests pass a plain function. Memory stays bounded by
 * one input tile, one output tile and the merger's slab (see tileMerger.ts).
 */
import type { Vec3 } from './geometry';
import { TileMerger, type MergedPrediction, type TileActivation } from './tileMerger';
import { extractMirroredBoxInterleaved, type Tile, type TilePlan } from './tiling';

/** The image the network reads: channel-last, `data[voxel·channels + c]`, on the plan's grid. */
export interface TiledImage {
  dims: Vec3;
  channels: number;
  data: ArrayLike<number>;
}

export interface TiledPredictionOptions {
  plan: TilePlan;
  image: TiledImage;
  /** Output channels of the network (classes, background first). */
  classes: number;
  /** What the network returns (default 'logits'). */
  activation?: TileActivation;
  /** Keep uint8 per-class probabilities too. */
  probabilities?: boolean;
  /**
   * Runs the network on one input tile: `input` is plan.inputSize (x, y, z) × channels, laid
   * out [D=z, H=y, W=x, C] (x fastest after the channel); it returns plan.tile × classes values,
   * [D, H, W, K]. The input buffer is reused for the next tile.
   */
  runTile(input: Float32Array, tile: Tile): Promise<Float32Array> | Float32Array;
  /** Called after each tile with the count done and the total. */
  onProgress?(done: number, total: number, tile: Tile): void;
  /** Checked between tiles: once aborted, the prediction stops with an AbortError. */
  signal?: AbortSignal;
}

/** Runs every tile of the plan in order and returns the stitched labels (and probabilities). */
export async function predictTiled(options: TiledPredictionOptions): Promise<MergedPrediction> {
  const { plan, image } = options;
  if (image.dims.some((n, a) => n !== plan.dims[a])) throw new RangeError(`the image is ${image.dims.join('×')}, the plan ${plan.dims.join('×')}`);
  const merger = new TileMerger({ plan, classes: options.classes, activation: options.activation, probabilities: options.probabilities });
  const input = new Float32Array(plan.inputSize[0] * plan.inputSize[1] * plan.inputSize[2] * image.channels);
  for (const tile of plan.tiles) {
    options.signal?.throwIfAborted();
    extractMirroredBoxInterleaved(image.data, image.dims, image.channels, tile.input, input);
    merger.add(tile, await options.runTile(input, tile));
    options.onProgress?.(tile.index + 1, plan.tiles.length, tile);
  }
  return merger.finish();
}
