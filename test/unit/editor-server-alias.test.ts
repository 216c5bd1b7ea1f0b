/** The link under which a browser workbench's server sends a volume's file uncompressed. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { makeServerAlias, UNCOMPRESSED_SUFFIX } from '../../src/extension/volumeEditor/serverAlias';
import { tempDir } from '../helpers/data';

test("a volume's file gets a link named with a type code-server does not compress, the same bytes, gone once disposed", () => {
  const dir = tempDir('server-alias');
  try {
    const file = path.join(dir, 'my scan #1.nii.gz');
    fs.writeFileSync(file, Buffer.from([31, 139, 8, 0, 1, 2, 3]));
    const alias = makeServerAlias(file, dir);
    assert.ok(alias, 'made');
    assert.equal(path.basename(alias.path), `my scan #1.nii.gz${UNCOMPRESSED_SUFFIX}`);
    assert.ok(fs.readFileSync(alias.path).equals(fs.readFileSync(file)));
    assert.equal(fs.realpathSync(alias.path), fs.realpathSync(file));
    alias.dispose();
    assert.equal(fs.existsSync(alias.path), false);
    assert.equal(fs.existsSync(path.dirname(alias.path)), false, 'its folder is gone too');
    assert.ok(fs.existsSync(file), 'the file itself stays');
    // Where no link can be made (a temporary folder that is not there), none is given: the file is fetched under its own name.
    assert.equal(makeServerAlias(file, path.join(dir, 'missing', 'deeper')), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
