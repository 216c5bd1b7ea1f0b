/** The densifying baselines: exact EDT, nearest slice, nearest voxel, contour interpolation, and their figures on real data. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baselines, type BaselinesJson } from '../../src/cli/commands/baselines';
import { contourInterpolationLabels } from '../../src/experiments/baselines/contourInterpolation';
import { featureTransform } from '../../src/core/distanceTransform';
import { nearestSliceLabels } from '../../src/experiments/baselines/nearestSlice';
import { nearestVoxelLabels } from '../../src/experiments/baselines/nearestVoxel';
import type { Vec3 } from '../../src/core/geometry';
import { sparseLabels } from '../../src/core/sparseLabels';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';
import { captureStdout } from '../helpers/stdout';

/** A small deterministic pseudo-random generator for test volumes. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test('feature transform: exact squared distances in mm and a nearest feature at that distance', () => {
  const cases: { dims: Vec3; spacing: Vec3; density: number }[] = [
    { dims: [9, 7, 5], spacing: [0.8, 1.3, 3], density: 0.03 },
    { dims: [12, 3, 8], spacing: [1, 1, 1], density: 0.1 },
    { dims: [1, 15, 4], spacing: [2, 0.5, 5], density: 0.05 },
    { dims: [6, 6, 6], spacing: [1, 2, 3], density: 0.005 },
  ];
  for (const [n, c] of cases.entries()) {
    const random = lcg(n + 1);
    const total = c.dims[0] * c.dims[1] * c.dims[2];
    const features = Uint8Array.from({ length: total }, () => (random() < c.density ? 1 : 0));
    features[Math.floor(random() * total)] = 1;
    const { distanceSquared, nearest } = featureTransform(features, c.dims, c.spacing);
    const coords = (i: number) => [i % c.dims[0], Math.floor(i / c.dims[0]) % c.dims[1], Math.floor(i / (c.dims[0] * c.dims[1]))];
    const d2 = (a: number, b: number) => {
      const p = coords(a);
      const q = coords(b);
      return [0, 1, 2].reduce((s, k) => s + ((p[k] - q[k]) * c.spacing[k]) ** 2, 0);
    };
    const featureList = [...features.keys()].filter((i) => features[i]);
    for (let i = 0; i < total; i++) {
      const best = Math.min(...featureList.map((f) => d2(i, f)));
      assert.ok(Math.abs(distanceSquared[i] - best) < 1e-9, `case ${n} voxel ${i}: ${distanceSquared[i]} vs ${best}`);
      assert.ok(features[nearest[i]] === 1 && Math.abs(d2(i, nearest[i]) - best) < 1e-9, `case ${n} voxel ${i}: nearest feature`);
    }
  }
  const none = featureTransform(new Uint8Array(8), [2, 2, 2], [1, 1, 1]);
  assert.ok(none.distanceSquared.every((d) => d === Infinity) && none.nearest.every((n) => n === -1));
  assert.throws(() => featureTransform(new Uint8Array(8), [2, 2, 2], [1, 0, 1]), /spacing/);
});

test('nearest voxel: the label of the nearest annotated voxel, anisotropic spacing decides', () => {
  // Label 2 at x = 0 and label 3 at z = 2 of a 5×1×3 grid. Voxel (2, 0, 0) is 2 voxels from
  // the first and (with z spacing 0.5) √(2² + 1²) mm from the second: 2 mm < 2.24 mm → 2.
  const dims: Vec3 = [5, 1, 3];
  const sparse = new Uint8Array(15);
  sparse[0] = 2; // (0, 0, 0)
  sparse[4 + 5 * 2] = 3; // (4, 0, 2)
  const near = nearestVoxelLabels(sparse, dims, [1, 1, 0.5]);
  assert.equal(near[2], 2);
  assert.equal(near[3], 3); // 3 mm from the first, √(1 + 1) mm from the second
  const far = nearestVoxelLabels(sparse, dims, [1, 1, 5]); // z far apart: (3, 0, 0) is nearer the first
  assert.equal(far[3], 2);
  assert.throws(() => nearestVoxelLabels(new Uint8Array(15), dims, [1, 1, 1]), /no labeled voxel/);
});

test('nearest slice: copies straight across from the nearest annotated slice', () => {
  const dims: Vec3 = [6, 4, 3];
  const truth = Uint8Array.from({ length: 72 }, (_, i) => 1 + (i % 5));
  const slices = [
    { axis: 0 as const, index: 1 },
    { axis: 2 as const, index: 2 },
  ];
  const sparse = sparseLabels(truth, dims, slices);
  const at = (x: number, y: number, z: number) => x + 6 * (y + 4 * z);
  // Isotropic: voxel (4, 1, 0) is 3 from x = 1 and 2 from z = 2 → copies (4, 1, 2).
  let out = nearestSliceLabels(sparse, dims, [1, 1, 1], slices);
  assert.equal(out[at(4, 1, 0)], truth[at(4, 1, 2)]);
  // Voxel (2, 3, 0): 1 from x = 1 → copies (1, 3, 0).
  assert.equal(out[at(2, 3, 0)], truth[at(1, 3, 0)]);
  // Annotated voxels keep their label.
  for (let i = 0; i < 72; i++) if (sparse[i]) assert.equal(out[i], sparse[i]);
  // z spacing 4 mm: (4, 1, 0) is 3 mm from x = 1, 8 mm from z = 2 → copies (1, 1, 0).
  out = nearestSliceLabels(sparse, dims, [1, 1, 4], slices);
  assert.equal(out[at(4, 1, 0)], truth[at(1, 1, 0)]);
  // Along z only.
  out = nearestSliceLabels(sparse, dims, [1, 1, 1], slices, [2]);
  assert.equal(out[at(2, 3, 0)], truth[at(2, 3, 2)]);
  assert.throws(() => nearestSliceLabels(sparse, dims, [1, 1, 1], slices, [1]), /no annotated slice/);
});

test('contour interpolation fills between two annotated squares (ITK in WebAssembly, offline)', async () => {
  const dims: Vec3 = [16, 16, 11];
  const at = (x: number, y: number, z: number) => x + 16 * (y + 16 * z);
  const truth = new Uint8Array(16 * 16 * 11).fill(1);
  // A square of side 6 at z = 1 and of side 10 at z = 9, centred: a frustum between them.
  for (const [z, lo, hi] of [[1, 5, 10], [9, 3, 12]]) for (let y = lo; y <= hi; y++) for (let x = lo; x <= hi; x++) truth[at(x, y, z)] = 2;
  const sparse = sparseLabels(truth, dims, [{ axis: 2, index: 1 }, { axis: 2, index: 9 }]);
  const out = await contourInterpolationLabels(sparse, dims, [1, 1, 1]);
  assert.equal(out[at(8, 8, 5)], 2); // inside, between the slices
  assert.equal(out[at(5, 5, 5)], 2); // inside the middle square (side about 8)
  let middle = 0;
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) middle += out[at(x, y, 5)] === 2 ? 1 : 0;
  assert.ok(middle > 36 && middle < 100, `the middle section (${middle} voxels) lies between the two squares' areas`);
  assert.equal(out[at(1, 1, 5)], 1); // outside
  assert.equal(out[at(8, 8, 0)], 1); // no extrapolation beyond a single contour
  for (let i = 0; i < out.length; i++) if (sparse[i]) assert.equal(out[i], sparse[i]);
});

async function runBaselines(...args: string[]): Promise<string> {
  const { result, out } = await captureStdout(() => baselines.run(args));
  assert.equal(result, 0);
  return out;
}

test('unet3d baselines on the shared spinal cord reproduces QUALITY.md within 0.03', { skip: SKIP_WITHOUT_DATA }, async () => {
  const json = JSON.parse(
    await runBaselines('--image', dataPath('semi', 'spinalcord', 't2.nii.gz'), '--labels', dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'), '--json'),
  ) as BaselinesJson;
  assert.equal(json.labelsConvention, 'mask');
  assert.equal(json.slices.length, 9);
  // QUALITY.md, slice IoU / dense IoU. Its "nearest annotated slice" propagates along one axis (here y, along the cord).
  const expected: [keyof BaselinesJson['baselines'], number, number][] = [
    ['nearest-slice-y', 0.869, 0.879],
    ['nearest-voxel', 0.725, 0.778],
    ['contour-interpolation', 0.591, 0.874],
  ];
  for (const [name, slice, dense] of expected) {
    const r = json.baselines[name]!;
    assert.ok(Math.abs(r.sliceIoU!.meanIoU! - slice) <= 0.03, `${name}: slice IoU ${r.sliceIoU!.meanIoU} vs ${slice}`);
    assert.ok(Math.abs(r.denseIoU!.meanIoU! - dense) <= 0.03, `${name}: dense IoU ${r.denseIoU!.meanIoU} vs ${dense}`);
    assert.equal(r.sliceIoU!.folds.length, 3);
  }
  // Every baseline scores the same voxels.
  const voxels = new Set(Object.values(json.baselines).map((r) => r.denseIoU!.voxels));
  assert.equal(voxels.size, 1);
  assert.equal([...voxels][0], Math.round(60 * 55 * 52 * (1 - json.annotatedFraction)));
});

test('unet3d baselines refuses labels that are not full, and unknown baselines', { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const labels = dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz');
  await assert.rejects(runBaselines('--image', image, '--labels', labels, '--labels-convention', 'labels'), /unlabeled voxels/);
  await assert.rejects(runBaselines('--image', image, '--labels', labels, '--baseline', 'magic'), /unknown baseline "magic"/);
  await assert.rejects(runBaselines('--image', dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'), '--labels', labels), /not on the voxel grid/);
});
