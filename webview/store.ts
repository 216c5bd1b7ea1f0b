/**
 * The webview's copy of the document: the volume's voxels, the labels, the prediction and the
 * classes. The host holds the authoritative labels; this copy is painted on directly (for
 * immediate feedback) and kept in step with the deltas both sides exchange.
 *
 * Every label change goes through this store's methods (a stroke, a slice edit, a delta from the
 * host, a whole new label map): each keeps the per-slice counts and the annotated slices in step
 * and reports the change to the store's listener, so no caller has to remember to.
 */
import { typedArrayOf, type VoxelArray } from '../src/core/datatypes';
import {
  applyDelta,
  decodeLabelRuns,
  labelsForClasses,
  deltaBounds,
  diffLabels,
  sliceLabelCounts,
  sliceLabelCountsOfRuns,
  updateSliceLabelCounts,
  type DeltaDirection,
  type LabelArray,
  type LabelDelta,
  type SliceLabelCounts,
} from '../src/core/editDeltas';
import { findAnnotatedSlices, ownLabeledVoxels, updateAnnotatedSlices, type AnnotatedSlices } from '../src/core/annotatedSlices';
import type { Vec3 } from '../src/core/geometry';
import { defaultClassColor, hexToRgb, type LabelClass } from '../src/core/labels';
import { extractSlice, type Axis } from '../src/core/slices';
import type { EditLabel, TrainingPreviewMessage, VolumeInfo } from '../src/protocol/webview';

/** Colours by label value as separate channels (index = value), for the renderer. */
export interface ColorTable {
  r: Uint8Array;
  g: Uint8Array;
  b: Uint8Array;
}

/** A voxel box, inclusive bounds (min > max on some axis when empty). */
export interface VoxelBox {
  min: Vec3;
  max: Vec3;
}

/** A box holding no voxel. */
export function emptyBox(): VoxelBox {
  return { min: [Infinity, Infinity, Infinity], max: [-Infinity, -Infinity, -Infinity] };
}

/** Grows `box` to hold voxel `ijk`. */
export function growBox(box: VoxelBox, ijk: Vec3): void {
  for (let a = 0; a < 3; a++) {
    if (ijk[a] < box.min[a]) box.min[a] = ijk[a];
    if (ijk[a] > box.max[a]) box.max[a] = ijk[a];
  }
}

/**
 * A change of the labels, as the store reports it:
 * - `replaced`: every label is new (the document opened, was reverted or sent again);
 * - `painted`: a stroke step, shown at once; the stroke becomes one edit when it ends;
 * - `edited`: an edit made here, already applied: the host must hear of it (`label`, `delta`);
 *   `newlyAnnotated` when it made its slice an annotated slice;
 * - `applied`: a delta from the host (undo, redo, a class removal);
 * - `reverted`: a stroke put back as it was (cancelled).
 * `box` holds every voxel that changed.
 */
export type LabelChange =
  | { kind: 'replaced' }
  | { kind: 'painted'; box: VoxelBox }
  | { kind: 'edited'; box: VoxelBox; label: EditLabel; delta: LabelDelta; newlyAnnotated?: { axis: Axis; index: number } }
  | { kind: 'applied'; box: VoxelBox }
  | { kind: 'reverted'; box: VoxelBox };

/** Labels of one slice in its own frame (as `extractSlice` lays them out), width × height. */
export type SliceLabels = Uint8Array | Uint16Array;

/** A brush or eraser stroke on one slice: painted voxel by voxel, one edit when it ends. */
export interface LabelStroke {
  readonly axis: Axis;
  readonly slice: number;
  /** The value painted (0 erases). */
  readonly value: number;
  /**
   * Paints the stroke's value on every voxel `visit` marks (each on the stroke's slice) and
   * reports them as `painted`.
   */
  paint(visit: (mark: (ijk: Vec3) => void) => void): void;
  /** Ends the stroke: what it changed becomes one `edited` change (returned), or undefined when nothing changed. */
  end(): LabelDelta | undefined;
  /** Puts the slice back as it was before the stroke (`reverted`). */
  cancel(): void;
}

/** One plane of a training preview: the slice at `index` perpendicular to its axis, columns along the lower in-plane axis. */
export interface TrainingPreviewPlane {
  index: number;
  width: number;
  height: number;
  labels: LabelArray;
}

/** A training's live preview (the network as it is now), on the planes it covers. */
export interface TrainingPreview {
  run: string;
  iteration: number;
  planes: Map<Axis, TrainingPreviewPlane>;
}

export class DocumentStore {
  readonly dims: Vec3;
  readonly voxels: VoxelArray;
  private labelValues: LabelArray;
  /** Whether labels came from the host yet (until then `labelValues` holds the zeros it was made with). */
  private labelsEverSet = false;
  private labelCounts: SliceLabelCounts;
  private annotatedSlices: AnnotatedSlices = [new Set(), new Set(), new Set()];
  classes: LabelClass[] = [];
  colors: ColorTable = { r: new Uint8Array(1), g: new Uint8Array(1), b: new Uint8Array(1) };
  prediction: LabelArray | undefined;
  /** Voxels with a predicted class above background, per slice and axis. */
  predictionCounts: SliceLabelCounts | undefined;
  predictionName: string | null = null;
  predictionMax = 0;
  /** A training's live preview: the planes it covers, by axis (each the slice at `index`). */
  trainingPreview: TrainingPreview | undefined;

  /** `onChange` hears of every label change, after it is applied. */
  constructor(
    readonly info: VolumeInfo,
    labelType: 'uint8' | 'uint16',
    private readonly onChange: (change: LabelChange) => void = () => {},
  ) {
    this.dims = info.dims;
    const count = info.dims[0] * info.dims[1] * info.dims[2];
    this.voxels = typedArrayOf(info.datatype, new ArrayBuffer(info.byteLength));
    this.labelValues = labelType === 'uint16' ? new Uint16Array(count) : new Uint8Array(count);
    this.labelCounts = [new Uint32Array(info.dims[0]), new Uint32Array(info.dims[1]), new Uint32Array(info.dims[2])];
  }

  /** The labels, x fastest (read-only: change them through the store's methods). */
  get labels(): Readonly<LabelArray> {
    return this.labelValues;
  }

  /** Labeled voxels per slice, per axis (read-only). */
  get counts(): readonly [Readonly<Uint32Array>, Readonly<Uint32Array>, Readonly<Uint32Array>] {
    return this.labelCounts;
  }

  /** The slices a user annotated, per axis (not those that only cross annotations; read-only). */
  get annotated(): readonly [ReadonlySet<number>, ReadonlySet<number>, ReadonlySet<number>] {
    return this.annotatedSlices;
  }

  get voxelCount(): number {
    return this.labelValues.length;
  }

  /** The voxels' bytes, for the chunks of the volume to be copied into. */
  get voxelBytes(): Uint8Array {
    return new Uint8Array(this.voxels.buffer, this.voxels.byteOffset, this.voxels.byteLength);
  }

  /** Replaces every label from runs (start, length, value). */
  setLabels(runs: Uint32Array, labelType: 'uint8' | 'uint16'): void {
    // 16 bits where the host says so, or where the classes need them (more than 255).
    const wide = labelType === 'uint16' || this.classes.length > 255;
    const wanted = wide ? Uint16Array : Uint8Array;
    const fresh = !(this.labelValues instanceof wanted) || !this.labelsEverSet;
    if (!(this.labelValues instanceof wanted)) this.labelValues = new wanted(this.voxelCount);
    decodeLabelRuns(runs, this.labelValues, wide ? 65535 : 255, fresh);
    this.labelsEverSet = true;
    this.labelCounts = sliceLabelCountsOfRuns(runs, this.dims);
    this.annotatedSlices = findAnnotatedSlices(this.labelValues, this.dims, this.labelCounts);
    this.onChange({ kind: 'replaced' });
  }

  /** Applies a delta from the host. */
  applyDelta(delta: LabelDelta, direction: DeltaDirection): void {
    this.apply(delta, direction);
    this.onChange({ kind: 'applied', box: deltaBounds(delta, this.dims) });
  }

  /**
   * Changes one slice in one edit: `change` rewrites the slice's labels (its own frame, width ×
   * height); the difference is applied and reported as `edited` under `label`. Returns the
   * delta, or undefined when nothing changed.
   */
  editSlice(label: EditLabel, axis: Axis, slice: number, change: (values: SliceLabels, width: number, height: number) => void): LabelDelta | undefined {
    const extracted = extractSlice(this.labelValues, this.dims, axis, slice);
    const after = extracted.data.slice();
    change(after, extracted.width, extracted.height);
    const delta = diffLabels({ kind: 'slice', axis, index: slice }, extracted.data, after);
    if (delta) {
      const newlyAnnotated = this.apply(delta, 'forward');
      this.onChange({ kind: 'edited', box: deltaBounds(delta, this.dims), label, delta, newlyAnnotated });
    }
    return delta;
  }

  /** Starts a stroke of `value` (0 erases) on slice `slice` along `axis`; it becomes an edit under `label`. */
  beginStroke(label: EditLabel, axis: Axis, slice: number, value: number): LabelStroke {
    const { dims } = this;
    const before = extractSlice(this.labelValues, dims, axis, slice).data;
    const strokeBox = emptyBox();
    const nx = dims[0];
    const plane = dims[0] * dims[1];
    let open = true;
    const ensureOpen = () => {
      if (!open) throw new Error('the stroke has ended');
    };
    const diff = () => diffLabels({ kind: 'slice', axis, index: slice }, before, extractSlice(this.labelValues, dims, axis, slice).data);
    return {
      axis,
      slice,
      value,
      paint: (visit) => {
        ensureOpen();
        const labels = this.labelValues;
        const counts = this.labelCounts;
        const box = emptyBox();
        visit((ijk) => {
          if (ijk[axis] !== slice) throw new RangeError(`voxel ${ijk.join(', ')} is not on slice ${slice} along axis ${axis}`);
          const index = ijk[0] + ijk[1] * nx + ijk[2] * plane;
          const old = labels[index];
          if (old === value) return;
          labels[index] = value;
          const change = (value !== 0 ? 1 : 0) - (old !== 0 ? 1 : 0);
          if (change !== 0) {
            counts[0][ijk[0]] += change;
            counts[1][ijk[1]] += change;
            counts[2][ijk[2]] += change;
          }
          growBox(box, ijk);
          growBox(strokeBox, ijk);
        });
        this.onChange({ kind: 'painted', box });
      },
      end: () => {
        ensureOpen();
        open = false;
        const delta = diff();
        if (delta) {
          const newlyAnnotated = this.noteEdited(delta);
          this.onChange({ kind: 'edited', box: deltaBounds(delta, dims), label, delta, newlyAnnotated });
        }
        return delta;
      },
      cancel: () => {
        ensureOpen();
        open = false;
        const delta = diff();
        if (delta) {
          applyDelta(this.labelValues, dims, delta, 'backward');
          updateSliceLabelCounts(this.labelCounts, dims, delta, 'backward');
        }
        this.onChange({ kind: 'reverted', box: strokeBox });
      },
    };
  }

  /** Applies a delta with the counts and the annotated slices; returns the slice it made annotated, if any. */
  private apply(delta: LabelDelta, direction: DeltaDirection): { axis: Axis; index: number } | undefined {
    applyDelta(this.labelValues, this.dims, delta, direction);
    updateSliceLabelCounts(this.labelCounts, this.dims, delta, direction);
    return this.noteEdited(delta);
  }

  /** Keeps the annotated slices in step after `delta` was applied; returns the slice it made annotated, if any. */
  private noteEdited(delta: LabelDelta): { axis: Axis; index: number } | undefined {
    if (delta.frame.kind !== 'slice') {
      this.annotatedSlices = findAnnotatedSlices(this.labelValues, this.dims, this.labelCounts);
      return undefined;
    }
    const { axis, index } = delta.frame;
    const before = this.annotatedSlices[axis].has(index);
    updateAnnotatedSlices(this.annotatedSlices, this.labelValues, this.dims, this.labelCounts, axis, index);
    return !before && this.annotatedSlices[axis].has(index) ? { axis, index } : undefined;
  }

  /**
   * Labeled voxels of annotated slice `index` along `axis` that no annotated slice of another
   * axis holds (what it alone teaches).
   */
  ownLabeledVoxels(axis: Axis, index: number): number {
    return ownLabeledVoxels(this.labelValues, this.dims, this.labelCounts, this.annotatedSlices, axis, index);
  }

  setClasses(classes: LabelClass[]): void {
    this.classes = classes;
    this.labelValues = labelsForClasses(this.labelValues, classes.length);
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

  /** Shows (or with null ends) a training's live preview; its planes replace the last ones. */
  setTrainingPreview(preview: TrainingPreviewMessage['preview']): void {
    if (!preview) {
      this.trainingPreview = undefined;
      return;
    }
    const planes = new Map<Axis, TrainingPreviewPlane>();
    for (const p of preview.planes) {
      const labels = p.labelType === 'uint16' ? new Uint16Array(p.labels) : new Uint8Array(p.labels);
      if (labels.length !== p.width * p.height) throw new Error(`a preview plane of ${p.width}×${p.height} came with ${labels.length} values`);
      planes.set(p.axis, { index: p.index, width: p.width, height: p.height, labels });
    }
    this.trainingPreview = { run: preview.run, iteration: preview.iteration, planes };
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
  labeledSlices(axis: Axis): number[] {
    return [...this.annotatedSlices[axis]].sort((a, b) => a - b);
  }
}
