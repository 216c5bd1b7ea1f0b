/**
 * Making output folders and checking that they can be written, failing at once with a clear
 * reason. Node's `mkdirSync(dir, { recursive: true })` loops for ever on some paths it cannot
 * create (`/proc/x`: mkdir answers ENOENT for a parent that exists), so folders are made one
 * level at a time here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function reason(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : String(error);
}

/** Creates `dir` and any missing parents (like `mkdir -p`); throws a one-line error saying which folder could not be made and why. */
export function makeFolders(dir: string): void {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    let stat: fs.Stats | undefined;
    try {
      stat = fs.statSync(current);
    } catch (error) {
      // ENOTDIR: a parent is a file; going up finds it and says so.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(`cannot create the folder ${dir}: ${current} cannot be read (${reason(error)})`);
    }
    if (stat) {
      if (!stat.isDirectory()) throw new Error(`cannot create the folder ${dir}: ${current} exists and is not a folder`);
      break;
    }
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      fs.mkdirSync(folder);
    } catch (error) {
      // Another process may have made it meanwhile.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && fs.statSync(folder).isDirectory()) continue;
      throw new Error(`cannot create the folder ${folder} (${reason(error)})`);
    }
  }
}

/**
 * Checks that a file can be created in `dir` by creating one and removing it (permissions alone
 * do not tell: a read-only mount, a full disk, an ACL), so a long job fails before it starts
 * rather than after. `what` names the folder's use in the message, e.g. "the output folder".
 */
export function checkWritableFolder(dir: string, what = 'the folder'): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch (error) {
    throw new Error(`${what} ${dir} does not exist (${reason(error)})`);
  }
  if (!stat.isDirectory()) throw new Error(`${what} ${dir} is not a folder`);
  const probe = path.join(dir, `.unet3d-write-probe-${process.pid}-${Date.now().toString(36)}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
  } catch (error) {
    throw new Error(`cannot write into ${what} ${dir} (${reason(error)})`);
  }
  fs.rmSync(probe, { force: true });
}

/** Creates `dir` (and its parents) for a job that writes into it, refusing one that exists and holds anything (a run is never overwritten). */
export function createEmptyFolder(dir: string, what = 'the folder'): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} exists and is not a folder`);
    if (fs.readdirSync(dir).length > 0) throw new Error(`${what} ${dir} is not empty; choose a new one`);
  }
  makeFolders(dir);
}

/** The text of `name` where it is the only entry of the folder `dir`; undefined otherwise (or unreadable). */
export function soleFileText(dir: string, name: string): string | undefined {
  try {
    const entries = fs.readdirSync(dir);
    if (entries.length !== 1 || entries[0] !== name) return undefined;
    return fs.readFileSync(path.join(dir, name), 'utf8');
  } catch {
    return undefined;
  }
}
