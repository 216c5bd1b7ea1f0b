/**
 * The volume editor's saves in quick succession (VS Code's auto-save fires a second after every
 * edit): one write at a time, nothing written when nothing changed, edits made during a write
 * written before the save returns, a cancelled save dropped, and an auto-save waiting for the
 * document to go idle. The labels are written as the editor writes them (the real encoder and
 * the all-or-nothing file set) into a temporary folder.
 */
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { NODE_FILE_SET_IO } from '../../src/core/atomicWrite';
import { defaultClasses, type LabelClass } from '../../src/core/labels';
import { readVolumeFile } from '../../src/core/readVolume';
import { encodeLabelFilesAsync, writeFileSet } from '../../src/core/volumeFiles';
import type { Vec3 } from '../../src/core/geometry';
import { LabelSaver, type SaverTiming, type SaveTarget } from '../../src/extension/volumeEditor/labelSaver';

const DIMS: Vec3 = [64, 48, 40];
const AFFINE = [
  [1, 0, 0, 0],
  [0, 1, 0, 0],
  [0, 0, 2, 0],
  [0, 0, 0, 1],
];

interface Snapshot {
  labels: Uint8Array;
  classes: LabelClass[];
}

/** A document's labels written beside `volume.nii.gz` in a fresh folder, counting writes and how many ran at once. */
class Labels implements SaveTarget<Snapshot> {
  labels = new Uint8Array(DIMS[0] * DIMS[1] * DIMS[2]);
  classes = defaultClasses();
  revision = 0;
  lastChangeAt = 0;
  writes = 0;
  running = 0;
  mostAtOnce = 0;
  /** Called once a write has its bytes, before they are written (tests edit here). */
  duringWrite: (() => void) | undefined;
  readonly volumePath: string;

  constructor(t: TestContext, private readonly clock: () => number = () => Date.now()) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unet3d-saver-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    this.volumePath = path.join(dir, 'volume.nii.gz');
  }

  get labelMap(): string {
    return path.join(path.dirname(this.volumePath), 'volume.labels.nii.gz');
  }

  /** Paints `value` on voxel `i` (an edit). */
  paint(i: number, value: number): void {
    this.labels[i] = value;
    this.revision++;
    this.lastChangeAt = this.clock();
  }

  snapshot(): Snapshot {
    return { labels: this.labels.slice(), classes: this.classes.map((c) => ({ ...c })) };
  }

  async fingerprint({ labels, classes }: Snapshot): Promise<string> {
    return `${Buffer.from(await webcrypto.subtle.digest('SHA-256', labels)).toString('hex')}:${JSON.stringify(classes)}`;
  }

  async diskStamp(): Promise<string | undefined> {
    return fs.existsSync(this.labelMap) ? `${fs.statSync(this.labelMap).mtimeMs}:${fs.statSync(this.labelMap).size}` : undefined;
  }

  async write({ labels, classes }: Snapshot): Promise<number> {
    this.writes++;
    this.running++;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    try {
      const files = await encodeLabelFilesAsync('volume.nii.gz', { dims: DIMS, affine: AFFINE, format: 'nifti1' }, labels, classes);
      this.duringWrite?.();
      await writeFileSet(NODE_FILE_SET_IO, files.map((f) => ({ target: path.join(path.dirname(this.volumePath), f.name), bytes: f.bytes })));
      return files.reduce((n, f) => n + f.bytes.length, 0);
    } finally {
      this.running--;
    }
  }

  /** The label map on disk. */
  onDisk(): Uint8Array {
    return readVolumeFile(this.labelMap).data as Uint8Array;
  }
}

const now = { isCancelled: () => false, waitForIdle: false };

test('saves in quick succession write one at a time, and what is on disk is the last content', async (t) => {
  const doc = new Labels(t);
  const saver = new LabelSaver(doc);
  const saves = [];
  for (let i = 0; i < 8; i++) {
    doc.paint(1000 * i, 2);
    saves.push(saver.save(now));
  }
  const outcomes = await Promise.all(saves);
  assert.equal(doc.mostAtOnce, 1, 'two writes never overlap (their temporary files and renames would interleave)');
  assert.ok(doc.writes <= 8);
  assert.equal(outcomes[0].kind, 'written');
  assert.deepEqual(doc.onDisk(), doc.labels);
  assert.deepEqual(fs.readdirSync(path.dirname(doc.volumePath)).sort(), ['volume.labels.json', 'volume.labels.nii.gz'], 'no temporary file left');
});

test('a save with nothing changed since the last write writes nothing; changed and changed back neither', async (t) => {
  const doc = new Labels(t);
  const saver = new LabelSaver(doc);
  doc.paint(5, 2);
  assert.equal((await saver.save(now)).kind, 'written');
  const mtime = fs.statSync(doc.labelMap).mtimeMs;
  assert.equal((await saver.save(now)).kind, 'unchanged');
  doc.paint(5, 1);
  doc.paint(5, 2); // undone by hand: the same content as on disk
  assert.equal((await saver.save(now)).kind, 'unchanged');
  assert.equal(doc.writes, 1);
  assert.equal(fs.statSync(doc.labelMap).mtimeMs, mtime);
  // Files changed behind the editor's back: the save writes again.
  fs.rmSync(doc.labelMap);
  assert.equal((await saver.save(now)).kind, 'written');
  assert.deepEqual(doc.onDisk(), doc.labels);
});

test('edits made while a write runs are written before the save returns (VS Code marks them saved then)', async (t) => {
  const doc = new Labels(t);
  const saver = new LabelSaver(doc);
  doc.paint(10, 2);
  doc.duringWrite = () => {
    doc.duringWrite = undefined;
    doc.paint(20, 3); // arrives from the webview during the first write
  };
  const outcome = await saver.save(now);
  assert.equal(outcome.kind, 'written');
  assert.equal(outcome.kind === 'written' && outcome.writes, 2);
  assert.equal(doc.onDisk()[20], 3);
});

test('a save VS Code cancelled while it waited writes nothing; the newer one writes', async (t) => {
  const doc = new Labels(t);
  const saver = new LabelSaver(doc);
  doc.paint(1, 2);
  let cancelled = false;
  const first = saver.save({ waitForIdle: false, isCancelled: () => cancelled });
  const second = saver.save({ waitForIdle: false, isCancelled: () => false });
  cancelled = true; // before the first has started: VS Code replaced it by the second
  assert.equal((await first).kind, 'superseded');
  assert.equal((await second).kind, 'written');
  assert.equal(doc.writes, 1);
});

test('an auto-save waits until the document has been idle twice as long as the last write took', async (t) => {
  // A virtual clock: sleeping advances it, painting happens at given times.
  let clock = 0;
  const slept: number[] = [];
  const timing: SaverTiming = {
    minIdleMs: 0,
    maxIdleMs: 10_000,
    maxWaitMs: 15_000,
    now: () => clock,
    sleep: async (ms) => {
      slept.push(ms);
      clock += ms;
    },
  };
  const doc = new Labels(t, () => clock);
  const saver = new LabelSaver(doc, timing);
  // The first write "takes" 800 ms of the virtual clock.
  const write = doc.write.bind(doc);
  doc.write = async (snapshot) => {
    clock += 800;
    return write(snapshot);
  };
  doc.paint(1, 2);
  await saver.save({ waitForIdle: true, isCancelled: () => false });
  assert.equal(saver.lastWriteDuration, 800);
  // An edit now, and an auto-save 1 s later: it waits until 1.6 s after the edit.
  doc.paint(2, 2);
  clock += 1000;
  slept.length = 0;
  await saver.save({ waitForIdle: true, isCancelled: () => false });
  assert.equal(slept.reduce((a, b) => a + b, 0), 600);
  assert.equal(doc.onDisk()[2], 2);
  // Painting without a pause: the save waits at most maxWaitMs, then writes.
  doc.paint(3, 2);
  let edits = 0;
  timing.sleep = async (ms) => {
    clock += ms;
    if (edits++ < 1000) doc.paint(4, 2 + (edits % 2));
  };
  const started = clock;
  const outcome = await saver.save({ waitForIdle: true, isCancelled: () => false });
  assert.equal(outcome.kind, 'written');
  assert.equal(clock - started >= 15_000 && clock - started < 15_000 + 250 + 800 * 3, true, `waited ${clock - started} ms`);
});
