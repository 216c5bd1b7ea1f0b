/**
 * The webview puts the volume's voxels together from the host's chunks (raw or deflated, as
 * session.ts sends them): byte for byte, in any order, with progress; a chunk that does not fit
 * is refused with the reason. Runs outside the browser (Node has DecompressionStream).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { readVolumeFile } from '../../src/core/readVolume';
import { chunkVoxelBytes, VoxelAssembly, type VoxelChunk } from '../../webview/voxelChunks';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

/** Exact-size ArrayBuffer of a byte view. */
function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

/** The chunks the host sends for `bytes`: deflated when that saves a fifth or more, else raw. */
function chunksOf(bytes: Uint8Array, chunkBytes: number): VoxelChunk[] {
  const chunks: VoxelChunk[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    const raw = bytes.subarray(offset, Math.min(bytes.length, offset + chunkBytes));
    const packed = zlib.deflateRawSync(raw, { level: 1 });
    const deflate = packed.length < raw.length * 0.8;
    chunks.push({ byteOffset: offset, byteLength: raw.length, encoding: deflate ? 'deflate-raw' : 'raw', bytes: bufferOf(deflate ? packed : raw) });
  }
  return chunks;
}

test('the voxels of a real volume come together byte for byte from raw and deflated chunks, in any order', { skip: SKIP_WITHOUT_DATA }, async () => {
  for (const file of [dataPath('semi', 'spinalcord', 't2.nii.gz'), dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz')]) {
    const volume = readVolumeFile(file);
    const bytes = new Uint8Array(volume.data.buffer, volume.data.byteOffset, volume.data.byteLength);
    const chunks = chunksOf(bytes, 64 * 1024 + 3); // an odd size: chunks split voxels
    assert.ok(chunks.length > 3, `${file}: ${chunks.length} chunks`);
    assert.ok(chunks.some((c) => c.encoding === 'deflate-raw'), 'some chunks travel deflated');
    for (const order of [chunks, [...chunks].reverse()]) {
      const target = new Uint8Array(bytes.length);
      const assembly = new VoxelAssembly(target);
      const progress = [];
      for (const chunk of order) progress.push(await assembly.receive(chunk));
      assert.deepEqual(progress.map((p) => p.done), order.map((_c, i) => i === order.length - 1), 'done with the last chunk only');
      assert.equal(progress.at(-1)!.done, true);
      assert.equal(order === chunks ? progress.at(-1)!.percent : progress[0].percent, 100);
      assert.ok(progress.every((p) => p.percent >= 0 && p.percent <= 100));
      assert.ok(Buffer.from(target).equals(Buffer.from(bytes)), `${file}: the voxels match`);
    }
  }
});

test('a chunk that does not hold what it says, or runs past the volume, is refused with the reason', async () => {
  const raw = new Uint8Array(1000).map((_v, i) => i % 7);
  const deflated = bufferOf(zlib.deflateRawSync(raw));
  assert.deepEqual(new Uint8Array(await chunkVoxelBytes({ byteOffset: 0, byteLength: 1000, encoding: 'deflate-raw', bytes: deflated })), raw);
  await assert.rejects(chunkVoxelBytes({ byteOffset: 0, byteLength: 999, encoding: 'deflate-raw', bytes: deflated }), /holds 1000 bytes, expected 999/);
  await assert.rejects(chunkVoxelBytes({ byteOffset: 0, byteLength: 1001, encoding: 'raw', bytes: bufferOf(raw) }), /holds 1000 bytes, expected 1001/);
  await assert.rejects(chunkVoxelBytes({ byteOffset: 0, byteLength: 1000, encoding: 'deflate-raw', bytes: bufferOf(raw) }));
  const target = new Uint8Array(1500);
  const assembly = new VoxelAssembly(target);
  await assert.rejects(assembly.receive({ byteOffset: 600, byteLength: 1000, encoding: 'raw', bytes: bufferOf(raw) }), /runs past the volume/);
  assert.ok(target.every((v) => v === 0), 'nothing of a refused chunk is copied');
  assert.deepEqual(await assembly.receive({ byteOffset: 500, byteLength: 1000, encoding: 'raw', bytes: bufferOf(raw) }), { done: false, percent: 100 });
  assert.deepEqual(await assembly.receive({ byteOffset: 0, byteLength: 500, encoding: 'raw', bytes: bufferOf(raw.subarray(0, 500)) }), { done: true, percent: 33 });
});
