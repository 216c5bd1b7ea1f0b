/**
 * The 3D view's surfaces (webview/meshBuilder.ts, run in the mesh worker): a painted slice and a
 * dense prediction come out as surfaces of their class where they are, at the coarse and the
 * fine level; a stroke's box is counted again and only the bricks around it are built; classes
 * below 2 (unlabeled, background) make no surface.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { BRICK_CELLS, cellAligned, gridFactors, labelsOfBox, LayerCounts, type BrickMesh, type MeshLevel } from '../../webview/meshBuilder';

function buildAll(counts: LayerCounts, level: MeshLevel, mode: 'occupancy' | 'fraction'): BrickMesh[] {
  const out: BrickMesh[] = [];
  for (const brick of counts.bricks(level)) for (const value of counts.values) {
    const mesh = counts.brickMesh('labels', value, level, brick, mode);
    if (mesh.indices.length) out.push(mesh);
  }
  return out;
}

function extent(meshes: BrickMesh[]): { min: number[]; max: number[] } {
  const min = [Infinity, Infinity, Infinity];
  const max = [-Infinity, -Infinity, -Infinity];
  for (const m of meshes) for (let i = 0; i < m.positions.length; i += 3) for (let a = 0; a < 3; a++) {
    min[a] = Math.min(min[a], m.positions[i + a]);
    max[a] = Math.max(max[a], m.positions[i + a]);
  }
  return { min, max };
}

test('grid factors keep the fine grid within about 192 cells, and a coarse one only where it saves much', () => {
  assert.deepEqual(gridFactors([60, 55, 52]), { fine: 1, coarse: 1 });
  assert.deepEqual(gridFactors([128, 128, 34]), { fine: 1, coarse: 2 });
  assert.deepEqual(gridFactors([512, 512, 512]), { fine: 3, coarse: 6 });
  assert.deepEqual(cellAligned({ min: [4, 0, 7], max: [4, 9, 7] }, 3, [20, 10, 8]), { min: [3, 0, 6], max: [5, 9, 7] });
});

test('a painted slice and a dense region become surfaces of their class where they are, at both levels', () => {
  const dims: Vec3 = [150, 120, 90];
  const { fine } = gridFactors(dims);
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
  // Background (1) everywhere on slice z = 40, class 3 in a disc of it; class 2 a dense ball elsewhere.
  for (let y = 0; y < 120; y++) for (let x = 0; x < 150; x++) labels[x + 150 * (y + 120 * 40)] = Math.hypot(x - 50, y - 60) < 20 ? 3 : 1;
  for (let z = 0; z < 90; z++) for (let y = 0; y < 120; y++) for (let x = 0; x < 150; x++) if (Math.hypot(x - 110, y - 60, z - 60) < 15) labels[x + 150 * (y + 120 * z)] = 2;
  const counts = new LayerCounts(dims, fine);
  counts.update({ min: [0, 0, 0], max: [149, 119, 89] }, labels);
  assert.deepEqual(counts.values, [2, 3], 'background and unlabeled make no surface');
  for (const level of ['coarse', 'fine'] as MeshLevel[]) {
    const meshes = buildAll(counts, level, 'occupancy');
    const disc = extent(meshes.filter((m) => m.value === 3));
    const ball = extent(meshes.filter((m) => m.value === 2));
    const slack = level === 'coarse' ? 4 : 2;
    assert.ok(Math.abs(disc.min[0] - 30) <= slack + 1 && Math.abs(disc.max[0] - 70) <= slack + 1, `${level} disc x ${disc.min[0]}..${disc.max[0]}`);
    assert.ok(disc.min[2] >= 40 - slack - 1 && disc.max[2] <= 40 + slack + 1, `${level}: the painted slice stays thin (z ${disc.min[2]}..${disc.max[2]})`);
    assert.ok(Math.abs(ball.min[2] - 45) <= slack + 1 && Math.abs(ball.max[2] - 75) <= slack + 1, `${level} ball z ${ball.min[2]}..${ball.max[2]}`);
  }
  // The share of voxels (the prediction's way) gives the ball's surface where its voxels are.
  const smooth = extent(buildAll(counts, 'fine', 'fraction').filter((m) => m.value === 2));
  assert.ok(Math.abs(smooth.min[0] - 95) <= 2 && Math.abs(smooth.max[0] - 125) <= 2, `fraction ball x ${smooth.min[0]}..${smooth.max[0]}`);
});

test('a stroke is counted again in its box and only the bricks around it are built', () => {
  const dims: Vec3 = [400, 300, 40];
  const { fine } = gridFactors(dims);
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
  const counts = new LayerCounts(dims, fine);
  counts.update({ min: [0, 0, 0], max: [399, 299, 39] }, labels);
  assert.deepEqual(counts.values, []);
  const every = counts.bricks('fine');
  // A stroke of class 2 on slice z = 20 near the origin.
  const stroke = { min: [10, 12, 20] as Vec3, max: [30, 16, 20] as Vec3 };
  for (let y = 12; y <= 16; y++) for (let x = 10; x <= 30; x++) labels[x + 400 * (y + 300 * 20)] = 2;
  const box = cellAligned(stroke, fine, dims);
  counts.update(box, labelsOfBox(labels, dims, box));
  const touched = counts.bricks('fine', stroke);
  assert.ok(touched.length < every.length / 4, `${touched.length} of ${every.length} bricks`);
  const meshes = touched.map((b) => counts.brickMesh('labels', 2, 'fine', b, 'occupancy')).filter((m) => m.indices.length);
  assert.equal(meshes.length, 1);
  assert.match(meshes[0].key, /^labels:fine:2:0,0,0$/);
  // Erased again: the brick is built empty.
  for (let y = 12; y <= 16; y++) for (let x = 10; x <= 30; x++) labels[x + 400 * (y + 300 * 20)] = 0;
  counts.update(box, labelsOfBox(labels, dims, box));
  assert.equal(counts.brickMesh('labels', 2, 'fine', [0, 0, 0], 'occupancy').indices.length, 0);
  assert.ok(BRICK_CELLS >= 16);
});
