/** Suggest Next Slice: the mean entropy of class probabilities per slice, and the most uncertain unlabeled slice per axis. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { annotatedSliceSets, mostUncertainSlices, sliceEntropy } from '../../src/core/sliceEntropy';
import type { Vec3 } from '../../src/core/geometry';

/** Probabilities (classes volumes one after another) from a per-voxel function returning the classes' values 0..255. */
function probabilities(dims: Vec3, classes: number, at: (x: number, y: number, z: number) => number[]): Uint8Array {
  const n = dims[0] * dims[1] * dims[2];
  const out = new Uint8Array(n * classes);
  let i = 0;
  for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++, i++) at(x, y, z).forEach((v, k) => (out[k * n + i] = v));
  return out;
}

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} is not ${b}`);

test('a certain voxel has no entropy, an even split of two classes one bit, of four classes two bits', () => {
  const one = (values: number[]) => sliceEntropy(Uint8Array.from(values), [1, 1, 1], values.length)[0][0];
  close(one([255, 0]), 0);
  close(one([0, 255]), 0);
  close(one([128, 128]), 1);
  close(one([64, 64, 64, 64]), 2);
  close(one([0, 0]), 1, 0); // no information: uniform
  // Rounded values are renormalized: 128 + 127 is still almost one bit.
  assert.ok(one([128, 127]) > 0.9999);
});

test('slices are averaged along each axis and the most uncertain one wins', () => {
  const dims: Vec3 = [4, 3, 5];
  // Uncertain (50/50) only in the plane x = 2 and the line y = 1, z = 3; certain elsewhere.
  const p = probabilities(dims, 2, (x, y, z) => (x === 2 || (y === 1 && z === 3) ? [128, 128] : [255, 0]));
  const [ex, ey, ez] = sliceEntropy(p, dims, 2);
  close(ex[2], 1);
  close(ex[0], 1 / 15); // the line y = 1, z = 3 crosses the plane x = 0 once, of 3 × 5 voxels
  close(ez[3], (3 + 3) / 12); // in z = 3: the x = 2 column (3 voxels) and the y = 1 row (4, one shared)
  assert.equal(ey.length, 3);
  const picks = mostUncertainSlices([ex, ey, ez]);
  assert.deepEqual(picks.map((s) => [s.axis, s.index]), [[0, 2], [1, 1], [2, 3]]);
});

test('annotated slices are left out, not the slices that merely cross them', () => {
  const dims: Vec3 = [4, 3, 5];
  const p = probabilities(dims, 2, (x, _y, z) => (x === 2 || z === 4 ? [128, 128] : x === 1 ? [200, 55] : [255, 0]));
  // The slice z = 4 is fully labeled (it crosses every x and y slice).
  const labels = new Uint8Array(60);
  for (let i = 4 * 12; i < 5 * 12; i++) labels[i] = 1;
  const exclude = annotatedSliceSets(labels, dims);
  assert.deepEqual(exclude.map((s) => [...s]), [[], [], [4]]);
  const picks = mostUncertainSlices(sliceEntropy(p, dims, 2), exclude);
  assert.deepEqual(picks.map((s) => [s.axis, s.index]), [[0, 2], [1, 0], [2, 0]]);
  assert.ok(picks[2].entropy < 1, 'z = 4 (all uncertain) is annotated: another z slice is suggested');
  assert.equal(mostUncertainSlices(sliceEntropy(p, dims, 2), [new Set([0, 1, 2, 3]), new Set(), new Set()]).some((s) => s.axis === 0), false);
});

test('the fast formula equals −Σ p log2 p computed directly', () => {
  const dims: Vec3 = [6, 5, 4];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const p = probabilities(dims, 3, () => {
    const a = rand();
    const b = rand() * (1 - a);
    return [a, b, 1 - a - b].map((v) => Math.round(v * 255));
  });
  const n = 120;
  const direct = new Float64Array(dims[2]);
  for (let i = 0; i < n; i++) {
    const v = [p[i], p[n + i], p[2 * n + i]];
    const s = v[0] + v[1] + v[2];
    direct[Math.floor(i / 30)] += s ? -v.reduce((h, x) => (x ? h + (x / s) * Math.log2(x / s) : h), 0) / 30 : Math.log2(3) / 30;
  }
  const ez = sliceEntropy(p, dims, 3)[2];
  for (let z = 0; z < 4; z++) close(ez[z], direct[z], 1e-9);
});

test('bad input is refused with the reason', () => {
  assert.throws(() => sliceEntropy(new Uint8Array(5), [2, 2, 1], 2), /5 probability values do not make 2 volumes of 2×2×1/);
  assert.throws(() => sliceEntropy(new Uint8Array(4), [2, 2, 1], 1), /at least 2 classes/);
});
