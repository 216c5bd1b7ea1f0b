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
import { fileRecord, readRunRecord, runModelDir } from './runFolder';
import type { RunRecord, VolumeNormalization, VolumeRecord } from '../protocol/run';
import type { CheckpointChoice, NormalizationSource, TileProgress } from '../protocol/segment';
import { loadUNet, type ApplyOptions, type UNet } from './model';
import { computeNormalization, normalizeVolume, volumeChannels, COORDINATE_SCALE_MM } from './normalize';
import { DEFAULT_NORMALIZATION } from '../protocol/settings';
import { planPrediction, type PredictionTiling } from './predictionPlan';
import { logitAdjustment } from './loss';
import { assertBackendHealthy, releaseCachedMemory } from './backends';
import { tf } from './tf';
import { fitPredictionTiling } from './webgpu/fit';
import { keepLargestComponent } from '../core/components';
import { annotationChannelCount, annotationField, writeAnnotationChannels, type AnnotationField } from '../core/annotationField';

export interface PredictOptions extends PredictionTiling {
  /**
   * The network also reads three coordinate channels after the image's (a run trained with
   * `coordinateChannels`, see withCoordinateChannels): they are computed tile by tile, mirrored
   * beyond the borders as in training.
   */
  coordinateChannels?: boolean;
  /**
   * The network also reads annotation channels before the image's (a run trained with
   * `annotationChannels`): the nearest annotation of every voxel of this volume.
   */
  annotation?: AnnotationField;
  /** Subtracted from the network's logits per class (index c = class c) before blending and the decision: see logitAdjustment. */
  logitAdjustment?: readonly number[];
  /** Per class, added to the trust in that class's annotations (a run's calibration; see ApplyOptions). */
  annotationOffsets?: readonly number[];
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
export async function runNetworkOnTile(net: UNet, input: Float32Array, inputSize: Vec3, channels: number, outputSize: Vec3, options: ApplyOptions = {}): Promise<Float32Array> {
  const logits = tf.tidy(() => {
    const out = net.apply(tf.tensor5d(input, [1, inputSize[2], inputSize[1], inputSize[0], channels]), false, options);
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
    const values = (await logits.data()) as Float32Array;
    assertBackendHealthy();
    return values;
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
 * Builds the network's input tile from the image's: the annotation channels first (the nearest
 * annotation's class and nearness, see src/core/annotationField.ts), then the image's channels,
 * then the three coordinate channels of withCoordinateChannels (each voxel's position in mm from
 * the volume's centre over COORDINATE_SCALE_MM). Beyond the borders both are read at the mirrored
 * voxel, as the training sampler reads them.
 */
function tileAssembler(
  volume: Volume,
  imageChannels: number,
  inputSize: Vec3,
  extra: { annotation?: AnnotationField; coordinates: boolean },
): (input: Float32Array, tile: Tile) => Float32Array {
  const [sx, sy, sz] = inputSize;
  const { annotation, coordinates } = extra;
  const A = annotation ? annotationChannelCount(annotation.classes) : 0;
  const C = A + imageChannels + (coordinates ? 3 : 0);
  const out = new Float32Array(sx * sy * sz * C);
  const [nx, ny] = volume.dims;
  const voxel = (a: number, start: number, size: number) => Int32Array.from({ length: size }, (_, i) => reflectIndex(start + i, volume.dims[a]));
  const position = (a: number, index: Int32Array) => Float32Array.from(index, (i) => ((i - (volume.dims[a] - 1) / 2) * volume.spacing[a]) / COORDINATE_SCALE_MM);
  return (input, tile) => {
    const [x0, y0, z0] = tile.input.start;
    const ix = voxel(0, x0, sx);
    const iy = voxel(1, y0, sy);
    const iz = voxel(2, z0, sz);
    const cx = position(0, ix);
    const cy = position(1, iy);
    const cz = position(2, iz);
    for (let k = 0, v = 0; k < sz; k++) {
      for (let j = 0; j < sy; j++) {
        for (let i = 0; i < sx; i++, v++) {
          const o = v * C;
          if (annotation) writeAnnotationChannels(annotation, ix[i] + nx * (iy[j] + ny * iz[k]), out, o);
          for (let c = 0; c < imageChannels; c++) out[o + A + c] = input[v * imageChannels + c];
          if (coordinates) {
            out[o + A + imageChannels] = cx[i];
            out[o + A + imageChannels + 1] = cy[j];
            out[o + A + imageChannels + 2] = cz[k];
          }
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
  const annotation = options.annotation;
  if (annotation && annotation.dims.join() !== volume.dims.join()) {
    throw new RangeError(`the annotations are on a ${annotation.dims.join('×')} grid, the image is ${volume.dims.join('×')}`);
  }
  if (annotation && annotation.classes !== net.config.classes) {
    throw new RangeError(`the annotations have ${annotation.classes} classes, the network ${net.config.classes}`);
  }
  const annotationChannels = annotation ? annotationChannelCount(annotation.classes) : 0;
  const channels = annotationChannels + imageChannels + (coordinates ? 3 : 0);
  if (channels !== net.config.inChannels) {
    const extras = [annotation ? `${annotationChannels} annotation channels` : '', coordinates ? '3 coordinate channels' : ''].filter(Boolean);
    throw new RangeError(
      `the network takes ${net.config.inChannels} channel(s) but the image has ${imageChannels}${extras.length > 0 ? ` (plus ${extras.join(' and ')})` : ''}`,
    );
  }
  // On a GPU the tile is sized to its memory (or a tile asked for is checked) before allocating.
  const plan = planPrediction(net, volume.dims, fitPredictionTiling(net, volume.dims, options));
  releaseCachedMemory();
  const { image, prepare } = tiledSource(volume, normalization);
  const K = net.config.classes;
  const adjustment = options.logitAdjustment?.some((a) => a !== 0) ? options.logitAdjustment : undefined;
  if (adjustment && adjustment.length !== K) throw new RangeError(`the logit adjustment has ${adjustment.length} classes, the network ${K}`);
  const assemble = coordinates || annotation ? tileAssembler(volume, imageChannels, plan.inputSize, { annotation, coordinates }) : undefined;
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
      const logits = await runNetworkOnTile(net, assemble ? assemble(input, tile) : input, plan.inputSize, channels, plan.tile, { annotationOffsets: options.annotationOffsets });
      if (adjustment) for (let i = 0; i < logits.length; i++) logits[i] -= adjustment[i % K];
      return logits;
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
 * coordinate channels, which classes keep only their largest component, how much of its class
 * weighting's shift the decision takes back (logitAdjustment), and, for a run with
 * annotation channels, the nearest-annotation field of `volume` made from `annotations` (its
 * sparse labels on its grid: 0 = unlabeled, c + 1 = class c). Throws AnnotationsNeededError when
 * such a run is given no annotations.
 */
export function runPredictOptions(
  record: RunRecord,
  volume: Pick<Volume, 'dims' | 'spacing'>,
  annotations?: Uint8Array | Uint16Array,
): Pick<PredictOptions, 'coordinateChannels' | 'singleObjectClasses' | 'annotation' | 'logitAdjustment' | 'annotationOffsets'> {
  const options: Pick<PredictOptions, 'coordinateChannels' | 'singleObjectClasses' | 'annotation' | 'logitAdjustment' | 'annotationOffsets'> = {
    coordinateChannels: record.settings.coordinateChannels === true,
    singleObjectClasses: record.singleObjectClasses,
    // Runs from before the setting have none (and a cancelled run may keep `auto`): no adjustment.
    logitAdjustment: logitAdjustment(record.classWeights ?? [], typeof record.settings.logitAdjustment === 'number' ? record.settings.logitAdjustment : 0),
  };
  if (record.settings.annotationChannels === true) {
    const voxels = volume.dims[0] * volume.dims[1] * volume.dims[2];
    if (!annotations || !annotations.some((v) => v !== 0)) throw new AnnotationsNeededError();
    if (annotations.length !== voxels) throw new RangeError(`the annotations have ${annotations.length} voxels, the image ${voxels}`);
    options.annotation = annotationField(annotations, volume.dims, volume.spacing, record.classes?.length ?? record.network?.classes ?? 2);
    const offsets: unknown = record.annotationOffsets;
    if (offsets !== undefined) {
      const K = options.annotation.classes;
      if (!Array.isArray(offsets) || offsets.length !== K || offsets.some((o) => typeof o !== 'number' || !Number.isFinite(o))) {
        throw new RangeError(`run.json's annotationOffsets must be ${K} finite numbers (one per class), not ${JSON.stringify(offsets)}`);
      }
      options.annotationOffsets = offsets as number[];
    }
  }
  return options;
}

/** A run with annotation channels was asked to segment a volume without annotations. */
export class AnnotationsNeededError extends Error {
  constructor() {
    super(
      'this run reads the annotations of the volume it segments (it was trained with annotation channels, the default for one volume with several classes): give that volume\'s label file with some annotated slices, or train with annotation channels off to segment volumes that have none',
    );
    this.name = 'AnnotationsNeededError';
  }
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


/** The run's training volume whose image has the same content as `imageFile` (by SHA-256), if any. */
export function trainingVolumeOf(record: RunRecord, imageFile: string): VolumeRecord | undefined {
  if (record.volumes.length === 0) return undefined;
  const sha = fileRecord(imageFile).sha256;
  return record.volumes.find((v) => v.image.sha256 === sha);
}

/**
 * The normalization to predict `volume` with. A training volume of the run (`trained`, see
 * trainingVolumeOf) gets the figures stored in run.json. Any other image gets its own figures,
 * computed with the run's percentile settings: training standardized each volume by its own
 * statistics, so a new scan is standardized by its own too (another scan's clip range would not
 * fit it, e.g. MRI intensities have no fixed scale).
 */
export function normalizationFor(record: RunRecord, trained: VolumeRecord | undefined, volume: Volume): { normalization: VolumeNormalization; source: NormalizationSource } {
  if (trained) return { normalization: trained.normalization, source: 'stored' };
  const settings = record.volumes[0]?.normalization.settings ?? record.settings.normalization ?? DEFAULT_NORMALIZATION;
  return { normalization: computeNormalization(volume, settings), source: 'computed' };
}
