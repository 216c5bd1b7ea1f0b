/** The temporary folders of the editor's raw copies: made where there is room, stale ones removed. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { copyFolder, removeStaleCopies } from '../../src/extension/volumeEditor/rawCopyFolder';
import { tempDir } from '../helpers/data';

test('a raw copy gets a private folder of its own where the disk has room, none where it has not', () => {
  const root = tempDir('raw-copy-room');
  try {
    const dir = copyFolder(1024 * 1024, root);
    assert.ok(dir && path.dirname(dir) === root && path.basename(dir).startsWith('unet3d-voxels-'));
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700, 'only its owner enters it');
    assert.equal(copyFolder(Number.MAX_SAFE_INTEGER, root), undefined, 'no room');
    assert.equal(copyFolder(1024, path.join(root, 'missing')), undefined, 'no folder');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('copies an ended process left behind are removed, the ones in use and anything else are not', () => {
  const root = tempDir('raw-copy-stale');
  try {
    const now = Date.now();
    const make = (name: string, ageMs: number, file = 'ct.nii.gz.voxels.mp4') => {
      const dir = path.join(root, name);
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, file), 'voxels');
      const at = new Date(now - ageMs);
      fs.utimesSync(dir, at, at);
      return dir;
    };
    const stale = make('unet3d-voxels-old', 2 * 60 * 60 * 1000);
    const fresh = make('unet3d-voxels-new', 60 * 1000);
    const other = make('someone-else-old', 2 * 60 * 60 * 1000);
    fs.writeFileSync(path.join(root, 'unet3d-voxels-a-file'), 'not a folder');
    assert.deepEqual(removeStaleCopies(root, now), [stale]);
    assert.ok(!fs.existsSync(stale) && fs.existsSync(fresh) && fs.existsSync(other) && fs.existsSync(path.join(root, 'unet3d-voxels-a-file')));
    assert.deepEqual(removeStaleCopies(path.join(root, 'missing'), now), [], 'no folder: nothing to do');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
