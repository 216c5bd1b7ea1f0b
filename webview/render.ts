/**
 * Composes one plane's image: gray levels from the window, then the prediction and the labels
 * blended on top (filled or as outlines). One pass over the pixels, reading the volume, the
 * labels and the prediction through the same voxel indices.
 */
import type { VoxelArray } from '../src/core/datatypes';
import type { LabelArray } from '../src/core/editDeltas';
import type { WindowLevel } from '../src/core/windowLevel';
import type { ColorTable } from './store';

/**
 * How a label layer looks: `filled` (its class colour blended over the image), `outline` (only
 * its regions' edges, opaque), or `hatched` (opaque edges here, and a diagonal hatch over its
 * regions drawn at screen resolution by the pane from `composeHatchMask`): painted labels are
 * filled, a prediction is hatched by default, so the two can be told apart on any slice.
 */
export type LayerLook = 'filled' | 'outline' | 'hatched';

export const LAYER_LOOKS: readonly LayerLook[] = ['hatched', 'outline', 'filled'];

/** A label layer to draw: values (0 = nothing), colours, opacity 0–1, and its look. */
export interface LayerStyle {
  values: LabelArray;
  colors: ColorTable;
  opacity: number;
  look: LayerLook;
  /** Values below this are not drawn (the prediction skips background, value 1). */
  minValue: number;
  /**
   * Per image row, whether it may hold a value to draw (from the per-slice counts of the row
   * axis): rows without are skipped, which spares most strided reads on sparse labels.
   */
  rowMask?: Uint8Array;
  /** `values` are per pixel of this plane (row-major), not per voxel (a training preview's plane). */
  pixels?: boolean;
}

export interface PlaneImageInput {
  /** Voxel index of each pixel, row-major (`planeVoxelIndices`). */
  indices: Uint32Array;
  /** Where `voxels` is one slice's own array (a first plane held beside the volume's buffer): each pixel's place in it. Unset: `indices`. */
  voxelIndices?: Uint32Array;
  width: number;
  height: number;
  voxels: VoxelArray;
  /** Stored value (+ lookupOffset) → gray, for 8- and 16-bit volumes. */
  lookup: Uint8Array | undefined;
  lookupOffset: number;
  /** For wider types: gray = clamp((stored · slope + inter − low) · 255 / width). */
  slope: number;
  inter: number;
  window: WindowLevel;
  /** Layers with something to draw on this slice (empty ones are left out). */
  layers: LayerStyle[];
}

/** True where pixel `o` (column `c`, row `r`) of a layer lies on the edge of its region. */
function onEdge(values: LabelArray, indices: Uint32Array | undefined, o: number, c: number, r: number, width: number, height: number, v: number): boolean {
  const at = (p: number) => (indices ? values[indices[p]] : values[p]);
  return c === 0 || r === 0 || c === width - 1 || r === height - 1 || at(o - 1) !== v || at(o + 1) !== v || at(o - width) !== v || at(o + width) !== v;
}

/**
 * Writes the gray levels of rows `rowStart`..`rowEnd` (exclusive) into `out`, the Uint32 view
 * of an ImageData's pixels (RGBA bytes: on a little-endian machine, 0xAABBGGRR).
 */
export function composeGray(out: Uint32Array, input: PlaneImageInput, rowStart = 0, rowEnd = input.height): void {
  const { width, voxels, lookup, lookupOffset } = input;
  const indices = input.voxelIndices ?? input.indices;
  const first = rowStart * width;
  const last = rowEnd * width;
  if (lookup) {
    for (let o = first; o < last; o++) {
      const g = lookup[voxels[indices[o]] + lookupOffset];
      out[o] = 0xff000000 | (g << 16) | (g << 8) | g;
    }
    return;
  }
  const low = input.window.level - input.window.width / 2;
  const scale = (255 / input.window.width) * input.slope;
  const shift = (input.inter - low) * (255 / input.window.width);
  for (let o = first; o < last; o++) {
    let g = voxels[indices[o]] * scale + shift;
    g = g > 0 ? (g < 255 ? g | 0 : 255) : 0; // NaN → 0
    out[o] = 0xff000000 | (g << 16) | (g << 8) | g;
  }
}

/** Blends the label layers, in order (the last on top), over rows `rowStart`..`rowEnd` of `out`. */
export function composeLayers(out: Uint32Array, input: PlaneImageInput, rowStart = 0, rowEnd = input.height): void {
  const { indices, width, height, layers } = input;
  for (const layer of layers) {
    const alpha = Math.round(Math.max(0, Math.min(1, layer.opacity)) * 256);
    if (alpha === 0) continue;
    const { values, colors, minValue, rowMask } = layer;
    const outline = layer.look !== 'filled';
    const byVoxel = layer.pixels ? undefined : indices;
    const { r: cr, g: cg, b: cb } = colors;
    for (let r = rowStart; r < rowEnd; r++) {
      if (rowMask && !rowMask[r]) continue;
      let o = r * width;
      for (let c = 0; c < width; c++, o++) {
        const v = byVoxel ? values[byVoxel[o]] : values[o];
        if (v < minValue || v === 0 || v >= cr.length) continue;
        if (outline && !onEdge(values, byVoxel, o, c, r, width, height, v)) continue;
        const p = out[o];
        const pr = p & 255;
        const pg = (p >> 8) & 255;
        const pb = (p >> 16) & 255;
        const a = outline ? 256 : alpha;
        const nr = pr + (((cr[v] - pr) * a) >> 8);
        const ng = pg + (((cg[v] - pg) * a) >> 8);
        const nb = pb + (((cb[v] - pb) * a) >> 8);
        out[o] = 0xff000000 | (nb << 16) | (ng << 8) | nr;
      }
    }
  }
}

/**
 * The regions of the hatched layer (if any) in its class colours, opaque, over transparent
 * elsewhere, rows `rowStart`..`rowEnd` of `out` (0xAABBGGRR): the pane hatches this mask at screen
 * resolution. Returns false when no layer is hatched (`out` untouched).
 */
export function composeHatchMask(out: Uint32Array, input: PlaneImageInput, rowStart = 0, rowEnd = input.height): boolean {
  const layer = input.layers.find((l) => l.look === 'hatched');
  if (!layer) return false;
  const { indices, width } = input;
  const { values, colors, minValue, rowMask } = layer;
  const { r: cr, g: cg, b: cb } = colors;
  for (let r = rowStart; r < rowEnd; r++) {
    let o = r * width;
    if (rowMask && !rowMask[r]) {
      out.fill(0, o, o + width);
      continue;
    }
    for (let c = 0; c < width; c++, o++) {
      const v = values[indices[o]];
      out[o] = v < minValue || v === 0 || v >= cr.length ? 0 : 0xff000000 | (cb[v] << 16) | (cg[v] << 8) | cr[v];
    }
  }
  return true;
}

/** The whole plane: gray levels, then the layers. */
export function composePlaneImage(out: Uint32Array, input: PlaneImageInput, rowStart = 0, rowEnd = input.height): void {
  composeGray(out, input, rowStart, rowEnd);
  composeLayers(out, input, rowStart, rowEnd);
}
