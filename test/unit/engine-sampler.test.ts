import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vec3 } from '../../src/core/geometry';
import { augmentationSettings, NO_AUGMENTATION } from '../../src/protocol/settings';
import { IDENTITY_TRANSFORM } from '../../src/engine/augment';
import type { NormalizedImage } from '../../src/engine/normalize';
import { Random } from '../../src/core/random';
import { extractPatch, mirrorCoordinate, outputMargin, patchAnchor, PatchSampler, samplePatch } from '../../src/engine/sampler';
import type { PatchGeometry } from '../../src/protocol/training';

test('mirror padding reflects about the first and last voxel', () => {
  const cases: [number, number, number][] = [
    // [p, n, expected]
    [0, 5, 0],
    [4, 5, 4],
    [-1, 5, 1],
    [-3, 5, 3],
    [5, 5, 3],
    [7, 5, 1],
    [8, 5, 0],
    [9, 5, 1],
    [-8, 5, 0],
    [2.5, 5, 2.5],
    [-0.5, 5, 0.5],
    [3, 1, 0],
  ];
  for (const [p, n, expected] of cases) assert.equal(mirrorCoordinate(p, n), expected, `mirror(${p}, ${n})`);
});

function rampImage(dims: Vec3, channels = 1): NormalizedImage {
  const n = dims[0] * dims[1] * dims[2];
  const data = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = i + 0.25 * c;
  return { dims, spacing: [1, 1, 1], channels, data, normalization: { settings: { lowPercentile: 0, highPercentile: 100 }, channels: [] } };
}

test('a plain patch is an exact copy, mirrored beyond the borders, for valid and same geometry', () => {
  const dims: Vec3 = [7, 6, 5];
  const image = rampImage(dims, 2);
  const index = (x: number, y: number, z: number) => mirrorCoordinate(x, 7) + 7 * (mirrorCoordinate(y, 6) + 6 * mirrorCoordinate(z, 5));
  for (const geometry of [
    { input: [6, 4, 4], output: [6, 4, 4] },
    { input: [9, 8, 6], output: [3, 2, 2] },
  ] as PatchGeometry[]) {
    const centre: Vec3 = [1, 5, 0];
    const patch = extractPatch(image, centre, geometry);
    const anchor = patchAnchor(geometry.input);
    const [px, py, pz] = geometry.input;
    for (let z = 0; z < pz; z++) for (let y = 0; y < py; y++) for (let x = 0; x < px; x++) {
      const i = index(centre[0] + x - anchor[0], centre[1] + y - anchor[1], centre[2] + z - anchor[2]);
      for (let c = 0; c < 2; c++) assert.equal(patch[(x + px * (y + py * z)) * 2 + c], image.data[i * 2 + c]);
    }
  }
});

test('the label patch is the centred output box of the input patch', () => {
  const dims: Vec3 = [20, 18, 16];
  const image = rampImage(dims);
  const labels = Uint8Array.from(image.data, (v) => v % 3);
  const geometry: PatchGeometry = { input: [12, 12, 10], output: [4, 4, 2] };
  const margin = outputMargin(geometry);
  assert.deepEqual(margin, [4, 4, 4]);
  const imageOut = new Float32Array(12 * 12 * 10);
  const labelsOut = new Int32Array(4 * 4 * 2);
  samplePatch(image, labels, [9, 8, 7], geometry, IDENTITY_TRANSFORM, imageOut, labelsOut);
  for (let z = 0; z < 2; z++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) {
    const q = x + margin[0] + 12 * (y + margin[1] + 12 * (z + margin[2]));
    assert.equal(labelsOut[x + 4 * (y + 4 * z)], imageOut[q] % 3, 'label and image voxel coincide');
  }
  assert.throws(() => outputMargin({ input: [12, 12, 10], output: [5, 4, 2] }), /cannot centre/);
});

test('the sampler draws patches around labeled voxels, reproducibly', () => {
  const dims: Vec3 = [48, 40, 30];
  const image = rampImage(dims);
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]);
  // One labeled plane (z = 20): background, and a small foreground square.
  for (let y = 0; y < 40; y++) for (let x = 0; x < 48; x++) labels[x + 48 * (y + 40 * 20)] = x >= 30 && x < 34 && y >= 5 && y < 9 ? 2 : 1;
  const geometry: PatchGeometry = { input: [16, 16, 8], output: [16, 16, 8] };
  const make = (foregroundFraction: number, seed: number) =>
    new PatchSampler([{ name: 'ramp', image, labels }], { geometry, classes: 2, foregroundFraction, augmentation: NO_AUGMENTATION }, new Random(seed));
  const sampler = make(1, 4);
  assert.deepEqual(sampler.classCounts(), [48 * 40 - 16, 16]);
  for (let i = 0; i < 20; i++) {
    const batch = sampler.batch(2);
    assert.equal(batch.image.length, 2 * 16 * 16 * 8);
    for (let b = 0; b < 2; b++) {
      const patch = batch.labels.subarray(b * 2048, (b + 1) * 2048);
      assert.ok(patch.some((v) => v === 2), 'foreground-centred patches hold foreground');
    }
  }
  const anyLabeled = make(0, 5);
  for (let i = 0; i < 20; i++) assert.ok(anyLabeled.batch(1).labels.some((v) => v > 0), 'every patch holds labeled voxels');
  assert.deepEqual(make(0.5, 9).batch(3), make(0.5, 9).batch(3));
  // With augmentation the draws stay reproducible too.
  const augmented = (seed: number) =>
    new PatchSampler([{ name: 'ramp', image, labels }], { geometry, classes: 2, foregroundFraction: 0.5, augmentation: augmentationSettings() }, new Random(seed)).batch(2);
  assert.deepEqual(augmented(2), augmented(2));
});

test('the sampler refuses what it cannot train on', () => {
  const image = rampImage([8, 8, 8]);
  const geometry: PatchGeometry = { input: [8, 8, 8], output: [8, 8, 8] };
  const options = { geometry, classes: 2, foregroundFraction: 0.5, augmentation: NO_AUGMENTATION };
  assert.throws(() => new PatchSampler([], options, new Random(1)), /no volumes/);
  assert.throws(() => new PatchSampler([{ name: 'empty', image, labels: new Uint8Array(512) }], options, new Random(1)), /no labeled voxels/);
  assert.throws(() => new PatchSampler([{ name: 'short', image, labels: new Uint8Array(100) }], options, new Random(1)), /100 voxels/);
  assert.throws(() => new PatchSampler([{ name: 'many', image, labels: new Uint8Array(512).fill(3) }], options, new Random(1)), /exceeds the 2 classes/);
});

test('focus slices get their share of the patches (a warm start\'s new slices)', () => {
  const dims: Vec3 = [9, 8, 6];
  const labels = new Uint8Array(9 * 8 * 6);
  // Background on the planes x = 2 and z = 1, class 2 on the plane y = 5 (the focus, about a fifth of the labeled voxels).
  for (let z = 0; z < 6; z++) for (let y = 0; y < 8; y++) labels[2 + 9 * (y + 8 * z)] = 1;
  for (let y = 0; y < 8; y++) for (let x = 0; x < 9; x++) labels[x + 9 * (y + 8 * 1)] = 1;
  for (let z = 0; z < 6; z++) for (let x = 0; x < 9; x++) labels[x + 9 * (5 + 8 * z)] = 2;
  const geometry: PatchGeometry = { input: [1, 1, 1], output: [1, 1, 1] };
  const draw = (focusFraction: number) => {
    const sampler = new PatchSampler(
      [{ name: 'v', image: rampImage(dims), labels, focus: [{ axis: 1, index: 5 }] }],
      { geometry, classes: 2, foregroundFraction: 0, augmentation: NO_AUGMENTATION, focusFraction },
      new Random(3),
    );
    return Array.from({ length: 400 }, () => sampler.batch(1).labels[0]);
  };
  const share = (values: number[]) => values.filter((l) => l === 2).length / values.length;
  assert.ok(share(draw(1)) === 1, 'every patch on the focus slice');
  const none = share(draw(0));
  assert.ok(none > 0.2 && none < 0.45, `without focus, its share of the labeled voxels: ${none}`);
  const half = share(draw(0.5));
  assert.ok(half > 0.55 && half < 0.8, `half the patches, and the usual share of the rest: ${half}`);
});
