/**
 * The files beside a volume (src/core/volumeFiles.ts): their names and contents, one grid check,
 * and a set written all-or-nothing through Node's fs.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { NODE_FILE_SET_IO, writeFilesAtomic } from '../../src/core/atomicWrite';
import { defaultClasses, parseLabelsFile } from '../../src/core/labels';
import { readVolumeBytes } from '../../src/core/readVolume';
import type { Volume } from '../../src/core/volume';
import { classesFileName, encodeLabelFiles, gridMismatch, labelsOnGrid, writeFileSet, type FileSetIO } from '../../src/core/volumeFiles';
import { tempDir } from '../helpers/data';

const IDENTITY = [
  [2, 0, 0, 10],
  [0, 2, 0, 20],
  [0, 0, 2, 30],
  [0, 0, 0, 1],
];

function grid(format: Volume['format']): Volume {
  return { format, dims: [4, 3, 2], spacing: [2, 2, 2], datatype: 'uint8', data: new Uint8Array(24), sclSlope: 1, sclInter: 0, affine: IDENTITY.map((r) => [...r]), frames: 1 };
}

test('a volume\'s label files: the map, its class list, and a Slicer file for NRRD volumes', () => {
  const labels = new Uint8Array(24).map((_, i) => i % 3);
  const classes = defaultClasses();
  const nifti = encodeLabelFiles('ct.nii.gz', grid('nifti1'), labels, classes);
  assert.deepEqual(nifti.map((f) => f.name), ['ct.labels.nii.gz', 'ct.labels.json']);
  const nrrd = encodeLabelFiles('ct.nrrd', grid('nrrd'), labels, classes);
  assert.deepEqual(nrrd.map((f) => f.name), ['ct.labels.nii.gz', 'ct.labels.json', 'ct.labels.seg.nrrd']);
  const map = readVolumeBytes(nifti[0].bytes, nifti[0].name);
  assert.deepEqual([...map.data], [...labels]);
  assert.deepEqual(map.affine, IDENTITY);
  assert.deepEqual(parseLabelsFile(new TextDecoder().decode(nifti[1].bytes)).classes, classes);
  const slicer = readVolumeBytes(nrrd[2].bytes, nrrd[2].name);
  assert.deepEqual([...slicer.data], [...labels]);
  assert.deepEqual(slicer.segments?.map((s) => s.name), classes.map((c) => c.name));
  assert.equal(classesFileName('ct.labels.nii.gz'), 'ct.labels.json');
  assert.equal(classesFileName('ct.seg.nii.gz'), 'ct.seg.json');
  assert.equal(classesFileName('a.nii'), 'a.json');
});

test('one grid check: size and voxel-to-world matrix within 0.01 mm', () => {
  const a = grid('nifti1');
  assert.equal(gridMismatch(a, grid('nrrd'), 'b'), undefined);
  const nudged = grid('nifti1');
  nudged.affine[0][3] += 0.005;
  assert.equal(gridMismatch(a, nudged, 'b'), undefined);
  nudged.affine[0][3] += 0.05;
  assert.match(gridMismatch(a, nudged, 'b.nii.gz', 'a.nii.gz') ?? '', /b\.nii\.gz has the size of a\.nii\.gz but another voxel-to-world matrix/);
  const other = { ...grid('nifti1'), dims: [4, 3, 3] as [number, number, number] };
  assert.match(gridMismatch(a, other, 'b.nii.gz') ?? '', /b\.nii\.gz is 4×3×3 voxels but the volume is 4×3×2/);
  const nan = grid('nifti1');
  nan.affine[1][1] = NaN;
  assert.ok(gridMismatch(a, nan, 'b'), 'a NaN entry is never the same grid');
  assert.throws(() => labelsOnGrid(a, { ...grid('nifti1'), data: new Float32Array(24).fill(0.5), datatype: 'float32' }, 'f.nii'), /f\.nii does not hold labels/);
  assert.throws(() => labelsOnGrid(a, other, 'b.nii.gz'), (e: Error & { code?: string }) => e.code === 'grid-mismatch');
});

/** Node's fs, failing the `failAt`-th call of `op`. */
function failing(op: keyof FileSetIO<string>, failAt: number): FileSetIO<string> {
  let calls = 0;
  return {
    ...NODE_FILE_SET_IO,
    [op]: async (...args: unknown[]) => {
      calls++;
      if (calls === failAt) throw new Error(`${op} failed (test)`);
      return (NODE_FILE_SET_IO[op] as (...a: unknown[]) => unknown)(...args);
    },
  } as FileSetIO<string>;
}

test('a set of files is written all or nothing: a failure at any step leaves the old set, and no scratch file', async () => {
  const dir = tempDir('file-set');
  try {
    const names = ['a.nii.gz', 'a.json', 'a.seg.nrrd'];
    const targets = names.map((n) => path.join(dir, n));
    const read = () => targets.map((t) => (fs.existsSync(t) ? fs.readFileSync(t, 'utf8') : undefined));
    const entries = (text: string) => targets.map((target, i) => ({ target, bytes: new TextEncoder().encode(`${text} ${i}`) }));
    // The first set: a.seg.nrrd does not exist before.
    fs.writeFileSync(targets[0], 'old 0');
    fs.writeFileSync(targets[1], 'old 1');
    const failures: [keyof FileSetIO<string>, number][] = [
      ['writeFile', 1],
      ['writeFile', 3],
      ['copy', 2],
      ['rename', 1],
      ['rename', 2],
      ['rename', 3],
    ];
    for (const [op, at] of failures) {
      await assert.rejects(writeFileSet(failing(op, at), entries('new')), new RegExp(`${op} failed`));
      assert.deepEqual(read(), ['old 0', 'old 1', undefined], `after ${op} #${at} failed`);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['a.json', 'a.nii.gz'], `scratch files left after ${op} #${at} failed`);
    }
    await writeFilesAtomic(entries('new'));
    assert.deepEqual(read(), ['new 0', 'new 1', 'new 2']);
    assert.deepEqual(fs.readdirSync(dir).sort(), [...names].sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
