/**
 * The three display planes (axial, coronal, sagittal) of a volume in anatomical orientation.
 * Pure (no Node imports): the webview lays its panes out with it.
 *
 * A plane shows voxel slices, never resampled: the voxel axis nearest to each anatomical
 * direction (from the RAS affine, `voxelAxesOfWorld`) runs along the screen's columns or rows,
 * flipped so that the screen reads as a radiologist expects:
 * - axial: top = Anterior, columns Right→Left (radiological) or Left→Right (neurological);
 * - coronal: top = Superior, columns as axial;
 * - sagittal: top = Superior, left = Anterior.
 */
import type { Mat4, Vec3 } from './geometry';
import { voxelAxesOfWorld } from './geometry';
import type { Axis } from './slices';

export type PlaneName = 'axial' | 'coronal' | 'sagittal';
export const PLANES: readonly PlaneName[] = ['axial', 'coronal', 'sagittal'];

/** Radiological: the patient's right on the screen's left. Neurological: right on the right. */
export type LeftRightConvention = 'radiological' | 'neurological';

/** How one plane maps its screen pixels to voxels. */
export interface PlaneLayout {
  plane: PlaneName;
  /** The voxel axis perpendicular to the plane (the slice index runs along it). */
  sliceAxis: Axis;
  /** The voxel axis along screen columns (left → right) and whether its index decreases to the right. */
  colAxis: Axis;
  colFlip: boolean;
  /** The voxel axis along screen rows (top → bottom) and whether its index decreases downward. */
  rowAxis: Axis;
  rowFlip: boolean;
  /** Image size in voxels: columns, rows. */
  width: number;
  height: number;
  /** Slices along `sliceAxis`. */
  sliceCount: number;
  /** Voxel spacing along columns and rows, mm: a pixel is colSpacing × rowSpacing mm. */
  colSpacing: number;
  rowSpacing: number;
  /** Anatomical letters at the image's left, right, top and bottom edges, e.g. R, L, A, P. */
  edges: { left: string; right: string; top: string; bottom: string };
}

// World axes: 0 = R(+)/L(−), 1 = A(+)/P(−), 2 = S(+)/I(−).
const POS = ['R', 'A', 'S'];
const NEG = ['L', 'P', 'I'];

/**
 * The layout of `plane`. `towardNegative` says, for the screen's column and row direction,
 * whether it runs toward L/P/I; the voxel axis is flipped when its index runs the other way.
 */
export function planeLayout(plane: PlaneName, dims: Vec3, spacing: Vec3, affine: Mat4, leftRight: LeftRightConvention): PlaneLayout {
  const axes = voxelAxesOfWorld(affine);
  // [world axis across columns, does the column direction run toward the negative pole], same for rows.
  let slice: number, col: number, colNeg: boolean, row: number;
  const rowNeg = true; // rows always run downward: toward P (axial) or I (coronal, sagittal)
  if (plane === 'axial') {
    [slice, col, row] = [2, 0, 1];
    colNeg = leftRight === 'radiological';
  } else if (plane === 'coronal') {
    [slice, col, row] = [1, 0, 2];
    colNeg = leftRight === 'radiological';
  } else {
    [slice, col, row] = [0, 1, 2];
    colNeg = true; // anterior on the left
  }
  const colAxis = axes[col].axis;
  const rowAxis = axes[row].axis;
  const edge = (world: number, towardNeg: boolean) => (towardNeg ? [POS[world], NEG[world]] : [NEG[world], POS[world]]);
  const [left, right] = edge(col, colNeg);
  const [top, bottom] = edge(row, rowNeg);
  return {
    plane,
    sliceAxis: axes[slice].axis,
    colAxis,
    colFlip: axes[col].flip !== colNeg,
    rowAxis,
    rowFlip: axes[row].flip !== rowNeg,
    width: dims[colAxis],
    height: dims[rowAxis],
    sliceCount: dims[axes[slice].axis],
    colSpacing: spacing[colAxis],
    rowSpacing: spacing[rowAxis],
    edges: { left, right, top, bottom },
  };
}

/** The plane whose slices lie across voxel axis `axis` (the one whose pane steps along it). */
export function planeOfAxis(affine: Mat4, axis: Axis): PlaneName {
  const world = voxelAxesOfWorld(affine).findIndex((a) => a.axis === axis);
  return (['sagittal', 'coronal', 'axial'] as const)[world];
}

/**
 * A slice as the panes number it, from 1: "axial slice 28 of 55" (`index` counts from 0, as
 * voxel indices do; every message a user reads uses this numbering).
 */
export function describeSlice(plane: PlaneName, index: number, count: number): string {
  return `${plane} slice ${index + 1} of ${count}`;
}

/** The three layouts, axial, coronal, sagittal. */
export function planeLayouts(dims: Vec3, spacing: Vec3, affine: Mat4, leftRight: LeftRightConvention): PlaneLayout[] {
  return PLANES.map((p) => planeLayout(p, dims, spacing, affine, leftRight));
}

/** The voxel shown at image pixel (col, row) of slice `slice`. Pixels are integers inside the image. */
export function voxelOfPixel(layout: PlaneLayout, slice: number, col: number, row: number): Vec3 {
  const ijk: Vec3 = [0, 0, 0];
  ijk[layout.sliceAxis] = slice;
  ijk[layout.colAxis] = layout.colFlip ? layout.width - 1 - col : col;
  ijk[layout.rowAxis] = layout.rowFlip ? layout.height - 1 - row : row;
  return ijk;
}

/** The image pixel (col, row) where voxel `ijk` appears (its slice is `ijk[layout.sliceAxis]`). */
export function pixelOfVoxel(layout: PlaneLayout, ijk: readonly number[]): [number, number] {
  const c = ijk[layout.colAxis];
  const r = ijk[layout.rowAxis];
  return [layout.colFlip ? layout.width - 1 - c : c, layout.rowFlip ? layout.height - 1 - r : r];
}

/**
 * For every pixel of slice `slice`, row-major from the top-left, the linear index of its voxel
 * in a `dims` volume (x fastest). The same indices read the image, the labels and the
 * prediction, which share the grid. `out` is reused when it has the right length.
 */
export function planeVoxelIndices(layout: PlaneLayout, dims: Vec3, slice: number, out?: Uint32Array): Uint32Array {
  const { width, height } = layout;
  const indices = out && out.length === width * height ? out : new Uint32Array(width * height);
  const stride = [1, dims[0], dims[0] * dims[1]];
  const colStride = stride[layout.colAxis];
  const rowStride = stride[layout.rowAxis];
  const colStep = layout.colFlip ? -colStride : colStride;
  const colStart = layout.colFlip ? (width - 1) * colStride : 0;
  const base = slice * stride[layout.sliceAxis] + colStart;
  let o = 0;
  for (let r = 0; r < height; r++) {
    const rowIndex = layout.rowFlip ? height - 1 - r : r;
    let index = base + rowIndex * rowStride;
    for (let c = 0; c < width; c++, index += colStep) indices[o++] = index;
  }
  return indices;
}

/**
 * Where slice-frame position `(a, b)` (columns along the lower of the two in-plane voxel axes,
 * rows along the higher, as `extractSlice` lays a slice out) appears in the plane's image.
 */
export function pixelOfSlicePosition(layout: PlaneLayout, a: number, b: number): [number, number] {
  const lowFirst = layout.colAxis < layout.rowAxis;
  const colVoxel = lowFirst ? a : b;
  const rowVoxel = lowFirst ? b : a;
  return [layout.colFlip ? layout.width - 1 - colVoxel : colVoxel, layout.rowFlip ? layout.height - 1 - rowVoxel : rowVoxel];
}

/** The slice-frame position (`extractSlice` layout, a + b·width) of image pixel (col, row). */
export function slicePositionOfPixel(layout: PlaneLayout, col: number, row: number): number {
  const colVoxel = layout.colFlip ? layout.width - 1 - col : col;
  const rowVoxel = layout.rowFlip ? layout.height - 1 - row : row;
  return layout.colAxis < layout.rowAxis ? colVoxel + rowVoxel * layout.width : rowVoxel + colVoxel * layout.height;
}
