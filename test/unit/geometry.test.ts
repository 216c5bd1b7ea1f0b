/** Voxel ↔ world geometry: inverses, quaternions, orientation codes, slices. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  affineToQuaternion,
  axisCodes,
  invertAffine,
  multiply4,
  qformAffine,
  voxelAxesOfWorld,
  voxelToWorld,
  worldToVoxel,
  type Mat4,
} from '../../src/core/geometry';
import { extractSlice, writeSlice } from '../../src/core/slices';
import { readVolumeFile } from '../../src/core/readVolume';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

const OBLIQUE: Mat4 = [
  [-0.99, 0.05, -0.1, 64.9],
  [-0.016, -0.95, -0.31, 110.4],
  [-0.11, -0.3, 0.95, -27.9],
  [0, 0, 0, 1],
];

test('world ↔ voxel are inverses, and the inverse times the affine is the identity', () => {
  const inv = invertAffine(OBLIQUE);
  const product = multiply4(inv, OBLIQUE);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(product[r][c] - (r === c ? 1 : 0)) < 1e-12);
  const ijk = [10.5, -3, 27];
  const back = worldToVoxel(OBLIQUE, voxelToWorld(OBLIQUE, ijk));
  back.forEach((v, i) => assert.ok(Math.abs(v - ijk[i]) < 1e-9));
  assert.throws(() => invertAffine([[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), /singular/);
});

const ROTATIONS: { name: string; affine: Mat4; codes: string }[] = [
  { name: 'RAS identity', affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], codes: 'RAS' },
  { name: 'LPS (DICOM)', affine: [[-0.7, 0, 0, 1], [0, -0.7, 0, 2], [0, 0, 3, 3], [0, 0, 0, 1]], codes: 'LPS' },
  { name: 'PSR (spinal cord)', affine: [[0, 0, 1, 0], [-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], codes: 'PSR' },
  { name: 'LIA (FreeSurfer)', affine: [[-1, 0, 0, 128], [0, 0, 1, -128], [0, -1, 0, 128], [0, 0, 0, 1]], codes: 'LIA' },
  { name: 'oblique', affine: OBLIQUE, codes: 'LPS' },
];

for (const { name, affine, codes } of ROTATIONS) {
  test(`orientation codes and quaternion round trip: ${name}`, () => {
    assert.equal(axisCodes(affine), codes);
    const q = affineToQuaternion(affine);
    const back = qformAffine(q.quatern, q.offset, q.pixdim, q.qfac);
    // A pure rotation + scaling comes back exactly; the oblique one is orthogonalised (no shear allowed).
    const tolerance = name === 'oblique' ? 0.1 : 1e-9;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(back[r][c] - affine[r][c]) <= tolerance, `${name} [${r}][${c}] ${back[r][c]} vs ${affine[r][c]}`);
    const axes = voxelAxesOfWorld(affine);
    assert.deepEqual(new Set(axes.map((a) => a.axis)), new Set([0, 1, 2]));
  });
}

test('slices along each axis are copied out and written back exactly', () => {
  const dims: [number, number, number] = [4, 3, 2];
  const data = Int16Array.from({ length: 24 }, (_, i) => i);
  const z1 = extractSlice(data, dims, 2, 1);
  assert.deepEqual([z1.width, z1.height], [4, 3]);
  assert.deepEqual([...z1.data], [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]);
  const y2 = extractSlice(data, dims, 1, 2);
  assert.deepEqual([y2.width, y2.height], [4, 2]);
  assert.deepEqual([...y2.data], [8, 9, 10, 11, 20, 21, 22, 23]);
  const x3 = extractSlice(data, dims, 0, 3);
  assert.deepEqual([x3.width, x3.height, x3.axes], [3, 2, [1, 2]]);
  assert.deepEqual([...x3.data], [3, 7, 11, 15, 19, 23]);
  const copy = new Int16Array(24);
  for (const axis of [0, 1, 2] as const) {
    copy.fill(0);
    for (let i = 0; i < dims[axis]; i++) writeSlice(copy, dims, axis, i, extractSlice(data, dims, axis, i).data);
    assert.deepEqual(copy, data);
  }
  assert.throws(() => extractSlice(data, dims, 2, 2), RangeError);
});

test('on the PSR spinal-cord volume, the voxel axis along R is the third one', { skip: SKIP_WITHOUT_DATA }, () => {
  const volume = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz'));
  assert.equal(axisCodes(volume.affine), 'PSR');
  const axes = voxelAxesOfWorld(volume.affine);
  assert.deepEqual(axes[0], { axis: 2, flip: false }); // R ← k
  assert.deepEqual(axes[1], { axis: 0, flip: true }); // A ← i runs toward P
  assert.deepEqual(axes[2], { axis: 1, flip: false }); // S ← j
});
