/**
 * Streaming a volume's voxels from its file on disk (`VoxelLayout`, from the header), inflating
 * gzip on Node's thread pool piece by piece, so that nothing holds the whole volume: the editor's
 * host gathers the three planes through the crosshair this way while its webview fetches the
 * file itself.
 */
import * as zlib from 'node:zlib';
import type { Vec3 } from './geometry';
import { VolumeError } from './errors';
import { openRegularFileAsync, type FileRule } from './regularFile';
import { PlaneCollector, VoxelStreamCutter, type PlaneVoxels, type VolumeGrid, type VoxelLayout } from './voxelStream';

/** Bytes read from the file at a time. */
const READ_BYTES = 1024 * 1024;

/**
 * Streams the voxels of `layout` from `file` to `onVoxels` (each run of voxel bytes with its
 * offset among them), until every voxel byte has come or `onVoxels` returns true (enough).
 * Rejects with a VolumeError where the file is cut short or its gzip is corrupt.
 */
export async function streamVoxelFile(
  file: string,
  layout: VoxelLayout,
  onVoxels: (bytes: Uint8Array, voxelOffset: number) => boolean | void,
  rule: FileRule = { what: file },
  signal?: AbortSignal,
): Promise<void> {
  const { handle } = await openRegularFileAsync(file, rule);
  let enough = false;
  const cutter = new VoxelStreamCutter(layout, (bytes, offset) => {
    if (onVoxels(bytes, offset) === true) enough = true;
  });
  const source = handle.createReadStream({ start: layout.fileOffset, highWaterMark: READ_BYTES });
  const inflate = layout.compression === 'gzip' ? zlib.createGunzip({ chunkSize: READ_BYTES }) : undefined;
  const stream = inflate ? source.pipe(inflate) : source;
  try {
    await new Promise<void>((resolve, reject) => {
      const stop = () => {
        source.destroy();
        inflate?.destroy();
        resolve();
      };
      const fail = (error: Error) => {
        source.destroy();
        inflate?.destroy();
        if (signal?.aborted) resolve();
        else if (/unexpected end of file/i.test(error.message)) reject(cutShort(cutter.delivered, layout.byteLength));
        else reject(new VolumeError('corrupt-gzip', `the gzip data is corrupt (${error.message.replace(/^zlib: /, '')})`));
      };
      signal?.addEventListener('abort', stop, { once: true });
      stream.on('data', (piece: Buffer) => {
        if (cutter.take(piece) || enough || signal?.aborted) stop();
      });
      stream.on('end', () => (cutter.done || enough ? resolve() : reject(cutShort(cutter.delivered, layout.byteLength))));
      stream.on('error', fail);
      source.on('error', (error) => reject(error));
    });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function cutShort(delivered: number, byteLength: number): VolumeError {
  return new VolumeError('truncated', `the image data is shorter than the header says: the file ends after ${delivered} of its ${byteLength} bytes of voxels`);
}

/**
 * The three planes through `voxel`, streamed from the file: each goes to `onPlane` as soon as
 * it is complete (an axial plane long before the stream ends), and the stream stops once all
 * three are in (unless `onVoxels` wants every voxel).
 */
export async function streamPlanes(
  file: string,
  grid: Pick<VolumeGrid, 'dims' | 'datatype'>,
  layout: VoxelLayout,
  voxel: Vec3,
  onPlane: (plane: PlaneVoxels) => void,
  rule?: FileRule,
  signal?: AbortSignal,
  /** Also given every piece of voxel bytes as it passes (with its offset among them): the stream then runs to the last voxel. */
  onVoxels?: (bytes: Uint8Array, voxelOffset: number) => void,
): Promise<void> {
  const collector = new PlaneCollector(grid.dims, grid.datatype, voxel, layout.littleEndian);
  await streamVoxelFile(
    file,
    layout,
    (bytes, offset) => {
      onVoxels?.(bytes, offset);
      collector.take(bytes, offset);
      for (const plane of collector.takeComplete()) onPlane(plane);
      return collector.allComplete && !onVoxels;
    },
    rule,
    signal,
  );
}
