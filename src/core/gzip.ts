/**
 * Inflating gzip data straight into a buffer the caller allocated from the header: the stream is
 * fed in small slices and each piece of output is copied into place, so a volume costs its
 * voxel bytes once (never an inflated copy plus a trimmed one), and the stream is not read past
 * what the header asked for (a 4D file's later frames, a header that lies). Synchronous through
 * minizlib (Node's zlib binding, used step by step), asynchronous through Node's zlib streams,
 * which inflate on the thread pool so an event loop (the editor's host) stays free.
 */
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { Gunzip } from 'minizlib';
import { VolumeError, formatBytes } from './errors';

/** Compressed bytes fed to zlib at a time: bounds the inflated piece held besides the target (at most ~1000× this). */
const INPUT_SLICE = 64 * 1024;

/** True where the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Copies inflated pieces into `out`, leaving out the stream's first `skip` bytes; knows when `out` is full. */
class InflateTarget {
  filled = 0;
  private skipped = 0;
  constructor(
    private readonly out: Uint8Array,
    private readonly skip: number,
  ) {}

  get full(): boolean {
    return this.filled >= this.out.length;
  }

  /** Takes one inflated piece; true once `out` is full. */
  take(piece: Uint8Array): boolean {
    let from = 0;
    if (this.skipped < this.skip) {
      from = Math.min(piece.length, this.skip - this.skipped);
      this.skipped += from;
    }
    const n = Math.min(piece.length - from, this.out.length - this.filled);
    if (n > 0) this.out.set(piece.subarray(from, from + n), this.filled);
    this.filled += Math.max(0, n);
    return this.full;
  }

  /** The result once the stream stopped, with `error` if zlib raised one; corrupt data (before `out` was full) throws. */
  outcome(error: unknown): Inflated {
    if (error === undefined || this.full) return { filled: this.filled, cutShort: false };
    if (/unexpected end of file/i.test((error as Error)?.message ?? '')) return { filled: this.filled, cutShort: true };
    const reason = ((error as Error)?.message || String(error)).replace(/^zlib: /, ''); // minizlib prefixes zlib's own message
    throw new VolumeError('corrupt-gzip', `the gzip data is corrupt (${reason})`);
  }
}

/** How far an inflation got: bytes of the target filled, and whether the stream was cut short before that. */
export interface Inflated {
  filled: number;
  cutShort: boolean;
}

/**
 * Inflates the gzip stream `bytes` into `out`, from byte `skip` of the inflated stream on, and
 * stops once `out` is full. Says how many bytes of `out` were filled: fewer than its length when
 * the stream ends (or is cut short) before. Corrupt data throws a VolumeError.
 */
export function gunzipInto(bytes: Uint8Array, out: Uint8Array, skip = 0): Inflated {
  const target = new InflateTarget(out, skip);
  let failure: unknown;
  const gunzip = new Gunzip({});
  gunzip.on('data', (piece: Uint8Array) => target.take(piece));
  gunzip.on('error', (error: unknown) => (failure ??= error));
  for (let offset = 0; offset < bytes.length && !target.full && failure === undefined; offset += INPUT_SLICE) {
    gunzip.write(bytes.subarray(offset, offset + INPUT_SLICE));
  }
  if (!target.full && failure === undefined) gunzip.end();
  gunzip.close();
  return target.outcome(failure);
}

/** Like `gunzipInto`, but zlib works on Node's thread pool: the calling thread's event loop keeps running. */
export function gunzipIntoAsync(bytes: Uint8Array, out: Uint8Array, skip = 0): Promise<Inflated> {
  return new Promise((resolve, reject) => {
    const target = new InflateTarget(out, skip);
    const gunzip = zlib.createGunzip();
    let settled = false;
    const settle = (error?: unknown) => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      try {
        resolve(target.outcome(error));
      } catch (refused) {
        reject(refused);
      }
    };
    gunzip.on('data', (piece: Buffer) => {
      if (target.take(piece)) settle();
    });
    gunzip.on('end', () => settle());
    gunzip.on('error', (error) => settle(error));
    let offset = 0;
    const feed = () => {
      while (!settled && offset < bytes.length) {
        const slice = bytes.subarray(offset, offset + INPUT_SLICE);
        offset += slice.length;
        if (!gunzip.write(slice)) {
          gunzip.once('drain', feed);
          return;
        }
      }
      if (!settled) gunzip.end();
    };
    if (target.full) settle();
    else feed();
  });
}

/** Deflate's largest ratio: one compressed byte inflates to at most 1032 bytes (zlib's technical details). */
export const MAX_INFLATE_RATIO = 1032;

/**
 * The buffer to inflate `compressed` into: `dataBytes`, after `skip` inflated bytes. Refused
 * before allocating where the compressed bytes cannot hold that much (deflate inflates at most
 * 1032-fold), so a small file whose header claims gigabytes allocates nothing.
 */
export function inflateTarget(compressed: Uint8Array, dataBytes: number, skip = 0): Uint8Array {
  const most = compressed.length * MAX_INFLATE_RATIO;
  if (skip + dataBytes > most) {
    throw new VolumeError(
      'truncated',
      `the image data is shorter than the header says: ${compressed.length} bytes of gzip inflate to at most ${formatBytes(most)}, and the header declares ${formatBytes(skip + dataBytes)}`,
    );
  }
  return new Uint8Array(dataBytes);
}

/** Throws the reader's error when an inflation filled less than the image data the header declares. */
export function requireFilled(inflated: Inflated, dataBytes: number): void {
  if (inflated.filled >= dataBytes) return;
  if (inflated.cutShort) {
    throw new VolumeError(
      'truncated',
      `the gzip stream is truncated (unexpected end of file): the file was cut short after ${inflated.filled} of the ${dataBytes} bytes of image data`,
    );
  }
  throw new VolumeError('truncated', `the image data is shorter than the header says: ${inflated.filled} of ${dataBytes} bytes`);
}

/**
 * The first `maxBytes` inflated bytes of a gzip stream (fewer if it is shorter), without
 * inflating the rest: used to read a header before deciding whether the whole file is worth
 * allocating.
 */
export function gunzipPrefix(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const out = new Uint8Array(maxBytes);
  return out.subarray(0, gunzipInto(bytes, out).filled);
}

/** The largest buffer Node can allocate on this machine. */
export const MAX_BUFFER_BYTES: number = bufferConstants.MAX_LENGTH;

/** Throws a clear error before allocating when a header asks for more than can be held. */
export function checkAllocation(bytesNeeded: number, what: string, limit: number = MAX_BUFFER_BYTES): void {
  if (!Number.isFinite(bytesNeeded) || bytesNeeded > limit) {
    throw new VolumeError(
      'too-large',
      `${what} would need ${formatBytes(bytesNeeded)}, more than the ${formatBytes(limit)} this reader can hold`,
    );
  }
}
