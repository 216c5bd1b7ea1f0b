/** `unet3d train` through the built CLI (dist/cli.js and dist/worker.js, built by `npm test` first). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { makeLabelsFile, serializeLabelsFile } from '../../src/core/labels';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import { readVolumeFile } from '../../src/core/readVolume';
import { readRunRecord } from '../../src/engine/runFolder';
import { REPO_ROOT, tempDir } from '../helpers/data';
import { writeBallVolume } from '../helpers/engineData';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const skip = !fs.existsSync(CLI) || !fs.existsSync(path.join(REPO_ROOT, 'dist', 'worker.js')) ? 'dist/cli.js or dist/worker.js is not built (npm run build)' : false;
const work = tempDir('engine-train-cli');
after(() => fs.rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
}

const tiny = ['--preset', 'fast', '--levels', '2', '--base-filters', '4', '--patch', '12,12,4', '--iterations', '4', '--validate-every', '2', '--folds', '3', '--fold', '1'];
if (process.env.UNET3D_TEST_BACKEND) tiny.push('--backend', process.env.UNET3D_TEST_BACKEND);

for (const where of ['default', 'worker'] as const) {
  test(`unet3d train (${where === 'worker' ? 'with the old --worker flag' : 'default: in the worker'}) writes the run folder and prints its path`, { skip }, () => {
    const ball = writeBallVolume(work, `ball-${where}`);
    const out = path.join(work, `run-${where}`);
    const result = cli('train', '--image', ball.image, '--labels', ball.labels, '--out', out, '--json', ...tiny, ...(where === 'worker' ? ['--worker'] : []));
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    assert.equal(summary.runDir, out);
    assert.equal(summary.status, 'succeeded');
    assert.equal(summary.iterations, 4);
    assert.match(result.stderr, /backend \w+; network 2 levels/);
    assert.doesNotMatch(result.stderr, /read as masks/);
    assert.match(result.stderr, /validation at 2: mean foreground IoU/);
    const record = readRunRecord(out);
    assert.equal(record.status, 'succeeded');
    assert.deepEqual(record.settings.validation, { fold: 1, folds: 3 });
    assert.ok(fs.existsSync(path.join(out, 'last', 'model.json')));
  });
}

test('unet3d train names the classes from the labels\' class list (NAME.labels.json, as the editor saves it)', { skip }, () => {
  const ball = writeBallVolume(work, 'ball-named');
  const classes = [
    { value: 1, name: 'outside', color: '#3b6fb6' },
    { value: 2, name: 'the ball', color: '#e6194b' },
  ];
  fs.writeFileSync(path.join(work, 'ball-named.labels.json'), serializeLabelsFile(makeLabelsFile('ball-named.nii.gz', classes)));
  const out = path.join(work, 'run-named');
  const result = cli('train', '--image', ball.image, '--labels', ball.labels, '--out', out, ...tiny);
  assert.equal(result.status, 0, result.stderr);
  assert.deepEqual(readRunRecord(out).classes, [
    { value: 1, name: 'outside' },
    { value: 2, name: 'the ball' },
  ]);
  assert.match(result.stderr, /classes 1 outside, 2 the ball/);
});

test('unet3d train: usage mistakes exit 2 with a clear message', { skip }, () => {
  const cases: [string[], RegExp][] = [
    [['--image', 'a.nii.gz', '--out', 'x'], /1 --image but 0 --labels/],
    [['--image', 'a.nii.gz', '--labels', 'b.nii.gz'], /--out RUN_DIR is required/],
    [['--image', 'a', '--labels', 'b', '--out', 'x', '--padding', 'full'], /--padding must be valid or same/],
    [['--image', 'a', '--labels', 'b', '--out', 'x', '--folds', '3'], /--folds and --fold go together/],
    [['--image', 'a', '--labels', 'b', '--out', 'x', '--backend', 'tpu'], /unknown backend "tpu"/],
    [['--image', 'a', '--labels', 'b', '--out', 'x', '--iterations', '0'], /--iterations must be a number from 1/],
    [['--image', 'a', '--labels', 'b', '--out', 'x', '--probabilities', 'p.nii.gz'], /--probabilities goes with --segment/],
    [['--image', 'a', '--labels', 'b', '--out', 'x', '--segment', 'seg.png'], /--segment seg\.png: the file must end in \.nii\.gz or \.nii/],
    [['--image', 'a', '--labels', 'b', '--out', 'x', '--clock', 'sundial'], /--clock must be wall or cpu/],
  ];
  for (const [args, message] of cases) {
    const result = cli('train', ...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
  const missing = cli('train', '--image', path.join(work, 'none.nii.gz'), '--labels', path.join(work, 'none.nii.gz'), '--out', path.join(work, 'run-none'), ...tiny);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /none\.nii\.gz/);
});

test('unet3d train --segment segments the image in the training\'s worker: the files unet3d segment writes, the same labels', { skip }, () => {
  const ball = writeBallVolume(work, 'ball-then-segment');
  const out = path.join(work, 'run-then-segment');
  const seg = path.join(work, 'then.seg.nii.gz');
  const probabilities = path.join(work, 'then.prob.nii.gz');
  const result = cli('train', '--image', ball.image, '--labels', ball.labels, '--out', out, '--segment', seg, '--probabilities', probabilities, '--clock', 'cpu', '--json', ...tiny);
  assert.equal(result.status, 0, result.stderr);
  const [summary, written] = result.stdout.trim().split('\n').slice(-2).map((line) => JSON.parse(line));
  assert.equal(summary.status, 'succeeded');
  assert.equal(readRunRecord(out).settings.clock, 'cpu');
  assert.equal(written.out, seg);
  assert.equal(written.probabilities, probabilities);
  assert.equal(written.runDir, out);
  assert.ok(fs.existsSync(probabilities) && fs.existsSync(seg.replace(/\.nii\.gz$/, '.json')));
  // The same as segmenting afterwards in a worker of its own.
  const again = path.join(work, 'again.seg.nii.gz');
  const separate = cli('segment', '--run', out, '--image', ball.image, '--out', again, '--json', ...(process.env.UNET3D_TEST_BACKEND ? ['--backend', process.env.UNET3D_TEST_BACKEND] : []));
  assert.equal(separate.status, 0, separate.stderr);
  assert.deepEqual([...readVolumeFile(seg).data], [...readVolumeFile(again).data]);
});

test('unet3d train on a dense mask (0 = background): refused with the fix in the editor\'s convention, trained on every voxel with --labels-convention mask in the failed run\'s folder', { skip }, () => {
  const ball = writeBallVolume(work, 'ball-masked');
  // The ball as nnU-Net or MONAI would hold it: 0 = background, 1 = the ball, every voxel.
  const volume = readVolumeFile(ball.image);
  const mask = new Uint8Array(volume.data.length);
  for (let i = 0; i < mask.length; i++) mask[i] = volume.data[i] > 60 ? 1 : 0;
  const maskFile = path.join(work, 'ball-masked_seg.nii.gz');
  fs.writeFileSync(maskFile, encodeNiftiGz({ dims: volume.dims, affine: volume.affine, data: mask }));

  const out = path.join(work, 'run-mask');
  const asLabels = cli('train', '--image', ball.image, '--labels', maskFile, '--out', out, ...tiny);
  assert.equal(asLabels.status, 1, asLabels.stderr);
  assert.match(asLabels.stderr, /the labels hold the background \(1\) alone: there is no class to learn/);
  assert.match(asLabels.stderr, /if ball-masked_seg\.nii\.gz is a mask \(0 = background, 1 = the object\), read it as such: unet3d train --labels-convention mask/);
  assert.equal(readRunRecord(out).status, 'failed');

  // The same command with the fix takes back the folder of the run that failed before a checkpoint.
  const result = cli('train', '--image', ball.image, '--labels', maskFile, '--labels-convention', 'mask', '--out', out, ...tiny);
  assert.equal(result.status, 0, result.stderr);
  const record = readRunRecord(out);
  assert.equal(record.settings.volumes[0].labelsConvention, 'mask');
  assert.equal(record.volumes[0].labelsConvention, 'mask');
  assert.match(result.stderr, /labels read as masks \(0 = background, every voxel labeled\): ball-masked_seg\.nii\.gz/);
  assert.deepEqual(record.classes?.map((c) => c.value), [1, 2]);
  // Two folds of three train: about two thirds of the voxels, each labeled, the ball as class 2.
  const [background, ball2] = record.volumes[0].trainingVoxels;
  assert.ok(background + ball2 >= 0.5 * mask.length, `${background} + ${ball2} of ${mask.length} voxels train`);
  assert.ok(ball2 > 0);
  assert.notEqual(record.settings.annotationChannels, true, 'a mask leaves no voxel for annotation channels to read');

  const wrong = cli('train', '--image', ball.image, '--labels', maskFile, '--labels-convention', 'dense', '--out', path.join(work, 'run-x'));
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /--labels-convention must be labels or mask, not "dense"/);
});
