/**
 * The prediction overlay's reads: the Segment command that wrote `NAME.seg.nii.gz` and the file
 * watcher that saw it both load it, often at once. The file is read once and announced once (a
 * second announcement would cover whatever the editor said meanwhile), a version written during a
 * read wins over the one being read, and a file removed and written again is taken again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatestRead } from '../../src/extension/volumeEditor/latestRead';

/** A read that finishes when the test says so, counting how often it was started. */
function gatedRead<T>(value: T) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const read = { started: 0, open: () => open(), run: async () => { read.started++; await gate; return value; } };
  return read;
}

test('two loads of the same version at once: one read, and only the first caller gets it', async () => {
  const reads = new LatestRead<string>();
  const read = gatedRead('v1');
  const command = reads.take('seg 100:5', read.run);
  const watcher = reads.take('seg 100:5', read.run);
  read.open();
  assert.deepEqual(await Promise.all([command, watcher]), ['v1', undefined]);
  assert.equal(read.started, 1);
  // Asked again later (the watcher's second event for the same write): nothing new.
  assert.equal(await reads.take('seg 100:5', read.run), undefined);
  assert.equal(read.started, 1);
});

test('a version written while the previous one is read wins, whichever read ends first', async () => {
  const reads = new LatestRead<string>();
  const older = gatedRead('v1');
  const newer = gatedRead('v2');
  const first = reads.take('seg 100:5', older.run);
  const second = reads.take('seg 200:7', newer.run);
  newer.open();
  assert.equal(await second, 'v2');
  older.open();
  assert.equal(await first, undefined, 'the older version must not replace the newer one');
  assert.equal(await reads.take('seg 200:7', newer.run), undefined);
});

test('a read that fails fails both callers, and the version can be read again', async () => {
  const reads = new LatestRead<string>();
  let fail = true;
  const run = async () => {
    await new Promise((resolve) => setImmediate(resolve));
    if (fail) throw new Error('t2.seg.nii.gz is on another grid');
    return 'v1';
  };
  const results = await Promise.allSettled([reads.take('seg 100:5', run), reads.take('seg 100:5', run)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  fail = false;
  assert.equal(await reads.take('seg 100:5', run), 'v1');
});

test('a removed prediction written again with the same stamp is taken again', async () => {
  const reads = new LatestRead<string>();
  assert.equal(await reads.take('seg 100:5', async () => 'v1'), 'v1');
  reads.forget();
  assert.equal(await reads.take('seg 100:5', async () => 'v1 again'), 'v1 again');
});
