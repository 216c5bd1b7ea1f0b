/**
 * The private temporary folders that hold raw copies of a volume's voxels (see firstPlanes.ts):
 * made only where there is room, and those an ended process left behind are removed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** A raw copy is made only where the temporary folder keeps this much free beside it. */
const COPY_FREE_MARGIN = 1024 * 1024 * 1024;

/** The prefix of a raw copy's folder in the temporary folder. */
const COPY_FOLDER_PREFIX = 'unet3d-voxels-';
/** A copy lives for the seconds its webview takes to fetch it: one this old was left by a process that ended (a crash). */
const STALE_COPY_MS = 60 * 60 * 1000;
/** The temporary folders already cleared of stale copies by this process. */
const cleared = new Set<string>();

/**
 * Removes raw copies' folders in `tmpRoot` last changed more than `maxAgeMs` before `now`: those
 * of an editor that never got to remove its own (VS Code killed while a volume opened). Returns
 * the folders removed.
 */
export function removeStaleCopies(tmpRoot = os.tmpdir(), now = Date.now(), maxAgeMs = STALE_COPY_MS): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = fs.readdirSync(tmpRoot).filter((name) => name.startsWith(COPY_FOLDER_PREFIX));
  } catch {
    return removed;
  }
  for (const name of names) {
    const dir = path.join(tmpRoot, name);
    try {
      const stat = fs.lstatSync(dir);
      if (!stat.isDirectory() || now - stat.mtimeMs <= maxAgeMs) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Another user's, or gone meanwhile: left alone.
    }
  }
  return removed;
}

/** A private folder for a raw copy of `byteLength` bytes (the first in a process clears stale ones); undefined where there is no room or no folder. */
export function copyFolder(byteLength: number, tmpRoot = os.tmpdir()): string | undefined {
  if (!cleared.has(tmpRoot)) {
    cleared.add(tmpRoot);
    removeStaleCopies(tmpRoot);
  }
  try {
    const free = fs.statfsSync(tmpRoot);
    if (free.bavail * free.bsize < byteLength + COPY_FREE_MARGIN) return undefined;
    return fs.mkdtempSync(path.join(tmpRoot, COPY_FOLDER_PREFIX));
  } catch {
    return undefined;
  }
}
