/** The editor's display planes: anatomical orientation from the affine, on real files. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { voxelToWorld, type Mat4, type Vec3 } from '../../src/core/geometry';
import {
  PLANES,
  pixelOfSlicePosition,
  pixelOfVoxel,
  planeLayout,
  planeVoxelIndices,
  slicePositionOfPixel,
  voxelOfPixel,
  type LeftRightConvention,
  type PlaneName,
} from '../../src/core/planes';
import { readVolumeFile } from '../../src/core/readVolume';
import { extractSlice } from '../../src/core/slices';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

/** World direction (unit RAS vector) from one voxel centre to the next along a screen axis. */
function screenDirection(affine: Mat4, axis: number, flip: boolean): Vec3 {
  const step = flip ? -1 : 1;
  return [affine[0][axis] * step, affine[1][axis] * step, affine[2][axis] * step];
}

/** Which world pole (R/L, A/P, S/I) a direction points to most. */
function pole(d: Vec3): string {
  const w = [0, 1, 2].reduce((best, a) => (Math.abs(d[a]) > Math.abs(d[best]) ? a : best), 0);
  return d[w] > 0 ? 'RAS'[w] : 'LPI'[w];
}

const EXPECTED: Record<LeftRightConvention, Record<PlaneName, { right: string; down: string }>> = {
  radiological: { axial: { right: 'L', down: 'P' }, coronal: { right: 'L', down: 'I' }, sagittal: { right: 'P', down: 'I' } },
  neurological: { axial: { right: 'R', down: 'P' }, coronal: { right: 'R', down: 'I' }, sagittal: { right: 'P', down: 'I' } },
};

for (const file of ['semi/spinalcord/t2.nii.gz', 'formats/niivue_AIL.nii.gz', 'formats/niivue_nifti_space_LPS.nii.gz', 'formats/niivue_labels256.nii.gz', 'semi/ctchest/CTChest4.nrrd']) {
  test(`planes of ${file} read in anatomical orientation, both conventions`, { skip: SKIP_WITHOUT_DATA }, () => {
    const volume = readVolumeFile(dataPath(...file.split('/')));
    for (const convention of ['radiological', 'neurological'] as const) {
      for (const plane of PLANES) {
        const layout = planeLayout(plane, volume.dims, volume.spacing, volume.affine, convention);
        const expected = EXPECTED[convention][plane];
        // Moving right on screen goes toward the expected pole, moving down likewise.
        assert.equal(pole(screenDirection(volume.affine, layout.colAxis, layout.colFlip)), expected.right, `${convention} ${plane} columns`);
        assert.equal(pole(screenDirection(volume.affine, layout.rowAxis, layout.rowFlip)), expected.down, `${convention} ${plane} rows`);
        assert.equal(layout.edges.right, expected.right);
        assert.equal(layout.edges.bottom, expected.down);
        assert.deepEqual(new Set([layout.sliceAxis, layout.colAxis, layout.rowAxis]), new Set([0, 1, 2]));
        assert.equal(layout.width, volume.dims[layout.colAxis]);
        assert.equal(layout.height, volume.dims[layout.rowAxis]);
        assert.equal(layout.colSpacing, volume.spacing[layout.colAxis]);
      }
    }
  });
}

test('the PSR spinal cord: axial is perpendicular to the third voxel axis (R), sagittal to the first (P)', { skip: SKIP_WITHOUT_DATA }, () => {
  const volume = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz'));
  // Voxel axes: x → P, y → S, z → R.
  assert.equal(planeLayout('axial', volume.dims, volume.spacing, volume.affine, 'radiological').sliceAxis, 1);
  assert.equal(planeLayout('coronal', volume.dims, volume.spacing, volume.affine, 'radiological').sliceAxis, 0);
  assert.equal(planeLayout('sagittal', volume.dims, volume.spacing, volume.affine, 'radiological').sliceAxis, 2);
});

test('the same image stored LPS and RAS looks the same in every plane', { skip: SKIP_WITHOUT_DATA }, () => {
  const lps = readVolumeFile(dataPath('formats', 'niivue_nifti_space_LPS.nii.gz'));
  const ras = readVolumeFile(dataPath('formats', 'niivue_nifti_space_RAS.nii.gz'));
  for (const plane of PLANES) {
    const a = planeLayout(plane, lps.dims, lps.spacing, lps.affine, 'radiological');
    const b = planeLayout(plane, ras.dims, ras.spacing, ras.affine, 'radiological');
    assert.equal(a.width, b.width);
    assert.equal(a.height, b.height);
    // The middle slice of one is some slice of the other: find it by world position.
    const sliceA = Math.floor(a.sliceCount / 2);
    const centre = voxelOfPixel(a, sliceA, 0, 0);
    const world = voxelToWorld(lps.affine, centre);
    let sliceB = -1;
    for (let s = 0; s < b.sliceCount; s++) {
      const w = voxelToWorld(ras.affine, voxelOfPixel(b, s, 0, 0));
      if (Math.hypot(w[0] - world[0], w[1] - world[1], w[2] - world[2]) < 1e-3) sliceB = s;
    }
    assert.ok(sliceB >= 0, `${plane}: no RAS slice at the LPS slice's corner`);
    const ia = planeVoxelIndices(a, lps.dims, sliceA);
    const ib = planeVoxelIndices(b, ras.dims, sliceB);
    for (let p = 0; p < ia.length; p++) assert.equal(lps.data[ia[p]], ras.data[ib[p]], `${plane} pixel ${p}`);
  }
});

test('pixel ↔ voxel ↔ slice-frame position agree with extractSlice', () => {
  const dims: Vec3 = [5, 4, 3];
  const data = new Uint16Array(60).map((_, i) => i);
  const affines: Mat4[] = [
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]],
    [[0, 0, 1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], // PSR
    [[-1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], // LIA
  ];
  for (const affine of affines) {
    for (const plane of PLANES) {
      const layout = planeLayout(plane, dims, [1, 2, 3], affine, 'radiological');
      for (let slice = 0; slice < layout.sliceCount; slice++) {
        const indices = planeVoxelIndices(layout, dims, slice);
        const frame = extractSlice(data, dims, layout.sliceAxis, slice);
        for (let row = 0; row < layout.height; row++) {
          for (let col = 0; col < layout.width; col++) {
            const ijk = voxelOfPixel(layout, slice, col, row);
            assert.equal(indices[col + row * layout.width], ijk[0] + 5 * (ijk[1] + 4 * ijk[2]));
            assert.deepEqual(pixelOfVoxel(layout, ijk), [col, row]);
            const position = slicePositionOfPixel(layout, col, row);
            assert.equal(frame.data[position], data[indices[col + row * layout.width]]);
            assert.deepEqual(pixelOfSlicePosition(layout, position % frame.width, Math.floor(position / frame.width)), [col, row]);
          }
        }
      }
    }
  }
});
