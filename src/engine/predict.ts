/**
 * Predicting a whole volume with a trained 3D U-Net, tile by tile (see predictionPlan.ts for the
 * plans and src/core/tiledPrediction.ts for the driver): the image is normalized the way the run
 * normalized its training volumes, each tile goes through the network on the active backend in
 * inference mode, and the merger turns the tiles into labels 1..K (1 = background) and, when
 * asked, uint8 class probabilities. Memory: the image, the uint8 outputs, one tile's tensors and
 * (for blended tiles) a slab of accumulators; no float array spans the whole volume for a
 * single-channel image (its tiles are normalized as they are cut out).
 */
import * as path from 'node:path';
import type { Vec3 } from '../core/geometry';
import { predictTiled, type TiledImage } from '../core/tiledPrediction';
import type { MergedPrediction } from '../core/tileMerger';
import { reflectIndex, type Tile, type TilePlan } from '../core/tiling';
import type { Volume } from '../core/volume';
import { fileRecord, readRunRecord, runModelDir, type RunRecord } from './runFolder';
import { loadUNet, type UNet } from './model';
import { computeNormalization, normalizeVolume, volumeChannels, COORDINATE_SCALE_MM, DEFAULT_NORMALIZATION, type VolumeNormalization } from './normalize';
import { planPrediction, type PredictionTiling } from './predictionPlan';
import { tf } from './tf';
import { keepLargestComponent } from '../core/components';

/** Progress after each tile. */
export interface TileProgress {
  /** Tiles done and in the plan. */
  done: number;
  total: number;
  /** Seconds since the first tile started, and the estimated seconds left. */
  elapsedSeconds: number;
  etaSeconds: number;
  /** Volume voxels finished per second so far. */
  voxelsPerSecond: number;
}

export interface PredictOptions extends PredictionTiling {
  /**
   * The network also reads three coordinate channels after the image's (a run trained with
   * `coordinateChannels`, see withCoordinateChannels): they are computed tile by tile, mirrored
   * beyond the borders as in training.
   */
  coordinateChannels?: boolean;
  /** Also return per-class probabilities (uint8, 0–255). */
  probabilities?: boolean;
  /** Label values reduced to their largest 3D component (each island takes the label around it; see keepLargestComponent). */
  singleObjectClasses?: readonly number[];
  /** Checked between tiles: once aborted, prediction stops with an AbortError. */
  signal?: AbortSignal;
  onProgress?(progress: TileProgress): void;
}

/** A whole-volume prediction. */
export interface VolumePrediction extends MergedPrediction {
  plan: TilePlan;
  /** Wall time of the tiles, s. */
  seconds: number;
}

/**
 * Runs one input tile through the network: `input` is the plan's input tile, channels last,
 * [D=z, H=y, W=x, C] flattened; returns the output tile's logits [D, H, W, K] flattened.
 */
export async function runNetworkOnTile(net: UNet, input: Float32Array, inputSize: Vec3, channels: number, outputSize: Vec3): Promise<Float32Array> {
  const logits = tf.tidy(() => {
    const out = net.apply(tf.tensor5d(input, [1, inputSize[2], inputSize[1], inputSize[0], channels]), false);
    const [, d, h, w] = out.shape;
    // A 'same' network given context around its tile: keep the centre.
    if (net.config.padding === 'same' && (d !== outputSize[2] || h !== outputSize[1] || w !== outputSize[0])) {
      const begin = [0, (d - outputSize[2]) / 2, (h - outputSize[1]) / 2, (w - outputSize[0]) / 2, 0];
      if (begin.some((b) => !Number.isInteger(b) || b < 0)) return out;
      return tf.slice(out, begin, [1, outputSize[2], outputSize[1], outputSize[0], out.shape[4]]);
    }
    return out;
  });
  try {
    const [, d, h, w, k] = logits.shape;
    if (d !== outputSize[2] || h !== outputSize[1] || w !== outputSize[0] || k !== net.config.classes) {
      throw new Error(`internal: the network returned [${logits.shape.join(', ')}] for a tile planned as ${outputSize.join('×')} × ${net.config.classes}`);
    }
    return (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
  }
}

/**
 * The image as the tile driver reads it. One channel: the stored voxels themselves, normalized
 * tile by tile by the returned `prepare` (the same arithmetic as normalizeVolume, so the values
 * are identical). Several channels: normalizeVolume's interleaved float copy.
 */
function tiledSource(volume: Volume, normalization: VolumeNormalization): { image: TiledImage; prepare(input: Float32Array): void } {
  const channels = volumeChannels(volume);
  if (normalization.channels.length !== channels) {
    throw new RangeError(`the run normalizes ${normalization.channels.length} channel(s) but the image has ${channels}`);
  }
  if (channels > 1) {
    const normalized = normalizeVolume(volume, normalization);
    return { image: { dims: normalized.dims, channels, data: normalized.data }, prepare: () => undefined };
  }
  const { low, high, mean, std } = normalization.channels[0];
  const slope = volume.sclSlope;
  const inter = volume.sclInter;
  const inv = 1 / std;
  return {
    image: { dims: volume.dims, channels: 1, data: volume.data },
    prepare(input) {
      for (let i = 0; i < input.length; i++) input[i] = (Math.min(high, Math.max(low, input[i] * slope + inter)) - mean) * inv;
    },
  };
}

/**
 * Appends the three coordinate channels of withCoordinateChannels to an input tile: each voxel's
 * position in mm from the volume's centre over COORDINATE_SCALE_MM, at the mirrored voxel where
 * the tile reaches outside (the training sampler mirrors the coordinate channels with the image).
 */
function coordinateAppender(volume: Volume, imageChannels: number, inputSize: Vec3): (input: Float32Array, tile: Tile) => Float32Array {
  const [sx, sy, sz] = inputSize;
  const out = new Float32Array(sx * sy * sz * (imageChannels + 3));
  const axis = (a: number, start: number, size: number) =>
    Float32Array.from({ length: size }, (_, i) => ((reflectIndex(start + i, volume.dims[a]) - (volume.dims[a] - 1) / 2) * volume.spacing[a]) / COORDINATE_SCALE_MM);
  return (input, tile) => {
    const [x0, y0, z0] = tile.input.start;
    const cx = axis(0, x0, sx);
    const cy = axis(1, y0, sy);
    const cz = axis(2, z0, sz);
    const C = imageChannels + 3;
    for (let k = 0, v = 0; k < sz; k++) {
      for (let j = 0; j < sy; j++) {
        for (let i = 0; i < sx; i++, v++) {
          const o = v * C;
          for (let c = 0; c < imageChannels; c++) out[o + c] = input[v * imageChannels + c];
          out[o + imageChannels] = cx[i];
          out[o + imageChannels + 1] = cy[j];
          out[o + imageChannels + 2] = cz[k];
        }
      }
    }
    return out;
  };
}

/**
 * Predicts every voxel of `volume` (read with `allFrames` for several channels) with `net`,
 * normalizing with `normalization`. Runs on the backend active now.
 */
export async function predictVolume(net: UNet, volume: Volume, normalization: VolumeNormalization, options: PredictOptions = {}): Promise<VolumePrediction> {
  const imageChannels = volumeChannels(volume);
  const coordinates = options.coordinateChannels ?? false;
  const channels = imageChannels + (coordinates ? 3 : 0);
  if (channels !== net.config.inChannels) {
    throw new RangeError(
      `the network takes ${net.config.inChannels} channel(s) but the image has ${imageChannels}${coordinates ? ' (plus 3 coordinate channels)' : ''}`,
    );
  }
  const plan = planPrediction(net, volume.dims, options);
  const { image, prepare } = tiledSource(volume, normalization);
  const withCoordinates = coordinates ? coordinateAppender(volume, imageChannels, plan.inputSize) : undefined;
  const voxels = volume.dims[0] * volume.dims[1] * volume.dims[2];
  const start = performance.now();
  let doneVoxels = 0;
  const merged = await predictTiled({
    plan,
    image,
    classes: net.config.classes,
    probabilities: options.probabilities,
    signal: options.signal,
    runTile: async (input: Float32Array, tile: Tile) => {
      // Let the event loop turn once per tile, so that an abort (a worker's 'cancel') is seen.
      await new Promise<void>((resolve) => setImmediate(resolve));
      prepare(input);
      return runNetworkOnTile(net, withCoordinates ? withCoordinates(input, tile) : input, plan.inputSize, channels, plan.tile);
    },
    onProgress: (done: number, total: number, tile: Tile) => {
      doneVoxels += tile.output.size[0] * tile.output.size[1] * tile.output.size[2];
      const elapsed = (performance.now() - start) / 1000;
      options.onProgress?.({
        done,
        total,
        elapsedSeconds: elapsed,
        etaSeconds: (elapsed / done) * (total - done),
        voxelsPerSecond: elapsed > 0 ? Math.min(doneVoxels, voxels) / elapsed : 0,
      });
    },
  });
  for (const value of options.singleObjectClasses ?? []) keepLargestComponent(merged.labels, volume.dims, value, 1);
  return { ...merged, plan, seconds: (performance.now() - start) / 1000 };
}

/**
 * The prediction options a run fixes, read from its run.json: whether its network reads
 * coordinate channels, and which classes keep only their largest component.
 */
export function runPredictOptions(record: RunRecord): Pick<PredictOptions, 'coordinateChannels' | 'singleObjectClasses'> {
  return { coordinateChannels: record.settings.coordinateChannels === true, singleObjectClasses: record.singleObjectClasses };
}

/** A run's model, ready to predict with. */
export interface LoadedRun {
  runDir: string;
  record: RunRecord;
  /** The checkpoint folder loaded, and which one it is. */
  modelDir: string;
  checkpoint: 'best' | 'last';
  iteration: number;
  net: UNet;
}

/** Which checkpoint to load: the best (the default, falling back to the last) or the last. */
export type CheckpointChoice = 'best' | 'last';

/** Loads a run's network (call after initBackend). Throws a clear error when the run has no such checkpoint. */
export async function loadRun(runDir: string, checkpoint: CheckpointChoice = 'best'): Promise<LoadedRun> {
  const record = readRunRecord(runDir);
  let chosen: 'best' | 'last';
  let modelDir: string;
  if (checkpoint === 'last') {
    if (!record.checkpoints.last) throw new Error(`the run in ${runDir} has no last checkpoint (status: ${record.status})`);
    chosen = 'last';
    modelDir = path.join(runDir, record.checkpoints.last.dir);
  } else {
    modelDir = runModelDir(runDir, record);
    chosen = record.checkpoints.best ? 'best' : 'last';
  }
  const net = await loadUNet(modelDir);
  if (!record.classes || record.classes.length !== net.config.classes) {
    net.dispose();
    throw new Error(`the run in ${runDir} lists ${record.classes?.length ?? 0} classes but its network has ${net.config.classes}`);
  }
  return { runDir, record, modelDir, checkpoint: chosen, iteration: record.checkpoints[chosen]?.iteration ?? 0, net };
}

/** Where an image's normalization came from. */
export type NormalizationSource = 'stored' | 'computed';

/**
 * The normalization to predict `imageFile` with. A training volume of the run (same content
 * hash) gets the figures stored in run.json. Any other image gets its own figures, computed with
 * the run's percentile settings: training standardized each volume by its own statistics, so a
 * new scan is standardized by its own too (another scan's clip range would not fit it, e.g. MRI
 * intensities have no fixed scale).
 */
export function normalizationFor(record: RunRecord, imageFile: string, volume: Volume): { normalization: VolumeNormalization; source: NormalizationSource } {
  if (record.volumes.length > 0) {
    const sha = fileRecord(imageFile).sha256;
    const known = record.volumes.find((v) => v.image.sha256 === sha);
    if (known) return { normalization: known.normalization, source: 'stored' };
  }
  const settings = record.volumes[0]?.normalization.settings ?? record.settings.normalization ?? DEFAULT_NORMALIZATION;
  return { normalization: computeNormalization(volume, settings), source: 'computed' };
}
