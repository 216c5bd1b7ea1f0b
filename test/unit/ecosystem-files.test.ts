/**
 * Files other tools read right: a label map and a prediction written on a real image's grid,
 * opened by nibabel (Debian's python3-nibabel) and by ITK's reader (@itk-wasm/image-io): the same
 * affine as the image, the image's qform_code and sform_code, intent LABEL, the values written;
 * a segmentation holds 0 = background and 0..K−1, as those tools expect.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { writeFilesAtomic } from '../../src/core/atomicWrite';
import { classesUpTo, defaultClasses } from '../../src/core/labels';
import { readLabelsAs } from '../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../src/core/labelMapIO';
import { readVolumeFile } from '../../src/core/readVolume';
import { chooseAnnotatedSlices, sparseLabels } from '../../src/core/sparseLabels';
import { encodeLabelFiles } from '../../src/core/volumeFiles';
import type { SegmentationSidecar } from '../../src/core/segmentationConvention';
import { encodeSegmentationFiles } from '../../src/core/segmentationFiles';
import { segmentVolumeFile } from '../../src/engine/segmentFile';
import { runTraining } from '../../src/engine/train';
import { dataPath, SKIP_WITHOUT_DATA, tempDir } from '../helpers/data';
import { ensureDebianPackages } from '../helpers/debianPackages';
import { tinyTrainSettings } from '../helpers/engineData';

const work = tempDir('ecosystem-files');
after(() => fs.rmSync(work, { recursive: true, force: true }));

interface NibabelView {
  affine: number[][];
  qform_code: number;
  sform_code: number;
  intent: string;
  dtype: string;
  values: number[];
  /** Voxels of value 0. */
  zeros: number;
}

/** What nibabel reads from each file: affine, codes, intent, dtype and the distinct values. */
function nibabel(files: string[]): NibabelView[] {
  const script = `
import json, sys
import numpy as np
import nibabel as nib
out = []
for f in sys.argv[1:]:
    img = nib.load(f)
    h = img.header
    data = np.asanyarray(img.dataobj)
    out.append({
        'affine': img.affine.tolist(),
        'qform_code': int(h['qform_code']),
        'sform_code': int(h['sform_code']),
        'intent': h.get_intent()[0],
        'dtype': str(data.dtype),
        'values': sorted(int(v) for v in np.unique(data)) if data.dtype.kind in 'iu' else [],
        'zeros': int(np.count_nonzero(data == 0)),
    })
print(json.dumps(out))
`;
  const result = spawnSync('/usr/bin/python3', ['-c', script, ...files], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as NibabelView[];
}

function assertClose(a: number[][], b: number[][], what: string, tolerance = 1e-4): void {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(a[r][c] - b[r][c]) <= tolerance, `${what}: [${r}][${c}] ${a[r][c]} ≠ ${b[r][c]}`);
}

const skipNibabel = SKIP_WITHOUT_DATA || ensureDebianPackages(['python3-nibabel']) || false;

test('nibabel reads the label files and a prediction on the image\'s grid with its affine, its codes, intent LABEL and the values written', { skip: skipNibabel }, async () => {
  // The spinal-cord T2: qform_code and sform_code differ, as in the real file.
  const imageFile = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const image = readVolumeFile(imageFile);
  assert.ok(image.xformCodes, 'the reader reports the codes');
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'), 'mask');
  const labels = sparseLabels(truth.data, truth.dims, chooseAnnotatedSlices(truth.data, truth.dims));
  const folder = path.join(work, 'cord');
  fs.mkdirSync(folder);
  const copy = path.join(folder, 't2.nii.gz');
  fs.copyFileSync(imageFile, copy);
  const files = encodeLabelFiles('t2.nii.gz', image, labels, classesUpTo(defaultClasses(), 2));
  await writeFilesAtomic(files.map((f) => ({ target: path.join(folder, f.name), bytes: f.bytes })));
  const labelMap = path.join(folder, 't2.labels.nii.gz');

  // A prediction, written the way Segment writes it, by a (tiny) run trained on those labels.
  const run = path.join(work, 'run');
  await runTraining(tinyTrainSettings({ image: copy, labels: labelMap }, run, { iterations: 4 }));
  const segmented = await segmentVolumeFile({ runDir: run, image: copy });

  const [source, map, prediction] = nibabel([copy, labelMap, segmented.out]);
  assert.ok(source.qform_code > 0 && source.sform_code > 0);
  for (const [view, name] of [[map, 'label map'], [prediction, 'prediction']] as const) {
    assertClose(view.affine, source.affine, `${name} affine`);
    assert.equal(view.qform_code, source.qform_code, `${name} qform_code`);
    assert.equal(view.sform_code, source.sform_code, `${name} sform_code`);
    assert.equal(view.intent, 'label', `${name} intent`);
    assert.equal(view.dtype, 'uint8', `${name} dtype`);
  }
  assert.deepEqual(map.values, [0, 1, 2], 'the label map: unlabeled, background, cord');
  // The prediction as the ecosystem reads it: 0 = background, values 0..K−1, named in its sidecar.
  assert.deepEqual(segmented.classes, [{ value: 0, name: 'background' }, { value: 1, name: 'foreground' }]);
  assert.ok(prediction.values.every((v) => v === 0 || v === 1), `prediction values ${prediction.values}`);
  assert.equal(prediction.zeros, segmented.voxelsPerClass[0], 'the voxels nibabel reads as 0 are those predicted background');
  const sidecar = JSON.parse(fs.readFileSync(segmented.classesFile, 'utf8')) as SegmentationSidecar;
  assert.equal(sidecar.labelValues, '0-background');
  assert.deepEqual(sidecar.classes[0], { value: 0, name: 'background', color: sidecar.classes[0].color });
  // A segmentation of the manual mask (editor labels 1, 2 → written 0, 1) reads as that very mask.
  const maskFile = path.join(folder, 't2.mask.seg.nii.gz');
  await writeFilesAtomic(encodeSegmentationFiles({ out: maskFile, volumeName: 't2.nii.gz', volume: image, labels: truth.data, classes: classesUpTo(defaultClasses(), 2) }).files);
  const [mask] = nibabel([maskFile]);
  assert.deepEqual(mask.values, [0, 1]);
  assert.equal(mask.zeros, truth.volume.data.filter((v) => v === 0).length, 'background where the manual mask has 0');
  // Our own reader agrees with nibabel on the source.
  assertClose(image.affine, source.affine, 'our reader');
});

test('ITK reads the written label map at the image\'s origin, spacing and directions', { skip: SKIP_WITHOUT_DATA }, async () => {
  // ESM-only with a top-level await: imported at run time, past the bundler (a variable specifier).
  const specifier: string = '@itk-wasm/image-io';
  const { niftiReadImageNode } = (await import(specifier)) as typeof import('@itk-wasm/image-io');
  const imageFile = dataPath('semi', 'spinalcord', 't2.nii.gz');
  const image = readVolumeFile(imageFile);
  const out = path.join(work, 't2-itk.labels.nii.gz');
  writeLabelMapNifti(out, { dims: image.dims, affine: image.affine, data: new Uint8Array(image.dims[0] * image.dims[1] * image.dims[2]).fill(1) });
  const source = (await niftiReadImageNode(imageFile)).image;
  const written = (await niftiReadImageNode(out)).image;
  assert.deepEqual(written.size, source.size);
  for (let a = 0; a < 3; a++) {
    assert.ok(Math.abs(written.spacing[a] - source.spacing[a]) < 1e-4, `spacing ${a}`);
    assert.ok(Math.abs(written.origin[a] - source.origin[a]) < 1e-3, `origin ${a}`);
  }
  const d1 = Array.from(written.direction as ArrayLike<number>);
  const d0 = Array.from(source.direction as ArrayLike<number>);
  d0.forEach((v, i) => assert.ok(Math.abs(v - d1[i]) < 1e-4, `direction ${i}`));
  assert.equal(written.imageType.componentType, 'uint8');

  // A segmentation of the manual mask: ITK reads the mask's own values, 0 = background, 1 = cord.
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz'), 'mask');
  const segmentation = path.join(work, 't2-itk.seg.nii.gz');
  await writeFilesAtomic(encodeSegmentationFiles({ out: segmentation, volumeName: 't2.nii.gz', volume: image, labels: truth.data, classes: classesUpTo(defaultClasses(), 2) }).files);
  const read = (await niftiReadImageNode(segmentation)).image;
  assert.equal(read.imageType.componentType, 'uint8');
  assert.deepEqual(Array.from(read.data as Uint8Array), Array.from(truth.volume.data), 'the manual mask, value for value');
});
