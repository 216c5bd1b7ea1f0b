/**
 * The readers never lie about geometry: NIfTI's affine comes from the header as the standard
 * says (sform where sform_code > 0, else qform, else pixdim), and no affine that is not finite
 * and invertible is ever returned; unusable ones fall back with a warning the user sees. Every
 * file is generated here from a real one (the spinal-cord t2) or from scratch.
 */
import assert from 'node:assert/strict';
import * as zlib from 'node:zlib';
import { describe, test } from 'node:test';
import { VolumeError } from '../../src/core/errors';
import { affineProblem, axisCodes, invertAffine, type Mat4 } from '../../src/core/geometry';
import { readVolumeBytes } from '../../src/core/readVolume';
import type { Volume } from '../../src/core/volume';
import { HAVE_DATA, SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';
import * as fs from 'node:fs';

/** The spinal-cord t2 as an uncompressed NIfTI-1 (little-endian; qform_code 2, sform_code 1 in the real file). */
const t2 = (): Buffer => (HAVE_DATA ? zlib.gunzipSync(fs.readFileSync(dataPath('semi', 'spinalcord', 't2.nii.gz'))) : Buffer.alloc(0));

function setSrow(bytes: Buffer, rows: number[][]): Buffer {
  rows.forEach((row, r) => row.forEach((v, c) => bytes.writeFloatLE(v, 280 + 16 * r + 4 * c)));
  return bytes;
}

function assertAffine(actual: Mat4, expected: number[][], what: string): void {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) assert.ok(Math.abs(actual[r][c] - expected[r][c]) < 1e-4, `${what}: affine[${r}][${c}] = ${actual[r][c]}, expected ${expected[r][c]}`);
  }
}

/** The rule every returned volume keeps. */
function assertUsable(volume: Volume, what: string): void {
  assert.equal(affineProblem(volume.affine), undefined, `${what}: the affine returned is not usable`);
  invertAffine(volume.affine);
  for (const s of volume.spacing) assert.ok(Number.isFinite(s) && s > 0, `${what}: spacing ${volume.spacing}`);
}

describe('NIfTI affine: sform, then qform, then pixdim', { skip: SKIP_WITHOUT_DATA }, () => {
  test('the recipe: a valid sform is used even when qform_code (2) > sform_code (1), as nibabel does', () => {
    const bytes = setSrow(t2(), [
      [2, 0, 0, 10],
      [0, 2, 0, 20],
      [0, 0, 2, 30],
    ]);
    assert.equal(bytes.readInt16LE(252), 2);
    assert.equal(bytes.readInt16LE(254), 1);
    const volume = readVolumeBytes(bytes, 't2.nii');
    assertAffine(volume.affine, [[2, 0, 0, 10], [0, 2, 0, 20], [0, 0, 2, 30]], 'sform');
    assert.deepEqual(volume.warnings, []);
  });

  test('the real file: its sform (PSR) is the affine', () => {
    const volume = readVolumeBytes(t2(), 't2.nii');
    assertAffine(volume.affine, [[0, 0, 1, -32.2193], [-1, 0, 0, 31.7866], [0, 1, 0, -19.3217]], 't2');
    assert.equal(axisCodes(volume.affine), 'PSR');
  });

  const qformOfT2 = (): Mat4 => {
    const b = t2();
    b.writeInt16LE(0, 254); // sform_code 0: the qform
    return readVolumeBytes(b, 'q.nii').affine;
  };

  const sformCases: { name: string; rows: number[][]; problem: RegExp }[] = [
    { name: 'an sform with NaN', rows: [[NaN, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], problem: /NaN/ },
    { name: 'an all-zero sform', rows: [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], problem: /no length/ },
    { name: 'an infinite sform offset', rows: [[1, 0, 0, Infinity], [0, 1, 0, 0], [0, 0, 1, 0]], problem: /Infinity/ },
    { name: 'a singular sform (two parallel axes)', rows: [[1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]], problem: /parallel/ },
  ];
  for (const c of sformCases) {
    test(`${c.name} falls back to the qform, with a warning`, () => {
      const volume = readVolumeBytes(setSrow(t2(), c.rows), 'bad-sform.nii');
      assertUsable(volume, c.name);
      assertAffine(volume.affine, qformOfT2(), c.name);
      assert.equal(volume.warnings?.length, 1);
      assert.match(volume.warnings![0], /the sform \(sform_code 1\) is not usable/);
      assert.match(volume.warnings![0], c.problem);
      assert.match(volume.warnings![0], /the qform \(qform_code 2\) is used instead/);
    });
  }

  const quaternionCases: { name: string; at: number; value: number }[] = [
    { name: 'a qform quaternion with NaN', at: 256, value: NaN },
    { name: 'a qform quaternion with Infinity', at: 260, value: Infinity },
    { name: 'a qform offset with NaN', at: 272, value: NaN },
  ];
  for (const c of quaternionCases) {
    test(`${c.name} (and no sform) falls back to pixdim, with a warning`, () => {
      const b = t2();
      b.writeInt16LE(0, 254);
      b.writeFloatLE(c.value, c.at);
      const volume = readVolumeBytes(b, 'bad-qform.nii');
      assertUsable(volume, c.name);
      assert.match(volume.warnings!.join(' '), /the qform \(qform_code 2\) is not usable \(its quaternion or offset holds (NaN|Infinity)\): the voxel sizes \(pixdim\)/);
      // nibabel's base affine: x flipped, centred.
      assertAffine(volume.affine, [[-1, 0, 0, 29.5], [0, 1, 0, -27], [0, 0, 1, -25.5]], c.name);
    });
  }

  test('both unusable: the sform, then the qform, each with its warning, then pixdim', () => {
    const b = setSrow(t2(), [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
    b.writeFloatLE(NaN, 264);
    const volume = readVolumeBytes(b, 'both.nii');
    assertUsable(volume, 'both');
    assert.equal(volume.warnings!.length, 2);
    assert.match(volume.warnings![0], /sform .* the qform \(qform_code 2\) is used instead/);
    assert.match(volume.warnings![1], /qform .* the voxel sizes \(pixdim\)/);
  });

  for (const value of [0, NaN, Infinity]) {
    test(`pixdim ${value} is replaced by 1 mm with a warning; the qform stays invertible`, () => {
      const b = t2();
      b.writeInt16LE(0, 254);
      b.writeFloatLE(value, 76 + 4 * 2);
      const volume = readVolumeBytes(b, 'pixdim.nii');
      assertUsable(volume, `pixdim ${value}`);
      assert.equal(volume.spacing[1], 1);
      assert.match(volume.warnings!.join(' '), new RegExp(`pixdim\\[2\\] is ${value}, not a voxel size: 1 mm is used`));
    });
  }

  test('a negative vox_offset is an error, not clamped', () => {
    const b = t2();
    b.writeFloatLE(-16, 108);
    assert.throws(
      () => readVolumeBytes(b, 'offset.nii'),
      (e: unknown) => e instanceof VolumeError && e.code === 'bad-header' && /vox_offset is -16/.test(e.message),
    );
  });
});

test('NIfTI-2: the sform is read in double precision and checked like NIfTI-1', () => {
  // A NIfTI-2 header written here: 3×2×1 uint8, sform_code 1, qform_code 0.
  const header = Buffer.alloc(544 + 6);
  header.writeInt32LE(540, 0);
  header.write('n+2\0\r\n\x1a\n', 4, 'latin1');
  header.writeInt16LE(2, 12); // uint8
  header.writeInt16LE(8, 14);
  [3, 3, 2, 1, 1, 1, 1, 1].forEach((d, i) => header.writeBigInt64LE(BigInt(d), 16 + 8 * i));
  [1, 0.5, 0.5, 0.5, 1, 1, 1, 1].forEach((p, i) => header.writeDoubleLE(p, 104 + 8 * i));
  header.writeBigInt64LE(544n, 168);
  header.writeDoubleLE(1, 176);
  header.writeInt32LE(1, 348); // sform_code
  const srow = [[0.5, 0, 0, 1.25], [0, 0.5, 0, 2.5], [0, 0, 0.5, 3.75]];
  srow.forEach((row, r) => row.forEach((v, c) => header.writeDoubleLE(v, 400 + 32 * r + 8 * c)));
  header.set([1, 2, 3, 4, 5, 6], 544);
  const volume = readVolumeBytes(header, 'two.nii');
  assert.equal(volume.format, 'nifti2');
  assertAffine(volume.affine, srow, 'nifti2 sform');
  srow[1][1] = 0;
  srow[1].forEach((v, c) => header.writeDoubleLE(v, 400 + 32 + 8 * c));
  const broken = readVolumeBytes(header, 'two.nii');
  assertUsable(broken, 'nifti2 broken sform');
  assert.match(broken.warnings![0], /the sform \(sform_code 1\) is not usable \(voxel axis j has no length.*\): the voxel sizes \(pixdim\) are used instead, axis-aligned/);
});

describe('NRRD space directions', () => {
  const nrrd = (fields: string, data: Uint8Array) => Buffer.concat([Buffer.from(`NRRD0004\ntype: uchar\nencoding: raw\n${fields}\n\n`, 'latin1'), data]);
  const cube = new Uint8Array(8).map((_, i) => i);

  test('a zero direction vector falls back to axis-aligned voxels, with a warning', () => {
    const volume = readVolumeBytes(nrrd('dimension: 3\nsizes: 2 2 2\nspace: LPS\nspace directions: (0,0,0) (0,2,0) (0,0,3)', cube), 'zero.nrrd');
    assertUsable(volume, 'zero vector');
    assert.match(volume.warnings![0], /space directions are not usable \(voxel axis i has no length/);
    assert.deepEqual(volume.spacing, [1, 2, 3]);
  });

  test('two parallel direction vectors fall back, with a warning', () => {
    const volume = readVolumeBytes(nrrd('dimension: 3\nsizes: 2 2 2\nspace: RAS\nspace directions: (1,0,0) (2,0,0) (0,0,1)', cube), 'parallel.nrrd');
    assertUsable(volume, 'parallel');
    assert.match(volume.warnings![0], /parallel/);
    assert.deepEqual(volume.spacing, [1, 2, 1]);
  });

  test('a NaN direction falls back, with a warning', () => {
    const volume = readVolumeBytes(nrrd('dimension: 3\nsizes: 2 2 2\nspace: RAS\nspace directions: (nan,0,0) (0,1,0) (0,0,1)', cube), 'nan.nrrd');
    assertUsable(volume, 'nan direction');
    assert.match(volume.warnings![0], /not usable/);
  });

  test('a 2D NRRD whose directions span x and z gets the y normal, not one parallel to z', () => {
    // The old rule added (0,0,1) as the third axis: parallel to the second direction here.
    const volume = readVolumeBytes(nrrd('dimension: 2\nsizes: 2 4\nspace: RAS\nspace directions: (1,0,0) (0,0,1)', cube), 'xz.nrrd');
    assertUsable(volume, '2D xz');
    assert.deepEqual(volume.warnings, []);
    assert.deepEqual(volume.dims, [2, 4, 1]);
    // The normal is (1,0,0) × (0,0,1) = (0,−1,0): right-handed.
    assertAffine(volume.affine, [[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0]], '2D xz');
  });

  test('a 2D NRRD with two parallel directions falls back, with a warning', () => {
    const volume = readVolumeBytes(nrrd('dimension: 2\nsizes: 2 4\nspace: RAS\nspace directions: (1,0,0) (3,0,0)', cube), 'xx.nrrd');
    assertUsable(volume, '2D parallel');
    assert.match(volume.warnings![0], /not usable/);
  });

  test('a zero spacing (no space directions) is replaced by 1 mm, with a warning', () => {
    const volume = readVolumeBytes(nrrd('dimension: 3\nsizes: 2 2 2\nspacings: 0 1 nan', cube), 'spacing.nrrd');
    assertUsable(volume, 'spacings');
    assert.deepEqual(volume.spacing, [1, 1, 1]);
    assert.equal(volume.warnings!.length, 2);
  });
});

test('every shared file reads with a finite, invertible affine and no warning', { skip: SKIP_WITHOUT_DATA }, () => {
  const files = [
    ...fs.readdirSync(dataPath('formats')).filter((f) => /\.(nii|nii\.gz|nrrd|nhdr)$/.test(f)).map((f) => dataPath('formats', f)),
    dataPath('semi', 'spinalcord', 't2.nii.gz'),
    dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'),
    dataPath('semi', 'ctchest', 'CTChest4.nrrd'),
  ];
  for (const file of files) {
    if (file.endsWith('niivue_complex.nii.gz')) continue; // complex: refused, see readers-expected
    const bytes = fs.readFileSync(file);
    const volume = readVolumeBytes(bytes, file, (name) => new Uint8Array(fs.readFileSync(dataPath('formats', name))));
    assertUsable(volume, file);
    assert.deepEqual(volume.warnings, [], file);
  }
});
