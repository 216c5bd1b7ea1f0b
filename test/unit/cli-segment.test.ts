/**
 * `unet3d train` then `unet3d segment` end to end (the CLI's commands, in this process) on the
 * real spinal-cord MRI of ../shared/data/semi, with sparse labels made here by the QUALITY.md
 * protocol: the outputs sit on the image's grid, carry the class names, and the trained model
 * scores far above an untrained one on the voxels no annotated slice holds.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { readLabelsAs } from '../../src/core/labelConvention';
import { parseSegmentationSidecar, type SegmentationSidecar } from '../../src/core/segmentationConvention';
import { writeLabelMapNifti } from '../../src/core/labelMapIO';
import { scoreLabels } from '../../src/core/metrics';
import { readVolumeFile } from '../../src/core/readVolume';
import { chooseAnnotatedSlices, sparseLabels, unannotatedMask } from '../../src/core/sparseLabels';
import { commands } from '../../src/cli/commands';
import { initBackend } from '../../src/engine/backends';
import { createUNet } from '../../src/engine/model';
import { predictVolume } from '../../src/engine/predict';
import { readRunRecord } from '../../src/engine/runFolder';
import { captureStdout } from '../helpers/stdout';
import { SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';

const dir = SKIP_WITHOUT_DATA ? '' : tempDir('cli-segment');
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const [name, ...rest] = argv;
  const { result, out } = await captureStdout(() => commands[name].run(rest));
  return { code: result, out };
}

function sameMatrix(a: number[][], b: number[][], tolerance = 1e-4): boolean {
  return a.every((row, r) => row.every((v, c) => Math.abs(v - b[r][c]) <= tolerance));
}

test('train on sparse slices, segment through the CLI: geometry, names, probabilities, IoU far above untrained', { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  const volume = readVolumeFile(image);
  const slices = chooseAnnotatedSlices(truth.data, volume.dims);
  const labelsFile = path.join(dir, 't2.labels.nii.gz');
  writeLabelMapNifti(labelsFile, { dims: volume.dims, affine: volume.affine, data: sparseLabels(truth.data, volume.dims, slices) });
  fs.writeFileSync(path.join(dir, 't2.labels.json'), JSON.stringify({ format: 'unet3d-labels', version: 1, volume: 't2.nii.gz', labelMap: 't2.labels.nii.gz', classes: [{ value: 1, name: 'background', color: '#3b6fb6' }, { value: 2, name: 'spinal cord', color: '#e6194b' }] }));

  // A small network, trained briefly: enough to learn the cord, small enough for CI.
  const runDir = path.join(dir, 'run');
  const trained = await cli(
    'train', '--image', image, '--labels', labelsFile, '--out', runDir, '--levels', '2', '--base-filters', '8', '--patch', '32,32,32',
    '--iterations', '60', '--optimizer', 'adam', '--lr', '0.003', '--no-augment', '--val-fraction', '0', '--backend', 'cpu', '--json',
  );
  assert.equal(trained.code, 0);
  const record = readRunRecord(runDir);
  assert.equal(record.status, 'succeeded');
  assert.deepEqual(record.singleObjectClasses, [2], 'the cord is drawn as one object: its islands are cleaned up');

  const out = path.join(dir, 't2.seg.nii.gz');
  const probabilities = path.join(dir, 't2.probabilities.nii.gz');
  const segmented = await cli('segment', '--run', runDir, '--image', image, '--out', out, '--probabilities', probabilities, '--backend', 'cpu', '--json');
  assert.equal(segmented.code, 0);
  const result = JSON.parse(segmented.out.trim().split('\n').pop()!);
  assert.equal(result.out, out);
  assert.equal(result.classesFile, path.join(dir, 't2.seg.json'));
  assert.equal(result.normalization, 'stored', 'a training volume is normalized with the figures in run.json');

  // Geometry: the image's grid and affine; values 0..K−1 as other tools read them (0 = background).
  const file = readVolumeFile(out);
  assert.deepEqual(file.dims, volume.dims);
  assert.ok(sameMatrix(file.affine, volume.affine), 'the affine of the image');
  assert.equal(file.datatype, 'uint8');
  assert.ok(file.data.every((v) => v === 0 || v === 1), 'values 0..K−1 only');
  assert.ok(file.data.some((v) => v === 0) && file.data.some((v) => v === 1), 'background and cord both present');
  assert.deepEqual(result.classes, [{ value: 0, name: 'background' }, { value: 1, name: 'spinal cord' }], 'classes by file value');
  assert.equal(result.voxelsPerClass[1], Array.from(file.data).filter((v) => v === 1).length, 'voxels of value 1');
  // Read back as editor labels (1 = background, 2 = cord): the sidecar says the convention.
  const seg = readLabelsAs(out);
  assert.equal(seg.convention, 'mask');
  assert.match(seg.reason, /t2\.seg\.json says 0 = background/);
  assert.deepEqual(seg.names, { '1': 'background', '2': 'spinal cord' });
  const prob = readVolumeFile(probabilities, { allFrames: true });
  assert.deepEqual(prob.dims, volume.dims);
  assert.equal(prob.frames, 2);
  assert.ok(sameMatrix(prob.affine, volume.affine));
  const n = volume.dims[0] * volume.dims[1] * volume.dims[2];
  for (let i = 0; i < n; i += 97) {
    const p0 = prob.allFrames![i];
    const p1 = prob.allFrames![n + i];
    assert.ok(Math.abs(p0 + p1 - 255) <= 1, `probabilities sum to 255 at ${i}`);
    // Frame c is the probability of file value c (frame 0 = background); seg is in editor labels.
    const likelier = p1 > p0 ? 2 : p0 > p1 ? 1 : seg.data[i];
    // The probabilities are the network's; the labels are its likelier class, except cord islands
    // away from the cord, which the one-object clean-up turned into background.
    if (!(likelier === 2 && seg.data[i] === 1)) assert.equal(seg.data[i], likelier, `the label is the likelier class at ${i}`);
  }
  // The class names travel in the sidecar, by file value, with the convention stated.
  const sidecar = JSON.parse(fs.readFileSync(result.classesFile, 'utf8')) as SegmentationSidecar;
  assert.equal(sidecar.format, 'unet3d-segmentation');
  assert.equal(sidecar.labelValues, '0-background');
  assert.deepEqual(sidecar.classes.map((c) => [c.value, c.name]), [[0, 'background'], [1, 'spinal cord']]);
  assert.equal(sidecar.classes[1].color, '#e6194b', 'colours of the training labels');
  assert.equal(sidecar.labelMap, 't2.seg.nii.gz');
  assert.deepEqual(sidecar.prediction?.probabilityFrames, [0, 1], 'frame c = value c');

  // IoU over the unannotated voxels, trained vs the same network untrained.
  const mask = unannotatedMask(volume.dims, slices);
  const trainedIoU = scoreLabels(seg.data, truth.data, mask, [1, 2]).meanIoU!;
  await initBackend('cpu');
  const untrainedNet = createUNet(record.network!, record.settings.seed);
  const untrained = await predictVolume(untrainedNet, volume, record.volumes[0].normalization);
  untrainedNet.dispose();
  const untrainedIoU = scoreLabels(untrained.labels, truth.data, mask, [1, 2]).meanIoU ?? 0;
  // A minute of a small network is far from the quality figures (see crossval); it must clearly beat chance.
  assert.ok(trainedIoU > untrainedIoU + 0.1 && trainedIoU > 3 * untrainedIoU, `dense IoU ${trainedIoU.toFixed(3)} trained vs ${untrainedIoU.toFixed(3)} untrained`);

  // Smaller, blended tiles give nearly the same segmentation as the one whole-volume tile.
  const tiledOut = path.join(dir, 't2.tiled.seg.nii.gz');
  const tiled = await cli('segment', '--run', runDir, '--image', image, '--out', tiledOut, '--tile', '32,32,24', '--overlap', '0.25', '--backend', 'cpu', '--json');
  assert.equal(tiled.code, 0);
  assert.ok(JSON.parse(tiled.out.trim().split('\n').pop()!).tiles >= 8);
  const tiledSeg = readVolumeFile(tiledOut);
  let agree = 0;
  for (let i = 0; i < n; i++) if (tiledSeg.data[i] === file.data[i]) agree++;
  assert.ok(agree / n > 0.98, `tiled and whole agree on ${((100 * agree) / n).toFixed(2)} % of the voxels`);
});

test('an NRRD image gets NAME.seg.nrrd too, with the class names as Slicer segments, on its grid', { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'ctchest', 'CTChest4.nrrd');
  const truth = readLabelsAs(dataPath('semi', 'ctchest', 'Segmentation.seg.nrrd'));
  const volume = readVolumeFile(image);
  const labelsFile = path.join(dir, 'CTChest4.labels.nii.gz');
  writeLabelMapNifti(labelsFile, { dims: volume.dims, affine: volume.affine, data: sparseLabels(truth.data, volume.dims, chooseAnnotatedSlices(truth.data, volume.dims)) });
  const names = Object.keys(truth.names).sort((a, b) => Number(a) - Number(b)).map((v) => truth.names[v]);
  const classes = [{ value: 1, name: 'background', color: '#000000' }, ...names.map((name, i) => ({ value: i + 2, name, color: '#808080' }))];
  fs.writeFileSync(path.join(dir, 'CTChest4.labels.json'), JSON.stringify({ format: 'unet3d-labels', version: 1, volume: 'CTChest4.nrrd', labelMap: 'CTChest4.labels.nii.gz', classes }));
  const runDir = path.join(dir, 'run-ct');
  const trained = await cli('train', '--image', image, '--labels', labelsFile, '--out', runDir, '--levels', '2', '--base-filters', '4', '--patch', '16,16,8', '--iterations', '2', '--val-fraction', '0', '--backend', 'cpu', '--json');
  assert.equal(trained.code, 0);
  // Beside the image by default: a copy of the image in the temporary folder, so nothing is written into the shared data.
  const copy = path.join(dir, 'CTChest4.nrrd');
  fs.copyFileSync(image, copy);
  const segmented = await cli('segment', '--run', runDir, '--image', copy, '--backend', 'cpu', '--json');
  assert.equal(segmented.code, 0);
  const result = JSON.parse(segmented.out.trim().split('\n').pop()!);
  assert.equal(result.out, path.join(dir, 'CTChest4.seg.nii.gz'));
  assert.equal(result.segNrrd, path.join(dir, 'CTChest4.seg.nrrd'));
  assert.equal(result.normalization, 'stored', 'the same bytes as a training image: its stored figures');
  const nifti = readVolumeFile(result.out);
  assert.deepEqual(nifti.dims, volume.dims);
  assert.ok(sameMatrix(nifti.affine, volume.affine));
  const slicer = readVolumeFile(result.segNrrd);
  assert.equal(slicer.format, 'nrrd');
  assert.deepEqual(slicer.dims, volume.dims);
  assert.ok(sameMatrix(slicer.affine, volume.affine), 'the Slicer file is on the image grid (LPS written, RAS read back)');
  assert.deepEqual(Array.from(slicer.data), Array.from(nifti.data), 'the same values in both files');
  // A segment per class, none for background (Slicer's 0 = no segment): value = editor label − 1.
  assert.deepEqual(slicer.segments!.map((seg) => [seg.value, seg.name]), classes.slice(1).map((c) => [c.value - 1, c.name]));
  const sidecar = parseSegmentationSidecar(fs.readFileSync(result.classesFile, 'utf8'));
  assert.equal(sidecar.classes.length, 8);
  // Both files read back as the same editor labels, with the segment names.
  const fromNifti = readLabelsAs(result.out);
  const fromSlicer = readLabelsAs(result.segNrrd);
  assert.equal(fromSlicer.convention, 'mask');
  assert.deepEqual(fromSlicer.data, fromNifti.data);
  assert.equal(fromSlicer.names['2'], classes[1].name);
});

test("a 'valid' network segments the same with any --tile", { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'));
  const volume = readVolumeFile(image);
  const labelsFile = path.join(dir, 'valid.labels.nii.gz');
  writeLabelMapNifti(labelsFile, { dims: volume.dims, affine: volume.affine, data: sparseLabels(truth.data, volume.dims, chooseAnnotatedSlices(truth.data, volume.dims)) });
  const runDir = path.join(dir, 'run-valid');
  const trained = await cli('train', '--image', image, '--labels', labelsFile, '--out', runDir, '--padding', 'valid', '--levels', '2', '--base-filters', '4', '--patch', '12,12,12', '--iterations', '3', '--val-fraction', '0', '--backend', 'cpu', '--json');
  assert.equal(trained.code, 0);
  const outputs = [];
  for (const tile of ['12,12,12', '30,20,16']) {
    const out = path.join(dir, `valid-${tile.replace(/,/g, 'x')}.seg.nii.gz`);
    const probabilities = out.replace('.seg.nii.gz', '.prob.nii.gz');
    const r = await cli('segment', '--run', runDir, '--image', image, '--out', out, '--probabilities', probabilities, '--tile', tile, '--backend', 'cpu', '--json');
    assert.equal(r.code, 0);
    assert.ok(JSON.parse(r.out.trim().split('\n').pop()!).tiles > 8, 'many tiles');
    outputs.push({ labels: readVolumeFile(out).data, probabilities: readVolumeFile(probabilities, { allFrames: true }).allFrames! });
  }
  const n = volume.dims[0] * volume.dims[1] * volume.dims[2];
  for (let i = 0; i < outputs[0].probabilities.length; i++) assert.ok(Math.abs(outputs[0].probabilities[i] - outputs[1].probabilities[i]) <= 1, `probability ${i}`);
  for (let i = 0; i < n; i++) {
    const clear = Math.abs(outputs[0].probabilities[i] - outputs[0].probabilities[n + i]) > 2;
    if (clear) assert.equal(outputs[0].labels[i], outputs[1].labels[i], `voxel ${i}`);
  }
});

test('segment refuses bad input with a clear message', { skip: SKIP_WITHOUT_DATA }, async () => {
  const image = dataPath('semi', 'spinalcord', 't2.nii.gz');
  await assert.rejects(cli('segment', '--image', image), /--run RUN_DIR is required/);
  await assert.rejects(cli('segment', '--run', dir, '--image', image, '--tile', '8,8'), /three positive integers/);
  await assert.rejects(cli('segment', '--run', path.join(dir, 'nothing'), '--image', image, '--backend', 'cpu'), /not a training run/);
  await assert.rejects(cli('segment', '--run', dir, '--image', image, '--out', path.join(dir, 'x.nrrd')), /must end in \.nii\.gz or \.nii/);
  await assert.rejects(cli('segment', '--run', dir, '--image', image, '--backend', 'tpu'), /unknown backend/);
});
