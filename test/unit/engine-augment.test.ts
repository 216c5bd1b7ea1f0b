import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { augmentationSettings, NO_AUGMENTATION } from '../../src/protocol/settings';
import { augmentGrayValues, IDENTITY_TRANSFORM, randomPatchTransform } from '../../src/engine/augment';
import { bsplineUpsample, controlPointCount, randomDisplacementField } from '../../src/engine/deformation';
import type { NormalizedImage } from '../../src/engine/normalize';
import { Random } from '../../src/core/random';
import { samplePatch } from '../../src/engine/sampler';
import type { PatchGeometry } from '../../src/protocol/training';

test('the B-spline reproduces constant and linear control values (partition of unity)', () => {
  const size: Vec3 = [20, 9, 13];
  const spacing: Vec3 = [6, 3, 4];
  const nc = [0, 1, 2].map((a) => controlPointCount(size[a], spacing[a])) as Vec3;
  const constant = bsplineUpsample(new Float32Array(nc[0] * nc[1] * nc[2]).fill(2.5), nc, size, spacing);
  assert.ok(constant.every((v) => Math.abs(v - 2.5) < 1e-5));
  // Control point i sits at voxel (i − 1)·spacing; a linear function of position is kept exactly.
  const linear = new Float32Array(nc[0] * nc[1] * nc[2]);
  for (let k = 0; k < nc[2]; k++) for (let j = 0; j < nc[1]; j++) for (let i = 0; i < nc[0]; i++) linear[i + nc[0] * (j + nc[1] * k)] = 0.5 * (i - 1) * spacing[0] - 0.25 * (k - 1) * spacing[2];
  const dense = bsplineUpsample(linear, nc, size, spacing);
  for (let z = 0; z < size[2]; z++) for (let y = 0; y < size[1]; y++) for (let x = 0; x < size[0]; x++) {
    const v = dense[x + size[0] * (y + size[1] * z)];
    assert.ok(Math.abs(v - (0.5 * x - 0.25 * z)) < 1e-4, `at ${x},${y},${z}: ${v}`);
  }
});

test('the random deformation field is smooth and as strong as asked', () => {
  const size: Vec3 = [64, 64, 32];
  const field = randomDisplacementField(size, [32, 32, 32], [4, 4, 4], new Random(3));
  const [px, py] = size;
  let maxStep = 0;
  let maxCurvature = 0;
  let sumSq = 0;
  const at = (x: number, y: number, z: number, a: number) => field.data[(x + px * (y + py * z)) * 3 + a];
  for (let z = 0; z < size[2]; z++) {
    for (let y = 0; y < size[1]; y++) {
      for (let x = 0; x < size[0]; x++) {
        for (let a = 0; a < 3; a++) {
          const v = at(x, y, z, a);
          sumSq += v * v;
          if (x > 0) maxStep = Math.max(maxStep, Math.abs(v - at(x - 1, y, z, a)));
          if (x > 0 && x < px - 1) maxCurvature = Math.max(maxCurvature, Math.abs(at(x + 1, y, z, a) - 2 * v + at(x - 1, y, z, a)));
        }
      }
    }
  }
  const rms = Math.sqrt(sumSq / (field.data.length));
  // Control displacements of std 4 voxels, smoothed: a displacement of a voxel or more on average…
  assert.ok(rms > 0.5 && rms < 8, `rms displacement ${rms}`);
  // …that changes by well under a voxel from one voxel to the next, and bends even less.
  assert.ok(maxStep < 0.6, `largest change between neighbours ${maxStep}`);
  assert.ok(maxCurvature < 0.05, `largest second difference ${maxCurvature}`);
  // Seeded: the same seed gives the same field.
  assert.deepEqual(randomDisplacementField(size, [32, 32, 32], [4, 4, 4], new Random(3)).data, field.data);
});

function labelImage(dims: Vec3): { image: NormalizedImage; labels: Uint8Array } {
  const n = dims[0] * dims[1] * dims[2];
  const data = new Float32Array(n);
  const labels = new Uint8Array(n);
  for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) {
    const i = x + dims[0] * (y + dims[1] * z);
    data[i] = Math.sin(x / 3) + Math.cos(y / 4) + z / 10;
    // Sparse labels: one z plane and one x plane, 3 classes; the rest unlabeled.
    if (z === 5 || x === 11) labels[i] = (x - 20) ** 2 + (y - 16) ** 2 < 64 ? 3 : y < 10 ? 2 : 1;
  }
  return { image: { dims, spacing: [1, 1, 2.5], channels: 1, data, normalization: { settings: { lowPercentile: 0, highPercentile: 100 }, channels: [] } }, labels };
}

test('augmented patches keep every label value in its set, unlabeled included', () => {
  const dims: Vec3 = [40, 32, 12];
  const { image, labels } = labelImage(dims);
  const geometry: PatchGeometry = { input: [24, 24, 8], output: [16, 16, 4] };
  const rng = new Random(11);
  const settings = augmentationSettings({ flips: { enabled: true }, spatialProbability: 1, deformation: { sigma: 6, gridSpacing: 8 } });
  const seen = new Set<number>();
  const imageOut = new Float32Array(24 * 24 * 8);
  const labelsOut = new Int32Array(16 * 16 * 4);
  for (let trial = 0; trial < 40; trial++) {
    const transform = randomPatchTransform(geometry.input, image.spacing, settings, rng);
    samplePatch(image, labels, [rng.int(40), rng.int(32), rng.int(12)], geometry, transform, imageOut, labelsOut);
    for (const v of labelsOut) seen.add(v);
    assert.ok(imageOut.every(Number.isFinite));
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3], 'only the values of the label map, unlabeled among them');
});

test('switched off, augmentation is the identity; each part can be turned off alone', () => {
  const rng = new Random(1);
  assert.equal(randomPatchTransform([8, 8, 8], [1, 1, 1], NO_AUGMENTATION, rng), IDENTITY_TRANSFORM);
  const onlyDeform = augmentationSettings({ rotation: { enabled: false }, scaling: { enabled: false }, spatialProbability: 1 });
  const t = randomPatchTransform([8, 8, 8], [1, 1, 1], onlyDeform, rng);
  assert.deepEqual(t.matrix, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.ok(t.field, 'deformation field present');
  const noDeform = augmentationSettings({ deformation: { enabled: false }, spatialProbability: 1 });
  const r = randomPatchTransform([8, 8, 8], [1, 1, 1], noDeform, rng);
  assert.equal(r.field, undefined);
  assert.notDeepEqual(r.matrix, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  // Rotation acts in millimetres: with 5 mm slices and 0.8 mm pixels, slices tilt little.
  const rotOnly = augmentationSettings({ deformation: { enabled: false }, scaling: { enabled: false }, spatialProbability: 1, rotation: { maxDegrees: 30 } });
  for (let i = 0; i < 20; i++) {
    const m = randomPatchTransform([8, 8, 8], [0.8, 0.8, 5], rotOnly, rng).matrix;
    // A step along z (5 mm) moves along x and y by little: the slices tilt by under 8°, not 30°.
    const tilt = Math.atan(Math.hypot(m[2] * 0.8, m[5] * 0.8) / (m[8] * 5));
    assert.ok(Math.abs(tilt) < (8 * Math.PI) / 180, `tilt ${(tilt * 180) / Math.PI}°`);
  }
});

test('gray-value augmentation changes intensities, not their order, and is seeded', () => {
  const patch = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 2);
  const a = patch.slice();
  const b = patch.slice();
  const settings = augmentationSettings().grayValue;
  augmentGrayValues(a, 1, settings, new Random(5));
  augmentGrayValues(b, 1, settings, new Random(5));
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, patch);
  // Gamma, contrast and brightness are monotonic: the order of voxels is kept.
  const order = Array.from(patch.keys()).sort((i, j) => patch[i] - patch[j]);
  for (let k = 1; k < order.length; k++) assert.ok(a[order[k]] >= a[order[k - 1]], 'monotonic');
  const off = patch.slice();
  augmentGrayValues(off, 1, { ...settings, enabled: false }, new Random(5));
  assert.deepEqual(off, patch);
});

test('under every augmentation the labels stay on their image voxels', () => {
  // Dense labels in large blocks, and an image that is 100 × the label: after the same transform,
  // image and labels agree everywhere except on the blocks' borders.
  const dims: Vec3 = [48, 40, 24];
  const n = dims[0] * dims[1] * dims[2];
  const labels = new Uint8Array(n);
  const data = new Float32Array(n);
  for (let z = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++) {
    const i = x + dims[0] * (y + dims[1] * z);
    labels[i] = 1 + ((Math.floor(x / 16) + Math.floor(y / 16) + Math.floor(z / 8)) % 3);
    data[i] = 100 * labels[i];
  }
  const image: NormalizedImage = { dims, spacing: [1, 1, 2], channels: 1, data, normalization: { settings: { lowPercentile: 0, highPercentile: 100 }, channels: [] } };
  const geometry: PatchGeometry = { input: [28, 28, 12], output: [20, 20, 8] };
  const settings = augmentationSettings({ flips: { enabled: true }, spatialProbability: 1 });
  const rng = new Random(21);
  const imageOut = new Float32Array(28 * 28 * 12);
  const labelsOut = new Int32Array(20 * 20 * 8);
  let agree = 0;
  let total = 0;
  for (let trial = 0; trial < 20; trial++) {
    const transform = randomPatchTransform(geometry.input, image.spacing, settings, rng);
    samplePatch(image, labels, [10 + rng.int(28), 10 + rng.int(20), 6 + rng.int(12)], geometry, transform, imageOut, labelsOut);
    for (let z = 0; z < 8; z++) for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) {
      const q = x + 4 + 28 * (y + 4 + 28 * (z + 2));
      total++;
      if (Math.abs(imageOut[q] - 100 * labelsOut[x + 20 * (y + 20 * z)]) < 1) agree++;
    }
  }
  // Misaligned by a few voxels they would agree on far fewer (a third, at random).
  assert.ok(agree / total > 0.75, `image and labels agree on ${((100 * agree) / total).toFixed(1)}% of the voxels`);
});
