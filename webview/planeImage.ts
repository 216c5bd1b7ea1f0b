/**
 * What a pane draws on its current slice: the voxels through the gray window, then the
 * prediction and the labels where they have something on this slice (each with the rows that
 * may hold it, from the per-slice counts along the row axis). Pure.
 */
import type { PlaneLayout } from '../src/core/planes';
import { lookupOffset } from '../src/core/windowLevel';
import type { GrayWindow } from './grayWindow';
import type { LayerStyle, PlaneImageInput } from './render';
import type { LabelArray } from '../src/core/editDeltas';
import { offsetInSlice, type Axis } from '../src/core/slices';
import type { VoxelArray } from '../src/core/datatypes';
import type { DocumentStore, TrainingPreviewPlane } from './store';
import type { ViewState } from './viewState';

/** A pane's slice: its layout, index and the voxel index of each pixel (`planeVoxelIndices`). */
export interface PlaneSlice {
  layout: PlaneLayout;
  slice: number;
  indices: Uint32Array;
}

/** Per image row, 1 where the slice along the row axis holds something (rows without cannot hold anything here either). */
export function rowMask(counts: ArrayLike<number>, layout: Pick<PlaneLayout, 'height' | 'rowFlip'>): Uint8Array {
  const { height, rowFlip } = layout;
  const mask = new Uint8Array(height);
  for (let r = 0; r < height; r++) mask[r] = counts[rowFlip ? height - 1 - r : r] > 0 ? 1 : 0;
  return mask;
}

/**
 * A training preview's plane as this pane's pixels (row-major): the preview holds the slice in
 * array order (columns along the lower in-plane axis), the pane in display order.
 */
export function previewPixels(indices: Uint32Array, dims: readonly number[], axis: Axis, plane: TrainingPreviewPlane): LabelArray {
  const out = plane.labels instanceof Uint16Array ? new Uint16Array(indices.length) : new Uint8Array(indices.length);
  for (let o = 0; o < indices.length; o++) out[o] = plane.labels[offsetInSlice(indices[o], dims, axis)];
  return out;
}

/** Each pixel's place in a slice laid out as `extractSlice` does, from its voxel index in the volume. */
export function heldPlaneIndices(indices: Uint32Array, dims: readonly number[], axis: Axis): Uint32Array {
  // offsetInSlice, one loop per axis: it runs on the first planes' draw, before any of it is optimized.
  const [nx, ny] = dims;
  const nxy = nx * ny;
  const out = new Uint32Array(indices.length);
  if (axis === 0) for (let o = 0; o < indices.length; o++) out[o] = Math.floor(indices[o] / nx);
  else if (axis === 1) for (let o = 0; o < indices.length; o++) out[o] = (indices[o] % nx) + nx * Math.floor(indices[o] / nxy);
  else for (let o = 0; o < indices.length; o++) out[o] = indices[o] % nxy;
  return out;
}

/** The renderer's input for `plane`: gray from the window, the prediction (or a training's preview) under the labels. */
export function planeImageInput(
  plane: PlaneSlice,
  store: Pick<DocumentStore, 'info' | 'voxels' | 'labels' | 'counts' | 'colors' | 'prediction' | 'predictionCounts' | 'trainingPreview'>,
  view: Pick<ViewState, 'showPrediction' | 'predictionOpacity' | 'predictionLook' | 'labelOpacity' | 'outline'>,
  gray: Pick<GrayWindow, 'lookup' | 'window'>,
  /** The slice's voxels where the volume's buffer does not hold them yet (a first plane held beside it, `extractSlice`'s layout). */
  heldVoxels?: VoxelArray,
): PlaneImageInput {
  const { layout, slice } = plane;
  const axis = layout.sliceAxis;
  const layers: LayerStyle[] = [];
  // A training's preview of this very slice takes the prediction's place, drawn as outlines: it is
  // the network in the middle of learning, not a saved segmentation.
  const preview = view.showPrediction ? store.trainingPreview?.planes.get(axis) : undefined;
  if (preview && preview.index === slice) {
    layers.push({ values: previewPixels(plane.indices, store.info.dims, axis, preview), pixels: true, colors: store.colors, opacity: view.predictionOpacity, look: 'outline', minValue: 2 });
  } else if (store.prediction && view.showPrediction && store.predictionCounts && store.predictionCounts[axis][slice] > 0) {
    layers.push({
      values: store.prediction,
      colors: store.colors,
      opacity: view.predictionOpacity,
      look: view.predictionLook,
      minValue: 2,
      rowMask: rowMask(store.predictionCounts[layout.rowAxis], layout),
    });
  }
  if (store.counts[axis][slice] > 0) {
    layers.push({ values: store.labels, colors: store.colors, opacity: view.labelOpacity, look: view.outline ? 'outline' : 'filled', minValue: 1, rowMask: rowMask(store.counts[layout.rowAxis], layout) });
  }
  const info = store.info;
  return {
    indices: plane.indices,
    ...(heldVoxels ? { voxelIndices: heldPlaneIndices(plane.indices, info.dims, axis) } : {}),
    width: layout.width,
    height: layout.height,
    voxels: heldVoxels ?? store.voxels,
    lookup: gray.lookup,
    lookupOffset: lookupOffset(info.datatype),
    slope: info.sclSlope,
    inter: info.sclInter,
    window: gray.window,
    layers,
  };
}
