import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileSet, type FileSetEntry, type FileSetIO } from './volumeFiles';

/**
 * Writes a file atomically: the bytes go to a temporary file in the same folder, which is
 * flushed and then renamed over the target, so a crash leaves the old file or the new one,
 * never half of one.
 */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'w');
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw error;
  }
}

/** Node's fs as the file operations of a set (see writeFileSet in volumeFiles.ts): paths are locations. */
export const NODE_FILE_SET_IO: FileSetIO<string> = {
  sibling: (location, name) => path.join(path.dirname(location), name),
  baseName: (location) => path.basename(location),
  exists: async (location) => fs.existsSync(location),
  writeFile: async (location, bytes) => {
    const fd = fs.openSync(location, 'w');
    try {
      fs.writeFileSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  copy: async (from, to) => fs.copyFileSync(from, to),
  rename: async (from, to) => fs.renameSync(from, to),
  remove: async (location) => fs.rmSync(location, { force: true }),
};

/** Writes files at these paths as one set (all old or all new; see writeFileSet). */
export function writeFilesAtomic(entries: readonly FileSetEntry<string>[]): Promise<void> {
  return writeFileSet(NODE_FILE_SET_IO, entries);
}
