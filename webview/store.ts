/**
 * The webview's copy of the document: the volume's voxels, the labels, the prediction and the
 * classes. The host holds the authoritative labels; this copy is painted on directly (for
 * immediate feedback) and kept in step with the deltas both sides exchange.
 */
import { typedArrayOf, type VoxelArray } from '../src/core/datatypes';
import {
  applyDelta,
  decodeLabelRuns,
  labelsForClasses,
  deltaBounds,
  sliceLabelCounts,
  updateSliceLabelCounts,
  type DeltaDirection,
  type LabelArray,
  type LabelDelta,
  type SliceLabelCounts,
} from '../src/core/editDeltas';
import { findAnnotatedSlices, updateAnnotatedSlices, type AnnotatedSlices } from '../src/core/annotatedSlices';
import type { Vec3 } from '../src/core/geometry';
import { defaultClassColor, hexToRgb, type LabelClass } from '../src/core/labels';
import type { VolumeInfo } from '../src/protocol/webview';

/** Colours by label value as separate channels (index = value), for the renderer. */
export interface ColorTable {
  r: Uint8Array;
  g: Uint8Array;
  b: Uint8Array;
}

/** A voxel box, inclusive bounds. */
export interface VoxelBox {
  min: Vec3;
  max: Vec3;
}

export class DocumentStore {
  readonly dims: Vec3;
  readonly voxels: VoxelArray;
  labels: LabelArray;
  counts: SliceLabelCounts;
  /** The slices a user annotated, per axis (not those that only cross annotations). */
  annotated: AnnotatedSlices = [new Set(), new Set(), new Set()];
  classes: LabelClass[] = [];
  colors: ColorTable = { r: new Uint8Array(1), g: new Uint8Array(1), b: new Uint8Array(1) };
  prediction: LabelArray | undefined;
  /** Voxels with a predicted class above background, per slice and axis. */
  predictionCounts: SliceLabelCounts | undefined;
  predictionName: string | null = null;
  predictionMax = 0;
  private receivedBytes = 0;

  constructor(readonly info: VolumeInfo, labelType: 'uint8' | 'uint16') {
    this.dims = info.dims;
    const count = info.dims[0] * info.dims[1] * info.dims[2];
    this.voxels = typedArrayOf(info.datatype, new ArrayBuffer(info.byteLength));
    this.labels = labelType === 'uint16' ? new Uint16Array(count) : new Uint8Array(count);
    this.counts = [new Uint32Array(info.dims[0]), new Uint32Array(info.dims[1]), new Uint32Array(info.dims[2])];
  }

  get voxelCount(): number {
    return this.labels.length;
  }

  /** Copies a chunk of voxels in; true when all have arrived. */
  receiveChunk(byteOffset: number, bytes: ArrayBuffer): boolean {
    const target = new Uint8Array(this.voxels.buffer);
    if (byteOffset + bytes.byteLength > target.length) throw new RangeError('a voxel chunk runs past the volume');
    target.set(new Uint8Array(bytes), byteOffset);
    this.receivedBytes += bytes.byteLength;
    return this.receivedBytes >= target.length;
  }

  /** Replaces every label from runs (start, length, value). */
  setLabels(runs: Uint32Array, labelType: 'uint8' | 'uint16'): void {
    // 16 bits where the host says so, or where the classes need them (more than 255).
    const wide = labelType === 'uint16' || this.classes.length > 255;
    const wanted = wide ? Uint16Array : Uint8Array;
    if (!(this.labels instanceof wanted)) this.labels = new wanted(this.voxelCount);
    decodeLabelRuns(runs, this.labels, wide ? 65535 : 255);
    this.counts = sliceLabelCounts(this.labels, this.dims);
    this.annotated = findAnnotatedSlices(this.labels, this.dims, this.counts);
  }

  /** Applies a delta from the host; returns the box it touched. */
  applyDelta(delta: LabelDelta, direction: DeltaDirection): VoxelBox {
    applyDelta(this.labels, this.dims, delta, direction);
    updateSliceLabelCounts(this.counts, this.dims, delta, direction);
    this.noteEdited(delta);
    return deltaBounds(delta, this.dims);
  }

  /** Keeps the annotated slices in step after `delta` was applied (here or by the host). */
  noteEdited(delta: LabelDelta): void {
    if (delta.frame.kind === 'slice') updateAnnotatedSlices(this.annotated, this.labels, this.dims, this.counts, delta.frame.axis, delta.frame.index);
    else this.annotated = findAnnotatedSlices(this.labels, this.dims, this.counts);
  }

  setClasses(classes: LabelClass[]): void {
    this.classes = classes;
    this.labels = labelsForClasses(this.labels, classes.length);
    this.rebuildColors();
  }

  setPrediction(name: string | null, runs: Uint32Array | null, maxValue: number): void {
    this.predictionName = name;
    this.predictionMax = maxValue;
    if (!runs) {
      this.prediction = undefined;
    } else {
      const values = maxValue > 255 ? new Uint16Array(this.voxelCount) : new Uint8Array(this.voxelCount);
      decodeLabelRuns(runs, values, 65535);
      this.prediction = values;
      // Background (1) is not drawn: count only the classes above it.
      this.predictionCounts = sliceLabelCounts(values, this.dims, 2);
    }
    if (!runs) this.predictionCounts = undefined;
    this.rebuildColors();
  }

  /** Colours for every value the labels or the prediction may hold; values beyond the classes get palette colours. */
  private rebuildColors(): void {
    const size = Math.max(this.classes.length, this.predictionMax, 1) + 1;
    const colors: ColorTable = { r: new Uint8Array(size), g: new Uint8Array(size), b: new Uint8Array(size) };
    for (let value = 1; value < size; value++) {
      const [r, g, b] = hexToRgb(this.classes[value - 1]?.color ?? defaultClassColor(value));
      colors.r[value] = r;
      colors.g[value] = g;
      colors.b[value] = b;
    }
    this.colors = colors;
  }

  /** The class list entry of a label value (undefined for 0 or unknown values). */
  classOf(value: number): LabelClass | undefined {
    return value > 0 ? this.classes[value - 1] : undefined;
  }

  /** The annotated slices along `axis`, ascending. */
  labeledSlices(axis: 0 | 1 | 2): number[] {
    return [...this.annotated[axis]].sort((a, b) => a - b);
  }
}
