/**
 * An honest large gzip volume inflates into one buffer of its declared size (never a second
 * copy), and the asynchronous reader leaves the event loop free while it inflates. The volume
 * (512³ uint8, 128 MiB of voxels) is generated slice by slice into a gzip stream, so only the
 * compressed bytes are ever held besides what the reader allocates. Memory is a safety bound
 * from the process's peak resident size, not a speed claim. In a file of its own: the test
 * runner gives each file its own process, so the peak is this test's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gzip } from 'minizlib';
import { identity4 } from '../../src/core/geometry';
import { encodeNifti1 } from '../../src/core/niftiWriter';
import { readVolumeBytes, readVolumeBytesAsync } from '../../src/core/readVolume';

const N = 512;
const VOXEL_BYTES = N * N * N;

/** Voxel (x, y, z) of the generated volume. */
const valueAt = (x: number, y: number, z: number) => (x + 3 * y + 7 * z) & 0xff;

/** A 512³ uint8 .nii.gz made one z-slice at a time (header from the writer, dims patched). */
function makeLargeGzip(): Buffer {
  const header = Buffer.from(encodeNifti1({ dims: [1, 1, 1], affine: identity4(), data: new Uint8Array(1), intentCode: 0 }).subarray(0, 352));
  for (const [i, d] of [N, N, N].entries()) header.writeInt16LE(d, 42 + 2 * i);
  const gzip = new Gzip({ level: 1 }); // minizlib: synchronous, one slice at a time
  const parts: Buffer[] = [];
  gzip.on('data', (piece: Buffer) => parts.push(piece));
  gzip.write(header);
  const slice = new Uint8Array(N * N);
  for (let z = 0; z < N; z++) {
    for (let y = 0, i = 0; y < N; y++) for (let x = 0; x < N; x++, i++) slice[i] = valueAt(x, y, z);
    gzip.write(Buffer.from(slice)); // a copy: the slice is refilled next
  }
  gzip.end();
  return Buffer.concat(parts);
}

const peakRss = () => process.resourceUsage().maxRSS * 1024;

test('a large honest .nii.gz inflates into one buffer of the declared size; the async reader leaves the event loop free', async (t) => {
  const gz = makeLargeGzip();
  const before = peakRss();
  const volume = readVolumeBytes(gz, 'large.nii.gz');
  const growth = peakRss() - before;
  assert.deepEqual(volume.dims, [N, N, N]);
  assert.equal(volume.data.byteLength, VOXEL_BYTES);
  // The voxels are the inflated buffer itself, not a trimmed copy of a larger one.
  assert.equal(volume.data.buffer.byteLength, VOXEL_BYTES);
  for (const [x, y, z] of [[0, 0, 0], [511, 0, 0], [17, 300, 511], [511, 511, 511]]) {
    assert.equal(volume.data[x + N * (y + N * z)], valueAt(x, y, z));
  }
  t.diagnostic(`compressed ${(gz.length / 2 ** 20).toFixed(1)} MiB; peak memory grew by ${(growth / 2 ** 20).toFixed(0)} MiB reading ${VOXEL_BYTES / 2 ** 20} MiB of voxels`);
  // One copy of the voxels (plus zlib's working pieces); two copies, as gunzipSync then a trim made, would exceed this.
  assert.ok(growth < 1.5 * VOXEL_BYTES, `peak memory grew by ${growth} bytes for ${VOXEL_BYTES} bytes of voxels`);

  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const read = readVolumeBytesAsync(gz, 'large.nii.gz');
  const asyncVolume = await read;
  clearInterval(timer);
  t.diagnostic(`the event loop ran ${ticks} timer callbacks while the asynchronous reader inflated`);
  assert.ok(ticks > 0, 'the event loop never ran while the volume was inflated');
  assert.equal(asyncVolume.data.buffer.byteLength, VOXEL_BYTES);
  assert.equal(asyncVolume.data[17 + N * (300 + N * 511)], valueAt(17, 300, 511));
});
