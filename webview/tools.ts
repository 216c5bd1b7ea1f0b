/**
 * The label tools on a pane's current slice: the round brush and the eraser (painted straight
 * into the webview's labels for immediate feedback, sent as one delta when the stroke ends),
 * the 2D flood fill, "fill the unlabeled voxels of this slice" and "accept the prediction on
 * this slice". Every tool returns the delta of what it changed, already applied here.
 */
import { brushFootprint, stampBrush, strokeCenters } from '../src/core/brush';
import { applyDelta, diffLabels, updateSliceLabelCounts, type DeltaFrame, type LabelDelta } from '../src/core/editDeltas';
import { floodFillRegion } from '../src/core/floodFill';
import type { Vec3 } from '../src/core/geometry';
import { voxelOfPixel, type PlaneLayout } from '../src/core/planes';
import { extractSlice } from '../src/core/slices';
import type { DocumentStore, VoxelBox } from './store';

/** A stroke in progress on one slice. */
export interface Stroke {
  layout: PlaneLayout;
  slice: number;
  value: number;
  footprint: Int32Array;
  /** The slice's labels when the stroke began (slice frame, as `extractSlice` lays it out). */
  before: Uint8Array | Uint16Array;
  last: [number, number];
  /** Voxels the stroke has changed so far (for redraws). */
  box: VoxelBox;
}

function emptyBox(): VoxelBox {
  return { min: [Infinity, Infinity, Infinity], max: [-Infinity, -Infinity, -Infinity] };
}

function grow(box: VoxelBox, ijk: Vec3): void {
  for (let a = 0; a < 3; a++) {
    if (ijk[a] < box.min[a]) box.min[a] = ijk[a];
    if (ijk[a] > box.max[a]) box.max[a] = ijk[a];
  }
}

function sliceFrame(layout: PlaneLayout, slice: number): DeltaFrame {
  return { kind: 'slice', axis: layout.sliceAxis, index: slice };
}

export class Painter {
  constructor(private readonly store: DocumentStore) {}

  /** Starts a stroke of `value` (0 erases) with a brush of `size` voxels at image point (col, row). */
  beginStroke(layout: PlaneLayout, slice: number, value: number, size: number, col: number, row: number): { stroke: Stroke; box: VoxelBox } {
    const stroke: Stroke = {
      layout,
      slice,
      value,
      footprint: brushFootprint(size, layout.colSpacing, layout.rowSpacing),
      before: extractSlice(this.store.labels, this.store.dims, layout.sliceAxis, slice).data,
      last: [col, row],
      box: emptyBox(),
    };
    const box = emptyBox();
    for (const [c, r] of strokeCenters([col, row], [col, row], true)) this.stamp(stroke, c, r, box);
    return { stroke, box };
  }

  /** Continues a stroke to image point (col, row); returns the voxels changed by this step. */
  continueStroke(stroke: Stroke, col: number, row: number): VoxelBox {
    const box = emptyBox();
    for (const [c, r] of strokeCenters(stroke.last, [col, row], false)) this.stamp(stroke, c, r, box);
    stroke.last = [col, row];
    return box;
  }

  private stamp(stroke: Stroke, col: number, row: number, box: VoxelBox): void {
    const { layout, slice, value } = stroke;
    const { labels, counts, dims } = this.store;
    const nx = dims[0];
    const plane = dims[0] * dims[1];
    stampBrush(stroke.footprint, layout.width, layout.height, col, row, (c, r) => {
      const ijk = voxelOfPixel(layout, slice, c, r);
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
      grow(box, ijk);
      grow(stroke.box, ijk);
    });
  }

  /** Ends a stroke: the delta of everything it changed, or undefined when nothing did. */
  endStroke(stroke: Stroke): LabelDelta | undefined {
    const { layout, slice } = stroke;
    const after = extractSlice(this.store.labels, this.store.dims, layout.sliceAxis, slice).data;
    return diffLabels(sliceFrame(layout, slice), stroke.before, after);
  }

  /** Puts a stroke's slice back as it was (the host refused it, or it was cancelled). */
  cancelStroke(stroke: Stroke): LabelDelta | undefined {
    const delta = this.endStroke(stroke);
    if (delta) this.apply(delta, 'backward');
    return delta;
  }

  /** Applies a delta made here and updates the slice counts. */
  private apply(delta: LabelDelta, direction: 'forward' | 'backward'): void {
    applyDelta(this.store.labels, this.store.dims, delta, direction);
    updateSliceLabelCounts(this.store.counts, this.store.dims, delta, direction);
  }

  /** Changes one slice with `change(values, width)` (slice frame) and applies the result. */
  private editSlice(layout: PlaneLayout, slice: number, change: (values: Uint8Array | Uint16Array, width: number, height: number) => void): LabelDelta | undefined {
    const extracted = extractSlice(this.store.labels, this.store.dims, layout.sliceAxis, slice);
    const after = extracted.data.slice();
    change(after, extracted.width, extracted.height);
    const delta = diffLabels(sliceFrame(layout, slice), extracted.data, after);
    if (delta) this.apply(delta, 'forward');
    return delta;
  }

  /** Flood-fills, within the slice, the region of equal labels around voxel `seed` with `value`. */
  fill(layout: PlaneLayout, seed: Vec3, value: number): LabelDelta | undefined {
    const slice = seed[layout.sliceAxis];
    const [u, v] = layout.sliceAxis === 0 ? [1, 2] : layout.sliceAxis === 1 ? [0, 2] : [0, 1];
    return this.editSlice(layout, slice, (values, width, height) => {
      if (values[seed[u] + seed[v] * width] === value) return;
      for (const p of floodFillRegion(values, width, height, seed[u], seed[v])) values[p] = value;
    });
  }

  /** Gives every unlabeled voxel of the slice the class `value`. */
  fillUnlabeled(layout: PlaneLayout, slice: number, value: number): LabelDelta | undefined {
    return this.editSlice(layout, slice, (values) => {
      for (let i = 0; i < values.length; i++) if (values[i] === 0) values[i] = value;
    });
  }

  /** Replaces the slice's labels with the prediction (where it has a class). */
  acceptPrediction(layout: PlaneLayout, slice: number): LabelDelta | undefined {
    const prediction = this.store.prediction;
    if (!prediction) return undefined;
    const predicted = extractSlice(prediction, this.store.dims, layout.sliceAxis, slice).data;
    return this.editSlice(layout, slice, (values) => {
      for (let i = 0; i < values.length; i++) if (predicted[i] !== 0) values[i] = predicted[i];
    });
  }
}
