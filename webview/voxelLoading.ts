/**
 * How the volume's voxels reach the webview's one buffer, and which slices are there yet:
 * - the three planes through the crosshair, sent first by the host (`plane` messages);
 * - the rest, fetched by the webview from the volume's file and cut out of its bytes as the host's
 *   layout says, inflated with the browser's DecompressionStream: over plain HTTP from the server
 *   that serves the webview where that server holds the file (code-server; there the host's raw
 *   copy of the voxels first, where it made one, which needs no inflating), else through the
 *   webview resource URI; or, where that fails or the file cannot be fetched, sent by the host in
 *   chunks.
 * The voxels arrive in file order (x fastest, z slowest): an axial slice is there once the stream
 * has passed it, a coronal or sagittal one only at the end, unless it is one of the first planes.
 */
import { BYTES_PER_VOXEL, swapBytesInPlace, typedArrayOf, type DataType, type VoxelArray } from '../src/core/datatypes';
import type { Vec3 } from '../src/core/geometry';
import { extractSlice, offsetInSlice, sliceAxes, writeSlice, type Axis } from '../src/core/slices';
import { VoxelStreamCutter, type VoxelLayout } from '../src/core/voxelStream';
import { SERVER_ROUTE_MIN_BYTES, type PlaneMessage, type PlanesSentMessage, type VoxelSource } from '../src/protocol/webview';
import { PageToucher } from './firstTouch';
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
  /** One way to fetch the file failed and the next is tried (for the log). */
  fetchRouteFailed(reason: string): void;
}

/**
 * Where a fetch took the voxels from: the host's raw copy of them (the voxels it inflated for the
 * first planes) or the file itself over the serving server's own route, or the file through the
 * webview resource URI.
 */
export type FetchRoute = 'copy' | 'server' | 'resource';

/** How each route is named in the log, the benchmark's timeline and its report. */
export const ROUTE_NAMES: Record<FetchRoute, string> = { copy: "the host's raw copy over the server's own route", server: "the server's own route", resource: 'the webview resource URI' };

/** A way to fetch the voxels: from where, and how they lie in what comes. */
interface Route {
  route: FetchRoute;
  url: string;
  layout: Omit<VoxelLayout, 'dataFile'>;
}

/** The part of a webview's page path from where VS Code's web workbench serves its webview host. */
const WEBVIEW_HOST_PATH = '/static/out/vs/workbench/contrib/webview/browser/pre/';

/**
 * The URL at which the server that serves this webview sends a file of its own machine over
 * plain HTTP, where it does: the webview's page comes from the workbench's own server (its
 * `remoteAuthority` is the page's host: code-server, VS Code's server in a browser), which serves
 * `/vscode-remote-resource?path=…` (the route the workbench itself loads remote resources from)
 * beside its versioned static folder. Undefined elsewhere (desktop VS Code, whose webviews have
 * an origin of their own, or a workbench on another origin). In code-server a webview resource
 * URI travels over the workbench's remote file channel (about 6–8 MiB/s measured); this route
 * does not. Pure.
 */
export function serverResourceUrl(page: Pick<Location, 'origin' | 'host' | 'pathname' | 'search'>, filePath: string): string | undefined {
  if (new URLSearchParams(page.search).get('remoteAuthority') !== page.host) return undefined;
  const at = page.pathname.indexOf(WEBVIEW_HOST_PATH);
  if (at < 0) return undefined;
  const versioned = page.pathname.slice(0, at); // `/stable-<commit>`, after any prefix a proxy adds
  const base = versioned.slice(0, versioned.lastIndexOf('/'));
  return `${page.origin}${base}/vscode-remote-resource?path=${encodeURIComponent(filePath)}`;
}

export class VoxelLoader {
  readonly presence: VoxelPresence;
  /** How the voxels came, once they did: fetched by the webview, or sent by the host. */
  transport: 'fetch' | 'chunks';
  /** Where the fetch took the file from, once it did. */
  route?: FetchRoute;
  private readonly bytes: Uint8Array;
  private readonly assembly: VoxelAssembly;
  private readonly size: number;

  constructor(
    private readonly voxels: VoxelArray,
    private readonly dims: Vec3,
    private readonly datatype: DataType,
    source: VoxelSource,
    private readonly host: VoxelLoadingHost,
    /** The webview's page address (`location`; given in tests): whether its server has a route of its own to the file. */
    page: Pick<Location, 'origin' | 'host' | 'pathname' | 'search'> | undefined = typeof location === 'undefined' ? undefined : location,
  ) {
    this.bytes = new Uint8Array(voxels.buffer, voxels.byteOffset, voxels.byteLength);
    this.assembly = new VoxelAssembly(this.bytes);
    this.presence = new VoxelPresence(dims, datatype);
    this.size = BYTES_PER_VOXEL[datatype];
    this.transport = source.kind;
    this.mark('the grid from the host');
    if (source.kind === 'fetch') {
      const server = page && source.layout.byteLength >= SERVER_ROUTE_MIN_BYTES ? (path: string) => serverResourceUrl(page, path) : undefined;
      const start = (rawCopy?: PlanesSentMessage['rawCopy']) => {
        const copy = rawCopy && server?.(rawCopy.serverPath);
        const file = server?.(source.serverPath);
        void this.fetch([
          ...(copy ? [{ route: 'copy' as const, url: copy, layout: rawCopy.layout }] : []),
          ...(file ? [{ route: 'server' as const, url: file, layout: source.layout }] : []),
          { route: 'resource', url: source.url, layout: source.layout },
        ]);
      };
      if (source.afterPlanes) {
        this.startFetch = start;
        // While the host streams its planes, the buffer's pages are touched for the fetch to come.
        this.toucher = new PageToucher(this.bytes, () => this.mark("every page of the voxel buffer touched"));
        this.toucher.start();
      } else start();
    }
  }

  /** Touches the voxel buffer's pages ahead of the fetch, until it starts. */
  private toucher?: PageToucher;

  /** The fetch that waits for the host's planes, until they are sent. */
  private startFetch?: (rawCopy?: PlanesSentMessage['rawCopy']) => void;

  /** The host has sent its planes (and made a raw copy of the voxels, where it says so): the fetch that waited for them starts. */
  planesSent(rawCopy?: PlanesSentMessage['rawCopy']): void {
    const start = this.startFetch;
    this.startFetch = undefined;
    start?.(rawCopy);
  }

  /**
   * One of the first planes, from the host. An axial plane is written into the buffer; a coronal
   * or sagittal one is held beside it until every voxel is in: written into a buffer nothing has
   * touched yet, a sagittal plane touches every page of it, and the system's first touch of
   * 256 MiB took 0.8 s here (the fetch pays that anyway as it fills the buffer).
   */
  receivePlane(message: Pick<PlaneMessage, 'axis' | 'index' | 'bytes'>): void {
    const plane = typedArrayOf(this.datatype, message.bytes);
    const [u, v] = sliceAxes(message.axis);
    if (plane.length !== this.dims[u] * this.dims[v]) throw new Error(`a plane across axis ${message.axis} came with ${plane.length} voxels`);
    if (message.axis === 2) writeSlice(this.voxels, this.dims, message.axis, message.index, plane);
    else this.held.set(`${message.axis}:${message.index}`, plane);
    this.presence.addPlane(message.axis, message.index);
    this.mark(`plane across axis ${message.axis} from the host`);
    this.host.voxelsArrived();
  }

  /** A chunk of voxels from the host (it sends them when the webview cannot fetch the file). */
  async receiveChunk(chunk: VoxelChunk): Promise<void> {
    this.transport = 'chunks';
    await this.assembly.receive(chunk);
    this.presence.filled = Math.max(this.presence.filled, chunk.byteOffset + chunk.byteLength);
    this.arrived();
  }

  /** The planes across axes 0 and 1 from the host, until every voxel is in the buffer (`axis:index`). */
  private readonly held = new Map<string, VoxelArray>();

  /** A plane from the host that the buffer does not hold yet, in `extractSlice`'s layout; undefined otherwise. */
  heldPlane(axis: Axis, index: number): VoxelArray | undefined {
    if (this.held.size === 0) return undefined;
    if (this.presence.complete) {
      this.held.clear();
      return undefined;
    }
    return this.held.get(`${axis}:${index}`);
  }

  /** The voxels of slice `index` across `axis` as `extractSlice` lays them out, wherever they are now. */
  sliceVoxels(axis: Axis, index: number): VoxelArray {
    return this.heldPlane(axis, index) ?? extractSlice(this.voxels, this.dims, axis, index).data;
  }

  /** The stored value of voxel `index` (x fastest), wherever it is now. */
  valueAt(index: number): number {
    if (this.held.size > 0 && !this.presence.complete) {
      const [nx, ny] = this.dims;
      const sagittal = this.heldPlane(0, index % nx);
      if (sagittal) return sagittal[offsetInSlice(index, this.dims, 0)];
      const coronal = this.heldPlane(1, Math.floor(index / nx) % ny);
      if (coronal) return coronal[offsetInSlice(index, this.dims, 1)];
    }
    return this.voxels[index];
  }

  /** Notes a step of the loading now (a `performance` mark: the benchmark's timeline); none once every voxel is in. */
  mark(what: string): void {
    if (!this.presence.complete) performance.mark(what);
  }

  private arrived(): void {
    this.host.voxelsArrived();
    if (this.presence.complete) this.host.voxelsComplete();
  }

  /**
   * Fetches the file from the first route that gives it whole and cuts the voxels out of it (a
   * route that fails starts the next from the file's start); when none does, the host sends them.
   */
  private async fetch(routes: Route[]): Promise<void> {
    const failures: string[] = [];
    if (this.toucher) {
      const touched = this.toucher.stop();
      if (touched < this.bytes.length) this.mark(`the voxel buffer's pages touched up to ${Math.round(touched / 2 ** 20)} MiB`);
      this.toucher = undefined;
    }
    for (const { route, url, layout } of routes) {
      try {
        this.presence.filled = 0;
        this.mark(`fetch from ${ROUTE_NAMES[route]}`);
        let quarter = 0;
        await fetchVoxels(url, layout, this.bytes, (filled) => {
          while (quarter < 4 && filled >= (this.presence.total * (quarter + 1)) / 4) this.mark(`${25 * ++quarter} % of the voxels fetched`);
          // Voxels are swapped to this machine's order as they complete.
          if (!layout.littleEndian && this.size > 1) {
            const from = this.presence.filled - (this.presence.filled % this.size);
            const to = filled - (filled % this.size);
            if (to > from) swapBytesInPlace(this.bytes.subarray(from, to), this.size);
          }
          this.presence.filled = filled;
          this.host.voxelsArrived();
        }, (encoding) => this.mark(`the response began (content encoding ${encoding})`));
        this.route = route;
        this.arrived();
        return;
      } catch (error) {
        failures.push(`${ROUTE_NAMES[route]}: ${error instanceof Error ? error.message : String(error)}`);
        if (failures.length < routes.length) this.host.fetchRouteFailed(`${failures.at(-1)}; trying the next way`);
      }
    }
    this.transport = 'chunks';
    this.presence.filled = 0;
    this.host.fetchFailed(failures.join('; '));
  }
}

/**
 * Fetches a volume's file and writes its voxels into `target` (as `layout` says: the file's
 * bytes from `fileOffset`, inflated where gzip, bytes `skip`..`skip + byteLength`), reporting the
 * bytes filled from the start as pieces arrive. Stops reading once every voxel is in. Throws
 * where the file cannot be fetched, is cut short, or does not inflate.
 */
export async function fetchVoxels(
  url: string,
  layout: Omit<VoxelLayout, 'dataFile'>,
  target: Uint8Array,
  onProgress: (filled: number) => void,
  /** Told how the server encoded the response for the way (`identity`, `br`, `gzip`: what the browser undoes). */
  onResponse?: (contentEncoding: string) => void,
): Promise<void> {
  if (target.length !== layout.byteLength) throw new Error(`the voxel buffer holds ${target.length} bytes, the file ${layout.byteLength}`);
  // Not kept in the browser's cache: a volume is read once per open, and it can be hundreds of MiB.
  const response = await fetch(url, { cache: 'no-store' });
  if (!response.ok || !response.body) throw new Error(`the volume's file could not be fetched (HTTP ${response.status})`);
  if (/^text\/html\b/i.test(response.headers.get('content-type') ?? '')) {
    void response.body.cancel().catch(() => undefined);
    throw new Error('a web page came instead of the volume\'s file');
  }
  onResponse?.(response.headers.get('content-encoding') ?? 'identity');
  const cutter = new VoxelStreamCutter(layout, (bytes, offset) => target.set(bytes, offset));
  for await (const piece of bodyPieces(response.body, layout)) {
    const complete = cutter.take(piece);
    onProgress(cutter.delivered);
    if (complete) break;
  }
  if (!cutter.done) throw new Error(`the file ended after ${cutter.delivered} of its ${layout.byteLength} bytes of voxels`);
}

/** Bytes a body is read in at a time where it is read into a buffer of ours. */
const READ_BYTES = 1 << 20;

/**
 * The pieces of a response body from `layout.fileOffset` on, inflated where gzip; each piece is
 * valid until the next is asked for. Stops reading (cancels the body) when the caller stops.
 *
 * Bytes that need no inflating are read into one buffer of ours (a "BYOB" reader) where the
 * browser's body is a byte stream: read the default way, every piece is a new ArrayBuffer, and
 * each piece's pages are new to the system too. 256 MiB took 1.2–1.4 s this way in Chromium
 * here, against 1.8–2.2 s the default way.
 */
export async function* bodyPieces(body: ReadableStream<Uint8Array>, layout: Pick<VoxelLayout, 'fileOffset' | 'compression'>): AsyncGenerator<Uint8Array, void, undefined> {
  const byob = layout.compression === 'gzip' ? undefined : byobReader(body);
  if (byob) {
    let left = layout.fileOffset;
    let buffer = new Uint8Array(READ_BYTES);
    try {
      for (;;) {
        const { done, value } = await byob.read(buffer);
        if (done || !value) return;
        // The read hands the buffer back (moved, not copied) with what it holds.
        buffer = new Uint8Array(value.buffer);
        if (left >= value.length) {
          left -= value.length;
          continue;
        }
        const piece = left > 0 ? value.subarray(left) : value;
        left = 0;
        yield piece;
      }
    } finally {
      void byob.cancel().catch(() => undefined);
    }
  }
  let stream: ReadableStream<Uint8Array> = body;
  if (layout.fileOffset > 0) stream = stream.pipeThrough(dropFirst(layout.fileOffset));
  if (layout.compression === 'gzip') stream = stream.pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>);
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    void reader.cancel().catch(() => undefined);
  }
}

/** A reader into buffers of ours, where the stream is a byte stream; undefined where it is not. */
function byobReader(stream: ReadableStream<Uint8Array>): ReadableStreamBYOBReader | undefined {
  try {
    return stream.getReader({ mode: 'byob' });
  } catch {
    return undefined; // not a byte stream: its pieces come as it makes them
  }
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
