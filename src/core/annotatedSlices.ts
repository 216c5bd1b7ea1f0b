/**
 * Which slices a user annotated, per axis. Pure (no Node imports): the webview shows them as
 * ticks and lists.
 *
 * Painting an axial slice also puts labels on every sagittal and coronal slice it crosses (a
 * one-voxel line), so "carries labels" is not "was annotated". The annotated slices are the
 * fewest slices, of any axis, whose union holds every labeled voxel: found greedily (the slice
 * holding the most labeled voxels not yet covered first), which for slice-wise annotations gives
 * back the slices that were painted, and kept up to date slice by slice after each edit.
 */
import { sliceLabelCounts, type LabelArray, type SliceLabelCounts } from './editDeltas';
import type { Vec3 } from './geometry';
import { sliceAxes, type Axis } from './slices';

/** The annotated slice indices along each voxel axis. */
export type AnnotatedSlices = [Set<number>, Set<number>, Set<number>];

/** Calls `visit(voxelIndex, a, b)` for every voxel of slice `index` along `axis` (a, b: in-plane coordinates). */
function forEachSliceVoxel(dims: Vec3, axis: Axis, index: number, visit: (voxel: number, a: number, b: number) => void): void {
  const [u, v] = sliceAxes(axis);
  const stride = [1, dims[0], dims[0] * dims[1]];
  const base = index * stride[axis];
  for (let b = 0; b < dims[v]; b++) {
    const row = base + b * stride[v];
    for (let a = 0; a < dims[u]; a++) visit(row + a * stride[u], a, b);
  }
}

/** True where voxel (i, j, k) lies on an annotated slice of an axis other than `except`. */
function coveredByOthers(annotated: AnnotatedSlices, ijk: Vec3, except: Axis): boolean {
  for (let a = 0; a < 3; a++) if (a !== except && annotated[a].has(ijk[a])) return true;
  return false;
}

/**
 * The annotated slices of a label map: greedy set cover of the labeled voxels by slices.
 * `counts` (labeled voxels per slice, `sliceLabelCounts`) is not modified.
 */
export function findAnnotatedSlices(labels: LabelArray, dims: Vec3, counts: SliceLabelCounts): AnnotatedSlices {
  const remaining = counts.map((c) => Float64Array.from(c)) as [Float64Array, Float64Array, Float64Array];
  const annotated: AnnotatedSlices = [new Set(), new Set(), new Set()];
  const ijk: Vec3 = [0, 0, 0];
  for (;;) {
    let bestAxis: Axis = 0;
    let best = -1;
    let bestCount = 0;
    for (let a = 0 as Axis; a < 3; a = (a + 1) as Axis) {
      const r = remaining[a];
      for (let s = 0; s < r.length; s++) {
        if (r[s] > bestCount) {
          bestCount = r[s];
          best = s;
          bestAxis = a;
        }
      }
    }
    if (best < 0) return annotated;
    // Every labeled voxel of the chosen slice not covered yet is covered now: the other axes' slices lose it.
    const [u, v] = sliceAxes(bestAxis);
    forEachSliceVoxel(dims, bestAxis, best, (voxel, a, b) => {
      if (labels[voxel] === 0) return;
      ijk[bestAxis] = best;
      ijk[u] = a;
      ijk[v] = b;
      for (let axis = 0; axis < 3; axis++) if (annotated[axis].has(ijk[axis])) return;
      remaining[u][a]--;
      remaining[v][b]--;
    });
    remaining[bestAxis][best] = 0;
    annotated[bestAxis].add(best);
  }
}

/** True where slice `index` along `axis` holds a labeled voxel that no annotated slice of another axis covers. */
export function hasUncoveredLabels(labels: LabelArray, dims: Vec3, axis: Axis, index: number, annotated: AnnotatedSlices): boolean {
  const [u, v] = sliceAxes(axis);
  const ijk: Vec3 = [0, 0, 0];
  ijk[axis] = index;
  let found = false;
  forEachSliceVoxel(dims, axis, index, (voxel, a, b) => {
    if (found || labels[voxel] === 0) return;
    ijk[u] = a;
    ijk[v] = b;
    if (!coveredByOthers(annotated, ijk, axis)) found = true;
  });
  return found;
}

/**
 * Updates the annotated slices after slice `index` along `axis` was edited: it is annotated
 * when it holds labels of its own (not only lines of other axes' annotations); slices left
 * with no label at all stop being annotated.
 */
export function updateAnnotatedSlices(annotated: AnnotatedSlices, labels: LabelArray, dims: Vec3, counts: SliceLabelCounts, axis: Axis, index: number): void {
  if (hasUncoveredLabels(labels, dims, axis, index, annotated)) annotated[axis].add(index);
  else annotated[axis].delete(index);
  for (let a = 0; a < 3; a++) for (const s of [...annotated[a]]) if (counts[a][s] === 0) annotated[a].delete(s);
}

/**
 * Labeled voxels of slice `index` along `axis` that no annotated slice of another axis holds:
 * what this slice alone adds to training (a stray click on a slice crossing annotated slices
 * is a few voxels, whatever lines cross it). From the per-slice `counts`, by inclusion and
 * exclusion over the lines where annotated slices of the other axes cross it: costs a few lines,
 * not the slice.
 */
export function ownLabeledVoxels(labels: LabelArray, dims: Vec3, counts: SliceLabelCounts, annotated: AnnotatedSlices, axis: Axis, index: number): number {
  const [u, v] = sliceAxes(axis);
  const stride = [1, dims[0], dims[0] * dims[1]];
  const base = index * stride[axis];
  let crossing = 0;
  // The line where slice `t` of axis `a` crosses this slice runs along the third axis `b`.
  for (const [a, b] of [[u, v], [v, u]] as const) {
    for (const t of annotated[a]) {
      const line = base + t * stride[a];
      for (let p = 0; p < dims[b]; p++) if (labels[line + p * stride[b]] !== 0) crossing++;
    }
  }
  // A voxel where two such lines meet was counted twice.
  for (const t of annotated[u]) for (const r of annotated[v]) if (labels[base + t * stride[u] + r * stride[v]] !== 0) crossing--;
  return counts[axis][index] - crossing;
}

/**
 * The fewest labeled voxels of its own an annotated slice should hold: 1 % of the slice, at
 * least 10 and at most 200. Fewer looks like a stray click (a brush dab is tens of voxels);
 * training learns from every annotated slice, so such a slice is worth a word to the user.
 */
export function nearlyEmptyLimit(sliceVoxels: number): number {
  return Math.max(10, Math.min(200, Math.round(sliceVoxels * 0.01)));
}

/** True when an annotated slice of `sliceVoxels` voxels holds fewer than nearlyEmptyLimit labeled voxels of its own. */
export function isNearlyEmptySlice(ownVoxels: number, sliceVoxels: number): boolean {
  return ownVoxels < nearlyEmptyLimit(sliceVoxels);
}

/** An annotated slice with hardly any labels of its own (see isNearlyEmptySlice). */
export interface NearlyEmptySlice {
  axis: Axis;
  index: number;
  /** Labeled voxels no annotated slice of another axis holds. */
  ownVoxels: number;
  sliceVoxels: number;
}

/**
 * The almost empty slices among `slices` (the annotated slices of `labels`, as any finder gives
 * them): those holding fewer labeled voxels of their own than nearlyEmptyLimit.
 */
export function nearlyEmptySlices(labels: LabelArray, dims: Vec3, slices: readonly { axis: Axis; index: number }[], counts = sliceLabelCounts(labels, dims)): NearlyEmptySlice[] {
  const annotated: AnnotatedSlices = [new Set(), new Set(), new Set()];
  for (const s of slices) annotated[s.axis].add(s.index);
  const out: NearlyEmptySlice[] = [];
  for (const { axis, index } of slices) {
    const [u, v] = sliceAxes(axis);
    const sliceVoxels = dims[u] * dims[v];
    const ownVoxels = ownLabeledVoxels(labels, dims, counts, annotated, axis, index);
    if (isNearlyEmptySlice(ownVoxels, sliceVoxels)) out.push({ axis, index, ownVoxels, sliceVoxels });
  }
  return out;
}
