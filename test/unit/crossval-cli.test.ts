/**
 * `unet3d crossval` (the CLI's command, in this process) on real data with short trainings of a
 * small network: the plumbing of both experiments — which slices, which folds, which runs, what
 * is scored and what JSON comes out. (That training learns is shown by cli-segment.test.ts.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { commands } from '../../src/cli/commands';
import type { Vec3 } from '../../src/core/geometry';
import { readLabelsAs } from '../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../src/core/labelMapIO';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import { readVolumeFile } from '../../src/core/readVolume';
import { chooseAnnotatedSlices, sliceFolds, sparseLabels } from '../../src/core/sparseLabels';
import { sliceFractions, volumeFolds, type FullEvaluationResult, type SemiCrossvalResult } from '../../src/experiments/crossval';
import { SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';
import { captureStdout } from '../helpers/stdout';

const dir = SKIP_WITHOUT_DATA ? '' : tempDir('crossval-cli');
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A small network and a few steps: enough to exercise every path. */
const QUICK = ['--levels', '2', '--base-filters', '4', '--patch', '16,16,16', '--iterations', '3', '--backend', 'cpu'];

async function crossval(...argv: string[]): Promise<unknown> {
  const { result, out } = await captureStdout(() => commands.crossval.run([...argv, '--json']));
  assert.equal(result, 0);
  return JSON.parse(out.trim().split('\n').pop()!);
}

test('folds and slice fractions', () => {
  assert.deepEqual(volumeFolds(3, 3), [[0], [1], [2]]);
  assert.deepEqual(volumeFolds(5, 2), [[0, 2, 4], [1, 3]]);
  assert.throws(() => volumeFolds(1, 2), /cannot make 2 folds/);
  assert.throws(() => volumeFolds(3, 1), /folds must be an integer ≥ 2/);
  assert.deepEqual(sliceFractions(3), [0.25, 0.5, 0.75]);
  assert.deepEqual(sliceFractions(1), [0.5]);
  assert.throws(() => sliceFractions(0), /positive integer/);
});

test('semi-automated from a sparse label file: its own slices, slice k-fold only', { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  const volume = readVolumeFile(image);
  const slices = chooseAnnotatedSlices(truth.data, volume.dims);
  const labels = path.join(dir, 't2.labels.nii.gz');
  writeLabelMapNifti(labels, { dims: volume.dims, affine: volume.affine, data: sparseLabels(truth.data, volume.dims, slices) });
  const runs = path.join(dir, 'semi-sparse');
  const r = (await crossval('--image', image, '--labels', labels, '--folds', '3', '--runs', runs, ...QUICK)) as SemiCrossvalResult & { runsKept: string };
  assert.equal(r.mode, 'semi');
  assert.equal(r.labelsKind, 'sparse');
  assert.equal(r.labelsConvention, 'labels');
  assert.deepEqual(r.slices, slices, 'the annotated slices are found in the file');
  assert.equal(r.denseIoU, undefined, 'no truth off the slices: no dense IoU');
  assert.equal(r.sliceIoU!.folds.length, 3);
  const expectedFolds = sliceFolds(slices, 3);
  r.sliceIoU!.folds.forEach((f, i) => {
    assert.deepEqual(f.heldOut, expectedFolds[i]);
    assert.ok(f.voxels > 0);
  });
  assert.ok(r.sliceIoU!.meanIoU === null || (r.sliceIoU!.meanIoU >= 0 && r.sliceIoU!.meanIoU <= 1));
  assert.deepEqual(r.runs.map((run) => run.label), ['fold 1', 'fold 2', 'fold 3']);
  for (const run of r.runs) {
    assert.equal(run.iterations, 3);
    assert.equal(run.backend, 'cpu');
    const record = JSON.parse(fs.readFileSync(path.join(run.runDir, 'run.json'), 'utf8'));
    assert.equal(record.volumes[0].validationSlices.length, 0, 'no validation split: every slice of the training folds is trained on');
    assert.equal(record.volumes[0].trainingSlices.length, 6, 'two folds of three slices');
  }
  assert.equal(r.settings.iterations, 3);
  assert.equal(r.runsKept, runs);
});

test('semi-automated from full labels: the protocol makes the slices; dense IoU with one training', { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const labels = dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz');
  const r = (await crossval('--image', image, '--labels', labels, '--no-slice', '--slices-per-axis', '2', ...QUICK)) as SemiCrossvalResult & { runsKept: null };
  assert.equal(r.labelsKind, 'full');
  assert.equal(r.labelsConvention, 'mask');
  const truth = readLabelsAs(labels);
  assert.deepEqual(r.slices, chooseAnnotatedSlices(truth.data, r.dims, [1 / 3, 2 / 3]));
  assert.equal(r.slices.length, 6);
  assert.equal(r.sliceIoU, undefined);
  assert.ok(r.denseIoU && r.denseIoU.voxels > 0.8 * r.dims[0] * r.dims[1] * r.dims[2]);
  assert.deepEqual(r.runs.map((run) => run.label), ['dense']);
  assert.equal(r.runsKept, null);
  assert.ok(!fs.existsSync(r.runs[0].runDir), 'the temporary run folders are removed');
});

/**
 * Scores a written segmentation against its truth by counting voxels here (no code of
 * src/core/metrics): truth read as a mask (0 → class 1, > 0 → class 2), the segmentation as
 * written (0 = background, value v → class v + 1; its sidecar says so).
 * Per class: IoU = |S ∩ T| / |S ∪ T|, Dice = 2|S ∩ T| / (|S| + |T|), and the voxel counts.
 */
function rescore(segmentationFile: string, truthFile: string): Record<string, { iou: number | null; dice: number | null; truthVoxels: number; predictedVoxels: number }> {
  const seg = readVolumeFile(segmentationFile).data;
  assert.equal(JSON.parse(fs.readFileSync(segmentationFile.replace(/\.nii\.gz$/, '.json'), 'utf8')).labelValues, '0-background');
  const truth = readVolumeFile(truthFile).data;
  assert.equal(seg.length, truth.length);
  const out: ReturnType<typeof rescore> = {};
  for (const c of [1, 2]) {
    let both = 0;
    let s = 0;
    let t = 0;
    for (let i = 0; i < seg.length; i++) {
      const inSeg = seg[i] + 1 === c;
      const inTruth = (truth[i] > 0 ? 2 : 1) === c;
      if (inSeg) s++;
      if (inTruth) t++;
      if (inSeg && inTruth) both++;
    }
    out[c] = { iou: s + t > 0 ? both / (s + t - both) : null, dice: s + t > 0 ? (2 * both) / (s + t) : null, truthVoxels: t, predictedVoxels: s };
  }
  return out;
}

/** Every volume's reported scores equal a rescoring of the segmentation it wrote; the means follow. */
function assertReportedScoresMatchWrittenSegmentations(r: FullEvaluationResult): void {
  for (const v of r.volumes) {
    const mine = rescore(v.segmentation, v.labels);
    for (const c of ['1', '2']) {
      const reported = v.classes[c];
      assert.ok(reported, `class ${c} of ${v.image} is reported`);
      assert.equal(reported.truthVoxels, mine[c].truthVoxels, `class ${c}: truth voxels`);
      assert.equal(reported.predictedVoxels, mine[c].predictedVoxels, `class ${c}: predicted voxels`);
      for (const m of ['iou', 'dice'] as const) {
        if (mine[c][m] === null) assert.equal(reported[m], null);
        else assert.ok(Math.abs((reported[m] ?? NaN) - mine[c][m]!) < 1e-9, `class ${c} ${m}: reported ${reported[m]}, rescored ${mine[c][m]}`);
      }
    }
    assert.equal(v.meanIoU, mine['2'].iou, 'one foreground class: the mean is its IoU');
  }
  const defined = r.volumes.map((v) => v.meanIoU).filter((x): x is number => x !== null);
  const mean = defined.length ? defined.reduce((a, b) => a + b, 0) / defined.length : null;
  if (mean === null) assert.equal(r.meanIoU, null);
  else assert.ok(Math.abs(r.meanIoU! - mean) < 1e-12, `mean IoU ${r.meanIoU} vs ${mean}`);
}

/** Crops a box of `size` voxels centred on the lesions of an msles patient into `dir` (image and labels, geometry kept). */
function cropPatient(patient: string, size: Vec3): { image: string; labels: string } {
  const image = readVolumeFile(dataPath('full', 'msles', `${patient}_flair.nii.gz`));
  const lesion = readVolumeFile(dataPath('full', 'msles', `${patient}_lesion.nii.gz`));
  const [nx, ny, nz] = image.dims;
  const sum = [0, 0, 0];
  let count = 0;
  for (let z = 0, i = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++, i++) {
    if (lesion.data[i] > 0) {
      sum[0] += x;
      sum[1] += y;
      sum[2] += z;
      count++;
    }
  }
  const start = [0, 1, 2].map((a) => Math.max(0, Math.min(image.dims[a] - size[a], Math.round(sum[a] / count - size[a] / 2))));
  const crop = (data: ArrayLike<number>, out: Uint8Array) => {
    let o = 0;
    for (let z = 0; z < size[2]; z++) for (let y = 0; y < size[1]; y++) for (let x = 0; x < size[0]; x++) out[o++] = data[start[0] + x + nx * (start[1] + y + ny * (start[2] + z))];
    return out;
  };
  const affine = image.affine.map((row) => [...row]);
  for (let r = 0; r < 3; r++) affine[r][3] = image.affine[r][0] * start[0] + image.affine[r][1] * start[1] + image.affine[r][2] * start[2] + image.affine[r][3];
  const n = size[0] * size[1] * size[2];
  const files = { image: path.join(dir, `${patient}_flair.nii.gz`), labels: path.join(dir, `${patient}_lesion.nii.gz`) };
  fs.writeFileSync(files.image, encodeNiftiGz({ dims: size, affine, data: crop(image.data, new Uint8Array(n)), intentCode: 0 }));
  fs.writeFileSync(files.labels, encodeNiftiGz({ dims: size, affine, data: crop(lesion.data, new Uint8Array(n)) }));
  return files;
}

test('fully-automated: rotation over volumes, and given test volumes', { skip: SKIP_WITHOUT_DATA }, async () => {
  const patients = ['patient07', 'patient19', 'patient26'].map((p) => cropPatient(p, [40, 40, 24]));
  const pairs = patients.flatMap((p) => ['--image', p.image, '--labels', p.labels]);
  const runs = path.join(dir, 'full');
  const r = (await crossval(...pairs, '--runs', runs, ...QUICK)) as FullEvaluationResult;
  assert.equal(r.mode, 'full');
  assert.deepEqual(r.classes.map((c) => c.value), [1, 2]);
  assert.equal(r.folds.length, 3, 'one fold per volume by default');
  r.folds.forEach((f, i) => {
    assert.deepEqual(f.test, [patients[i].image]);
    assert.deepEqual(f.train, patients.filter((_, j) => j !== i).map((p) => p.image));
  });
  assert.equal(r.volumes.length, 3);
  for (const v of r.volumes) {
    assert.equal(v.voxels, 40 * 40 * 24, 'full labels: every voxel scored');
    assert.ok('2' in v.classes);
    const seg = readVolumeFile(v.segmentation);
    const image = readVolumeFile(v.image);
    assert.deepEqual(seg.dims, image.dims);
    assert.ok(seg.affine.every((row, a) => row.every((x, b) => Math.abs(x - image.affine[a][b]) < 1e-4)));
  }
  assertReportedScoresMatchWrittenSegmentations(r);
  const withTest = (await crossval(...pairs.slice(0, 8), '--test', patients[2].image, '--test-labels', patients[2].labels, ...QUICK)) as FullEvaluationResult;
  assert.equal(withTest.folds.length, 1);
  assert.deepEqual(withTest.folds[0].train, [patients[0].image, patients[1].image]);
  assert.deepEqual(withTest.volumes.map((v) => v.image), [patients[2].image]);
  // The paper's §4.2: train on sparse slices of the training volumes, score the test volume on all of it.
  const sparseRuns = path.join(dir, 'full-sparse');
  const sparse = (await crossval(...pairs.slice(0, 8), '--test', patients[2].image, '--test-labels', patients[2].labels, '--slices-per-axis', '2', '--runs', sparseRuns, ...QUICK)) as FullEvaluationResult;
  const record = JSON.parse(fs.readFileSync(path.join(sparse.folds[0].run.runDir, 'run.json'), 'utf8')) as { volumes: { trainingSlices: unknown[]; trainingVoxels: number[] }[] };
  assert.equal(record.volumes.length, 2);
  for (const v of record.volumes) {
    assert.ok(v.trainingSlices.length >= 1 && v.trainingSlices.length <= 6, `${v.trainingSlices.length} slices, at most 2 per axis`);
    assert.ok(v.trainingVoxels.reduce((a, b) => a + b, 0) < 0.5 * 40 * 40 * 24, 'most voxels unlabeled');
  }
  assert.equal(sparse.volumes[0].voxels, 40 * 40 * 24, 'the test volume is scored on its full labels');
  assertReportedScoresMatchWrittenSegmentations(sparse);
});

test('crossval refuses bad input with a clear message', { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const labels = dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz');
  const run = (...argv: string[]) => commands.crossval.run(argv);
  await assert.rejects(run('--image', image), /one label file per image/);
  await assert.rejects(run('--image', image, '--labels', path.join(dir, 'missing.nii.gz')), /does not exist/);
  await assert.rejects(run('--image', image, '--labels', labels, '--image', image, '--labels', labels, '--no-dense'), /semi-automated experiment/);
  await assert.rejects(run('--image', image, '--labels', labels, '--folds', '1'), /--folds must be a number from 2/);
  await assert.rejects(run('--image', image, '--labels', labels, '--preset', 'huge'), /unknown preset/);
  await assert.rejects(run('--image', image, '--labels', labels, '--no-slice', '--no-dense', ...QUICK), /nothing to score/);
  await assert.rejects(run('--image', image, '--labels', dataPath('semi', 'spleen', 'sub-spleen2_ct_seg-manual.nii.gz'), ...QUICK), /not on the voxel grid/);
});
