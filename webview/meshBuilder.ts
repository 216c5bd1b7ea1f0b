/**
 * Surfaces of label layers for the 3D view, built in a web worker (meshWorker.ts): per class, the
 * marching-cubes surface of a coarse grid whose cells count the class's voxels. Painted labels
 * (thin annotated slices) count by occupancy (any voxel of the class in a cell), the prediction
 * (dense) by the share of the cell's voxels, which gives smooth surfaces. The grid is kept at a
 * fine level (cells of `fineFactor`³ voxels) and read at a coarse one (2³ fine cells) for a
 * quick first surface; surfaces are built in bricks of cells, so that after a stroke only the
 * bricks it touched are built again. Pure: unit-tested in Node.
 */
import type { LabelArray } from '../src/core/editDeltas';
import type { Vec3 } from '../src/core/geometry';
import { marchingCubes, type CellBox } from '../src/core/marchingCubes';

/** Label layers the 3D view shows. */
export type MeshLayer = 'labels' | 'prediction';

/** The resolution a surface is built at: `coarse` first, `fine` when idle. */
export type MeshLevel = 'coarse' | 'fine';

/** A voxel box, inclusive. */
export interface VoxelRange {
  min: Vec3;
  max: Vec3;
}

/** Cells per brick edge at the level a brick is built at. */
export const BRICK_CELLS = 32;

/** One class's surface in one brick, positions in voxel coordinates (voxel centres at integers). */
export interface BrickMesh {
  /** `layer:level:value:bx,by,bz`: what a later build of the same brick replaces. */
  key: string;
  layer: MeshLayer;
  level: MeshLevel;
  value: number;
  positions: Float32Array;
  normals: Float32Array;
  indices: Uint32Array;
}

/** The grid factors for a volume: fine cells of `fine`³ voxels (about 192 cells along the longest axis at most), coarse ones twice that where it saves much. */
export function gridFactors(dims: Vec3): { fine: number; coarse: number } {
  const longest = Math.max(...dims);
  const fine = Math.max(1, Math.ceil(longest / 192));
  return { fine, coarse: longest / fine > 64 ? fine * 2 : fine };
}

/** The voxel box `range` grown to whole fine cells of `factor` (and kept inside `dims`). */
export function cellAligned(range: VoxelRange, factor: number, dims: Vec3): VoxelRange {
  const min = range.min.map((v) => Math.max(0, Math.floor(v / factor) * factor)) as Vec3;
  const max = range.max.map((v, a) => Math.min(dims[a] - 1, (Math.floor(v / factor) + 1) * factor - 1)) as Vec3;
  return { min, max };
}

/** The labels of a voxel box, x fastest (what the view sends the worker after an edit). */
export function labelsOfBox(labels: Readonly<LabelArray>, dims: Vec3, box: VoxelRange): LabelArray {
  const [nx, ny] = dims;
  const w = box.max[0] - box.min[0] + 1;
  const h = box.max[1] - box.min[1] + 1;
  const d = box.max[2] - box.min[2] + 1;
  const out = labels instanceof Uint16Array ? new Uint16Array(w * h * d) : new Uint8Array(w * h * d);
  let o = 0;
  for (let z = box.min[2]; z <= box.max[2]; z++) {
    for (let y = box.min[1]; y <= box.max[1]; y++) {
      const start = box.min[0] + nx * (y + ny * z);
      out.set(labels.subarray(start, start + w), o);
      o += w;
    }
  }
  return out;
}

/** The voxel counts of every class in the cells of one layer, kept up to date from the labels' boxes. */
export class LayerCounts {
  /** Cells along each axis at the fine level. */
  readonly cells: Vec3;
  /** Voxels of each class (≥ minValue) per fine cell. */
  private readonly counts = new Map<number, Uint16Array>();

  constructor(
    readonly dims: Vec3,
    readonly factor: number,
    /** Values below this are not meshed (background, 1, and unlabeled, 0). */
    readonly minValue = 2,
  ) {
    this.cells = dims.map((n) => Math.ceil(n / factor)) as Vec3;
  }

  /** The classes with a voxel somewhere (or that had one: their bricks may need clearing). */
  get values(): number[] {
    return [...this.counts.keys()].sort((a, b) => a - b);
  }

  /** Counts the labels of `box` (cell-aligned: see `cellAligned`) afresh; `values` holds them x fastest. */
  update(box: VoxelRange, values: ArrayLike<number>): void {
    const { factor, cells } = this;
    const c0 = box.min.map((v) => Math.floor(v / factor)) as Vec3;
    const c1 = box.max.map((v) => Math.floor(v / factor)) as Vec3;
    for (const count of this.counts.values()) {
      for (let z = c0[2]; z <= c1[2]; z++) for (let y = c0[1]; y <= c1[1]; y++) count.fill(0, c0[0] + cells[0] * (y + cells[1] * z), c1[0] + 1 + cells[0] * (y + cells[1] * z));
    }
    const w = box.max[0] - box.min[0] + 1;
    const h = box.max[1] - box.min[1] + 1;
    let o = 0;
    for (let z = box.min[2]; z <= box.max[2]; z++) {
      const cz = Math.floor(z / factor) * cells[0] * cells[1];
      for (let y = box.min[1]; y < box.min[1] + h; y++) {
        const cy = cz + Math.floor(y / factor) * cells[0];
        for (let x = box.min[0]; x < box.min[0] + w; x++, o++) {
          const v = values[o];
          if (v < this.minValue) continue;
          let count = this.counts.get(v);
          if (!count) {
            count = new Uint16Array(cells[0] * cells[1] * cells[2]);
            this.counts.set(v, count);
          }
          count[cy + Math.floor(x / factor)]++;
        }
      }
    }
  }

  /** Forgets every count (the layer is gone, or about to be counted again whole). */
  clear(): void {
    this.counts.clear();
  }

  /**
   * The field of class `value` on the grid of `level` (coarse: 2³ fine cells), over the cells of
   * `region` at that level and one more on each side: occupancy (1 where a voxel of the class is)
   * or the share of the cell's voxels. Returns the field, its dims and where it starts.
   */
  field(value: number, level: MeshLevel, mode: 'occupancy' | 'fraction', region: CellBox): { field: Float32Array; dims: Vec3; origin: Vec3 } {
    const count = this.counts.get(value);
    const step = level === 'coarse' ? 2 : 1;
    const levelCells = this.levelCells(level);
    const origin = region.min.map((v) => Math.max(0, v - 1)) as Vec3;
    const end = region.max.map((v, a) => Math.min(levelCells[a] - 1, v + 2)) as Vec3;
    const dims = [0, 1, 2].map((a) => Math.max(0, end[a] - origin[a] + 1)) as Vec3;
    const field = new Float32Array(dims[0] * dims[1] * dims[2]);
    if (!count) return { field, dims, origin };
    const { cells } = this;
    const full = (this.factor * step) ** 3;
    let o = 0;
    for (let z = 0; z < dims[2]; z++) {
      for (let y = 0; y < dims[1]; y++) {
        for (let x = 0; x < dims[0]; x++, o++) {
          let sum = 0;
          const fx = (origin[0] + x) * step;
          const fy = (origin[1] + y) * step;
          const fz = (origin[2] + z) * step;
          for (let dz = 0; dz < step && fz + dz < cells[2]; dz++) {
            for (let dy = 0; dy < step && fy + dy < cells[1]; dy++) {
              const row = cells[0] * (fy + dy + cells[1] * (fz + dz));
              for (let dx = 0; dx < step && fx + dx < cells[0]; dx++) sum += count[row + fx + dx];
            }
          }
          field[o] = mode === 'occupancy' ? (sum > 0 ? 1 : 0) : sum / full;
        }
      }
    }
    return { field, dims, origin };
  }

  /** Cells along each axis at `level`. */
  levelCells(level: MeshLevel): Vec3 {
    return level === 'coarse' ? (this.cells.map((n) => Math.ceil(n / 2)) as Vec3) : this.cells;
  }

  /** The bricks (indices along each axis) at `level` that hold cells of the voxel box `range` (every brick without one). */
  bricks(level: MeshLevel, range?: VoxelRange): Vec3[] {
    const size = this.factor * (level === 'coarse' ? 2 : 1) * BRICK_CELLS;
    const cells = this.levelCells(level);
    const count = cells.map((n) => Math.ceil(n / BRICK_CELLS));
    // A changed voxel moves the surface up to a cell beyond it: the bricks of the neighbouring cells too.
    const margin = this.factor * (level === 'coarse' ? 2 : 1);
    const lo = [0, 1, 2].map((a) => (range ? Math.max(0, Math.floor((range.min[a] - margin) / size)) : 0));
    const hi = [0, 1, 2].map((a) => (range ? Math.min(count[a] - 1, Math.floor((range.max[a] + margin) / size)) : count[a] - 1));
    const out: Vec3[] = [];
    for (let z = lo[2]; z <= hi[2]; z++) for (let y = lo[1]; y <= hi[1]; y++) for (let x = lo[0]; x <= hi[0]; x++) out.push([x, y, z]);
    return out;
  }

  /**
   * The surface of class `value` in brick `brick` at `level`, in voxel coordinates: the cells of
   * the brick (and the border cells around the grid, so that surfaces close at its edges).
   */
  brickMesh(layer: MeshLayer, value: number, level: MeshLevel, brick: Vec3, mode: 'occupancy' | 'fraction'): BrickMesh {
    const cells = this.levelCells(level);
    const region: CellBox = {
      min: brick.map((b) => b * BRICK_CELLS) as Vec3,
      max: brick.map((b, a) => Math.min(cells[a] - 1, (b + 1) * BRICK_CELLS - 1)) as Vec3,
    };
    const { field, dims, origin } = this.field(value, level, mode, region);
    // Cells of the brick in the field's frame; the grid's border cells belong to the bricks at its edges.
    const cellBox: CellBox = {
      min: [0, 1, 2].map((a) => (region.min[a] === 0 ? -1 : region.min[a] - origin[a])) as Vec3,
      max: [0, 1, 2].map((a) => (region.max[a] === cells[a] - 1 ? dims[a] - 1 : region.max[a] - origin[a])) as Vec3,
    };
    // Cells whose far corner lies past the field (the field stops a cell beyond the brick) read 0 there: only cells inside are meshed.
    const mesh = marchingCubes(field, dims, 0.5, cellBox);
    // Grid point p of this level is the centre of its block of voxels: voxel = (p + origin) · size + (size − 1) / 2.
    const size = this.factor * (level === 'coarse' ? 2 : 1);
    const offset = (size - 1) / 2;
    const positions = mesh.positions;
    for (let i = 0; i < positions.length; i += 3) {
      for (let a = 0; a < 3; a++) positions[i + a] = (positions[i + a] + origin[a]) * size + offset;
    }
    return { key: `${layer}:${level}:${value}:${brick.join(',')}`, layer, level, value, positions, normals: mesh.normals, indices: mesh.indices };
  }
}
