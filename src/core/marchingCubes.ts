/**
 * Marching cubes (Lorensen and Cline 1987, with Paul Bourke's tables): the surface where a scalar
 * field on a grid crosses `iso`, as an indexed triangle mesh whose vertices are shared between
 * neighbouring cells and carry normals from the field's gradient. Points outside the grid read as
 * 0, so a region touching the grid's edge is closed there. Pure.
 */
import type { Vec3 } from './geometry';
import { EDGE_TABLE, TRI_TABLE } from './marchingCubesTables';

/** A triangle mesh: vertex positions and unit normals (x, y, z each, grid point units), and triangles as vertex index triples. */
export interface TriangleMesh {
  positions: Float32Array;
  normals: Float32Array;
  indices: Uint32Array;
}

/** A box of cells, inclusive; cell (x, y, z) spans grid points x..x+1, y..y+1, z..z+1. Cells from −1 to dims−1 exist (the border). */
export interface CellBox {
  min: Vec3;
  max: Vec3;
}

// Corner offsets of a cell in Bourke's order, and the two corners of each of its 12 edges.
const CORNERS: readonly Vec3[] = [
  [0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
  [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1],
];
const EDGE_CORNERS: readonly [number, number][] = [
  [0, 1], [1, 2], [2, 3], [3, 0],
  [4, 5], [5, 6], [6, 7], [7, 4],
  [0, 4], [1, 5], [2, 6], [3, 7],
];
/** The axis each edge runs along. */
const EDGE_AXIS = EDGE_CORNERS.map(([a, b]) => (CORNERS[a][0] !== CORNERS[b][0] ? 0 : CORNERS[a][1] !== CORNERS[b][1] ? 1 : 2));

/** Every cell of a grid of `dims` points, the border included. */
export function allCells(dims: Vec3): CellBox {
  return { min: [-1, -1, -1], max: [dims[0] - 1, dims[1] - 1, dims[2] - 1] };
}

/**
 * The surface of `field` (dims[0]·dims[1]·dims[2] values, x fastest) at `iso`, over the cells of
 * `cells` (default: all, so the surface is closed). Normals point from higher values to lower
 * (out of a region of high values).
 */
export function marchingCubes(field: ArrayLike<number>, dims: Vec3, iso: number, cells: CellBox = allCells(dims)): TriangleMesh {
  const [nx, ny, nz] = dims;
  // The field padded by one point of 0 on every side: no bounds checks below.
  const px = nx + 2;
  const py = ny + 2;
  const pxy = px * py;
  const padded = new Float32Array(pxy * (nz + 2));
  let any = false;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      const from = nx * (y + ny * z);
      const to = 1 + px * (y + 1 + py * (z + 1));
      for (let x = 0; x < nx; x++) {
        const v = field[from + x];
        padded[to + x] = v;
        if (v >= iso) any = true;
      }
    }
  }
  const empty = { positions: new Float32Array(0), normals: new Float32Array(0), indices: new Uint32Array(0) };
  if (!any) return empty;
  // Offsets of the 8 corners of a cell in the padded array, Bourke's order.
  const cornerOffset = CORNERS.map(([dx, dy, dz]) => dx + dy * px + dz * pxy);
  const axisStep = [1, px, pxy];
  const positions: number[] = [];
  const normals: number[] = [];
  const indices: number[] = [];
  // A vertex per grid edge, shared by the cells around it: index + 1 by (lower point, axis), 0 when not made yet.
  const vertexOfEdge = new Int32Array(padded.length * 3);
  const edgeVertex = new Int32Array(12);
  const corner = new Float64Array(8);
  const gx = (p: number) => padded[p + 1] - padded[p - 1];
  const gy = (p: number) => padded[p + px] - padded[p - px];
  const gz = (p: number) => padded[p + pxy] - padded[p - pxy];
  const gradientAt = (p: number, axis: number): number => {
    // Points on the padding's outer layer have no neighbour outside: their gradient is one-sided (0 beyond).
    const step = axisStep[axis];
    const before = p - step >= 0 ? padded[p - step] : 0;
    const after = p + step < padded.length ? padded[p + step] : 0;
    return after - before;
  };
  const x0 = Math.max(-1, cells.min[0]);
  const y0 = Math.max(-1, cells.min[1]);
  const z0 = Math.max(-1, cells.min[2]);
  const x1 = Math.min(nx - 1, cells.max[0]);
  const y1 = Math.min(ny - 1, cells.max[1]);
  const z1 = Math.min(nz - 1, cells.max[2]);
  for (let z = z0; z <= z1; z++) {
    for (let y = y0; y <= y1; y++) {
      let base = x0 + 1 + px * (y + 1 + py * (z + 1));
      for (let x = x0; x <= x1; x++, base++) {
        let cubeIndex = 0;
        for (let c = 0; c < 8; c++) {
          const v = padded[base + cornerOffset[c]];
          corner[c] = v;
          if (v < iso) cubeIndex |= 1 << c;
        }
        const edges = EDGE_TABLE[cubeIndex];
        if (edges === 0) continue;
        for (let e = 0; e < 12; e++) {
          if (!(edges & (1 << e))) continue;
          const [a, b] = EDGE_CORNERS[e];
          const pa = base + cornerOffset[a];
          const pb = base + cornerOffset[b];
          const axis = EDGE_AXIS[e];
          const key = Math.min(pa, pb) * 3 + axis;
          let index = vertexOfEdge[key] - 1;
          if (index < 0) {
            const va = corner[a];
            const vb = corner[b];
            const t = va === vb ? 0.5 : (iso - va) / (vb - va);
            const ca = CORNERS[a];
            const cb = CORNERS[b];
            index = positions.length / 3;
            positions.push(x + ca[0] + t * (cb[0] - ca[0]), y + ca[1] + t * (cb[1] - ca[1]), z + ca[2] + t * (cb[2] - ca[2]));
            const inner = (p: number) => p % px > 0 && p % px < px - 1 && Math.floor(p / px) % py > 0 && Math.floor(p / px) % py < py - 1 && p >= pxy && p < padded.length - pxy;
            const ga = inner(pa) ? [gx(pa), gy(pa), gz(pa)] : [gradientAt(pa, 0), gradientAt(pa, 1), gradientAt(pa, 2)];
            const gb = inner(pb) ? [gx(pb), gy(pb), gz(pb)] : [gradientAt(pb, 0), gradientAt(pb, 1), gradientAt(pb, 2)];
            const nxv = -(ga[0] + t * (gb[0] - ga[0]));
            const nyv = -(ga[1] + t * (gb[1] - ga[1]));
            const nzv = -(ga[2] + t * (gb[2] - ga[2]));
            const length = Math.hypot(nxv, nyv, nzv) || 1;
            normals.push(nxv / length, nyv / length, nzv / length);
            vertexOfEdge[key] = index + 1;
          }
          edgeVertex[e] = index;
        }
        const row = cubeIndex * 16;
        for (let t = 0; t < 16 && TRI_TABLE[row + t] !== -1; t += 3) {
          const a = edgeVertex[TRI_TABLE[row + t]];
          const b = edgeVertex[TRI_TABLE[row + t + 1]];
          const c = edgeVertex[TRI_TABLE[row + t + 2]];
          if (a !== b && b !== c && a !== c) indices.push(a, b, c);
        }
      }
    }
  }
  return { positions: Float32Array.from(positions), normals: Float32Array.from(normals), indices: Uint32Array.from(indices) };
}

/** Total area of a mesh's triangles (grid point units²). */
export function meshArea(mesh: Pick<TriangleMesh, 'positions' | 'indices'>): number {
  const p = mesh.positions;
  let area = 0;
  for (let t = 0; t < mesh.indices.length; t += 3) {
    const a = mesh.indices[t] * 3;
    const b = mesh.indices[t + 1] * 3;
    const c = mesh.indices[t + 2] * 3;
    const ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
    const vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
    area += Math.hypot(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx) / 2;
  }
  return area;
}
