/**
 * Streaming a volume's voxels instead of reading it whole (the editor's fast open): the header
 * alone says where the voxels lie, and streaming them from the file (on the host, with Node's
 * zlib; in the webview, with fetch and DecompressionStream, run here against a local HTTP server)
 * gives the very bytes the whole-file readers give, for every file of the shared data; the planes
 * through a voxel are gathered from pieces of any size; a file cut short is refused.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { BYTES_PER_VOXEL, swapBytesInPlace } from '../../src/core/datatypes';
import type { Vec3 } from '../../src/core/geometry';
import { readVolumeFile, readVolumeHeaderFile } from '../../src/core/readVolume';
import { extractSlice, type Axis } from '../../src/core/slices';
import { streamPlanes, streamVoxelFile } from '../../src/core/voxelFileStream';
import { PlaneCollector, VoxelStreamCutter, streamableLayout } from '../../src/core/voxelStream';
import { fetchVoxels, VoxelPresence } from '../../webview/voxelLoading';
import { SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';

/** Every volume file of the shared data that the readers open. */
function sharedVolumes(): string[] {
  const formats = fs.readdirSync(dataPath('formats')).filter((f) => /\.(nii|nii\.gz|nrrd|nhdr)$/.test(f) && !f.includes('complex'));
  return [...formats.map((f) => dataPath('formats', f)), dataPath('semi', 'spinalcord', 't2.nii.gz'), dataPath('semi', 'ctchest', 'CTChest4.nrrd')];
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

test('the header alone gives the grid of a whole read, and streaming gives its very voxels, for every shared file', { skip: SKIP_WITHOUT_DATA }, async () => {
  const unstreamable: string[] = [];
  for (const file of sharedVolumes()) {
    const name = path.basename(file);
    const volume = readVolumeFile(file);
    const { header, voxelFile } = await readVolumeHeaderFile(file);
    for (const key of ['format', 'dims', 'spacing', 'datatype', 'sclSlope', 'sclInter', 'affine', 'frames', 'warnings', 'segments', 'xformCodes'] as const) {
      assert.deepEqual(header[key], volume[key], `${name}: ${key}`);
    }
    const layout = streamableLayout(header);
    if (!layout) {
      unstreamable.push(`${name}: ${(header.voxels as { unstreamable: string }).unstreamable}`);
      continue;
    }
    const streamed = new Uint8Array(layout.byteLength);
    await streamVoxelFile(voxelFile, layout, (bytes, offset) => void streamed.set(bytes, offset));
    if (!layout.littleEndian) swapBytesInPlace(streamed, BYTES_PER_VOXEL[header.datatype]);
    assert.ok(Buffer.from(streamed).equals(Buffer.from(bytesOf(volume.data))), `${name}: the streamed voxels are the read ones`);
  }
  // Only what cannot be cut out of a byte stream is read whole.
  assert.deepEqual(unstreamable, ['SegmentationOverlapping.seg.nrrd: the layers are interleaved']);
});

test('the webview fetches a file and cuts the same voxels out of it (DecompressionStream for gzip, byte offsets for NRRD)', { skip: SKIP_WITHOUT_DATA }, async () => {
  const files = ['formats/niivue_FLAIR.nii.gz', 'formats/niivue_FLAIR.nrrd', 'formats/anatomical.nii', 'formats/brain1_image.nrrd', 'semi/spinalcord/t2.nii.gz'].map((f) => dataPath(...f.split('/')));
  const server = http.createServer((request, response) => {
    const file = files.find((f) => request.url === `/${path.basename(f)}`);
    if (!file) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    fs.createReadStream(file, { highWaterMark: 7 * 1024 + 3 }).pipe(response); // odd pieces
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    for (const file of files) {
      const volume = readVolumeFile(file);
      const layout = streamableLayout((await readVolumeHeaderFile(file)).header)!;
      const target = new Uint8Array(layout.byteLength);
      const progress: number[] = [];
      await fetchVoxels(`http://127.0.0.1:${port}/${path.basename(file)}`, layout, target, (filled) => progress.push(filled));
      if (!layout.littleEndian) swapBytesInPlace(target, BYTES_PER_VOXEL[volume.datatype]);
      assert.ok(Buffer.from(target).equals(Buffer.from(bytesOf(volume.data))), `${path.basename(file)}: fetched voxels`);
      assert.equal(progress.at(-1), layout.byteLength);
      assert.ok(progress.every((p, i) => i === 0 || p >= progress[i - 1]), 'progress only grows');
    }
    const layout = streamableLayout((await readVolumeHeaderFile(files[0])).header)!;
    await assert.rejects(fetchVoxels(`http://127.0.0.1:${port}/missing.nii.gz`, layout, new Uint8Array(layout.byteLength), () => {}), /could not be fetched \(HTTP 404\)/);
  } finally {
    server.close();
  }
});

test('the planes through a voxel are gathered from pieces of any size and order, and given as soon as each is complete', () => {
  const dims: Vec3 = [7, 5, 4];
  const data = Int16Array.from({ length: 7 * 5 * 4 }, (_v, i) => i * 3 - 100);
  const bytes = bytesOf(data);
  for (const voxel of [[0, 0, 0], [6, 4, 3], [3, 2, 1]] as Vec3[]) {
    for (const pieceSize of [1, 3, 14, 70, 1000]) {
      const collector = new PlaneCollector(dims, 'int16', voxel);
      const order: number[] = [];
      for (let offset = 0; offset < bytes.length; offset += pieceSize) {
        collector.take(bytes.subarray(offset, offset + pieceSize), offset);
        for (const plane of collector.takeComplete()) order.push(plane.axis);
      }
      assert.ok(collector.allComplete);
      if (voxel[2] < dims[2] - 1 && pieceSize < 70) assert.equal(order[0], 2, 'the axial plane (a slab of the file) comes first');
      assert.deepEqual([...order].sort(), [0, 1, 2]);
      const again = new PlaneCollector(dims, 'int16', voxel);
      again.take(bytes, 0);
      for (const plane of again.takeComplete()) {
        const expected = extractSlice(data, dims, plane.axis, voxel[plane.axis]).data;
        assert.deepEqual(new Int16Array(plane.bytes.buffer), expected, `axis ${plane.axis} through ${voxel} in pieces of ${pieceSize}`);
      }
    }
  }
  // Big-endian planes come in this machine's order.
  const swapped = bytes.slice();
  swapBytesInPlace(swapped, 2);
  const big = new PlaneCollector(dims, 'int16', [1, 1, 1], false);
  big.take(swapped, 0);
  for (const plane of big.takeComplete()) assert.deepEqual(new Int16Array(plane.bytes.buffer), extractSlice(data, dims, plane.axis as Axis, 1).data);
});

test('the cutter drops the bytes before the voxels and stops after them', () => {
  const stream = Uint8Array.from({ length: 100 }, (_v, i) => i);
  const got = new Uint8Array(30);
  const cutter = new VoxelStreamCutter({ skip: 40, byteLength: 30 }, (bytes, offset) => got.set(bytes, offset));
  const done: boolean[] = [];
  for (let o = 0; o < 100; o += 17) done.push(cutter.take(stream.subarray(o, o + 17)));
  assert.deepEqual(got, stream.subarray(40, 70));
  assert.deepEqual(done, [false, false, false, false, true, true]);
});

test('the planes are streamed from a real file on the host; a file cut short is refused, saying so', { skip: SKIP_WITHOUT_DATA }, async () => {
  const file = dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz');
  const volume = readVolumeFile(file);
  const { header, voxelFile } = await readVolumeHeaderFile(file);
  const voxel: Vec3 = [80, 90, 13];
  const planes: Axis[] = [];
  await streamPlanes(voxelFile, header, streamableLayout(header)!, voxel, (plane) => {
    planes.push(plane.axis);
    const expected = extractSlice(volume.data, volume.dims, plane.axis, voxel[plane.axis]).data;
    assert.ok(Buffer.from(plane.bytes).equals(Buffer.from(bytesOf(expected))), `axis ${plane.axis}`);
  });
  assert.equal(planes[0], 2, 'the axial plane comes first, halfway through the file');
  assert.deepEqual([...planes].sort(), [0, 1, 2]);

  const dir = tempDir('voxel-stream');
  try {
    const cut = path.join(dir, 'cut.nii.gz');
    const whole = fs.readFileSync(file);
    fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const layout = streamableLayout((await readVolumeHeaderFile(cut)).header)!;
    await assert.rejects(streamVoxelFile(cut, layout, () => {}), /shorter than the header says: the file ends after \d+ of its \d+ bytes/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('which slices are there: the first planes at once, axial slices as the stream passes them, the rest at the end', () => {
  const presence = new VoxelPresence([4, 3, 5], 'int16');
  assert.equal(presence.total, 4 * 3 * 5 * 2);
  presence.addPlane(0, 2);
  presence.addPlane(1, 1);
  presence.addPlane(2, 4);
  assert.ok(presence.planesPresent([2, 1, 4]));
  assert.ok(!presence.slicePresent(2, 0));
  presence.filled = 4 * 3 * 2 * 2; // two axial slabs
  assert.ok(presence.slicePresent(2, 1) && !presence.slicePresent(2, 2));
  assert.ok(!presence.slicePresent(1, 0), 'a coronal slice needs every slab');
  assert.equal(presence.fraction, 0.4);
  presence.filled = presence.total;
  assert.ok(presence.complete && presence.slicePresent(0, 3) && presence.slicePresent(1, 0));
});
