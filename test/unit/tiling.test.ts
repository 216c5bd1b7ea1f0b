/** The tile plan, mirror padding, blend weights and the tile merger. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gaussian1d, gaussianWeights } from '../../src/core/blending';
import type { Vec3 } from '../../src/core/geometry';
import { TileMerger } from '../../src/core/tileMerger';
import { predictTiled } from '../../src/core/tiledPrediction';
import { extractMirroredBox, extractMirroredBoxInterleaved, planTiles, reflectIndex, tileStarts, type TilePlan } from '../../src/core/tiling';

test('tile starts: evenly spaced, first and last flush with the volume', () => {
  const cases: { size: number; tile: number; overlap: number; starts: number[] }[] = [
    { size: 10, tile: 10, overlap: 0, starts: [0] },
    { size: 5, tile: 10, overlap: 0.5, starts: [0] }, // volume smaller than one tile
    { size: 11, tile: 10, overlap: 0, starts: [0, 1] },
    { size: 20, tile: 10, overlap: 0, starts: [0, 10] }, // divisible: no overlap
    { size: 100, tile: 44, overlap: 0, starts: [0, 28, 56] }, // not divisible: spread evenly
    { size: 100, tile: 44, overlap: 0.5, starts: [0, 19, 37, 56] },
    { size: 64, tile: 32, overlap: 0.5, starts: [0, 16, 32] },
    { size: 1, tile: 1, overlap: 0, starts: [0] },
  ];
  for (const c of cases) assert.deepEqual(tileStarts(c.size, c.tile, c.overlap), c.starts, JSON.stringify(c));
  assert.throws(() => tileStarts(10, 4, 1), /overlap/);
  assert.throws(() => tileStarts(10, 0), /tile size/);
  assert.throws(() => tileStarts(0, 4), /axis size/);
  assert.throws(() => tileStarts(10, 2, 0.9), /step under one voxel/);
});

const PLANS: { name: string; dims: Vec3; tile: Vec3; margin?: Vec3; overlap?: number; blend?: boolean }[] = [
  { name: 'valid, many tiles, anisotropic', dims: [23, 17, 9], tile: [8, 6, 4], margin: [3, 3, 1] },
  { name: 'valid, divisible', dims: [16, 16, 8], tile: [8, 8, 4], margin: [2, 2, 2] },
  { name: 'valid, volume smaller than the tile', dims: [5, 3, 2], tile: [8, 8, 4], margin: [4, 4, 2] },
  { name: 'valid, one axis smaller', dims: [40, 3, 12], tile: [16, 8, 8], margin: [2, 2, 2] },
  { name: 'same, overlap 0.5', dims: [23, 17, 9], tile: [8, 8, 4], overlap: 0.5, blend: true },
  { name: 'same, overlap 0.25, smaller than the tile along z', dims: [30, 20, 3], tile: [12, 12, 8], overlap: 0.25, blend: true },
  { name: 'same, with margin', dims: [19, 11, 7], tile: [8, 8, 8], margin: [1, 1, 1], overlap: 0.5, blend: true },
];

function coverage(plan: TilePlan): Uint8Array {
  const [nx, ny] = plan.dims;
  const count = new Uint8Array(plan.dims[0] * plan.dims[1] * plan.dims[2]);
  for (const t of plan.tiles) {
    const { start, size } = t.output;
    for (let k = 0; k < size[2]; k++) for (let j = 0; j < size[1]; j++) for (let i = 0; i < size[0]; i++) count[start[0] + i + nx * (start[1] + j + ny * (start[2] + k))]++;
  }
  return count;
}

test('tile plans: boxes line up, outputs stay inside, valid plans write every voxel once', () => {
  for (const c of PLANS) {
    const plan = planTiles(c);
    const margin = c.margin ?? [0, 0, 0];
    assert.deepEqual(plan.inputSize, [0, 1, 2].map((a) => c.tile[a] + 2 * margin[a]), c.name);
    assert.equal(plan.tiles.length, plan.starts[0].length * plan.starts[1].length * plan.starts[2].length, c.name);
    let previousZ = -1;
    plan.tiles.forEach((t, n) => {
      assert.equal(t.index, n);
      assert.ok(t.region.start[2] >= previousZ, `${c.name}: tiles ordered z slowest`);
      previousZ = t.region.start[2];
      for (let a = 0; a < 3; a++) {
        assert.equal(t.input.start[a], t.region.start[a] - margin[a]);
        assert.equal(t.region.size[a], c.tile[a]);
        assert.ok(t.output.start[a] >= 0 && t.output.start[a] + t.output.size[a] <= c.dims[a], `${c.name}: output inside the volume`);
        assert.ok(t.output.size[a] >= 1);
        assert.equal(t.cropStart[a], t.output.start[a] - t.region.start[a]);
        assert.ok(t.cropStart[a] >= 0 && t.cropStart[a] + t.output.size[a] <= c.tile[a], `${c.name}: crop inside the network output`);
      }
    });
    const count = coverage(plan);
    if (c.blend) assert.ok(count.every((n) => n >= 1), `${c.name}: every voxel covered`);
    else assert.ok(count.every((n) => n === 1), `${c.name}: every voxel written exactly once`);
  }
  assert.throws(() => planTiles({ dims: [4, 4, 0], tile: [2, 2, 2] }), /volume dimensions/);
  assert.throws(() => planTiles({ dims: [4, 4, 4], tile: [2, 2, 2], margin: [-1, 0, 0] }), /margin/);
});

test('reflectIndex mirrors without repeating the edge voxel, at any distance', () => {
  const size4 = [-7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => reflectIndex(i, 4));
  assert.deepEqual(size4, [1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3]);
  assert.deepEqual([-3, 0, 5].map((i) => reflectIndex(i, 1)), [0, 0, 0]);
  assert.deepEqual([-2, -1, 0, 1, 2, 3].map((i) => reflectIndex(i, 2)), [0, 1, 0, 1, 0, 1]);
});

test('extractMirroredBox copies inside, mirrors outside, and interleaves channels', () => {
  const dims: Vec3 = [4, 3, 2];
  const data = Int16Array.from({ length: 24 }, (_, i) => i * 10 - 50);
  const at = (x: number, y: number, z: number) => data[reflectIndex(x, 4) + 4 * (reflectIndex(y, 3) + 3 * reflectIndex(z, 2))];
  const boxes = [
    { start: [0, 0, 0] as Vec3, size: [4, 3, 2] as Vec3 },
    { start: [-3, -2, -1] as Vec3, size: [10, 7, 4] as Vec3 },
    { start: [2, 1, 1] as Vec3, size: [7, 7, 7] as Vec3 },
  ];
  for (const box of boxes) {
    const out = extractMirroredBox(data, dims, box);
    let o = 0;
    for (let k = 0; k < box.size[2]; k++) for (let j = 0; j < box.size[1]; j++) for (let i = 0; i < box.size[0]; i++) {
      assert.equal(out[o++], at(box.start[0] + i, box.start[1] + j, box.start[2] + k));
    }
  }
  // Two channels interleaved, channel last.
  const box = boxes[1];
  const out = new Float32Array(10 * 7 * 4 * 2);
  extractMirroredBox(data, dims, box, { out, channel: 1, channels: 2 });
  extractMirroredBox(Float32Array.from(data, (v) => -v), dims, box, { out, channel: 0, channels: 2 });
  for (let v = 0; v < 10 * 7 * 4; v++) assert.equal(out[2 * v], -out[2 * v + 1]);
  // The same from an interleaved (channel-last) source.
  const interleaved = new Float32Array(48);
  for (let v = 0; v < 24; v++) interleaved.set([-data[v], data[v]], 2 * v);
  assert.deepEqual(extractMirroredBoxInterleaved(interleaved, dims, 2, box), out);
  assert.throws(() => extractMirroredBoxInterleaved(interleaved, dims, 3, box), /3 channels/);
  assert.throws(() => extractMirroredBox(data, [4, 3, 3], box), /dims/);
  assert.throws(() => extractMirroredBox(data, dims, box, { channel: 2, channels: 2 }), /channel/);
});

test('Gaussian blend weights: peak 1 at the centre, symmetric, sigma 1/8 of the tile, all positive', () => {
  const g = gaussian1d(16);
  assert.ok(Math.abs(g[7] - g[8]) < 1e-7 && Math.abs(g[7] - Math.exp(-(0.5 ** 2) / 8)) < 1e-6);
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(g[i] - g[15 - i]) < 1e-7);
  // sigma = 16 / 8 = 2 voxels around the centre 7.5.
  assert.ok(Math.abs(g[5] - Math.exp(-((5 - 7.5) ** 2) / (2 * 2 * 2))) < 1e-6);
  assert.equal(gaussian1d(9)[4], 1);
  const w = gaussianWeights([8, 6, 4]);
  assert.equal(w.length, 8 * 6 * 4);
  assert.ok(w.every((v) => v > 0 && v <= 1));
  const gx = gaussian1d(8);
  const gy = gaussian1d(6);
  const gz = gaussian1d(4);
  assert.ok(Math.abs(w[3 + 8 * (2 + 6 * 1)] - gx[3] * gy[2] * gz[1]) < 1e-7);
});

/**
 * A real `valid` operator for the equivalence test: three output channels from box sums of the
 * input over (2m+1)-wide windows, as a valid convolution does (output = input − 2·margin).
 */
function validNetwork(input: Float32Array, inSize: Vec3, margin: Vec3): Float32Array {
  const out: Vec3 = [inSize[0] - 2 * margin[0], inSize[1] - 2 * margin[1], inSize[2] - 2 * margin[2]];
  const result = new Float32Array(out[0] * out[1] * out[2] * 3);
  let o = 0;
  for (let z = 0; z < out[2]; z++) for (let y = 0; y < out[1]; y++) for (let x = 0; x < out[0]; x++) {
    let sum = 0;
    let centre = 0;
    let corner = 0;
    for (let dz = 0; dz <= 2 * margin[2]; dz++) for (let dy = 0; dy <= 2 * margin[1]; dy++) for (let dx = 0; dx <= 2 * margin[0]; dx++) {
      const v = input[x + dx + inSize[0] * (y + dy + inSize[1] * (z + dz))];
      sum += v;
      if (dx === margin[0] && dy === margin[1] && dz === margin[2]) centre = v;
      if (dx === 0 && dy === 0 && dz === 0) corner = v;
    }
    result[o++] = Math.fround(sum / 100);
    result[o++] = Math.fround(centre / 10);
    result[o++] = Math.fround(corner / 10);
  }
  return result;
}

test('valid network: tiled prediction equals the whole mirror-padded volume at once, voxel for voxel', async () => {
  for (const c of PLANS.filter((p) => !p.blend)) {
    const { dims, tile } = c;
    const margin = c.margin!;
    const count = dims[0] * dims[1] * dims[2];
    // A deterministic, irregular image.
    const image = Float32Array.from({ length: count }, (_, i) => ((i * 7919) % 101) - 50 + Math.sin(i));
    const wholeInput = extractMirroredBox(image, dims, { start: [-margin[0], -margin[1], -margin[2]], size: [dims[0] + 2 * margin[0], dims[1] + 2 * margin[1], dims[2] + 2 * margin[2]] });
    const whole = validNetwork(wholeInput, [dims[0] + 2 * margin[0], dims[1] + 2 * margin[1], dims[2] + 2 * margin[2]], margin);
    const reference = new TileMerger({ plan: planTiles({ dims, tile: dims, margin }), classes: 3, probabilities: true });
    reference.add(planTiles({ dims, tile: dims, margin }).tiles[0], whole);
    const expected = reference.finish();

    const plan = planTiles({ dims, tile, margin });
    const merger = new TileMerger({ plan, classes: 3, probabilities: true });
    assert.equal(merger.accumulatorBytes, 0);
    for (const t of plan.tiles) merger.add(t, validNetwork(extractMirroredBox(image, dims, t.input), plan.inputSize, margin));
    const got = merger.finish();
    assert.deepEqual(got.labels, expected.labels, c.name);
    assert.deepEqual(got.probabilities, expected.probabilities, c.name);
    const distinct = new Set(got.labels);
    assert.ok(distinct.size >= 2 || count < 40, `${c.name}: a non-trivial prediction`);

    // The same through the driver, with progress.
    const progress: number[] = [];
    const driven = await predictTiled({
      plan,
      image: { dims, channels: 1, data: image },
      classes: 3,
      probabilities: true,
      runTile: (input) => validNetwork(input, plan.inputSize, margin),
      onProgress: (done, total) => progress.push(done / total),
    });
    assert.deepEqual(driven.labels, expected.labels, c.name);
    assert.deepEqual(driven.probabilities, expected.probabilities, c.name);
    assert.equal(progress.length, plan.tiles.length);
    assert.equal(progress[progress.length - 1], 1);
  }
});

test('the tiled driver stops between tiles when cancelled', async () => {
  const dims: Vec3 = [8, 8, 8];
  const plan = planTiles({ dims, tile: [4, 4, 4] });
  const controller = new AbortController();
  let ran = 0;
  await assert.rejects(
    predictTiled({
      plan,
      image: { dims, channels: 1, data: new Float32Array(512) },
      classes: 2,
      runTile: () => {
        if (++ran === 3) controller.abort();
        return new Float32Array(4 * 4 * 4 * 2);
      },
      signal: controller.signal,
    }),
    { name: 'AbortError' },
  );
  assert.equal(ran, 3);
});

test('blending: a constant prediction stays constant, a smooth one is reproduced, memory is a slab', () => {
  for (const c of PLANS.filter((p) => p.blend)) {
    const plan = planTiles(c);
    const [nx, ny, nz] = plan.dims;
    // Constant logits: softmax(1, 3, 2) everywhere.
    const constant = new TileMerger({ plan, classes: 3, probabilities: true });
    const [tx, ty, tz] = plan.tile;
    const tileOutput = new Float32Array(tx * ty * tz * 3);
    for (let v = 0; v < tx * ty * tz; v++) tileOutput.set([1, 3, 2], 3 * v);
    for (const t of plan.tiles) constant.add(t, tileOutput);
    const flat = constant.finish();
    const e = [1, 3, 2].map((v) => Math.exp(v - 3));
    const p = e.map((v) => Math.round((255 * v) / (e[0] + e[1] + e[2])));
    assert.ok(flat.labels.every((l) => l === 2), c.name);
    for (let k = 0; k < 3; k++) assert.ok(flat.probabilities!.subarray(k * nx * ny * nz, (k + 1) * nx * ny * nz).every((q) => q === p[k]), `${c.name}: class ${k}`);

    // Probabilities that depend on the position in the volume: every tile agrees, so the weighted mean is the same value.
    const truth = (x: number, y: number, z: number) => 0.5 + 0.4 * Math.sin(x / 3 + y / 5 - z / 2);
    const smooth = new TileMerger({ plan, classes: 2, activation: 'probabilities', probabilities: true });
    for (const t of plan.tiles) {
      const out = new Float32Array(tx * ty * tz * 2);
      let o = 0;
      for (let k = 0; k < tz; k++) for (let j = 0; j < ty; j++) for (let i = 0; i < tx; i++) {
        const q = truth(t.region.start[0] + i, t.region.start[1] + j, t.region.start[2] + k);
        out[o++] = 1 - q;
        out[o++] = q;
      }
      smooth.add(t, out);
    }
    assert.equal(smooth.accumulatorBytes, 3 * 4 * nx * ny * Math.min(tz, nz));
    const got = smooth.finish();
    let v = 0;
    for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++, v++) {
      const q = truth(x, y, z);
      assert.ok(Math.abs(got.probabilities![nx * ny * nz + v] - 255 * q) <= 0.5 + 1e-3, `${c.name} (${x}, ${y}, ${z})`);
      if (Math.abs(q - 0.5) > 1e-3) assert.equal(got.labels[v], q > 0.5 ? 2 : 1);
    }
  }
});

test('the merger refuses tiles out of order, missing tiles and wrong sizes', () => {
  const plan = planTiles({ dims: [10, 10, 10], tile: [4, 4, 4], overlap: 0.5, blend: true });
  const output = new Float32Array(4 * 4 * 4 * 2);
  const outOfOrder = new TileMerger({ plan, classes: 2 });
  const firstRow = plan.tiles.filter((t) => t.region.start[2] === 0);
  for (const t of firstRow) outOfOrder.add(t, output);
  outOfOrder.add(plan.tiles[firstRow.length], output);
  assert.throws(() => outOfOrder.add(plan.tiles[0], output), /plan order/);
  const missing = new TileMerger({ plan, classes: 2 });
  missing.add(plan.tiles[0], output);
  assert.throws(() => missing.finish(), /covered by no tile/);
  const valid = planTiles({ dims: [10, 10, 10], tile: [4, 4, 4] });
  const incomplete = new TileMerger({ plan: valid, classes: 2 });
  incomplete.add(valid.tiles[0], output);
  assert.throws(() => incomplete.finish(), /wrote 27 of 1000 voxels/);
  assert.throws(() => incomplete.add(valid.tiles[1], new Float32Array(3)), /output has 3 values/);
  assert.throws(() => new TileMerger({ plan: valid, classes: 2, weights: new Float32Array(64) }), /does not blend/);
  assert.throws(() => new TileMerger({ plan, classes: 0 }), /classes/);
});
