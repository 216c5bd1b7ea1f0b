/**
 * The extension-host test module (`extensionTestsPath`): VS Code loads it inside the extension
 * host and awaits run(). It runs every *.test.js bundled beside it with mocha.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';
import { TESTS_START_MARKER } from './marker';

export function run(): Promise<void> {
  console.log(TESTS_START_MARKER);
  const mocha = new Mocha({ ui: 'bdd', reporter: 'spec', color: !process.env.CI, timeout: 60_000 });
  // __dirname is the bundle's folder: test/e2e/run.ts writes the tests there.
  for (const name of fs.readdirSync(__dirname).filter((n) => n.endsWith('.test.js')).sort()) {
    mocha.addFile(path.join(__dirname, name));
  }
  return new Promise((resolve, reject) => {
    mocha.run((failures) => (failures > 0 ? reject(new Error(`${failures} extension-host test(s) failed`)) : resolve()));
  });
}
