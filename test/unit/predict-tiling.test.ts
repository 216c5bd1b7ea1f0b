/**
 * Tiled prediction with the real 3D U-Net (small, random seeded weights, cpu backend): the
 * overlap-tile strategy of a `valid` network equals one run over the whole mirror-padded volume,
 * for any tile size; `same` networks blend overlapping tiles with a Gaussian; progress and cancel.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { gaussianWeights } from '../../src/core/blending';
import type { Vec3 } from '../../src/core/geometry';
import { predictTiled } from '../../src/core/tiledPrediction';
import { extractMirroredBox, type TilePlan } from '../../src/core/tiling';
import type { Volume } from '../../src/core/volume';
import { initBackend } from '../../src/engine/backends';
import { createUNet, type UNet } from '../../src/engine/model';
import type { UNetConfig } from '../../src/protocol/network';
import { computeNormalization, normalizeVolume, withCoordinateChannels } from '../../src/engine/normalize';
import { predictVolume, runNetworkOnTile } from '../../src/engine/predict';
import { alignedStarts, alignmentOf, estimatePredictionMemory, planPrediction } from '../../src/engine/predictionPlan';

before(async () => {
  await initBackend('cpu');
});

/** A float volume with structure at several scales and some noise (deterministic). */
function syntheticVolume(dims: Vec3, seed = 1): Volume {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  let s = seed;
  const noise = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5);
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        const blob = Math.hypot(x - nx / 3, y - ny / 2, (z - nz / 2) * 1.5) < Math.min(nx, ny) / 4 ? 100 : 0;
        data[i] = blob + 30 * Math.sin(x / 4 + y / 7) * Math.cos(z / 3) + 20 * noise() + 3 * x;
      }
    }
  }
  return {
    format: 'nifti1',
    dims,
    spacing: [1, 1, 1],
    datatype: 'float32',
    data,
    sclSlope: 1,
    sclInter: 0,
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
    frames: 1,
  };
}

const VALID: UNetConfig = { levels: 3, baseFilters: 3, filterPattern: 'flat', padding: 'valid', batchNorm: true, inChannels: 1, classes: 3 };
const SAME: UNetConfig = { levels: 2, baseFilters: 4, filterPattern: 'flat', padding: 'same', batchNorm: true, inChannels: 1, classes: 3 };

/** Where the top two logits of a voxel are this close, float rounding may pick either. */
const TIE = 1e-4;

function nearTie(logits: Float32Array, v: number, K: number): boolean {
  const values = Array.from(logits.subarray(v * K, v * K + K)).sort((a, b) => b - a);
  return values[0] - values[1] < TIE;
}

/** Runs `net` once over the whole volume (the plan's single tile) and returns its logits cropped to the volume, [z][y][x][K]. */
async function wholeVolumeLogits(net: UNet, volume: Volume, plan: TilePlan): Promise<Float32Array> {
  assert.equal(plan.tiles.length, 1, 'the reference plan is one tile');
  const normalized = normalizeVolume(volume, computeNormalization(volume));
  const tile = plan.tiles[0];
  const input = extractMirroredBox(normalized.data, volume.dims, tile.input);
  const out = await runNetworkOnTile(net, input, plan.inputSize, 1, plan.tile);
  const K = net.config.classes;
  const [nx, ny, nz] = volume.dims;
  const [tx, ty] = plan.tile;
  const cropped = new Float32Array(nx * ny * nz * K);
  for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) {
    const src = ((z * ty + y) * tx + x) * K;
    cropped.set(out.subarray(src, src + K), (x + nx * (y + ny * z)) * K);
  }
  return cropped;
}

test('plans: valid tiles start on the pooling grid and write every voxel once; same tiles fit the network', () => {
  const valid = createUNet(VALID, 3);
  const same = createUNet(SAME, 3);
  try {
    assert.equal(alignmentOf(valid), 4);
    assert.deepEqual(alignedStarts(10, 12, 4), [0]);
    assert.deepEqual(alignedStarts(37, 12, 4), [0, 8, 20, 28]); // the last reaches 40 ≥ 37
    assert.deepEqual(alignedStarts(40, 20, 4), [0, 20]);
    assert.deepEqual(alignedStarts(41, 20, 4), [0, 12, 24]);
    const cases: { dims: Vec3; tile?: Vec3 }[] = [
      { dims: [37, 30, 21], tile: [12, 8, 8] },
      { dims: [37, 30, 21], tile: [20, 16, 12] },
      { dims: [5, 3, 2], tile: [12, 12, 12] }, // smaller than a tile
      { dims: [64, 9, 33] }, // the default tile
      { dims: [13, 13, 13], tile: [1, 1, 1] }, // a tile under the pooling factor is enlarged
    ];
    for (const c of cases) {
      const plan = planPrediction(valid, c.dims, { tile: c.tile });
      const name = JSON.stringify(c);
      assert.equal(plan.blend, false, name);
      const written = new Uint8Array(c.dims[0] * c.dims[1] * c.dims[2]);
      for (const t of plan.tiles) {
        for (let a = 0; a < 3; a++) {
          assert.equal(t.region.start[a] % 4, 0, `${name}: tile starts on the pooling grid`);
          assert.equal(t.input.start[a], t.region.start[a] - plan.margin[a]);
          assert.ok(t.output.start[a] >= 0 && t.output.start[a] + t.output.size[a] <= c.dims[a]);
        }
        assert.deepEqual(valid.outputSize([plan.inputSize[2], plan.inputSize[1], plan.inputSize[0]]), [plan.tile[2], plan.tile[1], plan.tile[0]]);
        const { start, size } = t.output;
        for (let z = 0; z < size[2]; z++) for (let y = 0; y < size[1]; y++) for (let x = 0; x < size[0]; x++) {
          written[start[0] + x + c.dims[0] * (start[1] + y + c.dims[1] * (start[2] + z))]++;
        }
      }
      assert.ok(written.every((n) => n === 1), `${name}: every voxel written exactly once`);
    }
    const samePlan = planPrediction(same, [30, 26, 7], { tile: [13, 12, 12], overlap: 0.5 });
    assert.equal(samePlan.blend, true);
    assert.deepEqual(samePlan.tile, [14, 12, 8], 'rounded up to the pooling factor, and to the volume along z');
    assert.deepEqual(samePlan.inputSize, samePlan.tile);
    // The default: the whole volume in one tile when it holds at most 96³ voxels, else 96³ tiles.
    assert.deepEqual(planPrediction(same, [164, 166, 26]).tiles.length, 1);
    assert.deepEqual(planPrediction(same, [164, 166, 26]).tile, [164, 166, 26]);
    const big = planPrediction(same, [200, 50, 131]);
    assert.deepEqual(big.tile, [96, 50, 96]);
    assert.equal(big.tiles.length, 3 * 1 * 2);
    assert.throws(() => planPrediction(same, [30, 26, 7], { overlap: 1 }), /overlap/);
    assert.throws(() => planPrediction(same, [30, 26, 7], { tile: [0, 4, 4] }), /tile size/);
  } finally {
    valid.dispose();
    same.dispose();
  }
});

test('valid network: the stitched tiles equal one run over the whole mirror-padded volume, for two tile sizes', async () => {
  const net = createUNet(VALID, 11);
  try {
    const dims: Vec3 = [37, 30, 21];
    const volume = syntheticVolume(dims);
    const normalization = computeNormalization(volume);
    const K = VALID.classes;
    const reference = await wholeVolumeLogits(net, volume, planPrediction(net, dims, { tile: dims }));
    const results = [];
    for (const tile of [[12, 8, 8], [20, 16, 12]] as Vec3[]) {
      const plan = planPrediction(net, dims, { tile });
      assert.ok(plan.tiles.length >= 8, `${tile}: a plan of many tiles (${plan.tiles.length})`);
      // Each tile's logits equal the whole run's at the same voxels.
      const normalized = normalizeVolume(volume, normalization);
      let worst = 0;
      for (const t of plan.tiles) {
        const out = await runNetworkOnTile(net, extractMirroredBox(normalized.data, dims, t.input), plan.inputSize, 1, plan.tile);
        const { start, size } = t.output;
        for (let z = 0; z < size[2]; z++) for (let y = 0; y < size[1]; y++) for (let x = 0; x < size[0]; x++) {
          const v = start[0] + x + dims[0] * (start[1] + y + dims[1] * (start[2] + z));
          const o = ((t.cropStart[2] + z) * plan.tile[1] + t.cropStart[1] + y) * plan.tile[0] + t.cropStart[0] + x;
          for (let c = 0; c < K; c++) worst = Math.max(worst, Math.abs(out[o * K + c] - reference[v * K + c]));
        }
      }
      assert.ok(worst < 1e-4, `${tile}: tile logits differ from the whole run by ${worst}`);
      const predicted = await predictVolume(net, volume, normalization, { tile, probabilities: true });
      results.push(predicted);
      let differing = 0;
      for (let v = 0; v < predicted.labels.length; v++) {
        let best = 0;
        for (let c = 1; c < K; c++) if (reference[v * K + c] > reference[v * K + best]) best = c;
        if (predicted.labels[v] !== best + 1 && !nearTie(reference, v, K)) differing++;
      }
      assert.equal(differing, 0, `${tile}: labels equal the whole-volume run's`);
      assert.ok(new Set(predicted.labels).size >= 2, 'a non-trivial prediction');
    }
    const [a, b] = results;
    let probabilityGap = 0;
    for (let i = 0; i < a.probabilities!.length; i++) probabilityGap = Math.max(probabilityGap, Math.abs(a.probabilities![i] - b.probabilities![i]));
    assert.ok(probabilityGap <= 1, `the two tile sizes give the same probabilities (within one step of 255), not ${probabilityGap} apart`);
  } finally {
    net.dispose();
  }
});

test('same network: overlapping tiles are Gaussian-blended logits, progress after every tile', async () => {
  const net = createUNet(SAME, 5);
  try {
    const dims: Vec3 = [30, 26, 18];
    const volume = syntheticVolume(dims, 3);
    const normalization = computeNormalization(volume);
    const normalized = normalizeVolume(volume, normalization);
    const K = SAME.classes;
    const plan = planPrediction(net, dims, { tile: [12, 12, 8], overlap: 0.5 });
    assert.ok(plan.blend && plan.tiles.length > 20, `a blended plan of many tiles (${plan.tiles.length})`);
    // The blend computed independently: Σ w·logits / Σ w over the whole volume.
    const weights = gaussianWeights(plan.tile);
    const voxels = dims[0] * dims[1] * dims[2];
    const sums = new Float64Array(voxels * K);
    const weightSums = new Float64Array(voxels);
    for (const t of plan.tiles) {
      const out = await runNetworkOnTile(net, extractMirroredBox(normalized.data, dims, t.input), plan.inputSize, 1, plan.tile);
      const { start, size } = t.output;
      for (let z = 0; z < size[2]; z++) for (let y = 0; y < size[1]; y++) for (let x = 0; x < size[0]; x++) {
        const v = start[0] + x + dims[0] * (start[1] + y + dims[1] * (start[2] + z));
        const o = ((t.cropStart[2] + z) * plan.tile[1] + t.cropStart[1] + y) * plan.tile[0] + t.cropStart[0] + x;
        weightSums[v] += weights[o];
        for (let c = 0; c < K; c++) sums[v * K + c] += weights[o] * out[o * K + c];
      }
    }
    const blended = Float32Array.from(sums, (s, i) => s / weightSums[Math.floor(i / K)]);
    const progress: number[] = [];
    const predicted = await predictVolume(net, volume, normalization, { tile: [12, 12, 8], overlap: 0.5, probabilities: true, onProgress: (p) => progress.push(p.done) });
    assert.deepEqual(progress, plan.tiles.map((_, i) => i + 1), 'progress after every tile');
    for (let v = 0; v < voxels; v++) {
      let best = 0;
      for (let c = 1; c < K; c++) if (blended[v * K + c] > blended[v * K + best]) best = c;
      if (!nearTie(blended, v, K)) assert.equal(predicted.labels[v], best + 1, `voxel ${v}`);
      const peak = blended[v * K + best];
      let total = 0;
      for (let c = 0; c < K; c++) total += Math.exp(blended[v * K + c] - peak);
      for (let c = 0; c < K; c++) {
        const p = (255 * Math.exp(blended[v * K + c] - peak)) / total;
        assert.ok(Math.abs(predicted.probabilities![c * voxels + v] - p) <= 0.51, `probability of class ${c} at voxel ${v}: ${predicted.probabilities![c * voxels + v]} vs ${p}`);
      }
    }
  } finally {
    net.dispose();
  }
});

test('the logit adjustment lowers each class before blending and the decision', async () => {
  const net = createUNet(SAME, 6);
  try {
    const dims: Vec3 = [30, 26, 18];
    const volume = syntheticVolume(dims, 4);
    const normalization = computeNormalization(volume);
    const tiling = { tile: [12, 12, 8] as Vec3, overlap: 0.25 };
    const plan = planPrediction(net, dims, tiling);
    const adjustment = [0.7, -0.4, 1.3];
    const reference = await predictTiled({
      plan,
      image: normalizeVolume(volume, normalization),
      classes: SAME.classes,
      probabilities: true,
      runTile: async (input) => (await runNetworkOnTile(net, input, plan.inputSize, 1, plan.tile)).map((v, i) => v - adjustment[i % 3]),
    });
    const got = await predictVolume(net, volume, normalization, { ...tiling, logitAdjustment: adjustment, probabilities: true });
    assert.deepEqual(got.labels, reference.labels);
    assert.deepEqual(got.probabilities, reference.probabilities);
    const plain = await predictVolume(net, volume, normalization, tiling);
    assert.notDeepEqual(plain.labels, got.labels, 'the adjustment changes decisions');
    await assert.rejects(predictVolume(net, volume, normalization, { ...tiling, logitAdjustment: [1, 2] }), /2 classes, the network 3/);
  } finally {
    net.dispose();
  }
});

test('coordinate channels are added tile by tile exactly as training adds them to the whole volume', async () => {
  const net = createUNet({ ...SAME, inChannels: 4 }, 9);
  try {
    const dims: Vec3 = [30, 26, 18];
    const volume = { ...syntheticVolume(dims, 5), spacing: [0.8, 1.2, 2.5] as Vec3 };
    const normalization = computeNormalization(volume);
    const tiling = { tile: [12, 12, 8] as Vec3, overlap: 0.25 };
    const plan = planPrediction(net, dims, tiling);
    const reference = await predictTiled({
      plan,
      image: withCoordinateChannels(normalizeVolume(volume, normalization)),
      classes: SAME.classes,
      probabilities: true,
      runTile: (input) => runNetworkOnTile(net, input, plan.inputSize, 4, plan.tile),
    });
    const got = await predictVolume(net, volume, normalization, { ...tiling, coordinateChannels: true, probabilities: true });
    assert.deepEqual(got.labels, reference.labels);
    assert.deepEqual(got.probabilities, reference.probabilities);
    await assert.rejects(predictVolume(net, volume, normalization, tiling), /takes 4 channel\(s\) but the image has 1/);
  } finally {
    net.dispose();
  }
});

test('same network with context: each tile reads mirrored context and keeps the centre of the output', async () => {
  const net = createUNet(SAME, 4);
  try {
    const dims: Vec3 = [20, 16, 12];
    const volume = syntheticVolume(dims, 7);
    const normalization = computeNormalization(volume);
    const plan = planPrediction(net, dims, { context: 3 });
    assert.deepEqual(plan.margin, [3, 3, 3]);
    assert.deepEqual(plan.inputSize, [26, 22, 18]);
    const threeLevels = createUNet({ ...SAME, levels: 3 }, 1);
    assert.deepEqual(planPrediction(threeLevels, dims, { context: 3 }).margin, [4, 4, 4], 'rounded up to keep the input a multiple of the pooling factor');
    threeLevels.dispose();
    const got = await predictVolume(net, volume, normalization, { context: 3, probabilities: true });
    // The same by hand: one run over the volume grown by 3 mirrored voxels per side, its centre kept.
    const input = extractMirroredBox(normalizeVolume(volume, normalization).data, dims, { start: [-3, -3, -3], size: [26, 22, 18] });
    const whole = await runNetworkOnTile(net, input, [26, 22, 18], 1, [26, 22, 18]);
    const K = SAME.classes;
    for (let z = 0, v = 0; z < dims[2]; z++) for (let y = 0; y < dims[1]; y++) for (let x = 0; x < dims[0]; x++, v++) {
      const o = (((z + 3) * 22 + y + 3) * 26 + x + 3) * K;
      const logits = Float32Array.from(whole.subarray(o, o + K));
      let best = 0;
      for (let c = 1; c < K; c++) if (logits[c] > logits[best]) best = c;
      if (!nearTie(logits, 0, K)) assert.equal(got.labels[v], best + 1, `voxel ${v}`);
    }
  } finally {
    net.dispose();
  }
});

test('prediction stops between tiles when cancelled, and refuses a mismatched image', async () => {
  const net = createUNet(SAME, 2);
  try {
    const dims: Vec3 = [24, 24, 16];
    const volume = syntheticVolume(dims);
    const normalization = computeNormalization(volume);
    const controller = new AbortController();
    let seen = 0;
    await assert.rejects(
      predictVolume(net, volume, normalization, {
        tile: [8, 8, 8],
        signal: controller.signal,
        onProgress: (p) => {
          seen = p.done;
          if (p.done === 2) controller.abort();
        },
      }),
      { name: 'AbortError' },
    );
    assert.equal(seen, 2, 'no tile ran after the cancel');
    const twoChannels = { ...normalization, channels: [...normalization.channels, ...normalization.channels] };
    await assert.rejects(predictVolume(net, volume, twoChannels), /normalizes 2 channel/);
    const rgb = createUNet({ ...SAME, inChannels: 3 }, 1);
    await assert.rejects(predictVolume(rgb, volume, normalization), /takes 3 channel/);
    rgb.dispose();
  } finally {
    net.dispose();
  }
});

test('memory: a 512³ volume holds uint8 outputs and a slab, never a float array of the volume', () => {
  const fast = createUNet({ levels: 3, baseFilters: 16, filterPattern: 'flat', padding: 'same', batchNorm: true, inChannels: 1, classes: 2 }, 1);
  try {
    const dims: Vec3 = [512, 512, 512];
    const plan = planPrediction(fast, dims);
    const memory = estimatePredictionMemory(plan, 1, 2, true);
    const floatVolume = 4 * 512 ** 3;
    assert.equal(memory.outputs, 512 ** 3 * 3, 'labels and two probability volumes, one byte each');
    // A whole-volume blend accumulator would be (classes + 1) floats per voxel; the slab is tile-z planes of it.
    assert.ok(memory.accumulators <= (3 * floatVolume * 96) / 512, `accumulators ${memory.accumulators} bytes are a slab`);
    assert.ok(memory.tileBuffers < 64 * 1024 * 1024);
    assert.equal(memory.accumulators, 3 * 4 * 512 * 512 * plan.tile[2]);
  } finally {
    fast.dispose();
  }
});
