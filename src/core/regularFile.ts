/**
 * Reading a file the user named, or a detached header named, by two rules:
 * - only a regular file is read: a device (`/dev/zero` never ends), a FIFO (blocks until someone
 *   writes), a socket or a folder is refused. The file is opened without blocking and checked on
 *   the open descriptor, so what is checked is what is read;
 * - where `roots` are given (the workspace folders of an untrusted workspace), only a file whose
 *   real path (symbolic links resolved) lies inside one of them.
 * The bytes land in an exactly sized, unpooled buffer (a small Node Buffer from the pool would
 * hand its whole pool to whoever takes `.buffer`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VolumeError } from './errors';
import { checkAllocation } from './gzip';

/** What may be read, and how to name the file in messages. */
export interface FileRule {
  /** The file as the user should read it in a message, e.g. `the detached data file "x.raw"`. */
  what: string;
  /** Folders the file must lie in (real paths compared); unset: anywhere. */
  roots?: readonly string[];
  /** Why `roots` apply, for the message (e.g. "in a restricted (untrusted) workspace ..."). */
  rootsRule?: string;
}

// Opening a FIFO for reading blocks until a writer comes; O_NONBLOCK returns at once (not on Windows, which has no FIFOs to open this way).
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0);

const DEFAULT_ROOTS_RULE = 'in a restricted (untrusted) workspace a volume may only name data files inside the workspace folders';

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function checkRegular(stat: fs.Stats, rule: FileRule): void {
  if (stat.isFile()) return;
  throw new VolumeError('refused-file', `${rule.what} is ${kindOf(stat)}: only regular files are read as volumes or data files`);
}

function isInside(file: string, root: string): boolean {
  const relative = path.relative(root, file);
  return relative === '' ? false : !relative.startsWith('..') && !path.isAbsolute(relative);
}

function checkRoots(real: string, realRoots: string[], rule: FileRule): void {
  if (realRoots.some((root) => isInside(real, root))) return;
  throw new VolumeError('refused-file', `${rule.what} lies outside the workspace (${real}): ${rule.rootsRule ?? DEFAULT_ROOTS_RULE}`);
}

function realRootsSync(roots: readonly string[]): string[] {
  return roots.flatMap((root) => {
    try {
      return [fs.realpathSync(root)];
    } catch {
      return [];
    }
  });
}

/** Reads a whole regular file by the rules above (synchronously). */
export function readRegularFile(file: string, rule: FileRule): Uint8Array {
  if (rule.roots) checkRoots(fs.realpathSync(file), realRootsSync(rule.roots), rule);
  const fd = fs.openSync(file, OPEN_FLAGS);
  try {
    const stat = fs.fstatSync(fd);
    checkRegular(stat, rule);
    checkAllocation(stat.size, rule.what);
    const out = new Uint8Array(stat.size);
    let filled = 0;
    while (filled < out.length) {
      const n = fs.readSync(fd, out, filled, out.length - filled, filled);
      if (n === 0) break; // the file shrank while we read
      filled += n;
    }
    return filled === out.length ? out : out.subarray(0, filled);
  } finally {
    fs.closeSync(fd);
  }
}

/** Opens a regular file by the rules above, without blocking the event loop: the handle and its size. */
export async function openRegularFileAsync(file: string, rule: FileRule): Promise<{ handle: fs.promises.FileHandle; size: number }> {
  if (rule.roots) {
    const roots = await Promise.all(rule.roots.map((root) => fs.promises.realpath(root).catch(() => undefined)));
    checkRoots(await fs.promises.realpath(file), roots.filter((r): r is string => r !== undefined), rule);
  }
  const handle = await fs.promises.open(file, OPEN_FLAGS);
  try {
    const stat = await handle.stat();
    checkRegular(stat, rule);
    return { handle, size: stat.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Reads bytes `0..maxBytes` of an open file (fewer where it is shorter). */
async function readPrefix(handle: fs.promises.FileHandle, maxBytes: number): Promise<Uint8Array> {
  const out = new Uint8Array(maxBytes);
  let filled = 0;
  while (filled < out.length) {
    const { bytesRead } = await handle.read(out, filled, Math.min(out.length - filled, 64 * 1024 * 1024), filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === out.length ? out : out.subarray(0, filled);
}

/** Reads a whole regular file by the rules above, without blocking the event loop. */
export async function readRegularFileAsync(file: string, rule: FileRule): Promise<Uint8Array> {
  const { handle, size } = await openRegularFileAsync(file, rule);
  try {
    checkAllocation(size, rule.what);
    return await readPrefix(handle, size);
  } finally {
    await handle.close();
  }
}

/** The first `maxBytes` bytes of a regular file read by the rules above (a header), and the file's size. */
export async function readRegularFilePrefixAsync(file: string, rule: FileRule, maxBytes: number): Promise<{ bytes: Uint8Array; size: number }> {
  const { handle, size } = await openRegularFileAsync(file, rule);
  try {
    return { bytes: await readPrefix(handle, Math.min(size, maxBytes)), size };
  } finally {
    await handle.close();
  }
}
