/**
 * 3D connected components of a label map (26-connectivity), and the "keep the largest component"
 * clean-up nnU-Net applies to structures that are one piece (a spleen, a spinal cord): a network
 * that has seen only a few slices sometimes marks look-alike tissue elsewhere as the structure
 * (what this clean-up gained is in docs/quality.md); when the structure is known
 * to be one object, those islands can only be wrong.
 *
 * Whether a class is one object is read from the user's own annotation (see singleObjectClasses):
 * annotated slices along different axes cross each other, so a structure that is one piece shows
 * as (nearly) one 3D component in a sparse label map, and a scattered one (lesions, ribs) as many.
 */
import type { Vec3 } from './geometry';

/** Voxel labels of any integer type, indexed `i + nx * (j + ny * k)`. */
export type LabelArray = Uint8Array | Uint16Array | Int32Array | Uint32Array;

export interface Components {
  /** Component number per voxel, 1.. (0 = not in the class). */
  ids: Int32Array;
  /** Voxels per component; index n − 1 for component n. */
  sizes: number[];
}

/** Calls `visit` with the index of each of voxel v's 26 neighbours that lie inside the grid. */
function forEachNeighbour(v: number, dims: Vec3, visit: (n: number) => void): void {
  const [nx, ny, nz] = dims;
  const x = v % nx;
  const y = Math.floor(v / nx) % ny;
  const z = Math.floor(v / (nx * ny));
  for (let dz = -1; dz <= 1; dz++) {
    const zz = z + dz;
    if (zz < 0 || zz >= nz) continue;
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= ny) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        if (xx < 0 || xx >= nx || (dx === 0 && dy === 0 && dz === 0)) continue;
        visit(xx + nx * (yy + ny * zz));
      }
    }
  }
}

/** The 26-connected components of the voxels whose label equals `value`. */
export function labelComponents(labels: LabelArray, dims: Vec3, value: number): Components {
  const [nx, ny, nz] = dims;
  const total = nx * ny * nz;
  if (labels.length !== total) throw new RangeError(`${labels.length} labels for a ${nx}×${ny}×${nz} grid`);
  const ids = new Int32Array(total);
  const sizes: number[] = [];
  // An explicit stack of voxel indices (a recursive fill would overflow on a large organ).
  let stack = new Int32Array(1024);
  for (let seed = 0; seed < total; seed++) {
    if (labels[seed] !== value || ids[seed] !== 0) continue;
    const id = sizes.length + 1;
    let size = 0;
    let top = 0;
    stack[top++] = seed;
    ids[seed] = id;
    while (top > 0) {
      const v = stack[--top];
      size++;
      forEachNeighbour(v, dims, (n) => {
        if (labels[n] !== value || ids[n] !== 0) return;
        ids[n] = id;
        if (top === stack.length) {
          const grown = new Int32Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
        }
        stack[top++] = n;
      });
    }
    sizes.push(size);
  }
  return { ids, sizes };
}

/**
 * Relabels every voxel of class `value` outside its largest component; returns how many voxels
 * changed. Nothing changes when the class has at most one component. Each island takes the label
 * most common around it (its 26-neighbours of other labels): a false "right lung" inside the left
 * lung becomes left lung, a false spleen in the liver becomes background. (`fallback` is for an
 * island with no such neighbour, which two separate components cannot have.)
 */
export function keepLargestComponent(labels: LabelArray, dims: Vec3, value: number, fallback: number): number {
  const { ids, sizes } = labelComponents(labels, dims, value);
  if (sizes.length <= 1) return 0;
  let largest = 1;
  for (let n = 2; n <= sizes.length; n++) if (sizes[n - 1] > sizes[largest - 1]) largest = n;
  // Votes of the labels around each island: component id → (label → count).
  const around = new Map<number, Map<number, number>>();
  for (let v = 0; v < ids.length; v++) {
    const id = ids[v];
    if (id === 0 || id === largest) continue;
    const votes = around.get(id) ?? new Map<number, number>();
    around.set(id, votes);
    forEachNeighbour(v, dims, (n) => {
      const label = labels[n];
      if (label !== value) votes.set(label, (votes.get(label) ?? 0) + 1);
    });
  }
  const replacement = new Map<number, number>();
  for (const [id, votes] of around) {
    let best = fallback;
    let most = 0;
    for (const [label, count] of votes) if (count > most || (count === most && label < best)) [best, most] = [label, count];
    replacement.set(id, best);
  }
  let changed = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (id !== 0 && id !== largest) {
      labels[i] = replacement.get(id) ?? fallback;
      changed++;
    }
  }
  return changed;
}

/**
 * Share of a class's annotated voxels its largest 3D component must hold for the class to count as
 * one object. Not 1: a slice can graze the tip of an organ apart from the rest (a few voxels
 * apart), while scattered structures (lesions, ribs) sit far below.
 */
export const SINGLE_OBJECT_SHARE = 0.95;

/**
 * The classes (label values ≥ 2; 1 is background, 0 unlabeled) that the user drew as one object:
 * in every label map that has the class, its largest 3D component holds at least
 * SINGLE_OBJECT_SHARE of its voxels.
 */
export function singleObjectClasses(maps: { labels: LabelArray; dims: Vec3 }[], classes: number): number[] {
  const single: number[] = [];
  for (let value = 2; value <= classes; value++) {
    let seen = false;
    let one = true;
    for (const { labels, dims } of maps) {
      const { sizes } = labelComponents(labels, dims, value);
      if (sizes.length === 0) continue;
      seen = true;
      const total = sizes.reduce((a, b) => a + b, 0);
      if (Math.max(...sizes) < SINGLE_OBJECT_SHARE * total) one = false;
    }
    if (seen && one) single.push(value);
  }
  return single;
}
