/**
 * The label values of a dense segmentation (src/core/segmentationConvention.ts): written with
 * 0 = background and 0..K−1, the sidecar stating it, the Slicer file without a background
 * segment; read back as editor labels (1 = background) by every reader of a prediction (the
 * editor's overlay, evaluate, training); and a prediction written by 0.1 (1 = background, its
 * sidecar in the labels.json format) still read the same.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { evaluate, type EvaluateJson } from '../../src/cli/commands/evaluate';
import type { Mat4, Vec3 } from '../../src/core/geometry';
import { writeFilesAtomic } from '../../src/core/atomicWrite';
import { detectLabelConvention, readLabelsAs } from '../../src/core/labelConvention';
import { classesUpTo, defaultClasses, makeLabelsFile, serializeLabelsFile, type LabelClass } from '../../src/core/labels';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import { readVolumeFile } from '../../src/core/readVolume';
import {
  conventionOf,
  makeSegmentationSidecar,
  parseSegmentationSidecar,
  segmentationCompanions,
  segmentationSegments,
  serializeSegmentationSidecar,
  toEditorLabels,
  toSegmentationValues,
} from '../../src/core/segmentationConvention';
import { encodeSegmentationFiles } from '../../src/core/segmentationFiles';
import { readLabelMapOnGrid } from '../../src/engine/trainingData';
import { predictionLabelsOf } from '../../src/extension/volumeEditor/labelVolumes';
import { tempDir } from '../helpers/data';
import { captureStdout } from '../helpers/stdout';

const work = tempDir('segmentation-convention');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const DIMS: Vec3 = [4, 3, 2];
const AFFINE: Mat4 = [
  [1.5, 0, 0, -3],
  [0, 1.5, 0, 2],
  [0, 0, 2, 7],
  [0, 0, 0, 1],
];
/** A dense prediction in editor labels: 1 = background, 2 = liver, 3 = spleen. */
const PREDICTED = Uint8Array.from([1, 1, 2, 2, 3, 1, 1, 2, 3, 3, 1, 1, 1, 2, 2, 1, 3, 3, 1, 1, 1, 2, 1, 1]);
const CLASSES: LabelClass[] = [
  { value: 1, name: 'background', color: '#3b6fb6' },
  { value: 2, name: 'liver', color: '#e6194b' },
  { value: 3, name: 'spleen', color: '#3cb44b' },
];

function grid(format: 'nifti1' | 'nrrd' = 'nifti1') {
  return { dims: DIMS, affine: AFFINE, format };
}

/** A prediction as this version writes it (the files as one set), in `folder`; returns the NIfTI's path. */
async function writeCurrent(folder: string, name: string, format: 'nifti1' | 'nrrd' = 'nifti1'): Promise<string> {
  fs.mkdirSync(folder, { recursive: true });
  const out = path.join(folder, `${name}.seg.nii.gz`);
  await writeFilesAtomic(encodeSegmentationFiles({ out, volumeName: `${name}.${format === 'nrrd' ? 'nrrd' : 'nii.gz'}`, volume: grid(format), labels: PREDICTED, classes: CLASSES, prediction: { run: '/runs/a' } }).files);
  return out;
}

/** A prediction exactly as version 0.1 wrote it: values 1..K, a labels.json-format sidecar with no labelValues. */
function writeLegacy(folder: string, name: string, withSidecar = true): string {
  fs.mkdirSync(folder, { recursive: true });
  const out = path.join(folder, `${name}.seg.nii.gz`);
  fs.writeFileSync(out, encodeNiftiGz({ dims: DIMS, affine: AFFINE, data: PREDICTED, description: 'unet3d prediction: 1 background, 2.. classes' }));
  if (withSidecar) {
    const sidecar = { ...makeLabelsFile(`${name}.nii.gz`, CLASSES), labelMap: `${name}.seg.nii.gz`, prediction: { run: '/runs/a', probabilityFrames: [1, 2, 3] } };
    fs.writeFileSync(path.join(folder, `${name}.seg.json`), serializeLabelsFile(sidecar));
  }
  return out;
}

test('values: editor labels 1..K are written 0..K−1 and read back; an unlabeled voxel is refused; the type fits the values', () => {
  const values = toSegmentationValues(PREDICTED);
  assert.ok(values instanceof Uint8Array);
  assert.deepEqual(Array.from(values), Array.from(PREDICTED, (v) => v - 1));
  assert.deepEqual(toEditorLabels(values, 'mask'), PREDICTED);
  assert.deepEqual(toEditorLabels(PREDICTED, 'labels'), PREDICTED, '0.1 files are editor labels already');
  assert.throws(() => toSegmentationValues(Uint8Array.from([1, 0, 2])), /voxel 1 is unlabeled/);
  // 256 classes fit uint8 once written (value 255); 257 need uint16, both ways.
  assert.ok(toSegmentationValues(Uint16Array.from([1, 256])) instanceof Uint8Array);
  const wide = toSegmentationValues(Uint16Array.from([1, 257]));
  assert.ok(wide instanceof Uint16Array);
  assert.deepEqual(Array.from(wide), [0, 256]);
  assert.ok(toEditorLabels(Uint8Array.from([0, 255]), 'mask') instanceof Uint16Array);
});

test('the sidecar names classes by file value, states 0-background, and parses back to editor labels', () => {
  const sidecar = makeSegmentationSidecar('ct.nii.gz', 'ct.seg.nii.gz', CLASSES, { run: 'r' });
  assert.equal(sidecar.format, 'unet3d-segmentation');
  assert.equal(sidecar.version, 1);
  assert.equal(sidecar.labelValues, '0-background');
  assert.deepEqual(sidecar.classes.map((c) => [c.value, c.name]), [[0, 'background'], [1, 'liver'], [2, 'spleen']]);
  const parsed = parseSegmentationSidecar(serializeSegmentationSidecar(sidecar));
  assert.equal(parsed.labelValues, '0-background');
  assert.equal(parsed.legacy, false);
  assert.deepEqual(parsed.classes, CLASSES);

  // 0.1's sidecar: the labels.json format, no labelValues.
  const legacy = parseSegmentationSidecar(serializeLabelsFile({ ...makeLabelsFile('ct.nii.gz', CLASSES), labelMap: 'ct.seg.nii.gz' }));
  assert.equal(legacy.labelValues, '1-background');
  assert.equal(legacy.legacy, true);
  assert.deepEqual(legacy.classes, CLASSES);

  const bad: [string, RegExp][] = [
    ['[', /not JSON/],
    ['{"format":"other","classes":[]}', /"format" is "other"/],
    ['{"format":"unet3d-segmentation","version":2,"labelValues":"0-background","classes":[]}', /version/],
    ['{"format":"unet3d-segmentation","version":1,"labelValues":"2-background","classes":[]}', /"labelValues" is "2-background"/],
    ['{"format":"unet3d-segmentation","version":1,"labelValues":"0-background","classes":[{"value":1,"name":"a","color":"#000000"}]}', /values must run 1\.\.1.*file value \+ 1/],
    ['{"format":"unet3d-labels","version":1,"labelValues":"0-background","classes":[]}', /"format" is "unet3d-labels"/],
  ];
  for (const [text, reason] of bad) assert.throws(() => parseSegmentationSidecar(text), reason, text);
});

test('the convention of a file: its sidecar decides, else its content', () => {
  const current = serializeSegmentationSidecar(makeSegmentationSidecar('a.nii.gz', 'a.seg.nii.gz', CLASSES));
  const legacy = serializeLabelsFile(makeLabelsFile('a.nii.gz', CLASSES));
  const cases: [string, string | undefined, number[], 'labels' | 'mask', RegExp][] = [
    ['this version\'s sidecar', current, [1, 2], 'mask', /a\.seg\.json says 0 = background/],
    ['this version\'s sidecar, no 0 voxel', current, [1, 1], 'mask', /says 0 = background/],
    ['a 0.1 prediction\'s sidecar', legacy, [1, 2], 'labels', /labels\.json format \(as 0\.1 wrote predictions\): 1 = background/],
    ['an unreadable sidecar (an editor label file, as before)', '{}', [0, 1], 'labels', /marks an editor label file/],
    ['no sidecar, 0 voxels', undefined, [0, 1, 2], 'mask', /0 = background/],
    ['no sidecar, no 0 voxel (0.1)', undefined, [1, 2, 3], 'labels', /1\.\.K/],
  ];
  for (const [what, text, data, convention, reason] of cases) {
    const chosen = conventionOf('a.seg.json', text, data);
    assert.equal(chosen.convention, convention, what);
    assert.match(chosen.reason, reason, what);
  }
});

test('Slicer segments: one per class but background, each with its file value', () => {
  const segments = segmentationSegments(CLASSES);
  assert.deepEqual(segments.map((s) => [s.value, s.name, s.id, s.layer]), [[1, 'liver', 'Segment_1', 0], [2, 'spleen', 'Segment_2', 0]]);
  assert.deepEqual(segments[0].color, [0xe6 / 255, 0x19 / 255, 0x4b / 255]);
  assert.deepEqual(segmentationCompanions('/d/ct.seg.nii.gz'), { classesFile: '/d/ct.seg.json', segNrrd: '/d/ct.seg.nrrd' });
  assert.deepEqual(segmentationCompanions('/d/out.nii'), { classesFile: '/d/out.json', segNrrd: '/d/out.seg.nrrd' });
});

test('a written prediction holds 0 = background on disk; its sidecar goes first in the set; the NRRD source also gets a Slicer file', async () => {
  const set = encodeSegmentationFiles({ out: '/d/ct.seg.nii.gz', volumeName: 'ct.nrrd', volume: grid('nrrd'), labels: PREDICTED, classes: CLASSES });
  assert.deepEqual(set.files.map((f) => f.target), ['/d/ct.seg.json', '/d/ct.seg.nii.gz', '/d/ct.seg.nrrd'], 'a reader woken by the NIfTI finds its sidecar');
  assert.equal(set.segNrrd, '/d/ct.seg.nrrd');
  assert.equal(encodeSegmentationFiles({ out: '/d/ct.seg.nii.gz', volumeName: 'ct.nii.gz', volume: grid(), labels: PREDICTED, classes: CLASSES }).segNrrd, undefined);

  const out = await writeCurrent(path.join(work, 'nrrd'), 'ct', 'nrrd');
  const nifti = readVolumeFile(out);
  assert.deepEqual(Array.from(nifti.data), Array.from(PREDICTED, (v) => v - 1));
  const slicer = readVolumeFile(path.join(work, 'nrrd', 'ct.seg.nrrd'));
  assert.deepEqual(Array.from(slicer.data), Array.from(nifti.data));
  assert.deepEqual(slicer.segments!.map((s) => [s.value, s.name]), [[1, 'liver'], [2, 'spleen']]);
  const sidecar = JSON.parse(fs.readFileSync(path.join(work, 'nrrd', 'ct.seg.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(sidecar.labelValues, '0-background');
  assert.equal(sidecar.labelMap, 'ct.seg.nii.gz');
  assert.equal(sidecar.volume, 'ct.nrrd');
  assert.deepEqual(sidecar.prediction, { run: '/runs/a' });
});

test('every reader of a prediction sees the same editor labels in this version\'s files and in 0.1\'s, with or without the sidecar', async () => {
  const folder = path.join(work, 'read');
  const files = {
    current: await writeCurrent(folder, 'now'),
    legacy: writeLegacy(folder, 'old'),
    'legacy without sidecar': writeLegacy(folder, 'bare', false),
  };
  const slicer = (await writeCurrent(path.join(folder, 'slicer'), 'ct', 'nrrd')).replace(/\.nii\.gz$/, '.nrrd');
  const bareCurrent = path.join(folder, 'copied.seg.nii.gz');
  fs.copyFileSync(files.current, bareCurrent);
  const all: Record<string, string> = { ...files, 'current without sidecar': bareCurrent, 'current Slicer file': slicer };
  for (const [what, file] of Object.entries(all)) {
    // evaluate, crossval and the experiments (readLabelsAs).
    const read = readLabelsAs(file);
    assert.deepEqual(read.data, PREDICTED, `${what}: readLabelsAs`);
    if (!/without/.test(what)) assert.deepEqual(read.names, { '1': 'background', '2': 'liver', '3': 'spleen' }, `${what}: names`);
    // The editor's overlay (the host reads the file and its sidecar).
    const sidecarName = path.basename(file).replace(/\.(nii\.gz|nrrd)$/, '.json');
    const sidecarFile = path.join(path.dirname(file), sidecarName);
    const overlay = predictionLabelsOf(readVolumeFile(file), path.basename(file), sidecarName, fs.existsSync(sidecarFile) ? fs.readFileSync(sidecarFile, 'utf8') : undefined);
    assert.deepEqual(overlay.labels, PREDICTED, `${what}: the overlay`);
    assert.equal(overlay.maxValue, 3, `${what}: the overlay's highest class`);
    // Training on a prediction (a dense label file) learns the classes it shows. A label file
    // with no sidecar trains as sparse labels (0 = unlabeled): this version's prediction needs its sidecar there.
    if (what !== 'current without sidecar') assert.deepEqual(readLabelMapOnGrid(file, { ...readVolumeFile(file), data: new Uint8Array(PREDICTED.length) }, 'image.nii.gz').labels, PREDICTED, `${what}: training`);
  }
});

test('unet3d evaluate scores a prediction of this version as one of 0.1, names from its sidecar', async () => {
  const folder = path.join(work, 'evaluate');
  const current = await writeCurrent(folder, 'now');
  const legacy = writeLegacy(folder, 'old');
  // Sparse truth: 0 = unlabeled.
  const truth = path.join(folder, 'case.labels.nii.gz');
  const truthValues = Uint8Array.from(PREDICTED, (v, i) => (i % 3 === 0 ? 0 : i % 5 === 0 ? 1 : v));
  fs.writeFileSync(truth, encodeNiftiGz({ dims: DIMS, affine: AFFINE, data: truthValues }));
  const run = async (pred: string) => JSON.parse((await captureStdout(() => evaluate.run(['--pred', pred, '--truth', truth, '--json']))).out) as EvaluateJson;
  const now = await run(current);
  const old = await run(legacy);
  assert.equal(now.predConvention, 'mask');
  assert.equal(old.predConvention, 'labels');
  assert.deepEqual(now.confusion, old.confusion);
  assert.deepEqual(now.classes, old.classes);
  assert.equal(now.classes['2'].name, 'liver');
  assert.equal(now.classes['1'].iou !== null, true);
  const text = (await captureStdout(() => evaluate.run(['--pred', current, '--truth', truth]))).out;
  assert.match(text, /now\.seg\.json says 0 = background/);
});

test('the default classes write background as 0', () => {
  const sidecar = makeSegmentationSidecar('a.nii.gz', 'a.seg.nii.gz', classesUpTo(defaultClasses(), 3));
  assert.deepEqual(sidecar.classes.map((c) => [c.value, c.name]), [[0, 'background'], [1, 'foreground'], [2, 'class 3']]);
});

test('the sparse label files stay in the editor\'s convention, their Slicer export included', () => {
  for (const name of ['ct.labels.nii.gz', 'ct.labels.seg.nrrd']) {
    assert.equal(detectLabelConvention(path.join(work, name), [0, 1, 2]).convention, 'labels', name);
  }
});

