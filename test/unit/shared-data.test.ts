/** Every volume and label file under ../shared/data/semi and full reads, and each label map lies on its image's grid. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readVolumeFile } from '../../src/core/readVolume';
import { volumeStats } from '../../src/core/volume';
import { gridMismatch } from '../../src/core/volumeFiles';
import { DATA_DIR, DATA_REQUIRED, HAVE_DATA, SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

const PAIRS: { set: string; image: string; labels: string; maxLabel: number }[] = [
  { set: 'semi/ctchest', image: 'CTChest4.nrrd', labels: 'Segmentation.seg.nrrd', maxLabel: 7 },
  { set: 'semi/spleen', image: 'sub-spleen2_ct.nii.gz', labels: 'sub-spleen2_ct_seg-manual.nii.gz', maxLabel: 1 },
  { set: 'semi/spinalcord', image: 't2.nii.gz', labels: 't2_seg-manual.nii.gz', maxLabel: 1 },
  ...['07', '19', '26'].map((p) => ({ set: 'full/msles', image: `patient${p}_flair.nii.gz`, labels: `patient${p}_lesion.nii.gz`, maxLabel: 1 })),
];

describe('shared real data', { skip: SKIP_WITHOUT_DATA }, () => {
  for (const pair of PAIRS) {
    test(`${pair.set}: ${pair.image} and ${pair.labels} read, on one grid`, () => {
      const image = readVolumeFile(dataPath(pair.set, pair.image));
      const labels = readVolumeFile(dataPath(pair.set, pair.labels));
      assert.equal(gridMismatch(image, labels, pair.labels, pair.image), undefined);
      const stats = volumeStats(labels);
      assert.equal(stats.min, 0);
      assert.equal(stats.max, pair.maxLabel);
      const imageStats = volumeStats(image);
      assert.ok(imageStats.max > imageStats.min, 'the image is not constant');
    });
  }
});

test('under CI the shared data is there (tests that need it fail rather than skip)', () => {
  assert.ok(HAVE_DATA || !DATA_REQUIRED, `CI=true and no shared data at ${DATA_DIR}`);
  assert.equal(SKIP_WITHOUT_DATA === false, HAVE_DATA || DATA_REQUIRED);
});
