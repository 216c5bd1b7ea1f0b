/**
 * NaN (and ±Infinity) voxels are left out of every statistic — min, max, mean, the window's
 * percentiles, the normalization's figures — and counted; `unet3d info` prints the count.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { identity4 } from '../../src/core/geometry';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import { readVolumeFile } from '../../src/core/readVolume';
import { volumeStats } from '../../src/core/volume';
import { automaticWindow, intensityPercentiles } from '../../src/core/windowLevel';
import { computeNormalization, normalizeVolume } from '../../src/engine/normalize';
import { REPO_ROOT, tempDir } from '../helpers/data';

const dir = tempDir('readers-nan');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** 20×20×20 float32: values 0..7999 scaled by 2 + 10, with 400 NaN, 10 +Infinity and 10 −Infinity voxels. */
function writeNanVolume(): string {
  const data = new Float32Array(8000).map((_, i) => i);
  for (let i = 0; i < 8000; i += 20) data[i] = NaN;
  for (let i = 1; i < 200; i += 20) data[i] = Infinity;
  for (let i = 201; i < 400; i += 20) data[i] = -Infinity;
  const file = path.join(dir, 'nan.nii.gz');
  fs.writeFileSync(file, encodeNiftiGz({ dims: [20, 20, 20], affine: identity4(), data, intentCode: 0, sclSlope: 2, sclInter: 10 }));
  return file;
}

test('NaN and ±Infinity are left out of min, max, mean and counted', () => {
  const volume = readVolumeFile(writeNanVolume());
  const stats = volumeStats(volume);
  assert.equal(stats.nanCount, 400);
  assert.equal(stats.infiniteCount, 20);
  assert.equal(stats.count, 8000 - 420);
  assert.equal(stats.min, 2 * 2 + 10); // voxel 0 is NaN, 1 is +Inf: the smallest finite is 2
  assert.equal(stats.max, 2 * 7999 + 10);
  assert.ok(Number.isFinite(stats.mean));
  let sum = 0;
  volume.data.forEach((v) => Number.isFinite(v) && (sum += v * 2 + 10));
  assert.ok(Math.abs(stats.mean - sum / stats.count) < 1e-6);
});

test('the window and the normalization use finite voxels only', () => {
  const volume = readVolumeFile(writeNanVolume());
  const [low, high] = intensityPercentiles(volume.data, 2, 10, 0, 100);
  assert.deepEqual([low, high], [14, 2 * 7999 + 10]);
  const window = automaticWindow(volume.data, 2, 10);
  assert.ok(Number.isFinite(window.width) && Number.isFinite(window.level));
  const normalization = computeNormalization(volume);
  for (const v of Object.values(normalization.channels[0])) assert.ok(Number.isFinite(v), JSON.stringify(normalization));
  const image = normalizeVolume(volume, normalization);
  assert.ok(image.data.every(Number.isFinite), 'a normalized voxel is not finite');
  assert.equal(image.data[0], 0, 'a NaN voxel reads as the mean');
});

test('an image with no finite voxel has NaN statistics and a clear normalization error', () => {
  const stats = volumeStats({ data: new Float32Array([NaN, Infinity]), sclSlope: 1, sclInter: 0 });
  assert.ok(Number.isNaN(stats.min) && Number.isNaN(stats.mean));
  assert.equal(stats.count, 0);
  assert.deepEqual(automaticWindow(new Float32Array([NaN, NaN]), 1, 0), { width: 1, level: 0.5 });
  const volume = { ...readVolumeFile(writeNanVolume()), data: new Float32Array(8000).fill(NaN) };
  assert.throws(() => computeNormalization(volume), /no finite intensity/);
});

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
test('unet3d info prints how many voxels are NaN', { skip: fs.existsSync(CLI) ? false : 'dist/cli.js is not built (npm run build)' }, () => {
  const file = writeNanVolume();
  const text = spawnSync(process.execPath, [CLI, 'info', file], { encoding: 'utf8' });
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /NaN\s+400 voxels; ±Infinity 20 voxels \(left out of min, max and mean\)/);
  assert.match(text.stdout, /min\s+14\n/);
  const json = JSON.parse(spawnSync(process.execPath, [CLI, 'info', '--json', file], { encoding: 'utf8' }).stdout);
  assert.equal(json.nanCount, 400);
  assert.equal(json.infiniteCount, 20);
  assert.deepEqual(json.warnings, []);
  assert.ok(Number.isFinite(json.mean));
});
