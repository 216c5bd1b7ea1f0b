/**
 * How the volume's voxels reach the webview's one buffer, and which slices are there yet:
 * - the three planes through the crosshair, sent first by the host (`plane` messages);
 * - the rest, fetched by the webview from the volume's file (a webview resource URI) and cut out
 *   of its bytes as the host's layout says, inflated with the browser's DecompressionStream; or,
 *   where that fails or the file cannot be fetched, sent by the host in chunks.
 * The voxels arrive in file order (x fastest, z slowest): an axial slice is there once the stream
 * has passed it, a coronal or sagittal one only at the end, unless it is one of the first planes.
 */
import { BYTES_PER_VOXEL, swapBytesInPlace, typedArrayOf, type DataType, type VoxelArray } from '../src/core/datatypes';
import type { Vec3 } from '../src/core/geometry';
import { writeSlice, type Axis } from '../src/core/slices';
import { VoxelStreamCutter, type VoxelLayout } from '../src/core/voxelStream';
import type { PlaneMessage, VoxelSource } from '../src/protocol/webview';
import { VoxelAssembly, type VoxelChunk } from './voxelChunks';

/** Which voxels have arrived: a prefix of the buffer (the stream so far) and whole planes. Pure. */
export class VoxelPresence {
  /** Bytes of the buffer filled from its start. */
  filled = 0;
  private readonly planes: [Set<number>, Set<number>, Set<number>] = [new Set(), new Set(), new Set()];
  private readonly slab: number;
  readonly total: number;

  constructor(dims: Vec3, datatype: DataType) {
    this.slab = dims[0] * dims[1] * BYTES_PER_VOXEL[datatype];
    this.total = this.slab * dims[2];
  }

  /** Every voxel has arrived. */
  get complete(): boolean {
    return this.filled >= this.total;
  }

  /** Share of the voxels that have arrived, 0–1. */
  get fraction(): number {
    return this.total ? Math.min(1, this.filled / this.total) : 1;
  }

  addPlane(axis: Axis, index: number): void {
    this.planes[axis].add(index);
  }

  /** Whether every voxel of slice `index` across `axis` is there. */
  slicePresent(axis: Axis, index: number): boolean {
    if (this.complete || this.planes[axis].has(index)) return true;
    return axis === 2 && (index + 1) * this.slab <= this.filled;
  }

  /** Whether all three planes through `voxel` are there. */
  planesPresent(voxel: Vec3): boolean {
    return ([0, 1, 2] as Axis[]).every((axis) => this.slicePresent(axis, voxel[axis]));
  }
}

/** What the loader tells the editor around it. */
export interface VoxelLoadingHost {
  /** A plane or a piece of the stream arrived (the presence changed). */
  voxelsArrived(): void;
  /** Every voxel is there. */
  voxelsComplete(): void;
  /** The webview could not fetch the file: the host must send the voxels (`voxelsFailed`). */
  fetchFailed(reason: string): void;
}

export class VoxelLoader {
  readonly presence: VoxelPresence;
  /** How the voxels came, once they did: fetched by the webview, or sent by the host. */
  transport: 'fetch' | 'chunks';
  private readonly bytes: Uint8Array;
  private readonly assembly: VoxelAssembly;
  private readonly size: number;

  constructor(
    private readonly voxels: VoxelArray,
    private readonly dims: Vec3,
    private readonly datatype: DataType,
    source: VoxelSource,
    private readonly host: VoxelLoadingHost,
  ) {
    this.bytes = new Uint8Array(voxels.buffer, voxels.byteOffset, voxels.byteLength);
    this.assembly = new VoxelAssembly(this.bytes);
    this.presence = new VoxelPresence(dims, datatype);
    this.size = BYTES_PER_VOXEL[datatype];
    this.transport = source.kind;
    if (source.kind === 'fetch') void this.fetch(source.url, source.layout);
  }

  /** One of the first planes, from the host. */
  receivePlane(message: Pick<PlaneMessage, 'axis' | 'index' | 'bytes'>): void {
    const plane = typedArrayOf(this.datatype, message.bytes);
    const [u, v] = message.axis === 0 ? [1, 2] : message.axis === 1 ? [0, 2] : [0, 1];
    if (plane.length !== this.dims[u] * this.dims[v]) throw new Error(`a plane across axis ${message.axis} came with ${plane.length} voxels`);
    writeSlice(this.voxels, this.dims, message.axis, message.index, plane);
    this.presence.addPlane(message.axis, message.index);
    this.host.voxelsArrived();
  }

  /** A chunk of voxels from the host (it sends them when the webview cannot fetch the file). */
  async receiveChunk(chunk: VoxelChunk): Promise<void> {
    this.transport = 'chunks';
    await this.assembly.receive(chunk);
    this.presence.filled = Math.max(this.presence.filled, chunk.byteOffset + chunk.byteLength);
    this.arrived();
  }

  private arrived(): void {
    this.host.voxelsArrived();
    if (this.presence.complete) this.host.voxelsComplete();
  }

  /** Fetches the file and cuts the voxels out of it; a failure hands the job to the host. */
  private async fetch(url: string, layout: Omit<VoxelLayout, 'dataFile'>): Promise<void> {
    try {
      await fetchVoxels(url, layout, this.bytes, (filled) => {
        // Voxels are swapped to this machine's order as they complete.
        if (!layout.littleEndian && this.size > 1) {
          const from = this.presence.filled - (this.presence.filled % this.size);
          const to = filled - (filled % this.size);
          if (to > from) swapBytesInPlace(this.bytes.subarray(from, to), this.size);
        }
        this.presence.filled = filled;
        this.host.voxelsArrived();
      });
      this.arrived();
    } catch (error) {
      this.transport = 'chunks';
      this.presence.filled = 0;
      this.host.fetchFailed(error instanceof Error ? error.message : String(error));
    }
  }
}

/**
 * Fetches a volume's file and writes its voxels into `target` (as `layout` says: the file's
 * bytes from `fileOffset`, inflated where gzip, bytes `skip`..`skip + byteLength`), reporting the
 * bytes filled from the start as pieces arrive. Stops reading once every voxel is in. Throws
 * where the file cannot be fetched, is cut short, or does not inflate.
 */
export async function fetchVoxels(url: string, layout: Omit<VoxelLayout, 'dataFile'>, target: Uint8Array, onProgress: (filled: number) => void): Promise<void> {
  if (target.length !== layout.byteLength) throw new Error(`the voxel buffer holds ${target.length} bytes, the file ${layout.byteLength}`);
  const response = await fetch(url);
  if (!response.ok || !response.body) throw new Error(`the volume's file could not be fetched (HTTP ${response.status})`);
  let stream: ReadableStream<Uint8Array> = response.body;
  if (layout.fileOffset > 0) stream = stream.pipeThrough(dropFirst(layout.fileOffset));
  if (layout.compression === 'gzip') stream = stream.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
  const cutter = new VoxelStreamCutter(layout, (bytes, offset) => target.set(bytes, offset));
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const complete = cutter.take(value);
      onProgress(cutter.delivered);
      if (complete) break;
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
  if (!cutter.done) throw new Error(`the file ended after ${cutter.delivered} of its ${layout.byteLength} bytes of voxels`);
}

/** A stream step that drops the first `count` bytes. */
function dropFirst(count: number): TransformStream<Uint8Array, Uint8Array> {
  let left = count;
  return new TransformStream({
    transform(chunk, controller) {
      if (left >= chunk.length) {
        left -= chunk.length;
        return;
      }
      controller.enqueue(left > 0 ? chunk.subarray(left) : chunk);
      left = 0;
    },
  });
}
