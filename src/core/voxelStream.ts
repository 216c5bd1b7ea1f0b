/**
 * Streaming a volume's voxels from its file instead of reading it whole: where in the file they
 * lie and how they are encoded (`VoxelLayout`, from the header alone), cutting the voxel bytes out
 * of the file's (inflated) byte stream as pieces arrive (`VoxelStreamCutter`), and gathering the
 * three planes through a voxel while the stream passes (`PlaneCollector`), so a viewer can show
 * them before the whole volume has arrived. Pure: no Node, no DOM; the editor's host and its
 * webview both use it.
 */
import { BYTES_PER_VOXEL, swapBytesInPlace, type DataType } from './datatypes';
import type { Vec3 } from './geometry';
import type { Axis } from './slices';
import type { Volume } from './volume';

/** Everything a reader tells about a volume but its voxels. */
export type VolumeGrid = Omit<Volume, 'data' | 'allFrames' | 'layers'>;

/**
 * Where a file keeps the voxels of its first frame and how, so that they can be streamed: the
 * file's bytes from `fileOffset` on, inflated where `compression` is gzip, form a stream whose
 * bytes `skip`..`skip + byteLength` are the voxels (x fastest, stored type, `littleEndian` or not).
 */
export interface VoxelLayout {
  /** The file holding the voxels: undefined for the volume's own file, else a detached header's data file as named there. */
  dataFile?: string;
  fileOffset: number;
  compression: 'gzip' | 'none';
  skip: number;
  byteLength: number;
  littleEndian: boolean;
}

/** A volume file's header: the grid, and how its voxels can be streamed, or why they cannot (then they are read whole). */
export interface VolumeHeader extends VolumeGrid {
  voxels: VoxelLayout | { unstreamable: string };
}

/** The layout when the voxels can be streamed. */
export function streamableLayout(header: VolumeHeader): VoxelLayout | undefined {
  return 'unstreamable' in header.voxels ? undefined : header.voxels;
}

/**
 * Cuts the voxel bytes out of a file's (inflated) byte stream: pieces go in as they arrive; the
 * first `skip` bytes are dropped, and `sink` receives each run of voxel bytes with its offset
 * among the voxels, up to `byteLength` (what follows, e.g. a 4D file's later frames, is not read).
 */
export class VoxelStreamCutter {
  private position = 0;
  /** Voxel bytes passed to the sink so far. */
  delivered = 0;

  constructor(
    private readonly layout: Pick<VoxelLayout, 'skip' | 'byteLength'>,
    private readonly sink: (bytes: Uint8Array, voxelOffset: number) => void,
  ) {}

  /** Every voxel byte has been delivered: the rest of the stream is not needed. */
  get done(): boolean {
    return this.delivered >= this.layout.byteLength;
  }

  /** Takes the next piece of the stream; true once every voxel byte has been delivered. */
  take(piece: Uint8Array): boolean {
    const { skip, byteLength } = this.layout;
    const start = this.position;
    this.position += piece.length;
    const from = Math.max(0, skip - start);
    const to = Math.min(piece.length, skip + byteLength - start);
    if (to > from) {
      this.sink(piece.subarray(from, to), start + from - skip);
      this.delivered += to - from;
    }
    return this.done;
  }
}

/** One plane of voxels through a point: the slice `index` across `axis`, in the order `extractSlice` gives (stored type, this machine's byte order). */
export interface PlaneVoxels {
  axis: Axis;
  index: number;
  /** width·height voxels as bytes: axis 2 x fastest then y; axis 1 x then z; axis 0 y then z. */
  bytes: Uint8Array;
}

/**
 * Gathers the three planes through `voxel` from voxel bytes that arrive in pieces (any order,
 * any size, each at its offset among the voxels). Each plane is complete once every byte of it
 * has arrived; a big-endian file's planes are swapped to this machine's order when taken.
 */
export class PlaneCollector {
  private readonly planes: PlaneVoxels[];
  private readonly received: number[] = [0, 0, 0];
  private readonly size: number;

  constructor(
    private readonly dims: Vec3,
    datatype: DataType,
    readonly voxel: Vec3,
    private readonly littleEndian = true,
  ) {
    this.size = BYTES_PER_VOXEL[datatype];
    const [nx, ny, nz] = dims;
    const counts = [ny * nz, nx * nz, nx * ny];
    this.planes = ([0, 1, 2] as Axis[]).map((axis) => ({ axis, index: voxel[axis], bytes: new Uint8Array(counts[axis] * this.size) }));
  }

  /** Whether the plane across `axis` has every byte. */
  complete(axis: Axis): boolean {
    return this.received[axis] >= this.planes[axis].bytes.length;
  }

  get allComplete(): boolean {
    return this.complete(0) && this.complete(1) && this.complete(2);
  }

  /** Copies what the piece of voxel bytes at `offset` holds of each plane. */
  take(piece: Uint8Array, offset: number): void {
    const [nx, ny] = this.dims;
    const s = this.size;
    const row = nx * s;
    const slab = row * ny;
    const end = offset + piece.length;
    const [i, j, k] = this.voxel;
    // Copies stream bytes [a, a + n) to plane byte `to`, clipped to the piece.
    const copy = (axis: Axis, a: number, n: number, to: number) => {
      const from = Math.max(a, offset);
      const until = Math.min(a + n, end);
      if (until <= from) return;
      this.planes[axis].bytes.set(piece.subarray(from - offset, until - offset), to + (from - a));
      this.received[axis] += until - from;
    };
    // Axis 2: one run, the slab of z = k.
    copy(2, k * slab, slab, 0);
    // Axis 1 and 0: one run per z (the row y = j), one per row (the voxel x = i).
    const firstZ = Math.floor(offset / slab);
    const lastZ = Math.floor((end - 1) / slab);
    for (let z = firstZ; z <= lastZ; z++) {
      copy(1, z * slab + j * row, row, z * row);
      const firstY = z === firstZ ? Math.floor((offset - z * slab) / row) : 0;
      const lastY = z === lastZ ? Math.floor((end - 1 - z * slab) / row) : ny - 1;
      for (let y = firstY; y <= lastY; y++) copy(0, z * slab + y * row + i * s, s, (z * ny + y) * s);
    }
  }

  /** The planes that are complete (byte order made this machine's); each is taken once. */
  takeComplete(): PlaneVoxels[] {
    const out: PlaneVoxels[] = [];
    for (const plane of this.planes) {
      if (!this.complete(plane.axis) || this.taken.has(plane.axis)) continue;
      this.taken.add(plane.axis);
      if (!this.littleEndian && this.size > 1) swapBytesInPlace(plane.bytes, this.size);
      out.push(plane);
    }
    return out;
  }

  private readonly taken = new Set<Axis>();
}

/** The voxel at the centre of a grid: where the crosshair starts. */
export function centreVoxel(dims: Vec3): Vec3 {
  return [Math.floor(dims[0] / 2), Math.floor(dims[1] / 2), Math.floor(dims[2] / 2)];
}
