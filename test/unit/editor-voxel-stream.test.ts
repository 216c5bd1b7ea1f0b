/**
 * Streaming a volume's voxels instead of reading it whole (the editor's fast open): the header
 * alone says where the voxels lie, and streaming them from the file (on the host, with Node's
 * zlib; in the webview, with fetch and DecompressionStream, run here against a local HTTP server)
 * gives the very bytes the whole-file readers give, for every file of the shared data; the planes
 * through a voxel are gathered from pieces of any size; a file cut short is refused; the webview
 * takes the file over its server's own route where there is one, and falls back from it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { test } from 'node:test';
import { BYTES_PER_VOXEL, swapBytesInPlace } from '../../src/core/datatypes';
import { encodeNiftiGz } from '../../src/core/niftiWriter';
import type { Vec3 } from '../../src/core/geometry';
import { readVolumeFile, readVolumeHeaderFile } from '../../src/core/readVolume';
import { extractSlice, offsetInSlice, type Axis } from '../../src/core/slices';
import { streamPlanes, streamVoxelFile } from '../../src/core/voxelFileStream';
import { PlaneCollector, VoxelStreamCutter, streamableLayout } from '../../src/core/voxelStream';
import { planeLayouts, planeVoxelIndices } from '../../src/core/planes';
import { heldPlaneIndices } from '../../webview/planeImage';
import { composeGray } from '../../webview/render';
import { PageToucher } from '../../webview/firstTouch';
import { bodyPieces, fetchVoxels, serverResourceUrl, VoxelLoader, VoxelPresence } from '../../webview/voxelLoading';
import { SERVER_ROUTE_MIN_BYTES } from '../../src/protocol/webview';
import { REPO_ROOT, SKIP_WITHOUT_DATA, dataPath, tempDir } from '../helpers/data';
import { runPlanesThread } from '../../src/extension/volumeEditor/runPlanesThread';

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

test('a header longer than the first 64 KiB read is read whole: an attached NRRD, and a detached one with no empty line at its end', async () => {
  const dir = tempDir('long-header');
  try {
    const data = Int16Array.from({ length: 4 * 3 * 2 }, (_v, i) => i * 7 - 50);
    // 80 KiB of comments, and after them the origin: a header read cut at 64 KiB would be
    // complete but for it, and place the volume at (0, 0, 0).
    const comments = Array.from({ length: 1200 }, (_v, i) => `# comment line ${i} ${'x'.repeat(56)}`).join('\n');
    const fields = ['type: short', 'dimension: 3', 'sizes: 4 3 2', 'space: left-posterior-superior', 'space directions: (0.5,0,0) (0,0.75,0) (0,0,2.5)', 'encoding: raw', 'endian: little'];
    const attached = path.join(dir, 'long.nrrd');
    fs.writeFileSync(attached, Buffer.concat([Buffer.from(`NRRD0004\n${fields.join('\n')}\n${comments}\nspace origin: (10,-20,30)\n\n`, 'latin1'), Buffer.from(bytesOf(data))]));
    const detached = path.join(dir, 'long.nhdr');
    fs.writeFileSync(path.join(dir, 'long.raw'), bytesOf(data));
    fs.writeFileSync(detached, `NRRD0004\n${fields.join('\n')}\ndata file: long.raw\n${comments}\nspace origin: (10,-20,30)`);
    assert.ok(fs.statSync(detached).size > 64 * 1024);
    for (const file of [attached, detached]) {
      const whole = readVolumeFile(file);
      const { header } = await readVolumeHeaderFile(file);
      assert.deepEqual(header.dims, [4, 3, 2], path.basename(file));
      assert.deepEqual(header.spacing, whole.spacing, `${path.basename(file)}: spacing`);
      assert.deepEqual(header.affine, whole.affine, `${path.basename(file)}: affine`);
      assert.deepEqual(header.spacing, [0.5, 0.75, 2.5]);
      assert.deepEqual([header.affine[0][3], header.affine[1][3], header.affine[2][3]], [whole.affine[0][3], whole.affine[1][3], whole.affine[2][3]], `${path.basename(file)}: origin`);
      assert.notDeepEqual([header.affine[0][3], header.affine[1][3], header.affine[2][3]], [0, 0, 0], `${path.basename(file)}: the origin is read`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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

test('the planes are streamed from a real file on the host, on its worker thread too (with a raw copy of the voxels where asked); a file cut short is refused, saying so', { skip: SKIP_WITHOUT_DATA }, async () => {
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

    // The same on the host's worker thread (the bundled dist/planesThread.js the editor uses).
    const thread = path.join(REPO_ROOT, 'dist', 'planesThread.js');
    const threaded: Axis[] = [];
    await runPlanesThread({ file: voxelFile, grid: header, layout: streamableLayout(header)!, voxel, rule: { what: voxelFile } }, (plane) => {
      threaded.push(plane.axis);
      const expected = extractSlice(volume.data, volume.dims, plane.axis, voxel[plane.axis]).data;
      assert.ok(Buffer.from(plane.bytes).equals(Buffer.from(bytesOf(expected))), `axis ${plane.axis} from the thread`);
    }, undefined, thread);
    assert.deepEqual(threaded, planes, 'the thread hands them over in the same order');
    await assert.rejects(
      runPlanesThread({ file: cut, grid: header, layout, voxel, rule: { what: cut } }, () => {}, undefined, thread),
      /shorter than the header says: the file ends after \d+ of its \d+ bytes/,
    );
    // Asked for a raw copy: the file holds every voxel as stored, and the planes come all the same.
    const copyPath = path.join(dir, 'copy.voxels.mp4');
    const copied: Axis[] = [];
    const withCopy = await runPlanesThread({ file: voxelFile, grid: header, layout: streamableLayout(header)!, voxel, rule: { what: voxelFile }, rawCopy: copyPath }, (plane) => copied.push(plane.axis), undefined, thread);
    assert.deepEqual(withCopy, { rawCopy: copyPath });
    assert.deepEqual(copied, planes);
    assert.ok(fs.readFileSync(copyPath).equals(Buffer.from(bytesOf(volume.data))), 'the copy holds the voxels');
    assert.equal(fs.statSync(copyPath).mode & 0o777, 0o600, 'only its owner reads it');
    // A copy that cannot be written (its folder is gone, or the file is there already) is dropped, not the planes.
    const unwritable: Axis[] = [];
    assert.deepEqual(await runPlanesThread({ file: voxelFile, grid: header, layout: streamableLayout(header)!, voxel, rule: { what: voxelFile }, rawCopy: path.join(dir, 'gone', 'copy.mp4') }, (plane) => unwritable.push(plane.axis), undefined, thread), {});
    assert.deepEqual(unwritable, planes);
    assert.deepEqual(await runPlanesThread({ file: voxelFile, grid: header, layout: streamableLayout(header)!, voxel, rule: { what: voxelFile }, rawCopy: copyPath }, () => {}, undefined, thread), {});
    assert.ok(fs.readFileSync(copyPath).equals(Buffer.from(bytesOf(volume.data))), 'a file already there is left alone');
    // A file cut short leaves no partial copy behind.
    const cutCopy = path.join(dir, 'cut.voxels.mp4');
    await assert.rejects(runPlanesThread({ file: cut, grid: header, layout, voxel, rule: { what: cut }, rawCopy: cutCopy }, () => {}, undefined, thread), /shorter than the header says/);
    assert.ok(!fs.existsSync(cutCopy), 'no partial copy');

    // Stopped: resolves, and hands nothing more over.
    const stop = new AbortController();
    let after = 0;
    const stopped = runPlanesThread({ file: voxelFile, grid: header, layout: streamableLayout(header)!, voxel, rule: { what: voxelFile } }, () => after++, stop.signal, thread);
    stop.abort();
    await stopped;
    assert.equal(after, 0);
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

test('the coronal and sagittal first planes are held beside the voxel buffer until every voxel is in, and read from there: the slices, the values, the pixels drawn', () => {
  const dims: Vec3 = [5, 4, 3];
  const volume = Int16Array.from({ length: 5 * 4 * 3 }, (_v, i) => i * 3 - 50);
  const voxels = new Int16Array(volume.length);
  const loader = new VoxelLoader(voxels, dims, 'int16', { kind: 'chunks' }, { voxelsArrived: () => {}, voxelsComplete: () => {}, fetchFailed: () => {}, fetchRouteFailed: () => {} });
  const voxel: Vec3 = [2, 1, 1];
  for (const axis of [2, 0, 1] as Axis[]) loader.receivePlane({ axis, index: voxel[axis], bytes: bytesOf(extractSlice(volume, dims, axis, voxel[axis]).data).buffer as ArrayBuffer });
  assert.ok(loader.presence.planesPresent(voxel));
  // The axial plane is in the buffer; the other two are not (nothing but that slab was touched).
  assert.deepEqual([...voxels.subarray(20, 40)], [...volume.subarray(20, 40)]);
  assert.equal(voxels.subarray(0, 20).some((v) => v !== 0) || voxels.subarray(40).some((v) => v !== 0), false);
  for (const axis of [0, 1, 2] as Axis[]) assert.deepEqual([...loader.sliceVoxels(axis, voxel[axis])], [...extractSlice(volume, dims, axis, voxel[axis]).data], `slice across axis ${axis}`);
  assert.ok(loader.heldPlane(0, 2) && loader.heldPlane(1, 1) && !loader.heldPlane(2, 1) && !loader.heldPlane(0, 3));
  for (let i = 0; i < volume.length; i++) {
    const [x, y, z] = [i % 5, Math.floor(i / 5) % 4, Math.floor(i / 20)];
    if (x === 2 || y === 1 || z === 1) assert.equal(loader.valueAt(i), volume[i], `voxel ${x}, ${y}, ${z}`);
  }
  // A sagittal pane draws the held plane's values at the same pixels as from the whole buffer.
  const layout = planeLayouts(dims, [1, 1, 1], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], 'radiological').find((l) => l.sliceAxis === 0)!;
  const indices = planeVoxelIndices(layout, dims, 2);
  const gray = { window: { level: 0, width: 400 }, lookup: undefined, lookupOffset: 0, slope: 1, inter: 0, layers: [] };
  const drawn = (input: Parameters<typeof composeGray>[1]) => {
    const out = new Uint32Array(indices.length);
    composeGray(out, input);
    return [...out];
  };
  const fromHeld = drawn({ ...gray, indices, voxelIndices: heldPlaneIndices(indices, dims, 0), width: layout.width, height: layout.height, voxels: loader.heldPlane(0, 2)! });
  assert.deepEqual(fromHeld, drawn({ ...gray, indices, width: layout.width, height: layout.height, voxels: volume }));
  // Once every voxel is in, the buffer is read again and the planes are let go.
  voxels.set(volume);
  loader.presence.filled = loader.presence.total;
  assert.equal(loader.heldPlane(0, 2), undefined);
  assert.equal(loader.valueAt(7), volume[7]);
});

test('a held plane is read at the place offsetInSlice gives, across each axis of a grid that is not a cube', () => {
  const dims: Vec3 = [5, 3, 4];
  for (const axis of [0, 1, 2] as const) {
    const layout = planeLayouts(dims, [1, 2, 3], [[1, 0, 0, 0], [0, 2, 0, 0], [0, 0, 3, 0], [0, 0, 0, 1]], 'radiological').find((l) => l.sliceAxis === axis)!;
    const indices = planeVoxelIndices(layout, dims, 1);
    assert.deepEqual([...heldPlaneIndices(indices, dims, axis)], [...indices].map((i) => offsetInSlice(i, dims, axis)), `axis ${axis}`);
  }
});

test('a body is read from its file offset on, into a buffer of ours where it is a byte stream, and left once the reader stops', async () => {
  const bytes = new Uint8Array(3_000_000).map((_, i) => (i * 7) % 256);
  const pieceSizes = [1, 351, 2_000_000, 999_648]; // the offset ends inside the second piece
  const stream = (type: 'bytes' | undefined, cancelled: { yes: boolean }) => {
    let at = 0;
    let n = 0;
    const source = {
      pull(controller: ReadableStreamController<Uint8Array>) {
        if (at >= bytes.length) {
          controller.close();
          // A byte stream closed while a read into the reader's buffer waits answers it with nothing.
          if (controller instanceof ReadableByteStreamController) controller.byobRequest?.respond(0);
          return;
        }
        const size = pieceSizes[n++ % pieceSizes.length];
        controller.enqueue(bytes.slice(at, at + size));
        at += size;
      },
      cancel() {
        cancelled.yes = true;
      },
    };
    return type ? new ReadableStream({ ...source, type }) : new ReadableStream<Uint8Array>(source);
  };
  for (const type of ['bytes', undefined] as const) {
    const cancelled = { yes: false };
    const joined: Uint8Array[] = [];
    for await (const piece of bodyPieces(stream(type, cancelled), { fileOffset: 352, compression: 'none' })) joined.push(piece.slice());
    assert.ok(Buffer.concat(joined).equals(Buffer.from(bytes.subarray(352))), `${type ?? 'default'} stream: every byte after the offset, in order`);
    const largest = Math.max(...joined.map((piece) => piece.length));
    // A byte stream is read 1 MiB at a time into the reader's one buffer; another gives its pieces as they are.
    assert.equal(largest, type === 'bytes' ? 1 << 20 : 2_000_000);
    // Stopped after its first piece: the body is cancelled, not read to its end.
    const early = { yes: false };
    for await (const piece of bodyPieces(stream(type, early), { fileOffset: 0, compression: 'none' })) {
      assert.ok(piece.length > 0);
      break;
    }
    assert.ok(early.yes, `${type ?? 'default'} stream: cancelled once the reader stops`);
  }
});

test("the voxel buffer's pages are touched ahead of the fetch, a slice at a time, keeping what the buffer holds, until the fetch starts", async () => {
  // What a fresh buffer holds once a plane from the host is in: values the touch must keep.
  const bytes = new Uint8Array(9 << 20);
  for (let i = 0; i < bytes.length; i += 997) bytes[i] = (i % 251) + 1;
  const before = Buffer.from(bytes);
  let done = false;
  const toucher = new PageToucher(bytes, () => (done = true));
  toucher.start();
  assert.equal(toucher.touched, 0, 'nothing on the caller\'s task: the touch goes in later tasks');
  await new Promise<void>((resolve) => {
    const wait = () => (done ? resolve() : setTimeout(wait, 1));
    wait();
  });
  assert.equal(toucher.touched, bytes.length);
  assert.ok(Buffer.from(bytes).equals(before), 'every byte keeps its value');

  // Stopped (the fetch starts) after its first slice: it touches no further.
  const big = new Uint8Array(64 << 20);
  const stopped = new PageToucher(big, () => assert.fail('a stopped touch does not finish'));
  stopped.start();
  await new Promise<void>((resolve) => {
    const wait = () => (stopped.touched > 0 ? resolve() : setTimeout(wait, 0));
    wait();
  });
  const at = stopped.stop();
  assert.ok(at > 0 && at < big.length, `stopped at ${at} of ${big.length} bytes`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(stopped.touched, at);
});

test("the server's own route to a file: only where the webview's page comes from the workbench's own server, beside its versioned static folder", () => {
  const pre = '/static/out/vs/workbench/contrib/webview/browser/pre/index.html';
  const page = (origin: string, pathname: string, remoteAuthority?: string) => ({
    origin,
    host: new URL(origin).host,
    pathname,
    search: `?id=9&swVersion=6${remoteAuthority ? `&remoteAuthority=${encodeURIComponent(remoteAuthority)}` : ''}`,
  });
  // code-server at the root, and behind a proxy's prefix.
  assert.equal(
    serverResourceUrl(page('http://127.0.0.1:8080', `/stable-53c2f32${pre}`, '127.0.0.1:8080'), '/data/my scans/ct #1.nii.gz'),
    'http://127.0.0.1:8080/vscode-remote-resource?path=%2Fdata%2Fmy%20scans%2Fct%20%231.nii.gz',
  );
  assert.equal(serverResourceUrl(page('https://lab.example.org', `/code/stable-53c2f32${pre}`, 'lab.example.org'), '/c:/scans/ct.nii.gz'), 'https://lab.example.org/code/vscode-remote-resource?path=%2Fc%3A%2Fscans%2Fct.nii.gz');
  // Desktop VS Code (no remote, or a remote on another host than the webview's own origin), or a page not VS Code's webview host.
  assert.equal(serverResourceUrl(page('vscode-webview://1abc', '/index.html'), '/data/ct.nii.gz'), undefined);
  assert.equal(serverResourceUrl(page('vscode-webview://1abc', `/stable-1${pre}`, 'ssh-remote+lab'), '/data/ct.nii.gz'), undefined);
  assert.equal(serverResourceUrl(page('https://x.vscode-cdn.net', `/stable-1${pre}`, '127.0.0.1:8080'), '/data/ct.nii.gz'), undefined);
  assert.equal(serverResourceUrl(page('http://127.0.0.1:8080', '/somewhere/index.html', '127.0.0.1:8080'), '/data/ct.nii.gz'), undefined);
});

test("the loader fetches the file (after the host's planes where it says so, and then the host's raw copy of the voxels where it made one) over the server's own route where there is one, and from the resource URI when that route fails or gives a web page; both failing hands the voxels to the host", async () => {
  const dir = tempDir('voxel-routes');
  const dims: Vec3 = [128, 128, 160];
  const data = Int16Array.from({ length: dims[0] * dims[1] * dims[2] }, (_v, i) => ((i * 7919) % 3001) - 1000);
  const file = path.join(dir, 'ct.nii.gz');
  fs.writeFileSync(file, encodeNiftiGz({ dims, affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], data, intentCode: 0 }));
  const layout = streamableLayout((await readVolumeHeaderFile(file)).header)!;
  assert.ok(layout.byteLength >= SERVER_ROUTE_MIN_BYTES, 'large enough for the server route');
  const whole = fs.readFileSync(file);
  const copyFile = path.join(dir, 'ct.voxels.mp4');
  fs.writeFileSync(copyFile, Buffer.from(data.buffer));
  const copyLayout = { fileOffset: 0, compression: 'none' as const, skip: 0, byteLength: layout.byteLength, littleEndian: true };
  let serverRoute: 'file' | 'missing' | 'cut' | 'page' = 'file';
  let resourceRoute: 'file' | 'missing' = 'file';
  const asked: string[] = [];
  const server = http.createServer((request, response) => {
    const url = new URL(request.url!, 'http://x');
    if (url.pathname === '/vscode-remote-resource') {
      if (url.searchParams.get('path') === copyFile) {
        asked.push('copy');
        return void response.writeHead(200, { 'content-type': 'video/mp4' }).end(fs.existsSync(copyFile) ? fs.readFileSync(copyFile) : undefined);
      }
      asked.push('server');
      if (url.searchParams.get('path') !== file || serverRoute === 'missing') return void response.writeHead(404).end();
      if (serverRoute === 'page') return void response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<html>Sign in</html>');
      response.writeHead(200, { 'content-type': 'text/plain' });
      return void response.end(serverRoute === 'cut' ? whole.subarray(0, whole.length >> 1) : whole);
    }
    asked.push('resource');
    if (url.pathname !== '/resource/ct.nii.gz' || resourceRoute === 'missing') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/octet-stream' });
    response.end(whole);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const page = { origin, host: `127.0.0.1:${port}`, pathname: '/stable-1/static/out/vs/workbench/contrib/webview/browser/pre/index.html', search: `?id=1&remoteAuthority=127.0.0.1:${port}` };
  const load = async (afterPlanes = false, rawCopy?: { serverPath: string; layout: typeof copyLayout }) => {
    asked.length = 0;
    const voxels = new Int16Array(data.length);
    let loader!: VoxelLoader;
    const notes: string[] = [];
    const outcome = await new Promise<string>((resolve) => {
      const host = { voxelsArrived: () => {}, voxelsComplete: () => resolve('complete'), fetchFailed: (reason: string) => resolve(`failed: ${reason}`), fetchRouteFailed: (reason: string) => notes.push(reason) };
      loader = new VoxelLoader(voxels, dims, 'int16', { kind: 'fetch', url: `${origin}/resource/ct.nii.gz`, path: file, serverPath: file, layout, afterPlanes }, host, page);
      if (afterPlanes) {
        // Nothing is asked for until the host says its planes are sent.
        setTimeout(() => {
          assert.deepEqual(asked, [], 'no fetch before the planes are sent');
          loader.planesSent(rawCopy);
        }, 200);
      }
    });
    assert.equal(notes.length, asked.length - 1, 'each way that failed before the next is noted');
    return { outcome, route: loader.route, transport: loader.transport, same: outcome === 'complete' && Buffer.from(voxels.buffer).equals(Buffer.from(data.buffer)), asked: [...asked] };
  };
  try {
    assert.deepEqual(await load(), { outcome: 'complete', route: 'server', transport: 'fetch', same: true, asked: ['server'] });
    assert.deepEqual(await load(true), { outcome: 'complete', route: 'server', transport: 'fetch', same: true, asked: ['server'] }, 'a fetch that waits for the planes');
    // The host's raw copy first where it made one; the file itself where the copy is gone (an empty answer).
    assert.deepEqual(await load(true, { serverPath: copyFile, layout: copyLayout }), { outcome: 'complete', route: 'copy', transport: 'fetch', same: true, asked: ['copy'] }, 'the raw copy');
    fs.rmSync(copyFile);
    assert.deepEqual(await load(true, { serverPath: copyFile, layout: copyLayout }), { outcome: 'complete', route: 'server', transport: 'fetch', same: true, asked: ['copy', 'server'] }, 'the raw copy gone');
    for (const failing of ['missing', 'cut', 'page'] as const) {
      serverRoute = failing;
      assert.deepEqual(await load(), { outcome: 'complete', route: 'resource', transport: 'fetch', same: true, asked: ['server', 'resource'] }, `the server route ${failing}`);
    }
    resourceRoute = 'missing';
    const failed = await load();
    assert.equal(failed.transport, 'chunks');
    assert.match(failed.outcome, /^failed: the server's own route: a web page came instead of the volume's file; the webview resource URI: the volume's file could not be fetched \(HTTP 404\)$/);
  } finally {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
