/** Where the shared real data lives, and how a test skips when it is absent. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The project root (set at bundle time by test/run-unit.mjs; falls back to the working folder). */
export const REPO_ROOT: string = process.env.UNET3D_REPO_ROOT ?? process.cwd();

/** `../shared/data` beside the project, or $UNET3D_DATA. */
export const DATA_DIR: string = process.env.UNET3D_DATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');

export const HAVE_DATA: boolean = fs.existsSync(path.join(DATA_DIR, 'formats', 'expected.json'));

/** Pass as the `skip` option of a test that needs the shared data. */
export const SKIP_WITHOUT_DATA: string | false = HAVE_DATA ? false : `shared data not found at ${DATA_DIR} (set UNET3D_DATA)`;

export function dataPath(...parts: string[]): string {
  return path.join(DATA_DIR, ...parts);
}

/** A fresh temporary folder under .test-work, removed by the caller when done. */
export function tempDir(name: string): string {
  const dir = path.join(REPO_ROOT, '.test-work', 'tmp', `${name}-${process.pid}-${Date.now().toString(36)}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
