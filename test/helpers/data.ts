/**
 * Where the shared real data lives, and how a test skips when it is absent. Under CI (`CI=true`)
 * the data must be there: tests that need it run and fail with a clear message instead of
 * skipping, so a CI machine without the data never passes by skipping.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The project root (set at bundle time by test/run-unit.mjs; falls back to the working folder). */
export const REPO_ROOT: string = process.env.UNET3D_REPO_ROOT ?? process.cwd();

/** `../shared/data` beside the project, or $UNET3D_DATA. */
export const DATA_DIR: string = process.env.UNET3D_DATA ?? path.resolve(REPO_ROOT, '..', 'shared', 'data');

export const HAVE_DATA: boolean = fs.existsSync(path.join(DATA_DIR, 'formats', 'expected.json'));

/** True under CI (`CI=true`, as CI services set it): a missing data folder is an error there, not a skip. */
export const DATA_REQUIRED: boolean = process.env.CI === 'true' || process.env.CI === '1';

const MISSING = `shared data not found at ${DATA_DIR} (set UNET3D_DATA)`;

/** Pass as the `skip` option of a test that needs the shared data (false under CI: such a test then fails). */
export const SKIP_WITHOUT_DATA: string | false = HAVE_DATA || DATA_REQUIRED ? false : MISSING;

/** Throws, with where the data was looked for, when the shared data is absent. */
export function requireData(): void {
  if (!HAVE_DATA) throw new Error(`${MISSING}${DATA_REQUIRED ? '; under CI=true the tests need it' : ''}`);
}

/** A path in the shared data folder; under CI a missing folder is an error right here. */
export function dataPath(...parts: string[]): string {
  if (DATA_REQUIRED) requireData();
  return path.join(DATA_DIR, ...parts);
}

/** A fresh temporary folder under .test-work, removed by the caller when done. */
export function tempDir(name: string): string {
  const dir = path.join(REPO_ROOT, '.test-work', 'tmp', `${name}-${process.pid}-${Date.now().toString(36)}`);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
