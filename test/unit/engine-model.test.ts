/** The 3D U-Net: the paper's network counted exactly, shapes, formulations agreeing, no leaks, save/load. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../src/engine/backends';
import { summarizeModel } from '../../src/protocol/networkSummary';
import { countParameters, describeNetwork, outputSizeFor, PRESETS, UNetConfigError, type UNetConfig } from '../../src/protocol/network';
import { createUNet, loadUNet, type UNet } from '../../src/engine/model';
import { setFormulation } from '../../src/engine/ops';
import { tf, type Tensor5D } from '../../src/engine/tf';
import { tempDir } from '../helpers/data';

const SMALL_SAME: UNetConfig = { ...PRESETS.fast, filters: [[4, 4], [8, 8], [8, 12]], inChannels: 2, classes: 3 };
const SMALL_VALID: UNetConfig = { levels: 2, baseFilters: 4, padding: 'valid', batchNorm: true, inChannels: 1, classes: 2 };
/** Networks whose last input channels are positions, read again by every synthesis block. */
const POSITIONS_SAME: UNetConfig = { ...PRESETS.fast, filters: [[4, 4], [8, 8], [8, 12]], inChannels: 4, classes: 3, positionChannels: 3 };
const POSITIONS_VALID: UNetConfig = { levels: 3, baseFilters: 2, padding: 'valid', batchNorm: true, inChannels: 3, classes: 2, positionChannels: 2 };

const input = (shape: number[], seed: number) => tf.randomNormal<tf.Rank>(shape, 0, 1, 'float32', seed) as Tensor5D;

test("the paper preset is the paper's network: 19,069,955 parameters, 132×132×116 in, 44×44×28 out", () => {
  assert.equal(countParameters(PRESETS.paper), 19_069_955);
  // Tensor order is [z, y, x]: the paper's 132×132×116 (x×y×z) is [116, 132, 132].
  assert.deepEqual(outputSizeFor(PRESETS.paper, [116, 132, 132]), [28, 44, 44]);
  const summary = summarizeModel(PRESETS.paper, [116, 132, 132]);
  assert.deepEqual(summary.inputShape, [132, 132, 116, 3]);
  assert.deepEqual(summary.outputShape, [44, 44, 28, 3]);
  assert.equal(summary.parameters, 19_069_955);
  const rows = describeNetwork(PRESETS.paper, [116, 132, 132]);
  assert.equal(rows.reduce((s, r) => s + r.parameters, 0), 19_069_955);
  const ups = rows.filter((r) => r.name.startsWith('up'));
  assert.deepEqual(
    ups.map((r) => r.outputShape[3]),
    [512, 256, 128],
  );
  assert.deepEqual(rows.find((r) => r.name === 'dec0/conv2')?.outputShape, [28, 44, 44, 64]);
});

test('the created paper network holds exactly those weights (plus batch norm)', async () => {
  await initBackend('cpu');
  const net = createUNet(PRESETS.paper, 1);
  try {
    assert.equal(net.parameterCount(), 19_069_955);
    const trainable = net.trainableVariables.reduce((s, v) => s + v.size, 0);
    const bnScaleShift = 2 * (32 + 64 + 64 + 128 + 128 + 256 + 256 + 512 + 256 + 256 + 128 + 128 + 64 + 64);
    assert.equal(trainable, 19_069_955 + bnScaleShift);
    assert.deepEqual(net.inputSizeFor([28, 44, 44]), [116, 132, 132]);
  } finally {
    net.dispose();
  }
});

test('small networks counted by hand: the count, parameterCount() and the created variables agree with it', async () => {
  await initBackend('cpu');
  // SMALL_SAME (filters 4,4 | 8,8 | 8,12; 2 in, 3 classes): 3×3×3 kernels + biases; up-convs 2×2×2 without bias.
  const same =
    (27 * 2 * 4 + 4) + (27 * 4 * 4 + 4) + // enc0
    (27 * 4 * 8 + 8) + (27 * 8 * 8 + 8) + // enc1
    (27 * 8 * 8 + 8) + (27 * 8 * 12 + 12) + // enc2
    8 * 12 * 12 + (27 * (12 + 8) * 8 + 8) + (27 * 8 * 8 + 8) + // up1, dec1 (concat with enc1's 8)
    8 * 8 * 8 + (27 * (8 + 4) * 4 + 4) + (27 * 4 * 4 + 4) + // up0, dec0 (concat with enc0's 4)
    (4 * 3 + 3); // final 1×1×1
  assert.equal(same, 17_083);
  // SMALL_VALID (2 levels, base 4, the paper's doubling: 4,8 | 8,16; 1 in, 2 classes).
  const valid = (27 * 1 * 4 + 4) + (27 * 4 * 8 + 8) + (27 * 8 * 8 + 8) + (27 * 8 * 16 + 16) + 8 * 16 * 16 + (27 * (16 + 8) * 8 + 8) + (27 * 8 * 8 + 8) + (8 * 2 + 2);
  assert.equal(valid, 15_186);
  for (const [config, byHand, bnChannels] of [
    [SMALL_SAME, same, [4, 4, 8, 8, 8, 12, 8, 8, 4, 4]],
    [SMALL_VALID, valid, [4, 8, 8, 16, 8, 8]],
  ] as [UNetConfig, number, number[]][]) {
    assert.equal(countParameters(config), byHand);
    const net = createUNet(config, 1);
    try {
      assert.equal(net.parameterCount(), byHand);
      const weights = net.trainableVariables.filter((v) => !v.name.includes('/bn/')).reduce((n, v) => n + v.size, 0);
      assert.equal(weights, byHand, 'the created kernels and biases');
      const bn = net.trainableVariables.filter((v) => v.name.includes('/bn/')).reduce((n, v) => n + v.size, 0);
      assert.equal(bn, 2 * bnChannels.reduce((a, b) => a + b, 0), 'batch norm: a scale and a shift per channel of every 3×3×3 conv');
    } finally {
      net.dispose();
    }
  }
});

test('sizes the network cannot take are refused with the nearest that fit', () => {
  assert.throws(() => outputSizeFor(PRESETS.paper, [115, 132, 132]), (e: Error) => e instanceof UNetConfigError && /115 along z/.test(e.message) && /nearest sizes that fit are/.test(e.message));
  assert.throws(() => outputSizeFor(PRESETS.fast, [63, 64, 64]), /multiple of 4/);
  assert.throws(() => countParameters({ ...PRESETS.fast, classes: 1 }), /classes must be an integer ≥ 2/);
  assert.throws(() => countParameters({ ...PRESETS.fast, filters: [[4, 4]] }), /filters lists 1 levels/);
  assert.deepEqual(outputSizeFor(PRESETS.fast, [16, 32, 8]), [16, 32, 8]);
});

test('apply gives logits of the expected shape, same and valid padding, on cpu and wasm', async () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    await initBackend(backend);
    for (const [config, size] of [
      [SMALL_SAME, [8, 12, 16]],
      [SMALL_VALID, [20, 20, 24]],
      [POSITIONS_SAME, [8, 12, 16]],
      [POSITIONS_VALID, [44, 44, 52]],
    ] as [UNetConfig, [number, number, number]][]) {
      const net = createUNet(config, 2);
      const x = input([1, ...size, config.inChannels], 3);
      const y = net.apply(x, true);
      assert.deepEqual(y.shape, [1, ...net.outputSize(size), config.classes], `${backend} ${config.padding}`);
      assert.ok(Number.isFinite(tf.sum(y).dataSync()[0]));
      tf.dispose([x, y]);
      net.dispose();
    }
    assert.throws(() => createUNet(SMALL_SAME).apply(input([1, 8, 8, 8, 1], 1), false), /takes 2 input channel/);
  }
});

test('the SIMD kernels and the TensorFlow.js kernels give the same logits and gradients (cpu)', async () => {
  await initBackend('cpu');
  for (const [config, size] of [
    [SMALL_SAME, [8, 8, 12]],
    [SMALL_VALID, [20, 24, 20]],
    [POSITIONS_SAME, [8, 8, 12]],
    [POSITIONS_VALID, [44, 44, 44]],
  ] as [UNetConfig, number[]][]) {
    const results = (['tfjs', 'simd'] as const).map((formulation) => {
      setFormulation(formulation);
      const net = createUNet(config, 5);
      const x = input([2, ...size, config.inChannels], 6);
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(net.apply(x, true))) as tf.Scalar, net.trainableVariables);
      const out = { loss: value.dataSync()[0], grads: net.trainableVariables.map((v) => grads[v.name].dataSync()) };
      tf.dispose([x, value, ...Object.values(grads)]);
      net.dispose();
      return out;
    });
    setFormulation('auto');
    assert.ok(Math.abs(results[0].loss - results[1].loss) < 1e-4 * results[0].loss, `${config.padding}: loss ${results[0].loss} vs ${results[1].loss}`);
    // Relative to the largest gradient anywhere: a conv bias before batch norm has a true gradient
    // of 0, and both formulations give rounding noise there.
    const scale = Math.max(...results[0].grads.map((g) => Math.max(...g.map(Math.abs))));
    results[0].grads.forEach((g, i) => {
      const error = Math.max(...g.map((v, j) => Math.abs(v - results[1].grads[i][j]))) / scale;
      assert.ok(error < 1e-4, `${config.padding}: gradient ${i} differs by ${error.toExponential(2)} of the largest`);
    });
  }
});

test('position channels: each synthesis block reads them again, and the logits depend on them there', async () => {
  await initBackend('cpu');
  const without = { ...POSITIONS_SAME, positionChannels: 0 };
  // dec1/conv1 and dec0/conv1 each take 3 more input channels: 27 taps × 3 × their filters.
  assert.equal(countParameters(POSITIONS_SAME) - countParameters(without), 27 * 3 * 8 + 27 * 3 * 4);
  const rows = describeNetwork(POSITIONS_SAME, [8, 8, 8]);
  assert.deepEqual(rows.find((r) => r.name === 'concat0')!.outputShape, [8, 8, 8, 4 + 8 + 3]);
  assert.match(rows.find((r) => r.name === 'concat1')!.kind, /3 position channels/);
  assert.throws(() => countParameters({ ...POSITIONS_SAME, positionChannels: 4 }), /positionChannels must be an integer from 0 to 3/);
  // The first layer's weights on the positions zeroed: a change of position still changes the logits.
  const net = createUNet(POSITIONS_SAME, 3);
  const kernel = net.trainableVariables.find((v) => v.name.endsWith('enc0/conv1/kernel'))!;
  kernel.assign(tf.tidy(() => tf.mul(kernel, tf.reshape(tf.tensor1d([1, 0, 0, 0]), [1, 1, 1, 4, 1]))));
  const image = input([1, 8, 8, 8, 1], 4);
  const [a, b] = [0, 1].map((shift) => tf.tidy(() => net.apply(tf.concat([image, tf.add(input([1, 8, 8, 8, 3], 5), shift)], 4) as Tensor5D, false).dataSync()));
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3), 'the synthesis path reads the positions');
  tf.dispose(image);
  net.dispose();
});

test('no tensors leak over training steps and inference', async () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    await initBackend(backend);
    const net = createUNet(SMALL_SAME, 1);
    const optimizer = tf.train.momentum(0.01, 0.9);
    const x = input([1, 8, 8, 8, 2], 1);
    const step = () => {
      optimizer.minimize(() => tf.mean(tf.square(net.apply(x, true))) as tf.Scalar, false, net.trainableVariables);
      tf.dispose(net.apply(x, false));
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, before, `${backend}: tensors after 3 more steps`);
    x.dispose();
    optimizer.dispose();
    net.dispose();
  }
});

test('the same seed gives the same weights, another seed others', async () => {
  await initBackend('cpu');
  const [a, b, c] = [createUNet(SMALL_SAME, 7), createUNet(SMALL_SAME, 7), createUNet(SMALL_SAME, 8)];
  assert.deepEqual(a.trainableVariables[0].dataSync(), b.trainableVariables[0].dataSync());
  assert.notDeepEqual(a.trainableVariables[0].dataSync(), c.trainableVariables[0].dataSync());
  [a, b, c].forEach((n) => n.dispose());
});

test('save and load give a network with identical outputs (weights and batch-norm moving statistics)', async () => {
  await initBackend('wasm');
  const dir = tempDir('engine-model-save');
  let loaded: UNet | undefined;
  const net = createUNet(SMALL_VALID, 3);
  try {
    const x = input([1, 20, 20, 20, 1], 4);
    // A training pass moves the batch-norm moving averages away from their start.
    tf.dispose(net.apply(x, true));
    await net.save(dir);
    assert.ok(fs.existsSync(path.join(dir, 'model.json')) && fs.existsSync(path.join(dir, 'weights.bin')));
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
    assert.equal(json.format, 'unet3d');
    assert.deepEqual(json.modelTopology.unet3d, SMALL_VALID);
    assert.ok(json.weightsManifest[0].weights.some((w: { name: string }) => w.name === 'enc0/conv1/bn/moving_mean'));
    loaded = await loadUNet(dir);
    assert.deepEqual(loaded.config, SMALL_VALID);
    for (const training of [false, true]) {
      const y1: Tensor5D = net.apply(x, training);
      const y2: Tensor5D = loaded.apply(x, training);
      assert.deepEqual(y2.dataSync(), y1.dataSync(), `training=${training}`);
      tf.dispose([y1, y2]);
    }
    x.dispose();
  } finally {
    net.dispose();
    loaded?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(loadUNet(path.join(dir, 'missing')), /no model\.json/);
});
