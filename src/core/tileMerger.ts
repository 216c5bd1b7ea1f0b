/**
 * Stitching network output tiles into a label volume (and optional uint8 class probabilities),
 * with memory bounded by a slab of the volume, never a float copy of the whole of it.
 *
 * - Without blending (`valid` networks): every voxel has exactly one writer in the plan, so each
 *   tile's crop is turned into labels (argmax) and probabilities at once; nothing is accumulated.
 * - With blending (`same` networks): `weight × output` and `weight` are summed per voxel, then
 *   divided (nnU-Net). Tiles arrive z-slowest (plan order), so once a tile starting at plane z
 *   arrives, every plane before z is final: it is turned into labels and its accumulator reused.
 *   The accumulators are a ring of `min(tile z, volume z)` planes: (classes + 1) × 4 bytes ×
 *   nx × ny × tile z (for 512×512 planes, a 64-voxel tile and 2 classes: 192 MiB), against
 *   (classes + 1) × 4 bytes × the whole volume (1.5 GiB at 512³) for a whole-volume accumulator.
 */
import { gaussianWeights } from './blending';
import type { Tile, TilePlan } from './tiling';

/** What the network's output channels hold. */
export type TileActivation = 'logits' | 'probabilities';

export interface TileMergerOptions {
  plan: TilePlan;
  /** Output channels of the network = classes, background first (class c becomes label c + 1). */
  classes: number;
  /** 'logits' (default): probabilities are their softmax; 'probabilities': used as they are. */
  activation?: TileActivation;
  /** Also keep per-class probabilities, quantized to 0..255. */
  probabilities?: boolean;
  /** Blend weights of one output tile (plan.tile-sized, x fastest); default `gaussianWeights(plan.tile)`. Only with `plan.blend`. */
  weights?: Float32Array;
}

/** The stitched prediction, on the plan's volume grid (x fastest). */
export interface MergedPrediction {
  /** Predicted labels 1..K (class c → c + 1; 1 = background); uint16 above 254 classes. */
  labels: Uint8Array | Uint16Array;
  /** K volumes one after the other (class 0 first), probability × 255 rounded; when asked for. */
  probabilities?: Uint8Array;
}

/**
 * Accumulates the tiles of a plan. Call `add(tile, output)` for every tile of `plan.tiles` in
 * plan order, then `finish()`.
 */
export class TileMerger {
  private readonly plan: TilePlan;
  private readonly classes: number;
  private readonly activation: TileActivation;
  private readonly labels: Uint8Array | Uint16Array;
  private readonly probabilities?: Uint8Array;
  private readonly weights?: Float32Array;
  /** Blend accumulators: ring of planes, (ring plane, y, x, class) and (ring plane, y, x). */
  private readonly sums?: Float32Array;
  private readonly weightSums?: Float32Array;
  private readonly ringPlanes: number;
  /** Planes below this are final (blend mode). */
  private finalPlanes = 0;
  private written = 0;
  private finished = false;
  /** Scratch for one voxel's channel values. */
  private readonly voxel: Float64Array;

  constructor(options: TileMergerOptions) {
    const { plan, classes } = options;
    if (!Number.isInteger(classes) || classes < 1 || classes > 65534) throw new RangeError(`classes must be an integer 1..65534, not ${classes}`);
    this.plan = plan;
    this.classes = classes;
    this.activation = options.activation ?? 'logits';
    const [nx, ny, nz] = plan.dims;
    const count = nx * ny * nz;
    this.labels = classes + 1 > 255 ? new Uint16Array(count) : new Uint8Array(count);
    if (options.probabilities) this.probabilities = new Uint8Array(count * classes);
    this.voxel = new Float64Array(classes);
    this.ringPlanes = Math.min(plan.tile[2], nz);
    if (plan.blend) {
      const tileVoxels = plan.tile[0] * plan.tile[1] * plan.tile[2];
      this.weights = options.weights ?? gaussianWeights(plan.tile);
      if (this.weights.length !== tileVoxels) throw new RangeError(`blend weights have ${this.weights.length} values, the tile has ${tileVoxels}`);
      this.sums = new Float32Array(this.ringPlanes * nx * ny * classes);
      this.weightSums = new Float32Array(this.ringPlanes * nx * ny);
    } else if (options.weights) {
      throw new RangeError('blend weights given for a plan that does not blend');
    }
  }

  /** Bytes held by the accumulators (0 without blending), labels and probabilities excluded. */
  get accumulatorBytes(): number {
    return (this.sums?.byteLength ?? 0) + (this.weightSums?.byteLength ?? 0);
  }

  /**
   * Adds one tile's network output: plan.tile-sized, channel-last and x fastest,
   * `output[((z·ty + y)·tx + x)·classes + c]` (a tfjs [1, D, H, W, C] tensor's data).
   */
  add(tile: Tile, output: Float32Array): void {
    if (this.finished) throw new Error('tile added after finish()');
    const [tx, ty, tz] = this.plan.tile;
    const K = this.classes;
    if (output.length !== tx * ty * tz * K) {
      throw new RangeError(`tile ${tile.index} output has ${output.length} values, a ${tx}×${ty}×${tz} tile of ${K} classes has ${tx * ty * tz * K}`);
    }
    if (this.plan.blend) this.accumulate(tile, output);
    else this.writeDirect(tile, output);
  }

  /** Finalizes the remaining planes and returns the stitched prediction. */
  finish(): MergedPrediction {
    if (this.finished) throw new Error('finish() called twice');
    const [nx, ny, nz] = this.plan.dims;
    if (this.plan.blend) this.finalizeUpTo(nz);
    else if (this.written !== nx * ny * nz) {
      throw new Error(`the tiles wrote ${this.written} of ${nx * ny * nz} voxels: some tiles are missing or were added twice`);
    }
    this.finished = true;
    return this.probabilities ? { labels: this.labels, probabilities: this.probabilities } : { labels: this.labels };
  }

  private writeDirect(tile: Tile, output: Float32Array): void {
    const [nx, ny] = this.plan.dims;
    const [tx, ty] = this.plan.tile;
    const K = this.classes;
    const { start, size } = tile.output;
    const [cx, cy, cz] = tile.cropStart;
    const values = this.voxel;
    for (let k = 0; k < size[2]; k++) {
      for (let j = 0; j < size[1]; j++) {
        let src = (((cz + k) * ty + cy + j) * tx + cx) * K;
        let dst = start[0] + nx * (start[1] + j + ny * (start[2] + k));
        for (let i = 0; i < size[0]; i++, src += K, dst++) {
          for (let c = 0; c < K; c++) values[c] = output[src + c];
          this.store(dst, values, this.activation === 'logits');
        }
      }
    }
    this.written += size[0] * size[1] * size[2];
  }

  private accumulate(tile: Tile, output: Float32Array): void {
    const [nx, ny] = this.plan.dims;
    const [tx, ty] = this.plan.tile;
    const K = this.classes;
    const { start, size } = tile.output;
    if (start[2] < this.finalPlanes) {
      throw new Error(`tile ${tile.index} starts at plane ${start[2]}, but planes up to ${this.finalPlanes - 1} are final: add tiles in plan order`);
    }
    this.finalizeUpTo(start[2]);
    const [cx, cy, cz] = tile.cropStart;
    const sums = this.sums!;
    const weightSums = this.weightSums!;
    const weights = this.weights!;
    for (let k = 0; k < size[2]; k++) {
      const ring = (start[2] + k) % this.ringPlanes;
      for (let j = 0; j < size[1]; j++) {
        let src = ((cz + k) * ty + cy + j) * tx + cx;
        let dst = start[0] + nx * (start[1] + j + ny * ring);
        for (let i = 0; i < size[0]; i++, src++, dst++) {
          const w = weights[src];
          weightSums[dst] += w;
          const s = src * K;
          const d = dst * K;
          for (let c = 0; c < K; c++) sums[d + c] += w * output[s + c];
        }
      }
    }
  }

  /** Turns the accumulated planes below `plane` into labels and clears their ring slots. */
  private finalizeUpTo(plane: number): void {
    const [nx, ny] = this.plan.dims;
    const K = this.classes;
    const sums = this.sums!;
    const weightSums = this.weightSums!;
    const values = this.voxel;
    const planeVoxels = nx * ny;
    for (let z = this.finalPlanes; z < plane; z++) {
      const ring = (z % this.ringPlanes) * planeVoxels;
      for (let v = 0; v < planeVoxels; v++) {
        const w = weightSums[ring + v];
        if (!(w > 0)) throw new Error(`voxel (${v % nx}, ${Math.floor(v / nx)}, ${z}) is covered by no tile: some tiles are missing`);
        const d = (ring + v) * K;
        for (let c = 0; c < K; c++) values[c] = sums[d + c] / w;
        this.store(z * planeVoxels + v, values, this.activation === 'logits');
      }
      sums.fill(0, ring * K, (ring + planeVoxels) * K);
      weightSums.fill(0, ring, ring + planeVoxels);
    }
    if (plane > this.finalPlanes) this.finalPlanes = plane;
  }

  /** Writes one voxel's label (argmax, first on ties) and, when kept, its quantized probabilities. */
  private store(index: number, values: Float64Array, softmax: boolean): void {
    const K = this.classes;
    let best = 0;
    for (let c = 1; c < K; c++) if (values[c] > values[best]) best = c;
    this.labels[index] = best + 1;
    const probabilities = this.probabilities;
    if (!probabilities) return;
    const count = this.labels.length;
    if (softmax) {
      const peak = values[best];
      let total = 0;
      for (let c = 0; c < K; c++) total += Math.exp(values[c] - peak);
      for (let c = 0; c < K; c++) probabilities[c * count + index] = Math.round((255 * Math.exp(values[c] - peak)) / total);
    } else {
      for (let c = 0; c < K; c++) probabilities[c * count + index] = Math.round(255 * Math.min(1, Math.max(0, values[c])));
    }
  }
}
