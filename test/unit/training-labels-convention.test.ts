/**
 * How `train` reads a label file when no convention is asked for (trainingConvention): values
 * alone cannot tell sparse labels from a mask, so the name, the sidecar and a Slicer file's
 * segments decide; and what a Slicer segmentation trains as.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { makeSegmentationSidecar, serializeSegmentationSidecar } from '../../src/core/segmentationConvention';
import type { SegmentInfo } from '../../src/core/volume';
import { loadTrainingData, trainingConvention } from '../../src/engine/trainingData';
import { trainSettings } from '../../src/protocol/settings';
import { dataPath, SKIP_WITHOUT_DATA, tempDir } from '../helpers/data';

const work = tempDir('training-labels-convention');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const segment = (value: number, name: string): SegmentInfo => ({ value, name, color: [1, 0, 0], layer: 0, id: `Segment_${value}` });

test('no convention asked: editor files are labels, a sidecar says which, a Slicer segmentation is a mask unless its segment 1 is background', () => {
  const none = {};
  assert.equal(trainingConvention(path.join(work, 'ct.labels.nii.gz'), none), 'labels');
  assert.equal(trainingConvention(path.join(work, 'ct.labels.seg.nrrd'), { segments: [segment(1, 'ribs')] }), 'labels');
  assert.equal(trainingConvention(path.join(work, 'ct_seg-manual.nii.gz'), none), 'labels');
  // What Segment writes: NAME.seg.nii.gz with NAME.seg.json saying 0 = background.
  fs.writeFileSync(path.join(work, 'ct.seg.json'), serializeSegmentationSidecar(makeSegmentationSidecar('ct.nii.gz', 'ct.seg.nii.gz', [{ value: 1, name: 'background', color: '#000000' }, { value: 2, name: 'spleen', color: '#ff0000' }])));
  assert.equal(trainingConvention(path.join(work, 'ct.seg.nii.gz'), none), 'mask');
  // 3D Slicer: 0 = no segment.
  assert.equal(trainingConvention(path.join(work, 'Segmentation.seg.nrrd'), { segments: [segment(1, 'ribs'), segment(2, 'lung')] }), 'mask');
  assert.equal(trainingConvention(path.join(work, 'painted.seg.nrrd'), { segments: [segment(1, 'Background'), segment(2, 'tumour')] }), 'labels');
});

test("a 3D Slicer segmentation trains as a mask: 0 is the background, its segments are the classes by name, every voxel labeled, no annotation channels", { skip: SKIP_WITHOUT_DATA }, () => {
  const settings = trainSettings({ volumes: [{ image: dataPath('semi', 'ctchest', 'CTChest4.nrrd'), labels: dataPath('semi', 'ctchest', 'Segmentation.seg.nrrd') }], outDir: path.join(work, 'run') });
  const data = loadTrainingData(settings);
  assert.deepEqual(
    data.classInfo.map((c) => c.name),
    ['background', 'ribs', 'cervical vertebral column', 'thoracic vertebral column', 'lumbar vertebral column', 'right lung', 'left lung', 'tissue'],
  );
  assert.equal(data.annotationChannels, false);
  assert.equal(data.volumes[0].record.labelsConvention, 'mask');
  const volume = data.volumes[0];
  let unlabeled = 0;
  for (let i = 0; i < volume.allLabels.length; i++) if (volume.allLabels[i] === 0) unlabeled++;
  assert.equal(unlabeled, 0);
  // Asked for as labels, the first segment is the background: what an explicit convention gives.
  const asLabels = loadTrainingData(trainSettings({ ...settings, volumes: [{ ...settings.volumes[0], labelsConvention: 'labels' }] }));
  assert.equal(asLabels.classInfo[0].name, 'ribs');
});
