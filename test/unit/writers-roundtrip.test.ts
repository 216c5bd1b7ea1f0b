/** Label maps written as .nii.gz and .seg.nrrd read back voxel-identical with the same affine. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, test } from 'node:test';
import { writeFileAtomic } from '../../src/core/atomicWrite';
import { readVolumeFile } from '../../src/core/readVolume';
import { encodeLabelFiles, encodeLabelFilesAsync, toLabelArray } from '../../src/core/volumeFiles';
import { writeLabelMapNifti, writeLabelMapSegNrrd } from '../../src/core/labelMapIO';
import { NIFTI_INTENT_LABEL, readNiftiHeader } from '../../src/core/nifti';
import type { Mat4 } from '../../src/core/geometry';
import { SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';

const dir = tempDir('roundtrip');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function assertAffineClose(a: Mat4, b: Mat4, tolerance: number): void {
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) assert.ok(Math.abs(a[r][c] - b[r][c]) <= tolerance, `affine[${r}][${c}]: ${a[r][c]} vs ${b[r][c]}`);
}

const SOURCES = [
  ['semi/spinalcord/t2_seg-manual.nii.gz', 'a PSR NIfTI mask'],
  ['formats/niivue_labels256.nii.gz', 'an LIA NIfTI label map'],
  ['semi/ctchest/Segmentation.seg.nrrd', 'a Slicer segmentation (LPS)'],
  ['formats/niivue_shear.nii.gz', 'a sheared grid (values cut to labels)'],
] as const;

for (const [source, what] of SOURCES) {
  test(`round trip of ${what} through .nii.gz and .seg.nrrd`, { skip: SKIP_WITHOUT_DATA }, () => {
    const original = readVolumeFile(dataPath(source));
    const labels = toLabelArray(original.data.map((v) => Math.max(0, Math.min(255, Math.round(v)))) as typeof original.data);
    const map = { dims: original.dims, affine: original.affine, data: labels };
    const niftiFile = path.join(dir, `${path.basename(source)}.labels.nii.gz`);
    writeLabelMapNifti(niftiFile, map);
    const fromNifti = readVolumeFile(niftiFile);
    assert.deepEqual(fromNifti.dims, original.dims);
    assert.equal(fromNifti.datatype, 'uint8');
    assert.deepEqual(fromNifti.data, labels);
    // The sform holds the affine in float32.
    assertAffineClose(fromNifti.affine, original.affine, 1e-4 * Math.max(1, ...original.affine.flat().map(Math.abs)));
    const header = readNiftiHeader(fs.readFileSync(niftiFile));
    assert.equal(header.intentCode, NIFTI_INTENT_LABEL);
    assert.ok(header.qformCode > 0 && header.sformCode > 0);

    const segments = [
      { value: 1, name: 'background', color: [0.1, 0.2, 0.3] as [number, number, number], layer: 0 },
      { value: 2, name: 'class two', color: [1, 0, 0] as [number, number, number], layer: 0 },
    ];
    const nrrdFile = path.join(dir, `${path.basename(source)}.seg.nrrd`);
    writeLabelMapSegNrrd(nrrdFile, map, segments);
    const fromNrrd = readVolumeFile(nrrdFile);
    assert.deepEqual(fromNrrd.dims, original.dims);
    assert.deepEqual(fromNrrd.data, labels);
    assertAffineClose(fromNrrd.affine, original.affine, 1e-9);
    assert.deepEqual(
      fromNrrd.segments?.map((s) => [s.value, s.name, s.color]),
      segments.map((s) => [s.value, s.name, s.color]),
    );
  });
}

test('label maps above 255 classes are written as uint16', () => {
  const data = new Uint16Array([0, 1, 300, 65535, 2, 3, 4, 5]);
  const file = path.join(dir, 'many.labels.nii.gz');
  writeLabelMapNifti(file, { dims: [2, 2, 2], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], data });
  const back = readVolumeFile(file);
  assert.equal(back.datatype, 'uint16');
  assert.deepEqual(back.data, data);
  assert.equal(toLabelArray(new Int32Array([0, 5, 255])).constructor, Uint8Array);
  assert.equal(toLabelArray(new Int32Array([0, 256])).constructor, Uint16Array);
  assert.throws(() => toLabelArray(new Float32Array([1.5])), /not a label/);
});

test('writes are atomic: no temporary file is left, and a failed write leaves the target as it was', () => {
  const file = path.join(dir, 'atomic.labels.nii.gz');
  const map = { dims: [2, 2, 2] as [number, number, number], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], data: new Uint8Array(8).fill(3) };
  writeLabelMapNifti(file, map);
  writeLabelMapNifti(file, { ...map, data: new Uint8Array(8).fill(4) });
  assert.deepEqual(readVolumeFile(file).data, new Uint8Array(8).fill(4));
  // A target that cannot be replaced (a non-empty folder): the rename fails, nothing is left behind.
  const blocked = path.join(dir, 'blocked');
  fs.mkdirSync(path.join(blocked, 'inside'), { recursive: true });
  assert.throws(() => writeFileAtomic(blocked, 'data'));
  assert.ok(fs.statSync(blocked).isDirectory());
  assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), []);
});

test("the editor's saves compress off the calling thread into the same files as the engine's writers", { skip: SKIP_WITHOUT_DATA }, async () => {
  const truth = readVolumeFile(dataPath('semi', 'ctchest', 'Segmentation.seg.nrrd'));
  const labels = toLabelArray(truth.data);
  const volume = { dims: truth.dims, affine: truth.affine, format: 'nrrd' as const };
  const classes = [...new Set(labels)].filter((v) => v > 0).sort((a, b) => a - b).map((value) => ({ value, name: `class ${value}`, color: '#ff8000' }));
  const sync = encodeLabelFiles('CTChest4.nrrd', volume, labels, classes);
  const async = await encodeLabelFilesAsync('CTChest4.nrrd', volume, labels, classes);
  assert.deepEqual(async.map((f) => f.name), sync.map((f) => f.name));
  assert.deepEqual(async.map((f) => f.name), ['CTChest4.labels.nii.gz', 'CTChest4.labels.json', 'CTChest4.labels.seg.nrrd']);
  // The same bytes once inflated (the gzip headers may differ), and the same when read back.
  const inflate = (bytes: Uint8Array, name: string) => (name.endsWith('.json') ? bytes : name.endsWith('.nii.gz') ? zlib.gunzipSync(bytes) : bytes);
  for (let i = 0; i < sync.length; i++) {
    if (sync[i].name.endsWith('.seg.nrrd')) continue;
    assert.deepEqual(inflate(async[i].bytes, async[i].name), inflate(sync[i].bytes, sync[i].name), sync[i].name);
  }
  const dir = tempDir('async-writers');
  for (const f of async) fs.writeFileSync(path.join(dir, f.name), f.bytes);
  assert.deepEqual(readVolumeFile(path.join(dir, 'CTChest4.labels.nii.gz')).data, labels);
  assert.deepEqual(toLabelArray(readVolumeFile(path.join(dir, 'CTChest4.labels.seg.nrrd')).data), labels);
});
