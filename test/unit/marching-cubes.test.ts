/**
 * Marching cubes: a sphere comes out closed (every edge shared by two triangles), with the area
 * of a sphere and normals pointing out; a region touching the grid's edge is closed there;
 * meshing cell boxes apart gives the whole surface.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { marchingCubes, meshArea, type TriangleMesh } from '../../src/core/marchingCubes';

function sphereField(dims: Vec3, centre: Vec3, radius: number, smooth: boolean): Float32Array {
  const field = new Float32Array(dims[0] * dims[1] * dims[2]);
  let o = 0;
  for (let z = 0; z < dims[2]; z++) {
    for (let y = 0; y < dims[1]; y++) {
      for (let x = 0; x < dims[0]; x++) {
        const d = Math.hypot(x - centre[0], y - centre[1], z - centre[2]);
        field[o++] = smooth ? Math.max(0, Math.min(1, radius - d + 0.5)) : d <= radius ? 1 : 0;
      }
    }
  }
  return field;
}

/** Edges used by a number of triangles other than two (none in a closed surface). */
function openEdges(mesh: TriangleMesh): number {
  const uses = new Map<string, number>();
  for (let t = 0; t < mesh.indices.length; t += 3) {
    for (let e = 0; e < 3; e++) {
      const a = mesh.indices[t + e];
      const b = mesh.indices[t + ((e + 1) % 3)];
      const key = a < b ? `${a},${b}` : `${b},${a}`;
      uses.set(key, (uses.get(key) ?? 0) + 1);
    }
  }
  return [...uses.values()].filter((n) => n !== 2).length;
}

test('a sphere comes out closed, with a sphere\'s area and its normals pointing out', () => {
  const dims: Vec3 = [32, 30, 28];
  const centre: Vec3 = [15.3, 14.6, 13.9];
  for (const smooth of [true, false]) {
    const mesh = marchingCubes(sphereField(dims, centre, 9, smooth), dims, 0.5);
    assert.ok(mesh.indices.length > 300, `${mesh.indices.length / 3} triangles`);
    assert.equal(openEdges(mesh), 0, `closed (${smooth ? 'smooth' : 'binary'} field)`);
    const area = meshArea(mesh);
    const expected = 4 * Math.PI * 9 ** 2;
    assert.ok(Math.abs(area - expected) / expected < (smooth ? 0.05 : 0.12), `area ${area.toFixed(0)} vs ${expected.toFixed(0)}`);
    let outward = 0;
    for (let v = 0; v < mesh.positions.length; v += 3) {
      const r = [0, 1, 2].map((a) => mesh.positions[v + a] - centre[a]);
      if (r[0] * mesh.normals[v] + r[1] * mesh.normals[v + 1] + r[2] * mesh.normals[v + 2] > 0) outward++;
    }
    assert.ok(outward / (mesh.positions.length / 3) > 0.98, 'normals point out');
  }
});

test('a region touching the grid\'s edge is closed there, and cell boxes meshed apart make up the whole', () => {
  const dims: Vec3 = [10, 8, 6];
  const field = new Uint8Array(10 * 8 * 6);
  for (let z = 0; z < 6; z++) for (let y = 0; y < 8; y++) for (let x = 0; x < 4; x++) field[x + 10 * (y + 8 * z)] = 1;
  const whole = marchingCubes(field, dims, 0.5);
  assert.equal(openEdges(whole), 0);
  // A box of 4 × 8 × 6 points: its surface sits half a cell outside them, edges and corners bevelled.
  const box = 2 * (4 * 8 + 4 * 6 + 8 * 6);
  assert.ok(meshArea(whole) < box && meshArea(whole) > 0.85 * box, `area ${meshArea(whole)} of a ${box} box`);
  const halves = [
    marchingCubes(field, dims, 0.5, { min: [-1, -1, -1], max: [9, 8, 1] }),
    marchingCubes(field, dims, 0.5, { min: [-1, -1, 2], max: [9, 8, 5] }),
  ];
  assert.ok(Math.abs(halves.reduce((a, m) => a + meshArea(m), 0) - meshArea(whole)) < 1e-6);
  assert.equal(marchingCubes(new Uint8Array(10 * 8 * 6), dims, 0.5).indices.length, 0, 'nothing where nothing is');
});
