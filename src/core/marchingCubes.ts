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
  const value = (x: number, y: number, z: number): number =>
    x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz ? 0 : field[x + nx * (y + ny * z)];
  const positions: number[] = [];
  const normals: number[] = [];
  const indices: number[] = [];
  // A vertex per grid edge, shared by the cells around it: key = point index (grid padded by one) · 3 + axis.
  const vertexOfEdge = new Map<number, number>();
  const px = nx + 2;
  const pxy = px * (ny + 2);
  const corner = new Float64Array(8);
  const edgeVertex = new Int32Array(12);
  const gradient = (x: number, y: number, z: number, out: number[]) => {
    out[0] = value(x + 1, y, z) - value(x - 1, y, z);
    out[1] = value(x, y + 1, z) - value(x, y - 1, z);
    out[2] = value(x, y, z + 1) - value(x, y, z - 1);
  };
  const ga = [0, 0, 0];
  const gb = [0, 0, 0];
  const [x0, y0, z0] = cells.min.map((v) => Math.max(-1, v));
  const x1 = Math.min(nx - 1, cells.max[0]);
  const y1 = Math.min(ny - 1, cells.max[1]);
  const z1 = Math.min(nz - 1, cells.max[2]);
  for (let z = z0; z <= z1; z++) {
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        let cubeIndex = 0;
        for (let c = 0; c < 8; c++) {
          const [dx, dy, dz] = CORNERS[c];
          corner[c] = value(x + dx, y + dy, z + dz);
          if (corner[c] < iso) cubeIndex |= 1 << c;
        }
        const edges = EDGE_TABLE[cubeIndex];
        if (edges === 0) continue;
        for (let e = 0; e < 12; e++) {
          if (!(edges & (1 << e))) continue;
          const [a, b] = EDGE_CORNERS[e];
          const ca = CORNERS[a];
          const cb = CORNERS[b];
          // The edge's lower corner and axis name it uniquely across cells.
          const lower = ca[0] + ca[1] + ca[2] <= cb[0] + cb[1] + cb[2] ? ca : cb;
          const axis = ca[0] !== cb[0] ? 0 : ca[1] !== cb[1] ? 1 : 2;
          const key = ((x + lower[0] + 1) + (y + lower[1] + 1) * px + (z + lower[2] + 1) * pxy) * 3 + axis;
          let index = vertexOfEdge.get(key);
          if (index === undefined) {
            const va = corner[a];
            const vb = corner[b];
            const t = va === vb ? 0.5 : (iso - va) / (vb - va);
            index = positions.length / 3;
            positions.push(x + ca[0] + t * (cb[0] - ca[0]), y + ca[1] + t * (cb[1] - ca[1]), z + ca[2] + t * (cb[2] - ca[2]));
            gradient(x + ca[0], y + ca[1], z + ca[2], ga);
            gradient(x + cb[0], y + cb[1], z + cb[2], gb);
            const nxv = -(ga[0] + t * (gb[0] - ga[0]));
            const nyv = -(ga[1] + t * (gb[1] - ga[1]));
            const nzv = -(ga[2] + t * (gb[2] - ga[2]));
            const length = Math.hypot(nxv, nyv, nzv) || 1;
            normals.push(nxv / length, nyv / length, nzv / length);
            vertexOfEdge.set(key, index);
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
