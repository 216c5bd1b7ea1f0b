/**
 * Fuzzing the readers over every file in ../shared/data/formats: truncations, byte flips (most
 * of them in the header) and header mutations (NIfTI fields set to 0, −1, NaN, ±Infinity, huge
 * values; NRRD fields given words, signs, NaN and absurd sizes), seeded so every run tries the
 * same few hundred cases. Each case must end in a volume or a VolumeError — nothing else — within
 * 10 s and 1 GiB of memory growth (safety bounds, not speed claims), and a volume returned must
 * have a finite, invertible affine and positive finite spacing.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { test } from 'node:test';
import { VolumeError } from '../../src/core/errors';
import { affineProblem } from '../../src/core/geometry';
import { Random } from '../../src/core/random';
import { readVolumeBytes, readVolumeBytesAsync } from '../../src/core/readVolume';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

const SEED = 20260613;
const MUTATIONS_PER_FILE = 14;
const MAX_SECONDS = 10;
const MAX_GROWTH = 1024 ** 3;

/** Values a mutated NIfTI field takes: edges, non-finite, huge. */
const SPECIAL_NUMBERS = [0, -1, 1, -16, NaN, Infinity, -Infinity, 1e30, -1e30, 32767, -32768, 2 ** 31 - 1, 1e-30, 3.5];

/** NIfTI-1 header fields: [byte offset, 'i16' | 'f32', name]. */
const NIFTI1_FIELDS: [number, 'i16' | 'f32', string][] = [
  [40, 'i16', 'dim[0]'], [42, 'i16', 'dim[1]'], [44, 'i16', 'dim[2]'], [46, 'i16', 'dim[3]'], [48, 'i16', 'dim[4]'],
  [70, 'i16', 'datatype'], [72, 'i16', 'bitpix'],
  [76, 'f32', 'pixdim[0]'], [80, 'f32', 'pixdim[1]'], [84, 'f32', 'pixdim[2]'], [88, 'f32', 'pixdim[3]'],
  [108, 'f32', 'vox_offset'], [112, 'f32', 'scl_slope'], [116, 'f32', 'scl_inter'],
  [252, 'i16', 'qform_code'], [254, 'i16', 'sform_code'],
  [256, 'f32', 'quatern_b'], [260, 'f32', 'quatern_c'], [264, 'f32', 'quatern_d'], [268, 'f32', 'qoffset_x'],
  [280, 'f32', 'srow_x[0]'], [284, 'f32', 'srow_x[1]'], [300, 'f32', 'srow_y[1]'], [312, 'f32', 'srow_z[0]'], [324, 'f32', 'srow_z[3]'],
];

/** Replacement texts for a NRRD field value. */
const NRRD_VALUES = ['abc', '-1', '0', 'nan', '1e309', '30000000 1 1', '2 2', '(nan,0,0) (0,0,0) (0,0,1)', '(1,0,0) (1,0,0) (0,0,1)', 'none', '', '0x10', '1.5', '65536 65536 65536', 'list domain domain domain'];

/** What a JavaScript failure inside a parser says: never a user's error message. */
const INTERNAL_FAILURE = /Cannot read propert|is not a function|is not defined|outside the bounds|Invalid typed array|Invalid array length|Maximum call stack/;

interface Case {
  name: string;
  bytes: Uint8Array;
}

function niftiHeaderMutation(random: Random, file: Buffer, gz: boolean): Case {
  const raw = gz ? zlib.gunzipSync(file) : Buffer.from(file);
  // NIfTI-2 (sizeof_hdr 540) has other offsets: flip bytes of its header instead.
  if (raw.readInt32LE(0) !== 348 && raw.readInt32BE(0) !== 348) return byteFlips(random, file, 'nifti2 header', 540);
  const littleEndian = raw.readInt32LE(0) === 348;
  const [offset, kind, name] = NIFTI1_FIELDS[random.int(NIFTI1_FIELDS.length)];
  const value = SPECIAL_NUMBERS[random.int(SPECIAL_NUMBERS.length)];
  if (kind === 'i16') {
    const v = Number.isFinite(value) ? Math.max(-32768, Math.min(32767, Math.trunc(value))) : 0;
    if (littleEndian) raw.writeInt16LE(v, offset);
    else raw.writeInt16BE(v, offset);
  } else if (littleEndian) raw.writeFloatLE(value, offset);
  else raw.writeFloatBE(value, offset);
  return { name: `${name} = ${value}`, bytes: gz ? zlib.gzipSync(raw, { level: 1 }) : raw };
}

function nrrdHeaderMutation(random: Random, file: Buffer): Case {
  const end = file.indexOf('\n\n');
  const headerEnd = end < 0 ? file.length : end;
  const lines = file.subarray(0, headerEnd).toString('latin1').split('\n');
  const index = 1 + random.int(lines.length - 1);
  const value = NRRD_VALUES[random.int(NRRD_VALUES.length)];
  const field = lines[index].split(/:=?/)[0];
  lines[index] = random.chance(0.15) ? '' : `${field}: ${value}`;
  const header = Buffer.from(lines.join('\n'), 'latin1');
  return { name: `${field}: ${value}`, bytes: Buffer.concat([header, file.subarray(headerEnd)]) };
}

function byteFlips(random: Random, file: Buffer, what: string, headerBytes: number): Case {
  const bytes = Buffer.from(file);
  const flips = 1 + random.int(8);
  for (let f = 0; f < flips; f++) {
    const at = random.chance(0.6) ? random.int(Math.min(headerBytes, bytes.length)) : random.int(bytes.length);
    bytes[at] ^= 1 << random.int(8);
  }
  return { name: `${flips} bit flip(s) in the ${what}`, bytes };
}

function casesOf(random: Random, name: string, file: Buffer): Case[] {
  const gz = name.endsWith('.gz');
  const nrrd = /\.(nrrd|nhdr)$/.test(name);
  const cases: Case[] = [];
  for (let m = 0; m < MUTATIONS_PER_FILE; m++) {
    const kind = m % 3;
    if (kind === 0) {
      const length = random.chance(0.3) ? random.int(Math.min(600, file.length)) : random.int(file.length);
      cases.push({ name: `truncated to ${length} bytes`, bytes: file.subarray(0, length) });
    } else if (kind === 1) {
      cases.push(byteFlips(random, file, nrrd ? 'file' : 'file (header first)', nrrd ? 400 : 352));
    } else {
      cases.push(nrrd ? nrrdHeaderMutation(random, file) : niftiHeaderMutation(random, file, gz));
    }
  }
  return cases;
}

test('fuzzing the readers: a volume with a usable affine or a VolumeError, within 10 s and 1 GiB, every time', { skip: SKIP_WITHOUT_DATA }, async (t) => {
  const random = new Random(SEED);
  const names = fs.readdirSync(dataPath('formats')).filter((f) => /\.(nii|nii\.gz|nrrd|nhdr)$/.test(f)).sort();
  const readSibling = (name: string) => new Uint8Array(fs.readFileSync(dataPath('formats', name)));
  let volumes = 0;
  let errors = 0;
  let worstSeconds = 0;
  let worstGrowth = 0;
  let asyncChecked = 0;
  const baseline = process.memoryUsage().rss;
  for (const name of names) {
    const file = fs.readFileSync(dataPath('formats', name));
    for (const c of casesOf(random, name, file)) {
      const what = `${name}, ${c.name}`;
      const rss = process.memoryUsage().rss;
      const start = performance.now();
      try {
        const volume = readVolumeBytes(c.bytes, name, readSibling);
        volumes++;
        assert.equal(affineProblem(volume.affine), undefined, `${what}: the volume's affine is not usable`);
        assert.ok(volume.spacing.every((s) => Number.isFinite(s) && s > 0), `${what}: spacing ${volume.spacing}`);
        assert.equal(volume.data.length, volume.dims[0] * volume.dims[1] * volume.dims[2], `${what}: data length`);
      } catch (error) {
        if (error instanceof assert.AssertionError) throw error;
        assert.ok(error instanceof VolumeError, `${what}: ${String((error as Error)?.stack ?? error)}`);
        assert.ok(!error.message.includes('\n'), `${what}: a one-line message`);
        assert.doesNotMatch(error.message, INTERNAL_FAILURE, `${what}: the message names the reader's internals, not the file`);
        errors++;
      }
      if ((volumes + errors) % 4 === 1) {
        // Every fourth case through the asynchronous reader too: the same outcome.
        asyncChecked++;
        const sync = await Promise.resolve().then(() => readVolumeBytes(c.bytes, name, readSibling)).then((v) => v.dims.join('×'), (e: Error) => e.message);
        const async = await readVolumeBytesAsync(c.bytes, name, async (n) => readSibling(n)).then((v) => v.dims.join('×'), (e: Error) => e.message);
        assert.equal(async, sync, `${what}: the asynchronous reader disagrees`);
      }
      const seconds = (performance.now() - start) / 1000;
      const growth = process.memoryUsage().rss - rss;
      worstSeconds = Math.max(worstSeconds, seconds);
      worstGrowth = Math.max(worstGrowth, growth);
      assert.ok(seconds < MAX_SECONDS, `${what}: ${seconds.toFixed(1)} s`);
      assert.ok(growth < MAX_GROWTH, `${what}: memory grew by ${growth} bytes`);
    }
  }
  assert.ok(process.memoryUsage().rss - baseline < MAX_GROWTH, 'memory grew by more than 1 GiB over the run');
  t.diagnostic(`${volumes + errors} cases over ${names.length} files: ${volumes} volumes, ${errors} VolumeErrors (${asyncChecked} also read asynchronously); slowest ${worstSeconds.toFixed(2)} s, largest growth ${(worstGrowth / 2 ** 20).toFixed(0)} MiB`);
  assert.ok(volumes > 0 && errors > 0, 'the cases include readable and unreadable files');
});

/**
 * NIfTI extensions and vox_offset, where nifti-reader-js used to fail inside ("Cannot read
 * properties of undefined (reading 'esize')"): the extension flag set over garbage, extension
 * sizes that run past the data, and wild vox_offsets, in NIfTI-1 and NIfTI-2, both byte orders.
 */
test('NIfTI extensions gone wild and wild vox_offsets: the volume (extensions are not read) or an error naming vox_offset', { skip: SKIP_WITHOUT_DATA }, () => {
  const names = ['anatomical.nii', 'niivue_minimal.nii.gz', 'example_nifti2.nii.gz', 'functional.nii'];
  let cases = 0;
  for (const name of names) {
    const file = fs.readFileSync(dataPath('formats', name));
    const gz = name.endsWith('.gz');
    const raw = gz ? zlib.gunzipSync(file) : file;
    const nifti2 = raw.readInt32LE(0) === 540 || raw.readInt32BE(0) === 540;
    const headerSize = nifti2 ? 540 : 348;
    const le = raw.readInt32LE(0) === headerSize;
    const pack = (bytes: Buffer) => (gz ? zlib.gzipSync(bytes, { level: 1 }) : bytes);
    const original = readVolumeBytes(file, name);
    // The extension flag set, and one extension whose size and code are nonsense.
    for (const esize of [-8, 0, 7, 12, 2 ** 31 - 1]) {
      const bytes = Buffer.from(raw);
      bytes[headerSize] = 1;
      if (le) bytes.writeInt32LE(esize, headerSize + 4);
      else bytes.writeInt32BE(esize, headerSize + 4);
      const volume = readVolumeBytes(pack(bytes), name);
      assert.deepEqual(volume.dims, original.dims, `${name}, esize ${esize}`);
      cases++;
    }
    // vox_offset: negative, huge, not a number.
    for (const value of [-16, -1e30, 2 ** 40, NaN]) {
      const bytes = Buffer.from(raw);
      if (nifti2) {
        const v = Number.isNaN(value) ? -(2n ** 62n) : BigInt(Math.max(value, -(2 ** 62)));
        if (le) bytes.writeBigInt64LE(v, 168);
        else bytes.writeBigInt64BE(v, 168);
      } else if (le) bytes.writeFloatLE(value, 108);
      else bytes.writeFloatBE(value, 108);
      assert.throws(() => readVolumeBytes(pack(bytes), name), (e: unknown) => e instanceof VolumeError && /invalid NIfTI header: vox_offset is/.test(e.message), `${name}, vox_offset ${value}`);
      cases++;
    }
  }
  assert.equal(cases, 36);
});
