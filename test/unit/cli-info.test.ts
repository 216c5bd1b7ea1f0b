/** `unet3d info` through the built CLI (dist/cli.js, built by `npm test` before the unit tests). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const skip = !fs.existsSync(CLI) ? 'dist/cli.js is not built (npm run build)' : SKIP_WITHOUT_DATA;

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

test('unet3d info --json prints the documented keys with the reader ground truth', { skip }, () => {
  const expected = JSON.parse(fs.readFileSync(dataPath('formats', 'expected.json'), 'utf8'))['sct_t2_PSR.nii.gz'];
  const result = cli('info', '--json', dataPath('formats', 'sct_t2_PSR.nii.gz'));
  assert.equal(result.status, 0, result.stderr);
  const info = JSON.parse(result.stdout);
  for (const key of ['format', 'dims', 'spacing', 'datatype', 'axcodes', 'affine', 'min', 'max', 'mean']) assert.ok(key in info, key);
  assert.equal(info.format, 'nifti1');
  assert.deepEqual(info.dims, expected.dim);
  assert.equal(info.datatype, 'int16');
  assert.equal(info.axcodes, 'PSR');
  assert.equal(info.affine.length, 4);
  info.affine.flat().forEach((v: number, i: number) => assert.ok(Math.abs(v - expected.affine_ras.flat()[i]) < 1e-4));
  assert.equal(info.min, expected.min);
  assert.equal(info.max, expected.max);
  assert.ok(Math.abs(info.mean - expected.sum / (60 * 55 * 52)) < 1e-6);
});

test('unet3d info reads NRRD with Slicer segments, in text form', { skip }, () => {
  const result = cli('info', dataPath('semi', 'ctchest', 'Segmentation.seg.nrrd'));
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /format\s+nrrd/);
  // Its LPS space directions are (-3.05, 0, 0), (0, -3.05, 0), (0, 0, 10): the voxel axes run R, A, S.
  assert.match(result.stdout, /axcodes\s+RAS/);
  assert.match(result.stdout, /affine\s+3.04688\s+0\s+0\s+-193.096/);
  assert.match(result.stdout, /5: right lung/);
});

test('unet3d info prints six significant digits without trailing zeros (a float32 spacing of 0.99999994 is 1)', { skip }, () => {
  const result = cli('info', dataPath('formats', 'niivue_FLAIR.nrrd'));
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^spacing    1 × 1 × 1 mm$/m);
  assert.match(result.stdout, /^affine\s+0\.993592\s+0\.016005\s+0\.111887\s+-64\.8982$/m);
  assert.match(result.stdout, /^mean       41\.486$/m);
});

test('unet3d info exits non-zero with one line on stderr for bad input', { skip }, () => {
  const result = cli('info', dataPath('formats', 'niivue_complex.nii.gz'));
  assert.notEqual(result.status, 0);
  assert.equal(result.stdout, '');
  assert.equal(result.stderr.trim().split('\n').length, 1);
  assert.match(result.stderr, /unsupported datatype 32 \(COMPLEX64\)/);
  const missing = cli('info', '/nonexistent/file.nii.gz');
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /ENOENT|no such file/);
  const usage = cli('info');
  assert.equal(usage.status, 2);
});
