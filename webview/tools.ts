/**
 * The label tools on a pane's current slice: the round brush and the eraser (painted straight
 * into the webview's labels for immediate feedback, one edit when the stroke ends), the 2D
 * flood fill, "fill the unlabeled voxels of this slice" and "accept the prediction on this
 * slice". The tools say what to change; the store changes it and reports the edit.
 */
import { brushFootprint, stampBrush, strokeCenters } from '../src/core/brush';
import type { LabelDelta } from '../src/core/editDeltas';
import { floodFillRegion } from '../src/core/floodFill';
import type { Vec3 } from '../src/core/geometry';
import { voxelOfPixel, type PlaneLayout } from '../src/core/planes';
import { extractSlice, sliceAxes } from '../src/core/slices';
import type { EditLabel } from '../src/protocol/webview';
import type { DocumentStore, LabelStroke } from './store';

/** A brush or eraser stroke in progress on one slice. */
export interface Stroke {
  layout: PlaneLayout;
  slice: number;
  /** Brush footprint: offsets of the stamped pixels (`brushFootprint`). */
  footprint: Int32Array;
  /** The last image point (col, row) the stroke reached. */
  last: [number, number];
  /** The store's side of the stroke. */
  labels: LabelStroke;
}

export class Painter {
  constructor(private readonly store: DocumentStore) {}

  /**
   * Starts a stroke of `value` (0 erases) with a brush of `size` voxels at image point (col,
   * row); it becomes an edit under `label` when it ends.
   */
  beginStroke(label: EditLabel, layout: PlaneLayout, slice: number, value: number, size: number, col: number, row: number): Stroke {
    const stroke: Stroke = {
      layout,
      slice,
      footprint: brushFootprint(size, layout.colSpacing, layout.rowSpacing),
      last: [col, row],
      labels: this.store.beginStroke(label, layout.sliceAxis, slice, value),
    };
    this.stamp(stroke, strokeCenters([col, row], [col, row], true));
    return stroke;
  }

  /** Continues a stroke to image point (col, row). */
  continueStroke(stroke: Stroke, col: number, row: number): void {
    this.stamp(stroke, strokeCenters(stroke.last, [col, row], false));
    stroke.last = [col, row];
  }

  /** Stamps the brush at each of `centers` (image points) in one step of the stroke. */
  private stamp(stroke: Stroke, centers: Iterable<[number, number]>): void {
    const { layout, slice, footprint } = stroke;
    stroke.labels.paint((mark) => {
      for (const [col, row] of centers) stampBrush(footprint, layout.width, layout.height, col, row, (c, r) => mark(voxelOfPixel(layout, slice, c, r)));
    });
  }

  /** Ends a stroke: the delta of everything it changed (now an edit), or undefined when nothing did. */
  endStroke(stroke: Stroke): LabelDelta | undefined {
    return stroke.labels.end();
  }

  /** Puts a stroke's slice back as it was (the stroke was cancelled). */
  cancelStroke(stroke: Stroke): void {
    stroke.labels.cancel();
  }

  /** Flood-fills, within the slice, the region of equal labels around voxel `seed` with `value`. */
  fill(layout: PlaneLayout, seed: Vec3, value: number): LabelDelta | undefined {
    const [u, v] = sliceAxes(layout.sliceAxis);
    return this.store.editSlice('Fill', layout.sliceAxis, seed[layout.sliceAxis], (values, width, height) => {
      if (values[seed[u] + seed[v] * width] === value) return;
      for (const p of floodFillRegion(values, width, height, seed[u], seed[v])) values[p] = value;
    });
  }

  /** Gives every unlabeled voxel of the slice the class `value`. */
  fillUnlabeled(layout: PlaneLayout, slice: number, value: number): LabelDelta | undefined {
    return this.store.editSlice('Fill slice', layout.sliceAxis, slice, (values) => {
      for (let i = 0; i < values.length; i++) if (values[i] === 0) values[i] = value;
    });
  }

  /** Replaces the slice's labels with the prediction (where it has a class). */
  acceptPrediction(layout: PlaneLayout, slice: number): LabelDelta | undefined {
    const prediction = this.store.prediction;
    if (!prediction) return undefined;
    const predicted = extractSlice(prediction, this.store.dims, layout.sliceAxis, slice).data;
    return this.store.editSlice('Accept prediction', layout.sliceAxis, slice, (values) => {
      for (let i = 0; i < values.length; i++) if (predicted[i] !== 0) values[i] = predicted[i];
    });
  }
}
