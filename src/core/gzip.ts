import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { VolumeError, formatBytes } from './errors';

/** True where the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Decompresses at least `minBytes` from the start of a gzip stream (or all of it, if shorter),
 * without inflating the rest: used to read a header before deciding whether the whole file
 * is worth allocating.
 */
export function gunzipPrefix(bytes: Uint8Array, minBytes: number): Uint8Array {
  let take = Math.min(bytes.length, 64 * 1024);
  for (;;) {
    let out: Buffer;
    try {
      out = zlib.gunzipSync(bytes.subarray(0, take), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    } catch (error) {
      throw corruptGzip(error);
    }
    if (out.length >= minBytes || take >= bytes.length) return out;
    take = Math.min(bytes.length, take * 4);
  }
}

/**
 * Decompresses a whole gzip stream with Node's zlib. `expectedBytes` bounds the output: a
 * stream that inflates to more is cut there (a header that lies cannot make us allocate more
 * than it declared), and one that inflates to less is reported as truncated by the caller.
 */
export function gunzipBounded(bytes: Uint8Array, expectedBytes: number): Uint8Array {
  try {
    return zlib.gunzipSync(bytes, { maxOutputLength: Math.max(1, expectedBytes) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      // More data than the header declared: keep what the header describes.
      return gunzipPrefix(bytes, expectedBytes).subarray(0, expectedBytes);
    }
    throw corruptGzip(error);
  }
}

function corruptGzip(error: unknown): VolumeError {
  const reason = (error as Error).message || String(error);
  if (/unexpected end of file/i.test(reason)) {
    return new VolumeError('truncated', 'the gzip stream is truncated (unexpected end of file): the file was cut short');
  }
  return new VolumeError('corrupt-gzip', `the gzip data is corrupt (${reason})`);
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
