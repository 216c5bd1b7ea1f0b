/**
 * Warm start (`init`, `unet3d train --init`): a run begins from its parent's weights; what must not
 * change is refused with the reason; a class added since gets a fresh output channel and a zero
 * input channel, so the network still computes what its parent did for the old classes.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { createUNet, loadUNet } from '../../src/engine/model';
import { readRunRecord } from '../../src/engine/runFolder';
import { tf } from '../../src/engine/tf';
import { runTraining, type HandedOnSegmentation } from '../../src/engine/train';
import { segmentVolumeFile, type SegmentHooks } from '../../src/engine/segmentFile';
import { inputChannelMap, transferWeights, warmStartProblem, WarmStartError } from '../../src/engine/warmStart';
import { PRESETS, type UNetConfig } from '../../src/protocol/network';
import type { TrainSettingsInput } from '../../src/protocol/settings';
import type { TrainEvent } from '../../src/protocol/training';
import { tempDir } from '../helpers/data';
import { readVolumeFile } from '../../src/core/readVolume';
import { writeLabelMapNifti } from '../../src/core/labelMapIO';
import { tinyTrainSettings, writeBallVolume } from '../helpers/engineData';

const work = tempDir('engine-warm-start');
after(() => fs.rmSync(work, { recursive: true, force: true }));
const tiny = (volume: { image: string; labels: string }, outDir: string, change: Partial<TrainSettingsInput> = {}) =>
  tinyTrainSettings(volume, outDir, { iterations: 8, coordinateChannels: false, annotationChannels: false, ...change });

const small = (change: Partial<UNetConfig>): UNetConfig => ({ ...PRESETS.fast, levels: 2, baseFilters: 4, ...change });

test('the same network: every weight comes from the parent, batch-norm statistics included', () => {
  const parent = createUNet(small({ inChannels: 1, classes: 2 }), 7);
  const child = transferWeights(parent, small({ inChannels: 1, classes: 2 }), false, 99);
  try {
    for (const [name, v] of parent.namedVariables) assert.deepEqual([...child.namedVariables.get(name)!.dataSync()], [...v.dataSync()], name);
  } finally {
    parent.dispose();
    child.dispose();
  }
});

test('a class added: its output channel is fresh, its one-hot input channel starts at zero, the rest is the parent\'s', () => {
  // Annotation channels: one-hot per class, then the nearness, then the image.
  const parentConfig = small({ inChannels: 2 + 1 + 1, classes: 2, annotationResidual: 2 });
  const childConfig = small({ inChannels: 3 + 1 + 1, classes: 3, annotationResidual: 3 });
  assert.deepEqual(inputChannelMap(parentConfig, childConfig, true), [0, 1, 3, 4]);
  const parent = createUNet(parentConfig, 7);
  const child = transferWeights(parent, childConfig, true, 99);
  try {
    const p = parent.namedVariables;
    const c = child.namedVariables;
    tf.tidy(() => {
      const pk = p.get('enc0/conv1/kernel')!;
      const ck = c.get('enc0/conv1/kernel')!;
      const channel = (t: tf.Tensor, i: number) => [...tf.slice(t, [0, 0, 0, i, 0], [-1, -1, -1, 1, -1]).dataSync()];
      for (const [from, to] of [[0, 0], [1, 1], [2, 3], [3, 4]]) assert.deepEqual(channel(ck, to), channel(pk, from), `input channel ${from} → ${to}`);
      assert.ok(channel(ck, 2).every((x) => x === 0), 'the new one-hot channel starts at zero');
      const pf = p.get('final/kernel')!;
      const cf = c.get('final/kernel')!;
      assert.deepEqual([...tf.slice(cf, [0, 0, 0, 0, 0], [-1, -1, -1, -1, 2]).dataSync()], [...pf.dataSync()]);
      assert.ok([...tf.slice(cf, [0, 0, 0, 0, 2], [-1, -1, -1, -1, 1]).dataSync()].some((x) => x !== 0), 'the new class has fresh weights');
      assert.deepEqual([...c.get('final/bias')!.dataSync()].slice(0, 2), [...p.get('final/bias')!.dataSync()]);
      assert.deepEqual([...c.get('trust/kernel')!.dataSync()], [...p.get('trust/kernel')!.dataSync()]);
    });
    // On an input whose new channel is zero, the old classes' logits are the parent's.
    const x = tf.randomNormal([1, 8, 8, 8, 4], 0, 1, 'float32', 3) as tf.Tensor5D;
    const zero = tf.zeros([1, 8, 8, 8, 1]);
    const widened = tf.concat([tf.slice(x, [0, 0, 0, 0, 0], [-1, -1, -1, -1, 2]), zero, tf.slice(x, [0, 0, 0, 0, 2], [-1, -1, -1, -1, 2])], 4) as tf.Tensor5D;
    const before = parent.apply(x, false);
    const afterwards = child.apply(widened, false);
    const old = tf.slice(afterwards, [0, 0, 0, 0, 0], [-1, -1, -1, -1, 2]);
    assert.ok(tf.max(tf.abs(tf.sub(before, old))).dataSync()[0] < 1e-4, 'the old classes compute what the parent computed');
    tf.dispose([x, zero, widened, before, afterwards, old]);
  } finally {
    parent.dispose();
    child.dispose();
  }
});

test('a warm run starts from its parent, records it, and says so; an incompatible parent is refused with the reason', async () => {
  const ball = writeBallVolume(work, 'ball');
  const parentDir = path.join(work, 'parent');
  const parentSummary = await runTraining(tiny(ball, parentDir));
  const parentRecord = readRunRecord(parentDir);
  assert.ok(parentRecord.checkpoints.best || parentRecord.checkpoints.last);
  const events: TrainEvent[] = [];
  const childDir = path.join(work, 'child');
  // No steps at all: the child's saved network is its starting point.
  await runTraining(tiny(ball, childDir, { init: parentDir, iterations: 1, batchNormCalibration: 0 }), { onEvent: (e) => events.push(e) });
  const record = readRunRecord(childDir);
  assert.equal(record.parent?.runDir, path.resolve(parentDir));
  assert.equal(record.parent?.checkpoint, parentRecord.checkpoints.best ? 'best' : 'last');
  assert.equal(record.parent?.iteration, (parentRecord.checkpoints.best ?? parentRecord.checkpoints.last)!.iteration);
  assert.equal(record.parent?.classesAdded, 0);
  const started = events.find((e) => e.type === 'started');
  assert.equal(started?.type === 'started' && started.parent?.runDir, path.resolve(parentDir));
  assert.ok(parentSummary.iterations > 0);

  // Refused, each with the reason, and the run marked failed.
  const refusals: [string, Partial<TrainSettingsInput>, RegExp][] = [
    ['levels', { network: { preset: 'fast', levels: 3, baseFilters: 4 } }, /has another network \(2 levels, filters 4\/4 8\/8.*this run: 3 levels/],
    ['coordinates', { coordinateChannels: true }, /did not read coordinate channels and this run does/],
    ['missing', { init: path.join(work, 'nothing') }, /cannot start from .*nothing.*no run\.json/],
  ];
  for (const [name, change, message] of refusals) {
    const dir = path.join(work, `refused-${name}`);
    await assert.rejects(runTraining(tiny(ball, dir, { init: parentDir, ...change })), (e: Error) => e instanceof WarmStartError && message.test(e.message));
    assert.equal(readRunRecord(dir).status, 'failed');
  }
  // Fewer classes than the parent: refused before any weight is touched.
  const halves = writeBallVolume(work, 'halves', undefined, 1, true);
  const threeDir = path.join(work, 'three');
  await runTraining(tiny(halves, threeDir));
  assert.match(warmStartProblem(readRunRecord(threeDir), 'three', { config: { ...readRunRecord(parentDir).network! }, imageChannels: 1, coordinateChannels: false, annotationChannels: false }) ?? '', /has 3 classes and these labels 2/);
  // More: a class added since the parent gets a fresh output channel.
  const addedDir = path.join(work, 'added');
  await runTraining(tiny(halves, addedDir, { init: parentDir }));
  assert.equal(readRunRecord(addedDir).parent?.classesAdded, 1);
  const net = await loadUNet(path.join(addedDir, 'last'));
  assert.equal(net.config.classes, 3);
  net.dispose();
});

/** The ball's label file with the plane y = `y` labeled too, from the same truth (a correction). */
function withSliceAdded(ball: { image: string; labels: string; dims: [number, number, number] }, y: number, name: string): string {
  const labels = readVolumeFile(ball.labels);
  const data = Uint8Array.from(labels.data as Uint8Array);
  const [nx, ny, nz] = ball.dims;
  for (let z = 0; z < nz; z++) {
    for (let x = 0; x < nx; x++) {
      const inside = (x - nx / 2) ** 2 + (y - ny / 2) ** 2 + ((z - nz / 2) * 2) ** 2 < 7 ** 2;
      data[x + nx * (y + ny * z)] = inside ? 2 : 1;
    }
  }
  const file = path.join(work, `${name}.labels.nii.gz`);
  writeLabelMapNifti(file, { dims: ball.dims, affine: labels.affine, data }, 'ball with a slice added');
  return file;
}

test('a correction: the slice added since the parent always trains and is recorded; the held-out IoU says whether the parent saw its slices', async () => {
  const ball = writeBallVolume(work, 'ball-correct');
  const corrected = { image: ball.image, labels: withSliceAdded(ball, 20, 'ball-correct-y20') };
  for (const parentRefit of [0, 0.25]) {
    const parentDir = path.join(work, `correct-parent-${parentRefit}`);
    await runTraining(tiny(ball, parentDir, { refit: parentRefit }));
    const parent = readRunRecord(parentDir);
    const childDir = path.join(work, `correct-child-${parentRefit}`);
    await runTraining(tiny(corrected, childDir, { init: parentDir, refit: 0 }));
    const child = readRunRecord(childDir);
    const v = child.volumes[0];
    assert.equal(child.parent?.newSlices, 1);
    assert.ok(v.trainingSlices.some((s) => s.axis === 1 && s.index === 20), 'the new slice trains');
    // The held-out slices are the parent's, chosen among the slices it had.
    assert.deepEqual(v.validationSlices.map((s) => [s.axis, s.index]), parent.volumes[0].validationSlices.map((s) => [s.axis, s.index]));
    // Independent unless the parent's refit learned them.
    assert.equal(child.parent?.heldOutSeen, parentRefit > 0, `parent refit ${parentRefit}`);
  }
  // A warm start defaults to a lower learning rate than a run from scratch.
  assert.ok(tiny(corrected, path.join(work, 'unused'), { init: 'x' }).schedule.initial < tiny(corrected, path.join(work, 'unused')).schedule.initial);
});

/** Whether two saved networks hold the same weights and batch-norm statistics, bit for bit. */
async function sameWeights(a: string, b: string): Promise<boolean> {
  const [x, y] = [await loadUNet(a), await loadUNet(b)];
  try {
    return [...x.namedVariables].every(([name, v]) => {
      const w = y.namedVariables.get(name);
      return w !== undefined && tf.tidy(() => tf.all(tf.equal(v, w)).dataSync()[0] === 1);
    });
  } finally {
    x.dispose();
    y.dispose();
  }
}

test("a warm run that ends below its parent on the annotated slices keeps the parent's weights, records both scores and says so", async () => {
  const ball = writeBallVolume(work, 'ball-keep');
  const corrected = { image: ball.image, labels: withSliceAdded(ball, 20, 'ball-keep-y20') };
  // Without held-out slices, as the bench trains.
  const validation = { fraction: 0 };
  const tag = 'all';
  {
    const parentDir = path.join(work, `keep-parent-${tag}`);
    await runTraining(tiny(ball, parentDir, { iterations: 150, validation }));
    const parent = readRunRecord(parentDir);
    const parentModel = path.join(parentDir, (parent.checkpoints.best ?? parent.checkpoints.last)!.dir);
    // A learning rate far too high for a trained network: its steps undo what the parent learned.
    const childDir = path.join(work, `keep-child-${tag}`);
    const events: TrainEvent[] = [];
    const handedOn: HandedOnSegmentation[] = [];
    const summary = await runTraining(tiny(corrected, childDir, { init: parentDir, iterations: 6, validation, schedule: { initial: 0.5, warmup: 0 } }), {
      onEvent: (e) => events.push(e),
      onSegmentation: (s) => handedOn.push(s),
    });
    const child = readRunRecord(childDir);
    const comparison = child.parent?.comparison;
    assert.equal(comparison?.kept, 'parent', `${tag}: ${JSON.stringify(comparison)}`);
    assert.ok((comparison.parentIoU ?? 0) > (comparison.trainedIoU ?? 0), `${tag}: ${comparison.parentIoU} > ${comparison.trainedIoU}`);
    assert.ok(comparison.checks >= 3 && comparison.voxels > 0);
    assert.deepEqual(summary.keptParent, { parentIoU: comparison.parentIoU, trainedIoU: comparison.trainedIoU });
    assert.equal(summary.iterations, 6, 'it did train');
    // The run's model is the parent's network, as iteration 0 of this run.
    assert.equal(child.checkpoints.last?.iteration, 0);
    assert.equal(child.checkpoints.best, undefined);
    assert.equal(summary.modelDir, path.join(childDir, 'last'));
    assert.ok(await sameWeights(parentModel, summary.modelDir), `${tag}: the parent's weights, batch-norm statistics included`);
    const last = events.filter((e) => e.type === 'checkpoint' && e.kind === 'last');
    assert.deepEqual(last.map((e) => e.type === 'checkpoint' && e.iteration), [0]);
    await assertHandedOnIsSegment(handedOn, childDir, corrected);
  }
});

test("a warm run with held-out slices that ends below its parent keeps the parent's weights and sets its own best checkpoint aside", async () => {
  const ball = writeBallVolume(work, 'ball-keep-held');
  const corrected = { image: ball.image, labels: withSliceAdded(ball, 20, 'ball-keep-held-y20') };
  const validation = { fold: 0, folds: 3 };
  const parentDir = path.join(work, 'keep-held-parent');
  await runTraining(tiny(ball, parentDir, { iterations: 150, validation, validateEvery: 50 }));
  const parent = readRunRecord(parentDir);
  const parentModel = path.join(parentDir, (parent.checkpoints.best ?? parent.checkpoints.last)!.dir);
  const childDir = path.join(work, 'keep-held-child');
  const summary = await runTraining(tiny(corrected, childDir, { init: parentDir, iterations: 8, validation, validateEvery: 4, validateAtStart: false, schedule: { initial: 0.5, warmup: 0 } }));
  const child = readRunRecord(childDir);
  const comparison = child.parent?.comparison;
  assert.equal(comparison?.kept, 'parent', JSON.stringify(comparison));
  assert.ok((comparison.parentIoU ?? 0) > (comparison.trainedIoU ?? 0));
  assert.deepEqual(summary.keptParent, { parentIoU: comparison.parentIoU, trainedIoU: comparison.trainedIoU });
  // The held-out phase's best is no longer the run's model: kept aside, the run's model is the parent's network.
  assert.equal(child.checkpoints.best, undefined);
  assert.ok(fs.existsSync(path.join(childDir, 'trained-best')), 'the best checkpoint of what it trained is kept aside');
  assert.equal(child.checkpoints.last?.iteration, 0);
  assert.equal(summary.modelDir, path.join(childDir, 'last'));
  assert.ok(await sameWeights(parentModel, summary.modelDir), "the parent's weights, batch-norm statistics included");
  assert.ok(!(await sameWeights(path.join(childDir, 'trained-best'), summary.modelDir)), 'what was set aside is what it trained');
});

/**
 * A warm run whose comparison segmented the volume whole hands on the segmentation of the model it
 * left: Segment writes it instead of predicting, and it is what Segment predicts, probabilities included.
 */
async function assertHandedOnIsSegment(handedOn: HandedOnSegmentation[], runDir: string, volume: { image: string; labels: string }): Promise<void> {
  assert.equal(handedOn.length, 1, 'one volume, one segmentation');
  const [handed] = handedOn;
  const segment = (name: string, hooks: SegmentHooks) =>
    segmentVolumeFile({ runDir, image: volume.image, out: path.join(runDir, `${name}.seg.nii.gz`), probabilities: path.join(runDir, `${name}.prob.nii.gz`) }, hooks);
  const predicted = await segment('predicted', {});
  const reused = await segment('reused', { made: (modelDir, sha) => (modelDir === handed.modelDir && sha === handed.imageSha256 ? handed.prediction : undefined) });
  assert.equal(predicted.modelDir, handed.modelDir, 'the model Segment loads');
  assert.equal(reused.predictSeconds, handed.prediction.seconds, 'written from the training\'s segmentation, not predicted again');
  assert.notEqual(predicted.predictSeconds, handed.prediction.seconds);
  for (const file of ['out', 'probabilities'] as const) {
    assert.deepEqual([...readVolumeFile(reused[file]!, { allFrames: true }).data], [...readVolumeFile(predicted[file]!, { allFrames: true }).data], file);
  }
}

test('a warm run that fits the annotated slices at least as well as its parent keeps what it trained', async () => {
  const ball = writeBallVolume(work, 'ball-better');
  const corrected = { image: ball.image, labels: withSliceAdded(ball, 20, 'ball-better-y20') };
  const validation = { fraction: 0 };
  // A parent of one step has learned next to nothing.
  const parentDir = path.join(work, 'better-parent');
  await runTraining(tiny(ball, parentDir, { iterations: 1, validation }));
  const childDir = path.join(work, 'better-child');
  const handedOn: HandedOnSegmentation[] = [];
  const summary = await runTraining(tiny(corrected, childDir, { init: parentDir, iterations: 40, validation }), { onSegmentation: (s) => handedOn.push(s) });
  const comparison = readRunRecord(childDir).parent?.comparison;
  assert.equal(comparison?.kept, 'trained');
  assert.ok((comparison.trainedIoU ?? 0) >= (comparison.parentIoU ?? 0));
  assert.equal(summary.keptParent, undefined);
  assert.equal(readRunRecord(childDir).checkpoints.last?.iteration, 40);
  await assertHandedOnIsSegment(handedOn, childDir, corrected);
});

test('a warm run with annotation channels chooses its decision on the slices it is compared on, in the same pass', async () => {
  const ball = writeBallVolume(work, 'ball-ann-warm', [32, 28, 12], 3, true);
  const corrected = { image: ball.image, labels: withSliceAdded(ball, 20, 'ball-ann-warm-y20') };
  const validation = { fraction: 0 };
  const parentDir = path.join(work, 'ann-parent');
  await runTraining(tiny(ball, parentDir, { iterations: 12, validation, annotationChannels: true }));
  const childDir = path.join(work, 'ann-child');
  await runTraining(tiny(corrected, childDir, { init: parentDir, iterations: 4, validation, annotationChannels: true }));
  const child = readRunRecord(childDir);
  const comparison = child.parent?.comparison;
  const calibration = child.logitCalibration;
  assert.ok(comparison && calibration, JSON.stringify({ comparison, calibration }));
  // 6 annotated slices, so 6 left-out groups, of which the comparison scores 4 (the new slice's first).
  assert.equal(comparison.checks, 4);
  assert.equal(calibration.voxels, comparison.voxels, 'the decision was chosen on the comparison slices');
  assert.deepEqual(calibration.fractions, [child.settings.logitAdjustment], "the parent's fraction, kept");
  if (comparison.kept === 'trained') assert.equal(comparison.trainedIoU, calibration.meanIoU[0]);
});
