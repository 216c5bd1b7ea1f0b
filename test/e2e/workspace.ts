/** Sample workspaces: copies of real volumes from the shared data folder, writable. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DATA_DIR, DATA_REQUIRED, HAVE_DATA, requireData } from '../helpers/data';

/** What a test workspace holds unless a test asks for other files: the semi-automatic set. */
export const SAMPLE_FILES: readonly string[] = ['semi'];

/**
 * Creates `dest` holding copies of `files` (files or folders, relative to the shared data
 * folder), with their relative paths kept and write permission added (the originals are
 * read-only). Returns `dest`. Without the shared data the workspace is left empty (under CI: an error).
 */
export function prepareWorkspace(dest: string, files: readonly string[] = SAMPLE_FILES): string {
  fs.mkdirSync(dest, { recursive: true });
  if (!HAVE_DATA) {
    if (DATA_REQUIRED) requireData();
    return dest;
  }
  for (const file of files) {
    const from = path.join(DATA_DIR, file);
    if (!fs.existsSync(from)) throw new Error(`no ${file} in the shared data folder ${DATA_DIR}`);
    fs.cpSync(from, path.join(dest, file), { recursive: true });
  }
  makeWritable(dest);
  return dest;
}

function makeWritable(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    fs.chmodSync(full, entry.isDirectory() ? 0o755 : 0o644);
    if (entry.isDirectory()) makeWritable(full);
  }
}
