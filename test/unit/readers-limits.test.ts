/**
 * Files that would hang or balloon a reader, or make it give a wrong answer, are refused with a
 * VolumeError naming the rule, before anything large is allocated. Every file is generated here.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, describe, test } from 'node:test';
import { VolumeError, type VolumeErrorCode } from '../../src/core/errors';
import { identity4 } from '../../src/core/geometry';
import { encodeNifti1 } from '../../src/core/niftiWriter';
import { MAX_LIST_AXIS } from '../../src/core/nrrd';
import { readVolumeBytes, readVolumeFile, readVolumeFileAsync } from '../../src/core/readVolume';
import { tempDir } from '../helpers/data';

const dir = tempDir('readers-limits');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function assertVolumeError(fn: () => unknown, code: VolumeErrorCode, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof VolumeError, `not a VolumeError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    return true;
  });
}

const nrrd = (header: string, data: Uint8Array | string = new Uint8Array(0)) =>
  Buffer.concat([Buffer.from(`NRRD0004\n${header.trim()}\n\n`, 'latin1'), typeof data === 'string' ? Buffer.from(data, 'latin1') : data]);

describe('hang and balloon', () => {
  test(`a NRRD list axis of 30 million elements is refused before allocating (at most ${MAX_LIST_AXIS})`, () => {
    const data = zlib.gzipSync(new Uint8Array(30_000_000), { level: 9 });
    assert.ok(data.length < 64 * 1024, `${data.length} bytes of gzip`);
    const bytes = nrrd('type: uchar\ndimension: 4\nsizes: 30000000 1 1 1\nkinds: list domain domain domain\nencoding: gzip', data);
    const rss = process.memoryUsage().rss;
    assertVolumeError(() => readVolumeBytes(bytes, 'list.nrrd'), 'too-large', /non-spatial axis 0 has 30000000 elements: at most 1024 layers or frames/);
    assert.ok(process.memoryUsage().rss - rss < 256 * 1024 * 1024);
  });

  test('the limit holds for a slowest (time) axis too, and 1024 layers still read', () => {
    assertVolumeError(() => readVolumeBytes(nrrd('type: uchar\ndimension: 4\nsizes: 1 1 1 5000\nkinds: domain domain domain list\nencoding: raw', new Uint8Array(5000)), 't.nrrd'), 'too-large', /axis 3 has 5000/);
    const ok = readVolumeBytes(nrrd('type: uchar\ndimension: 4\nsizes: 1024 1 1 1\nkinds: list domain domain domain\nencoding: raw', new Uint8Array(1024)), 'ok.nrrd');
    assert.equal(ok.layers?.length, 1024);
  });

  test("a detached header's data file must be a regular file: /dev/zero, a FIFO and a folder are refused", () => {
    const header = (dataFile: string) => {
      const file = path.join(dir, `h${Math.random().toString(36).slice(2)}.nhdr`);
      fs.writeFileSync(file, `NRRD0004\ntype: uchar\ndimension: 3\nsizes: 4 4 4\nencoding: raw\ndata file: ${dataFile}\n`);
      return file;
    };
    assertVolumeError(() => readVolumeFile(header('/dev/zero')), 'refused-file', /"\/dev\/zero" is a character device: only regular files are read/);
    fs.mkdirSync(path.join(dir, 'folder.raw'));
    assertVolumeError(() => readVolumeFile(header('folder.raw')), 'refused-file', /"folder\.raw" is a folder: only regular files/);
    const fifo = path.join(dir, 'fifo.raw');
    if (spawnSync('mkfifo', [fifo]).status === 0) {
      assertVolumeError(() => readVolumeFile(header('fifo.raw')), 'refused-file', /is a FIFO \(named pipe\): only regular files/);
    }
    // The volume itself too.
    assertVolumeError(() => readVolumeFile('/dev/zero'), 'refused-file', /zero is a character device/);
  });

  test('with data-file roots (an untrusted workspace), only data files inside them are read, symbolic links resolved', async () => {
    const workspace = path.join(dir, 'workspace');
    const outside = path.join(dir, 'outside');
    fs.mkdirSync(workspace);
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'secret.raw'), new Uint8Array(64).fill(7));
    fs.writeFileSync(path.join(workspace, 'inside.raw'), new Uint8Array(64).fill(3));
    fs.symlinkSync(path.join(outside, 'secret.raw'), path.join(workspace, 'link.raw'));
    const header = (name: string, dataFile: string) => {
      const file = path.join(workspace, name);
      fs.writeFileSync(file, `NRRD0004\ntype: uchar\ndimension: 3\nsizes: 4 4 4\nencoding: raw\ndata file: ${dataFile}\n`);
      return file;
    };
    const roots = { dataFileRoots: [workspace] };
    const rule = /lies outside the workspace .*: in a restricted \(untrusted\) workspace a detached header may only name data files inside the workspace folders/;
    assertVolumeError(() => readVolumeFile(header('up.nhdr', '../outside/secret.raw'), roots), 'refused-file', rule);
    assertVolumeError(() => readVolumeFile(header('abs.nhdr', path.join(outside, 'secret.raw')), roots), 'refused-file', rule);
    assertVolumeError(() => readVolumeFile(header('link.nhdr', 'link.raw'), roots), 'refused-file', rule);
    await assert.rejects(readVolumeFileAsync(header('link2.nhdr', 'link.raw'), roots), (e: unknown) => e instanceof VolumeError && rule.test(e.message));
    assert.equal(readVolumeFile(header('in.nhdr', 'inside.raw'), roots).data[0], 3);
    // Trusted (no roots): the file is read wherever it is.
    assert.equal(readVolumeFile(header('up2.nhdr', '../outside/secret.raw')).data[0], 7);
  });
});

describe('wrong answers', () => {
  test('a small uncompressed NIfTI (1,352 bytes, 10³ uint8) reads, from disk and from a pooled Buffer', async () => {
    const data = new Uint8Array(1000).map((_, i) => i % 251);
    const bytes = encodeNifti1({ dims: [10, 10, 10], affine: identity4(), data, intentCode: 0 });
    assert.equal(bytes.length, 1352);
    const file = path.join(dir, 'small.nii');
    fs.writeFileSync(file, bytes);
    const pooled = Buffer.from(bytes); // under 4 KiB: a view into Node's shared 8 KiB pool
    assert.ok(pooled.buffer.byteLength > pooled.length, 'the Buffer is a view into a larger pool');
    for (const volume of [readVolumeFile(file), await readVolumeFileAsync(file), readVolumeBytes(pooled, 'small.nii'), readVolumeBytes(fs.readFileSync(file), 'small.nii')]) {
      assert.deepEqual(volume.dims, [10, 10, 10]);
      assert.deepEqual([...volume.data], [...data]);
    }
  });

  const raw = (fields: string, data: Uint8Array | string) => nrrd(`type: uchar\ndimension: 3\nsizes: 2 2 2\n${fields}`, data);
  const eight = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const numericCases: { name: string; bytes: () => Buffer; message: RegExp; code?: VolumeErrorCode }[] = [
    { name: 'byte skip: abc', bytes: () => raw('encoding: raw\nbyte skip: abc', eight), message: /"byte skip: abc" must be an integer from -1/ },
    { name: 'byte skip: -2', bytes: () => raw('encoding: raw\nbyte skip: -2', eight), message: /"byte skip: -2" must be an integer from -1/ },
    { name: 'byte skip: -1 with gzip', bytes: () => raw('encoding: gzip\nbyte skip: -1', zlib.gzipSync(eight)), message: /works only with raw encoding/ },
    { name: 'line skip: 1.5', bytes: () => raw('encoding: raw\nline skip: 1.5', eight), message: /"line skip: 1\.5" must be an integer/ },
    { name: 'sizes: 2 0x2 2', bytes: () => nrrd('type: uchar\ndimension: 3\nsizes: 2 0x2 2\nencoding: raw', eight), message: /sizes "2 0x2 2"/, code: 'bad-dimensions' },
    { name: 'space dimension: three', bytes: () => raw('encoding: raw\nspace dimension: three\nspace directions: (1,0,0) (0,1,0) (0,0,1)', eight), message: /"space dimension: three"/ },
    { name: 'space directions with a word', bytes: () => raw('encoding: raw\nspace: RAS\nspace directions: (1,0,abc) (0,1,0) (0,0,1)', eight), message: /space direction "\(1,0,abc\)" is not a vector of numbers/ },
    { name: 'space origin of the wrong length', bytes: () => raw('encoding: raw\nspace: RAS\nspace origin: (1,2)', eight), message: /space origin has 2 coordinates where the space has 3/ },
    { name: 'spacings with a word', bytes: () => raw('encoding: raw\nspacings: 1 x 1', eight), message: /spacings "1 x 1" must be 3 numbers/ },
    { name: 'kinds for the wrong number of axes', bytes: () => raw('encoding: raw\nkinds: domain domain', eight), message: /kinds "domain domain" name 2 axes, not 3/ },
    { name: 'endian: middle', bytes: () => raw('encoding: raw\nendian: middle', eight), message: /"endian: middle" must be little or big/ },
    { name: 'ascii 999 in uchar (was wrapped to 231)', bytes: () => raw('encoding: ascii', '1 2 3 4 5 6 7 999'), message: /ascii value 999 at byte \d+ does not fit the type uint8 \(integers 0 to 255\)/ },
    { name: 'ascii -1 in uchar', bytes: () => raw('encoding: ascii', '-1 2 3 4 5 6 7 8'), message: /ascii value -1 .* does not fit the type uint8/ },
    { name: 'ascii 2.5 in uchar', bytes: () => raw('encoding: ascii', '1 2.5 3 4 5 6 7 8'), message: /ascii value 2\.5 .* does not fit/ },
    { name: 'ascii abc', bytes: () => raw('encoding: ascii', '1 2 abc 4 5 6 7 8'), message: /holds "abc" at byte \d+, which is not a number/ },
    { name: 'ascii 0x10', bytes: () => raw('encoding: ascii', '1 2 0x10 4 5 6 7 8'), message: /holds "0x10" .* not a number/ },
    { name: 'ascii nan in an integer type', bytes: () => raw('encoding: ascii', 'nan 2 3 4 5 6 7 8'), message: /"nan" .* not a number/ },
    { name: 'ascii 1e39 in float', bytes: () => nrrd('type: float\ndimension: 3\nsizes: 2 2 2\nencoding: ascii', '1 2 3 4 5 6 7 1e39'), message: /1e39 .* does not fit the type float32/ },
    { name: 'hex with a letter that is not a digit', bytes: () => raw('encoding: hex', '0102030405060 7g8'), message: /hex data holds "g"/ },
    { name: 'a Slicer segment label value that is not an integer', bytes: () => raw('encoding: raw\nSegment0_LabelValue:=one', eight), message: /"Segment0_LabelValue: one" must be an integer/ },
  ];
  for (const c of numericCases) {
    test(`NRRD: ${c.name} is an error`, () => assertVolumeError(() => readVolumeBytes(c.bytes(), 'bad.nrrd'), c.code ?? 'bad-header', c.message));
  }

  test('NRRD: valid numbers in every spelling the format allows still read', () => {
    assert.deepEqual([...readVolumeBytes(raw('encoding: raw\nbyte skip: 2', new Uint8Array([9, 9, ...eight])), 'a.nrrd').data], [...eight]);
    assert.deepEqual([...readVolumeBytes(raw('encoding: raw\nbyte skip: -1', new Uint8Array([9, 9, ...eight])), 'b.nrrd').data], [...eight]);
    assert.deepEqual([...readVolumeBytes(raw('encoding: ascii', '+1, 2\n3 4 5 6 7 255'), 'c.nrrd').data], [1, 2, 3, 4, 5, 6, 7, 255]);
    const floats = readVolumeBytes(nrrd('type: float\ndimension: 3\nsizes: 2 2 2\nencoding: ascii\nspacings: 1.5 .5 2e0', 'nan -inf 1.5e3 -.25 0 1 2 3'), 'd.nrrd');
    assert.ok(Number.isNaN(floats.data[0]));
    assert.deepEqual([...floats.data.subarray(1)], [-Infinity, 1500, -0.25, 0, 1, 2, 3]);
    assert.deepEqual(floats.spacing, [1.5, 0.5, 2]);
  });
});
