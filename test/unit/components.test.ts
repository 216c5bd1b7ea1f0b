import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keepLargestComponent, labelComponents, singleObjectClasses } from '../../src/core/components';
import type { Vec3 } from '../../src/core/geometry';
import { readLabelsAs } from '../../src/core/labelConvention';
import { chooseAnnotatedSlices, sparseLabels } from '../../src/core/sparseLabels';
import { dataPath, SKIP_WITHOUT_DATA } from '../helpers/data';

/** A label map drawn from a list of (x, y, z, value) voxels, the rest `fill`. */
function map(dims: Vec3, voxels: [number, number, number, number][], fill = 1): Uint8Array {
  const labels = new Uint8Array(dims[0] * dims[1] * dims[2]).fill(fill);
  for (const [x, y, z, v] of voxels) labels[x + dims[0] * (y + dims[1] * z)] = v;
  return labels;
}

test('components are 26-connected: voxels touching at a corner are one, a gap of one voxel splits', () => {
  const dims: Vec3 = [5, 5, 5];
  const corner = map(dims, [[0, 0, 0, 2], [1, 1, 1, 2], [2, 2, 2, 2]]);
  assert.deepEqual(labelComponents(corner, dims, 2).sizes, [3]);
  const gap = map(dims, [[0, 0, 0, 2], [2, 0, 0, 2], [4, 4, 4, 2], [4, 4, 3, 2]]);
  assert.deepEqual(labelComponents(gap, dims, 2).sizes, [1, 1, 2]);
  assert.deepEqual(labelComponents(gap, dims, 3).sizes, []);
  // Neighbours across the x edge of the grid are not neighbours (no wrap-around).
  const edge = map(dims, [[4, 0, 0, 2], [0, 1, 0, 2]]);
  assert.equal(labelComponents(edge, dims, 2).sizes.length, 2);
});

test('a component larger than the initial stack is labeled whole', () => {
  const dims: Vec3 = [40, 40, 40];
  const labels = new Uint8Array(40 * 40 * 40).fill(2);
  assert.deepEqual(labelComponents(labels, dims, 2).sizes, [64000]);
});

test('keepLargestComponent gives each smaller island the label around it and leaves other classes', () => {
  const dims: Vec3 = [6, 3, 3];
  const labels = map(dims, [[0, 0, 0, 2], [0, 1, 0, 2], [0, 2, 0, 2], [5, 2, 2, 2], [3, 1, 1, 3]]);
  assert.equal(keepLargestComponent(labels, dims, 2, 1), 1);
  assert.equal(labels[5 + 6 * (2 + 3 * 2)], 1);
  assert.equal(labels[0], 2);
  assert.equal(labels[3 + 6 * (1 + 3 * 1)], 3);
  assert.equal(keepLargestComponent(labels, dims, 2, 1), 0);
  // An island of class 2 inside a block of class 3 becomes 3, not background.
  const nested: Vec3 = [9, 5, 5];
  const block = map(nested, [[0, 0, 0, 2], [1, 0, 0, 2], [0, 1, 0, 2]]);
  for (let z = 1; z <= 3; z++) for (let y = 1; y <= 3; y++) for (let x = 5; x <= 7; x++) block[x + 9 * (y + 5 * z)] = 3;
  block[6 + 9 * (2 + 5 * 2)] = 2;
  assert.equal(keepLargestComponent(block, nested, 2, 1), 1);
  assert.equal(block[6 + 9 * (2 + 5 * 2)], 3);
  // The label around wins even when it is not the fallback: here 9 surrounds the island.
  const line: Vec3 = [5, 1, 1];
  const split = Uint8Array.from([2, 2, 9, 2, 9]);
  assert.equal(keepLargestComponent(split, line, 2, 1), 1);
  assert.equal(split[3], 9);
});

test('single-object classes: the largest component holds 95 % of the class in every map that has it', () => {
  const dims: Vec3 = [6, 6, 6];
  const a = map(dims, [[1, 1, 1, 2], [1, 2, 1, 2], [4, 4, 4, 3], [1, 4, 1, 3]], 0);
  const b = map(dims, [[3, 3, 3, 2]], 0);
  assert.deepEqual(singleObjectClasses([{ labels: a, dims }, { labels: b, dims }], 4), [2]);
  assert.deepEqual(singleObjectClasses([{ labels: b, dims }], 2), [2]);
  // A one-voxel island beside a 5×6×6 block (180 voxels) is a grazed tip: still one object.
  const tip = new Uint8Array(6 * 6 * 6);
  for (let i = 0; i < tip.length; i++) if (i % 6 < 4) tip[i] = 2;
  tip[5] = 2;
  assert.deepEqual(singleObjectClasses([{ labels: tip, dims }], 2), [2]);
  // Two equal blobs are two objects.
  const two = map(dims, [[0, 0, 0, 2], [5, 5, 5, 2]], 1);
  assert.deepEqual(singleObjectClasses([{ labels: two, dims }], 2), []);
});

test('on the shared data: spleen, spinal cord, lungs and body are one object; ribs and MS lesions are not', { skip: SKIP_WITHOUT_DATA }, () => {
  const cases: [string, number[]][] = [
    ['semi/spleen/sub-spleen2_ct_seg-manual.nii.gz', [2]],
    ['semi/spinalcord/t2_seg-manual.nii.gz', [2]],
    // ribs (2) and the cervical column (3, cut into pieces by the slices) are not; lungs (6, 7) and tissue (8) are.
    ['semi/ctchest/Segmentation.seg.nrrd', [4, 5, 6, 7, 8]],
    ['full/msles/patient07_lesion.nii.gz', []],
  ];
  for (const [file, expected] of cases) {
    const truth = readLabelsAs(dataPath(file));
    const sparse = sparseLabels(truth.data, truth.dims, chooseAnnotatedSlices(truth.data, truth.dims));
    let classes = 0;
    for (const v of truth.data) classes = Math.max(classes, v);
    assert.deepEqual(singleObjectClasses([{ labels: sparse, dims: truth.dims }], classes), expected, file);
  }
});
