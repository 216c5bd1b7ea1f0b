/** What a warm start's comparison with its parent scores (src/engine/parentComparison.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parentScoresHigher, sliceCheck, slicesToScore } from '../../src/engine/parentComparison';
import type { NormalizedImage } from '../../src/engine/normalize';

test('every labeled voxel of the slices is scored once, with the first slice that holds it', () => {
  const dims: [number, number, number] = [4, 3, 2];
  const image = { dims, spacing: [1, 1, 1], channels: 1, data: new Float32Array(24) } as unknown as NormalizedImage;
  const labels = new Uint8Array(24);
  // x = 1 fully labeled; z = 0 labeled except one voxel (unlabeled stays unscored).
  for (let z = 0; z < 2; z++) for (let y = 0; y < 3; y++) labels[1 + 4 * (y + 3 * z)] = 1;
  for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) if (!(x === 3 && y === 2)) labels[x + 4 * y] = 2;
  const slices = [{ axis: 0 as const, index: 1, voxels: 6 }, { axis: 2 as const, index: 0, voxels: 11 }];
  const check = sliceCheck('v', image, labels, slices);
  const counts = [0, 0, 0];
  check.mask.forEach((m) => counts[m]++);
  assert.deepEqual(counts, [24 - 6 - 8, 6, 8], 'the crossing line is the first slice\'s; the unlabeled voxel is not scored');
  assert.equal(check.scored, undefined);
});

test('the slices scored: all when few; else the new ones always, the others spread evenly', () => {
  const slices = Array.from({ length: 20 }, (_, i) => ({ axis: 2 as const, index: i }));
  assert.equal(slicesToScore(slices.slice(0, 12), [], 12), undefined);
  const chosen = slicesToScore(slices, [{ axis: 2, index: 19 }, { axis: 2, index: 0 }], 6)!;
  assert.equal(chosen.length, 6);
  assert.ok(chosen.includes(19) && chosen.includes(0), 'the new slices');
  assert.deepEqual(chosen, [...new Set(chosen)].sort((a, b) => a - b), 'distinct, in order');
  assert.ok(chosen.slice(1, -1).every((i) => i > 0 && i < 19), 'the others between them');
});

test('the parent is kept only when it scores strictly higher; no score counts as lowest', () => {
  const score = (meanIoU: number | null) => ({ meanIoU, fraction: 0, voxels: 10 });
  assert.equal(parentScoresHigher(score(0.9), score(0.8)), true);
  assert.equal(parentScoresHigher(score(0.8), score(0.8)), false);
  assert.equal(parentScoresHigher(score(0.8), score(0.9)), false);
  assert.equal(parentScoresHigher(score(null), score(0)), false);
  assert.equal(parentScoresHigher(score(0.1), score(null)), true);
});
