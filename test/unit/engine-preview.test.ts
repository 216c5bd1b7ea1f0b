/**
 * Live preview while training: the three planes through a voxel, predicted by the network as it
 * is, equal what a whole-volume prediction gives on those planes; previews keep to their share of
 * the training's time; a training with a preview target reports them; the worker previews on
 * request and moves with the target.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { annotationField } from '../../src/core/annotationField';
import { extractSlice } from '../../src/core/slices';
import { readVolumeFile } from '../../src/core/readVolume';
import { createUNet } from '../../src/engine/model';
import { computeNormalization, normalizeVolume } from '../../src/engine/normalize';
import { predictVolume } from '../../src/engine/predict';
import { predictPlanes, PREVIEW_SHARE, PreviewSchedule } from '../../src/engine/preview';
import { readRunRecord } from '../../src/engine/runFolder';
import { runTraining } from '../../src/engine/train';
import { PRESETS } from '../../src/protocol/network';
import { trainSettings, type TrainSettingsInput } from '../../src/protocol/settings';
import type { TrainEvent, TrainPreviewEvent } from '../../src/protocol/training';
import { tempDir } from '../helpers/data';
import { writeBallVolume } from '../helpers/engineData';

const work = tempDir('engine-preview');
after(() => fs.rmSync(work, { recursive: true, force: true }));
const backend = (process.env.UNET3D_TEST_BACKEND ?? 'auto') as TrainSettingsInput['backend'];

test('the preview planes equal a whole-volume prediction on those planes (a network without pooling: any tiling is exact)', async () => {
  const ball = writeBallVolume(work, 'exact');
  const volume = readVolumeFile(ball.image);
  const normalization = computeNormalization(volume);
  // One level, 'valid': no pooling, so every tile computes exactly what the whole mirror-padded volume does.
  const net = createUNet({ ...PRESETS.fast, levels: 1, baseFilters: 4, padding: 'valid', inChannels: 1, classes: 3 }, 5);
  try {
    const whole = await predictVolume(net, volume, normalization);
    const image = normalizeVolume(volume, normalization);
    const voxel: [number, number, number] = [11, 20, 5];
    const planes = await predictPlanes(net, { image }, voxel, { input: [12, 12, 8], output: [8, 8, 4] }, [0, 0, 0]);
    assert.equal(planes.length, 3);
    for (const plane of planes) {
      const expected = extractSlice(whole.labels, volume.dims, plane.axis, plane.index);
      assert.equal(plane.index, voxel[plane.axis]);
      assert.deepEqual([plane.width, plane.height], [expected.width, expected.height]);
      assert.deepEqual([...plane.labels], [...expected.data], `plane along axis ${plane.axis}`);
    }
    assert.ok(new Set(planes.flatMap((p) => [...p.labels])).size > 1, 'the planes are not constant');
  } finally {
    net.dispose();
  }
});

test('with annotation channels, the preview decides as prediction does, annotation offsets included', async () => {
  const ball = writeBallVolume(work, 'exact-ann', [32, 28, 12], 2, true);
  const volume = readVolumeFile(ball.image);
  const sparse = readVolumeFile(ball.labels).data as Uint8Array;
  const field = annotationField(sparse, volume.dims, volume.spacing, 3);
  const normalization = computeNormalization(volume);
  const net = createUNet({ ...PRESETS.fast, levels: 1, baseFilters: 4, padding: 'valid', inChannels: 4 + 1, classes: 3, annotationResidual: 3 }, 5);
  try {
    const image = normalizeVolume(volume, normalization);
    const voxel: [number, number, number] = [11, 20, 5];
    const geometry = { input: [12, 12, 8] as [number, number, number], output: [8, 8, 4] as [number, number, number] };
    const options = { annotationOffsets: [0, 0, 8] };
    const whole = await predictVolume(net, volume, normalization, { annotation: field, ...options });
    const planes = await predictPlanes(net, { image, annotation: field }, voxel, geometry, [0, 0, 0], options);
    for (const plane of planes) assert.deepEqual([...plane.labels], [...extractSlice(whole.labels, volume.dims, plane.axis, plane.index).data], `plane along axis ${plane.axis}`);
    const without = await predictPlanes(net, { image, annotation: field }, voxel, geometry, [0, 0, 0]);
    assert.notDeepEqual(without.map((p) => [...p.labels]), planes.map((p) => [...p.labels]), 'the offsets change the decision');
  } finally {
    net.dispose();
  }
});

test('previews keep within their share of the time, and come sooner for a better checkpoint or a moved target', () => {
  const schedule = new PreviewSchedule();
  let now = 0;
  let trained = 0;
  let previews = 0;
  // Steps of 1 s, previews of 0.8 s: a preview whenever the share allows.
  for (let step = 0; step < 600; step++) {
    now += 1;
    trained += 1;
    if (schedule.due(now, trained, false, 1)) {
      now += 0.8;
      schedule.done(now, 0.8);
      previews++;
    }
    assert.ok(schedule.seconds <= PREVIEW_SHARE * (trained + schedule.seconds) + 1e-9, `share exceeded at step ${step}`);
  }
  assert.ok(previews > 80, `previews were made (${previews})`);
  // Right after one, only an urgent reason brings the next one (the share permitting).
  const fresh = new PreviewSchedule();
  assert.equal(fresh.due(100, 100, false), true);
  fresh.done(100.1, 0.1);
  assert.equal(fresh.due(100.5, 100, false), false, 'not within the interval');
  assert.equal(fresh.due(100.5, 100, true), true, 'a better checkpoint or a moved crosshair asks sooner');
});

test('a training with a preview target reports the three planes as it goes, and records their time', async () => {
  const ball = writeBallVolume(work, 'live');
  const settings = trainSettings({
    volumes: [{ image: ball.image, labels: ball.labels }],
    outDir: path.join(work, 'run-live'),
    network: { preset: 'fast', levels: 2, baseFilters: 4 },
    patchSize: [12, 12, 4],
    minutes: 0.25,
    validation: { fold: 0, folds: 3 },
    validateEvery: 5,
    backend,
  });
  const events: TrainEvent[] = [];
  let voxel: [number, number, number] = [16, 14, 6];
  await runTraining(settings, {
    onEvent: (e) => {
      events.push(e);
      // The crosshair moves after the first preview: the next ones follow it.
      if (e.type === 'preview') voxel = [5, 7, 2];
    },
    previewTarget: () => ({ image: ball.image, voxel }),
  });
  const previews = events.filter((e): e is TrainPreviewEvent => e.type === 'preview');
  assert.ok(previews.length >= 2, `previews were reported (${previews.length})`);
  const [nx, ny, nz] = ball.dims;
  for (const p of previews) {
    assert.equal(p.image, path.resolve(ball.image));
    assert.deepEqual(p.planes.map((q) => [q.axis, q.width, q.height]), [[0, ny, nz], [1, nx, nz], [2, nx, ny]]);
    for (const q of p.planes) assert.ok(q.labels.every((v) => v >= 1 && v <= 2), 'label values 1..classes');
  }
  assert.deepEqual(previews[0].planes.map((q) => q.index), [16, 14, 6]);
  assert.deepEqual(previews.at(-1)!.planes.map((q) => q.index), [5, 7, 2]);
  const record = readRunRecord(settings.outDir);
  assert.ok((record.previewSeconds ?? 0) > 0);
  // The share itself is a timing (measured by the loop benchmark); here only that it is reported.
  assert.ok(previews.every((p) => p.share > 0 && p.share < 1 && p.seconds > 0));
});
