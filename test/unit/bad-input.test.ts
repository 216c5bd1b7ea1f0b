/**
 * Bad input gets one specific error and never a crash, a hang or an allocation of what a header
 * merely claims. Each case is made from a real file, then damaged.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, describe, test } from 'node:test';
import { VolumeError, type VolumeErrorCode } from '../../src/core/errors';
import { readVolumeBytes, readVolumeFile } from '../../src/core/readVolume';
import { SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';

const dir = tempDir('bad-input');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const read = (name: string) => (SKIP_WITHOUT_DATA ? Buffer.alloc(0) : fs.readFileSync(dataPath('formats', name)));
/** The uncompressed anatomical.nii (big-endian NIfTI-1, int16 33×41×25). */
const nii = () => Buffer.from(read('anatomical.nii'));
/** niivue_FLAIR.nii.gz, little-endian, gzip. */
const niiGz = () => Buffer.from(read('niivue_FLAIR.nii.gz'));
const nrrdGz = () => Buffer.from(read('prostate_phantom_subvolume.nrrd'));

/** Sets int16 dim[i] of an uncompressed NIfTI-1 header in the file's byte order. */
function setDim(bytes: Buffer, i: number, value: number, bigEndian: boolean): Buffer {
  if (bigEndian) bytes.writeInt16BE(value, 40 + 2 * i);
  else bytes.writeInt16LE(value, 40 + 2 * i);
  return bytes;
}

function nrrdWithHeader(replace: (header: string) => string, base = nrrdGz()): Buffer {
  const end = base.indexOf('\n\n');
  const header = replace(base.subarray(0, end).toString('latin1'));
  return Buffer.concat([Buffer.from(header, 'latin1'), base.subarray(end)]);
}

interface Case {
  name: string;
  file: string;
  bytes: () => Buffer;
  code: VolumeErrorCode;
  message: RegExp;
}

const CASES: Case[] = [
  { name: 'an empty file', file: 'empty.nii', bytes: () => Buffer.alloc(0), code: 'truncated', message: /the file is empty/ },
  { name: 'a file too short for a header', file: 'short.nii', bytes: () => nii().subarray(0, 200), code: 'truncated', message: /too short for a NIfTI header: 200 bytes/ },
  { name: 'wrong magic', file: 'magic.nii', bytes: () => { const b = nii(); b.write('xyz', 344, 'latin1'); return b; }, code: 'bad-magic', message: /not a NIfTI file/ },
  { name: 'data cut short (.nii)', file: 'cut.nii', bytes: () => nii().subarray(0, 40000), code: 'truncated', message: /image data is shorter than the header says: 39648 of 67650 bytes/ },
  { name: 'a truncated gzip stream (.nii.gz)', file: 'cut.nii.gz', bytes: () => niiGz().subarray(0, 500000), code: 'truncated', message: /gzip stream is truncated/ },
  {
    name: 'corrupt gzip data (.nii.gz)',
    file: 'corrupt.nii.gz',
    bytes: () => { const b = niiGz(); for (let i = 400000; i < 400400; i++) b[i] ^= 0x5a; return b; },
    code: 'corrupt-gzip',
    message: /gzip data is corrupt/,
  },
  {
    name: 'a gzip file that is not NIfTI',
    file: 'notnifti.nii.gz',
    bytes: () => zlib.gzipSync(Buffer.alloc(1000, 7)),
    code: 'bad-magic',
    message: /not a NIfTI file/,
  },
  { name: 'a zero dimension', file: 'zero.nii', bytes: () => setDim(nii(), 2, 0, true), code: 'bad-dimensions', message: /dim\[2\] is 0/ },
  { name: 'a negative dimension', file: 'negative.nii', bytes: () => setDim(nii(), 1, -5, true), code: 'bad-dimensions', message: /dim\[1\] is -5/ },
  { name: 'dim[0] out of range', file: 'ndim.nii', bytes: () => setDim(nii(), 0, 9, true), code: 'bad-dimensions', message: /dim\[0\] is 9/ },
  {
    name: 'absurd dimensions (refused from the header)',
    file: 'huge.nii',
    bytes: () => { const b = nii(); for (const i of [1, 2, 3, 4]) setDim(b, i, 32000, true); setDim(b, 0, 4, true); return b; },
    code: 'too-large',
    message: /32000×32000×32000 int16 volume would need 59\.6 TiB/,
  },
  {
    name: 'absurd dimensions in a gzip file (refused before inflating)',
    file: 'huge.nii.gz',
    bytes: () => {
      const raw = zlib.gunzipSync(niiGz());
      for (const i of [1, 2, 3]) raw.writeInt16LE(30000, 40 + 2 * i);
      return zlib.gzipSync(raw, { level: 1 });
    },
    code: 'too-large',
    message: /30000×30000×30000 uint8 volume would need 24\.\d TiB/,
  },
  { name: 'NRRD: wrong magic', file: 'magic.nrrd', bytes: () => { const b = nrrdGz(); b.write('NRRX', 0, 'latin1'); return b; }, code: 'unsupported-format', message: /neither NIfTI nor NRRD/ },
  { name: 'NRRD: unknown version', file: 'version.nrrd', bytes: () => { const b = nrrdGz(); b.write('NRRD0009', 0, 'latin1'); return b; }, code: 'bad-magic', message: /does not start with "NRRD0001"/ },
  { name: 'NRRD: truncated gzip data', file: 'cut.nrrd', bytes: () => nrrdGz().subarray(0, 20000), code: 'truncated', message: /gzip stream is truncated/ },
  {
    name: 'NRRD: absurd sizes',
    file: 'huge.nrrd',
    bytes: () => nrrdWithHeader((h) => h.replace(/sizes: .*/, 'sizes: 100000 100000 100000')),
    code: 'too-large',
    message: /100000×100000×100000 uint16 NRRD would need 1\.\d PiB/,
  },
  { name: 'NRRD: zero size', file: 'zero.nrrd', bytes: () => nrrdWithHeader((h) => h.replace(/sizes: .*/, 'sizes: 82 0 13')), code: 'bad-dimensions', message: /sizes "82 0 13"/ },
  { name: 'NRRD: no type field', file: 'notype.nrrd', bytes: () => nrrdWithHeader((h) => h.replace(/type: .*\n/, '')), code: 'bad-header', message: /no "type" field/ },
  { name: 'NRRD: 64-bit integers', file: 'int64.nrrd', bytes: () => nrrdWithHeader((h) => h.replace(/type: .*/, 'type: int64')), code: 'unsupported-datatype', message: /unsupported datatype "int64"/ },
  { name: 'NRRD: bzip2 encoding', file: 'bz2.nrrd', bytes: () => nrrdWithHeader((h) => h.replace(/encoding: .*/, 'encoding: bzip2')), code: 'unsupported-encoding', message: /"bzip2" is not supported/ },
  {
    name: 'NRRD: raw data shorter than the header says',
    file: 'short.nrrd',
    bytes: () => {
      const gz = nrrdGz();
      const end = gz.indexOf('\n\n');
      const raw = zlib.gunzipSync(gz.subarray(end + 2));
      const header = gz.subarray(0, end).toString('latin1').replace('encoding: gzip', 'encoding: raw');
      return Buffer.concat([Buffer.from(header + '\n\n', 'latin1'), raw.subarray(0, 1000)]);
    },
    code: 'truncated',
    message: /shorter than the header says: 1000 of 142844 bytes/,
  },
  {
    name: 'NRRD: a header that never ends',
    file: 'noend.nrrd',
    bytes: () => Buffer.from('NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n', 'latin1'),
    code: 'truncated',
    message: /header never ends/,
  },
  {
    name: 'NHDR: the data file is missing',
    file: 'missing.nhdr',
    bytes: () => Buffer.from(read('BrainProtonDensitySliceShifted13x17yDirectionPlus30.nhdr').toString('latin1').replace(/data file: .*/, 'data file: nowhere.raw'), 'latin1'),
    code: 'missing-data-file',
    message: /detached data file "nowhere\.raw" cannot be read/,
  },
];

describe('bad input', { skip: SKIP_WITHOUT_DATA }, () => {
  for (const c of CASES) {
    test(c.name, () => {
      const file = path.join(dir, c.file);
      fs.writeFileSync(file, c.bytes());
      const rssBefore = process.memoryUsage().rss;
      assert.throws(
        () => readVolumeFile(file),
        (error: unknown) => {
          assert.ok(error instanceof VolumeError, `not a VolumeError: ${String(error)}`);
          assert.equal(error.code, c.code, error.message);
          assert.match(error.message, c.message);
          assert.ok(!error.message.includes('\n'), 'the message is one line');
          return true;
        },
      );
      // Nothing near the claimed size was allocated.
      assert.ok(process.memoryUsage().rss - rssBefore < 512 * 1024 * 1024, 'memory grew by more than 512 MiB');
    });
  }
});

test('a gzip file that inflates to more than its header declares is cut at the declared size', { skip: SKIP_WITHOUT_DATA }, () => {
  const raw = zlib.gunzipSync(niiGz());
  const padded = zlib.gzipSync(Buffer.concat([raw, Buffer.alloc(10_000_000)]));
  const volume = readVolumeBytes(padded, 'padded.nii.gz');
  assert.deepEqual(volume.dims, [124, 160, 140]);
});
