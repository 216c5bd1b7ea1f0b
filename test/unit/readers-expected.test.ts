/**
 * Every file in ../shared/data/formats against the reader ground truth in expected.json
 * (nibabel 5.0 for NIfTI, a reference NRRD parser for NRRD).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { describe, test } from 'node:test';
import { axisCodes } from '../../src/core/geometry';
import { readVolumeFile } from '../../src/core/readVolume';
import { VolumeError } from '../../src/core/errors';
import { volumeStats } from '../../src/core/volume';
import { HAVE_DATA, SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

interface Expected {
  format: 'nifti1' | 'nifti2' | 'nrrd';
  dim?: number[];
  sizes?: number[];
  datatype?: number;
  dtype?: string;
  affine_ras?: number[][];
  axcodes?: string;
  min?: number;
  max?: number;
  sum?: number;
  complex?: boolean;
}

const NIFTI_CODES: Record<number, string> = { 2: 'uint8', 4: 'int16', 8: 'int32', 16: 'float32', 64: 'float64', 256: 'int8', 512: 'uint16', 768: 'uint32' };
const expected: Record<string, Expected> = HAVE_DATA
  ? JSON.parse(fs.readFileSync(dataPath('formats', 'expected.json'), 'utf8'))
  : {};

function assertClose(actual: number, wanted: number, relative: number, what: string): void {
  const scale = Math.max(1, Math.abs(wanted));
  assert.ok(Math.abs(actual - wanted) <= relative * scale, `${what}: ${actual} is not within ${relative} of ${wanted}`);
}

describe('readers against expected.json', { skip: SKIP_WITHOUT_DATA }, () => {
  for (const [name, e] of Object.entries(expected)) {
    test(name, () => {
      const file = dataPath('formats', name);
      if (e.complex) {
        assert.throws(
          () => readVolumeFile(file),
          (error: unknown) =>
            error instanceof VolumeError &&
            error.code === 'unsupported-datatype' &&
            /^unsupported datatype 32 \(COMPLEX64\)/.test(error.message),
        );
        return;
      }
      const volume = readVolumeFile(file, { allFrames: true });
      assert.equal(volume.format, e.format);
      const sizes = e.dim ?? e.sizes!;
      if (e.format === 'nrrd') {
        // The spatial axes; a leading list axis (layers) or 2D image are reported apart.
        const spatial = sizes.length === 4 ? sizes.slice(1) : sizes.length === 2 ? [...sizes, 1] : sizes;
        assert.deepEqual(volume.dims, spatial);
        if (sizes.length === 4) assert.equal(volume.layers?.length, sizes[0]);
        assert.equal(volume.datatype, e.dtype);
      } else {
        assert.deepEqual(volume.dims, sizes.slice(0, 3));
        assert.equal(volume.frames, sizes.slice(3).reduce((a, b) => a * b, 1));
        assert.equal(volume.datatype, NIFTI_CODES[e.datatype!]);
      }
      if (e.affine_ras) {
        for (let r = 0; r < 4; r++) {
          for (let c = 0; c < 4; c++) {
            assert.ok(
              Math.abs(volume.affine[r][c] - e.affine_ras[r][c]) <= 1e-4,
              `affine[${r}][${c}] = ${volume.affine[r][c]}, expected ${e.affine_ras[r][c]}`,
            );
          }
        }
      }
      if (e.axcodes) assert.equal(axisCodes(volume.affine), e.axcodes);
      // Statistics over every stored value (all frames, all layers), as the ground truth has them.
      const stats = volumeStats(volume, volume.allFrames ?? volume.data);
      assertClose(stats.min, e.min!, 1e-6, 'min');
      assertClose(stats.max, e.max!, 1e-6, 'max');
      assertClose(stats.sum, e.sum!, 1e-6, 'sum');
    });
  }
});

test('the NIfTI and NRRD copies of niivue_FLAIR hold the same voxels and RAS geometry', { skip: SKIP_WITHOUT_DATA }, () => {
  const nifti = readVolumeFile(dataPath('formats', 'niivue_FLAIR.nii.gz'));
  const nrrd = readVolumeFile(dataPath('formats', 'niivue_FLAIR.nrrd'));
  assert.deepEqual(nrrd.dims, nifti.dims);
  assert.equal(nrrd.datatype, nifti.datatype);
  assert.ok(Buffer.from(nrrd.data.buffer, nrrd.data.byteOffset, nrrd.data.byteLength).equals(
    Buffer.from(nifti.data.buffer, nifti.data.byteOffset, nifti.data.byteLength),
  ), 'voxels differ');
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      assert.ok(Math.abs(nrrd.affine[r][c] - nifti.affine[r][c]) < 1e-4, `affine[${r}][${c}]: ${nrrd.affine[r][c]} vs ${nifti.affine[r][c]}`);
    }
  }
  for (let a = 0; a < 3; a++) assert.ok(Math.abs(nrrd.spacing[a] - nifti.spacing[a]) < 1e-4);
});

test('3D Slicer segment names, colours and label values come from the Segment fields', { skip: SKIP_WITHOUT_DATA }, () => {
  const seg = readVolumeFile(dataPath('semi', 'ctchest', 'Segmentation.seg.nrrd'));
  assert.equal(seg.segments?.length, 7);
  assert.deepEqual(seg.segments!.map((s) => s.value), [1, 2, 3, 4, 5, 6, 7]);
  assert.equal(seg.segments![0].name, 'ribs');
  assert.equal(seg.segments![4].name, 'right lung');
  assert.deepEqual(seg.segments![0].color, [0.992157, 0.909804, 0.619608]);
  const layered = readVolumeFile(dataPath('formats', 'SegmentationOverlapping.seg.nrrd'));
  assert.equal(layered.layers?.length, 2);
  assert.ok(layered.segments!.some((s) => s.layer === 1), 'a segment lies in layer 1');
  assert.equal(layered.data, layered.layers![0]);
});
