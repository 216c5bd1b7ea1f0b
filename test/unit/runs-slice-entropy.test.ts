/**
 * Suggest Next Slice: the mean entropy of class probabilities per slice; where uncertainty can
 * teach (near the predicted foreground, off the rim) and the slice of each axis with the most of
 * it; the message, numbering slices as the panes do.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  annotatedSliceSets,
  bestTeachingSlices,
  mostUncertainSlices,
  rimWidth,
  sliceEntropy,
  suggestionMessage,
  teachingScores,
} from '../../src/core/sliceEntropy';
import type { Vec3 } from '../../src/core/geometry';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import { suggestSlicesFromFiles } from '../../src/core/suggestSlices';
import { runSuggestThread } from '../../src/extension/suggest/runSuggestThread';
import { REPO_ROOT, tempDir } from '../helpers/data';

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

/**
 * A ball of foreground (radius 6 at the centre of 40×40×20) whose boundary shell is uncertain,
 * and, far from it, a slab of high uncertainty at x = 38 (the field of view's edge, padding): as
 * the spleen CT gave (sagittal 159 of 164, coronal 163 of 166).
 */
function ballWithNoisyEdge(): { p: Uint8Array; dims: Vec3 } {
  const dims: Vec3 = [40, 40, 20];
  const p = probabilities(dims, 2, (x, y, z) => {
    if (x === 38) return [128, 127];
    const r = Math.hypot(x - 20, y - 20, (z - 10) * 2);
    if (r < 5) return [10, 245];
    if (r < 7) return [150, 105]; // the uncertain boundary
    return [250, 5];
  });
  return { p, dims };
}

test('the plain mean entropy picks the noisy edge; weighed where it can teach, a slice through the object wins', () => {
  const { p, dims } = ballWithNoisyEdge();
  assert.deepEqual(mostUncertainSlices(sliceEntropy(p, dims, 2)).map((s) => [s.axis, s.index])[0], [0, 38], 'the old pick: the edge slab');
  const scores = teachingScores(p, dims, 2, [1, 1, 2]);
  assert.ok(scores.foreground);
  const picks = bestTeachingSlices(scores);
  assert.equal(picks.length, 3);
  for (const s of picks) {
    const centre = [20, 20, 10][s.axis];
    assert.ok(Math.abs(s.index - centre) <= 6, `axis ${s.axis}: slice ${s.index} is not through the ball`);
    assert.ok(s.entropy > 0.1 && s.entropy < 1, `axis ${s.axis}: ${s.entropy} bits`);
  }
  // The slab is 18 voxels from the ball: beyond a 10 mm margin, within a 20 mm one it counts.
  assert.equal(scores.score[0][38], 0);
  assert.ok(teachingScores(p, dims, 2, [1, 1, 2], { marginMm: 20 }).score[0][37] > 0);
  // Labeled slices are left out.
  const labeled = [new Set([picks[0].index]), new Set<number>(), new Set<number>()];
  const again = bestTeachingSlices(scores, labeled);
  assert.notEqual(again[0].index, picks[0].index);
  assert.ok(Math.abs(again[0].index - 20) <= 6);
});

test('the rim is never suggested; without predicted foreground everything off the rim counts', () => {
  assert.deepEqual([1, 2, 3, 20, 26, 52, 164].map((n) => rimWidth(n)), [0, 0, 1, 1, 1, 3, 8]);
  const dims: Vec3 = [30, 30, 30];
  // All background, uncertain near x = 0 and in the plane x = 15.
  const p = probabilities(dims, 2, (x) => (x === 0 || x === 15 ? [140, 115] : [250, 5]));
  const scores = teachingScores(p, dims, 2, [1, 1, 1]);
  assert.equal(scores.foreground, false);
  assert.equal(scores.score[0][0], 0, 'x = 0 is rim');
  assert.equal(bestTeachingSlices(scores)[0].index, 15);
  assert.throws(() => teachingScores(new Uint8Array(3), [1, 1, 1], 2, [1, 1, 1]), /3 probability values do not make 2 volumes/);
});

test('the suggestion is said with the panes\' numbering (from 1) and the slice to start with', () => {
  const slices = [
    { axis: 0 as const, index: 79, entropy: 0.41, plane: 'sagittal' as const, count: 164 },
    { axis: 2 as const, index: 12, entropy: 0.52, plane: 'axial' as const, count: 26 },
  ];
  assert.equal(
    suggestionMessage(slices, slices[1], true),
    'Least certain near the predicted foreground: sagittal 80 of 164 (0.41 bits), axial 13 of 26 (0.52). Start with axial 13.',
  );
  assert.match(suggestionMessage(slices, slices[0], false), /^Least certain anywhere \(no foreground predicted yet\): /);
});

test('Suggest Next Slice reads and scores the files on a worker thread, with the same answer as scoring them here', async () => {
  const dims: Vec3 = [12, 10, 8];
  const affine = [[2, 0, 0, -10], [0, 2, 0, -5], [0, 0, 3, 7], [0, 0, 0, 1]];
  // A ball of foreground, uncertain at its rim, certain elsewhere.
  const probs = probabilities(dims, 2, (x, y, z) => {
    const r = Math.hypot(x - 6, y - 5, (z - 4) * 1.5);
    const p = Math.max(0, Math.min(255, Math.round(255 / (1 + Math.exp((r - 3) * 2)))));
    return [255 - p, p];
  });
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) labels[x + dims[0] * (y + dims[1] * 4)] = 1; // slice z = 4 annotated
  const dir = tempDir('suggest-thread');
  const probFile = path.join(dir, 'v.prob.nii.gz');
  const labelFile = path.join(dir, 'v.labels.nii.gz');
  fs.writeFileSync(probFile, encodeNiftiGz({ dims, affine, data: probs, frames: 2, intentCode: 0 }));
  fs.writeFileSync(labelFile, encodeNiftiGz({ dims, affine, data: labels }));

  const here = suggestSlicesFromFiles({ probabilities: probFile, labels: labelFile });
  const scores = teachingScores(probs, dims, 2, [2, 2, 3]);
  assert.deepEqual(here.slices, bestTeachingSlices(scores, annotatedSliceSets(labels, dims)));
  assert.ok(!here.slices.some((s) => s.axis === 2 && s.index === 4), 'the annotated slice is left out');
  assert.deepEqual(here.dims, dims);

  const thread = path.join(REPO_ROOT, 'dist', 'suggestThread.js');
  const threaded = await runSuggestThread({ probabilities: probFile, labels: labelFile }, thread);
  assert.deepEqual(threaded, here);
  await assert.rejects(runSuggestThread({ probabilities: path.join(dir, 'missing.nii.gz') }, thread), /missing\.nii\.gz|ENOENT|no such file/);
  fs.rmSync(dir, { recursive: true, force: true });
});
