/**
 * Training patches and segmentation tiles sized for the GPU the webgpu backend runs on (see
 * memoryPlan.ts). Off webgpu these return what they are given.
 */
import * as os from 'node:os';
import type { Vec3 } from '../../core/geometry';
import type { UNet } from '../model';
import { alignmentOf, plannedInputSize, type PredictionTiling } from '../predictionPlan';
import type { PatchGeometry } from '../../protocol/training';
import { tf } from '../tf';
import { activeAdapter } from './device';
import { doesNotFit, inferenceBytes, largestFitting, memoryBudget, trainingBytes, type GpuBudget } from './memoryPlan';

/** The budget of the device the webgpu backend runs on now; undefined on other backends. */
export function activeGpuBudget(): GpuBudget | undefined {
  if (tf.getBackend() !== 'webgpu') return undefined;
  const adapter = activeAdapter();
  if (!adapter) return undefined;
  return {
    maxTensorBytes: Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize),
    memoryBytes: memoryBudget(adapter.memory?.bytes, adapter.software, os.freemem()),
  };
}

const xyz = (v: readonly number[]): Vec3 => [v[2], v[1], v[0]];
const zyx = (v: readonly number[]): [number, number, number] => [v[2], v[1], v[0]];
const fmt = (v: readonly number[]) => v.join('×');

/** A patch asked for (or chosen) that cannot fit the GPU. */
export class GpuMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GpuMemoryError';
  }
}

/**
 * The training patch on the GPU: `geometry` when it fits; when it does not, an error naming the
 * largest that fits if the patch was asked for (`explicit`), else that largest patch.
 */
export function fitTrainingGeometry(net: UNet, geometry: PatchGeometry, batch: number, explicit: boolean, budget = activeGpuBudget()): PatchGeometry {
  if (!budget) return geometry;
  const why = doesNotFit(trainingBytes(net.config, geometry.input, batch), budget);
  if (!why) return geometry;
  const inputFor = (output: Vec3) => xyz(net.inputSizeFor(zyx(output)));
  const fitting = largestFitting(geometry.output, alignmentOf(net), budget, (output) => trainingBytes(net.config, inputFor(output), batch));
  const what = `the training patch ${fmt(geometry.output)} (input ${fmt(geometry.input)}, batch ${batch}) does not fit the GPU: ${why}`;
  if (!fitting) throw new GpuMemoryError(`${what}; not even the smallest patch fits: use a smaller network (fewer levels or filters) or another backend`);
  const input = inputFor(fitting);
  const output = xyz(net.outputSize(zyx(input)));
  if (explicit) throw new GpuMemoryError(`${what}; the largest that fits is about ${fmt(output)}: set patchSize to that or smaller (or lower the batch size)`);
  return { input, output };
}

/** The largest output tile a GPU segmentation starts from (per axis): bounds the JavaScript-side tile buffers too. */
export const GPU_TILE_CAP: Vec3 = [256, 256, 256];

/**
 * The tiling of a segmentation on the GPU: a tile asked for is checked (an error names the
 * largest that fits); by default the largest tile that fits, up to GPU_TILE_CAP and the volume
 * (larger tiles waste less on overlap and context).
 */
export function fitPredictionTiling(net: UNet, dims: Vec3, tiling: PredictionTiling, budget = activeGpuBudget()): PredictionTiling {
  if (!budget) return tiling;
  const need = (tile: Vec3) => inferenceBytes(net.config, plannedInputSize(net, dims, { ...tiling, tile }));
  const align = alignmentOf(net);
  if (tiling.tile) {
    const why = doesNotFit(need(tiling.tile), budget);
    if (!why) return tiling;
    const fitting = largestFitting(tiling.tile, align, budget, need);
    throw new GpuMemoryError(
      `the segmentation tile ${fmt(tiling.tile)} does not fit the GPU: ${why}; ${fitting ? `the largest that fits is about ${fmt(fitting)}` : 'not even the smallest tile fits: use another backend'}`,
    );
  }
  const start = dims.map((n, a) => Math.max(align, Math.min(GPU_TILE_CAP[a], Math.ceil(n / align) * align))) as Vec3;
  const fitting = largestFitting(start, align, budget, need);
  if (!fitting) throw new GpuMemoryError(`no segmentation tile of this network fits the GPU (${doesNotFit(need([align, align, align]), budget)}): use another backend`);
  return { ...tiling, tile: fitting };
}
