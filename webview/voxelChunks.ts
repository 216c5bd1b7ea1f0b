/**
 * Puts the volume's voxels together from the chunks the host sends (`volumeChunk`): inflates
 * the deflated ones, checks each against its stated size and the volume, copies it in place and
 * counts what has arrived. Runs wherever DecompressionStream does (the webview, Node).
 */
import type { VolumeChunkMessage } from '../src/protocol/webview';

/** A chunk as the host sends it: bytes `byteOffset`..`byteOffset + byteLength` of the voxels, raw or deflated. */
export type VoxelChunk = Pick<VolumeChunkMessage, 'byteOffset' | 'byteLength' | 'encoding' | 'bytes'>;

/** The chunk's voxel bytes, inflated when deflated; throws when they do not come to `byteLength`. */
export async function chunkVoxelBytes(chunk: VoxelChunk): Promise<ArrayBuffer> {
  let voxels = chunk.bytes;
  if (chunk.encoding === 'deflate-raw') {
    const stream = new Blob([chunk.bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
    voxels = await new Response(stream).arrayBuffer();
  }
  if (voxels.byteLength !== chunk.byteLength) throw new Error(`a voxel chunk holds ${voxels.byteLength} bytes, expected ${chunk.byteLength}`);
  return voxels;
}

/** How far the voxels have come after a chunk. */
export interface ChunkProgress {
  /** Every byte has arrived. */
  done: boolean;
  /** How far into the volume the chunk reached, whole percent. */
  percent: number;
}

export class VoxelAssembly {
  private receivedBytes = 0;

  /** `target`: the volume's voxel bytes, filled as chunks arrive. */
  constructor(private readonly target: Uint8Array) {}

  /** Inflates, checks and copies in one chunk. */
  async receive(chunk: VoxelChunk): Promise<ChunkProgress> {
    const bytes = await chunkVoxelBytes(chunk);
    const { target } = this;
    if (chunk.byteOffset + bytes.byteLength > target.length) throw new RangeError('a voxel chunk runs past the volume');
    target.set(new Uint8Array(bytes), chunk.byteOffset);
    this.receivedBytes += bytes.byteLength;
    return {
      done: this.receivedBytes >= target.length,
      percent: Math.round(((chunk.byteOffset + chunk.byteLength) / Math.max(1, target.length)) * 100),
    };
  }
}
