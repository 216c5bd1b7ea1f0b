/** Reading the runs folder: run.json robustness (corrupt, half-written, other versions), evaluations, segmentations. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/data';
import { checkRunName, listEntries, loadEntry, parseEvaluationRecord, parseSegmentations, readSegmentations, runWorkerState, serializeSegmentations, type RunEntry } from '../../src/extension/runs/runEntry';
import { parseRunRecord } from '../../src/protocol/run';
import { runRecord } from './runs-fixtures';

test('a complete run.json parses with its metrics', () => {
  const parsed = parseRunRecord(JSON.stringify(runRecord()));
  assert.ok(parsed.ok);
  assert.equal(parsed.value.status, 'succeeded');
  assert.equal(parsed.value.loss.length, 3);
  assert.equal(parsed.value.validation.length, 2);
  assert.equal(parsed.value.summary?.best?.meanForegroundIoU, 0.82);
});

const BAD: [string, string, RegExp][] = [
  ['empty file', '', /is empty/],
  ['half-written JSON', JSON.stringify(runRecord()).slice(0, 300), /not valid JSON \(half-written or corrupt\)/],
  ['binary garbage', '\u0000\u0001PK\u0003', /not valid JSON/],
  ['a JSON array', '[1, 2]', /does not hold a JSON object/],
  ['null', 'null', /does not hold a JSON object/],
  ['another schema version', JSON.stringify({ ...runRecord(), schemaVersion: 7 }), /schema version 7; this version of the extension reads version 1/],
  ['an unknown status', JSON.stringify({ ...runRecord(), status: 'paused' }), /unknown status "paused"/],
  ['no settings', JSON.stringify({ ...runRecord(), settings: undefined }), /has no settings/],
  ['a bad createdAt', JSON.stringify({ ...runRecord(), createdAt: 'yesterday' }), /no valid createdAt/],
];

for (const [what, text, reason] of BAD) {
  test(`run.json with ${what} is refused with the reason`, () => {
    const parsed = parseRunRecord(text);
    assert.equal(parsed.ok, false);
    if (!parsed.ok) assert.match(parsed.reason, reason);
  });
}

test('malformed metric entries are dropped, not fatal', () => {
  const r = runRecord() as unknown as Record<string, unknown>;
  r.loss = [{ iteration: 1, loss: 0.9 }, { iteration: 'x', loss: 1 }, null, { iteration: 2, loss: Infinity }, { iteration: 3, loss: 0.5 }];
  r.validation = [{ iteration: 10, iou: [0.9, 0.5], meanForegroundIoU: 0.5 }, { iteration: 20, iou: 'high' }, { iteration: 30, iou: [0.9, null], meanForegroundIoU: null }];
  r.summary = { status: 'succeeded', stopReason: 'iterations', iterations: 30, seconds: 12, finalLoss: 0.5, modelDir: 'best', best: { iteration: 'x' } };
  r.checkpoints = 'nope';
  r.volumes = [null, 3];
  const parsed = parseRunRecord(JSON.stringify(r));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.loss.map((l) => l.iteration), [1, 3]);
  assert.deepEqual(parsed.value.validation.map((v) => v.iteration), [10, 30]);
  assert.equal(parsed.value.summary?.best, undefined);
  assert.deepEqual(parsed.value.checkpoints, {});
  assert.deepEqual(parsed.value.volumes, []);
});

test('fields the Runs view reads are dropped when malformed: the patch geometry, a summary without iterations, class weights', () => {
  for (const geometry of [{ input: null, output: [8, 8, 8] }, { input: 'x', output: [8, 8, 8] }, { input: [8, 8], output: [8, 8, 8] }, { input: [8, 8, 8] }, 'nope']) {
    const parsed = parseRunRecord(JSON.stringify({ ...runRecord(), geometry }));
    assert.ok(parsed.ok);
    assert.equal(parsed.value.geometry, undefined, JSON.stringify(geometry));
  }
  const kept = parseRunRecord(JSON.stringify({ ...runRecord(), geometry: { input: [40, 40, 40], output: [40, 40, 40] } }));
  assert.ok(kept.ok);
  assert.deepEqual(kept.value.geometry?.input, [40, 40, 40]);
  const summary = parseRunRecord(JSON.stringify({ ...runRecord(), summary: { ...runRecord().summary, iterations: null } }));
  assert.ok(summary.ok);
  assert.equal(summary.value.summary, undefined);
  const weights = parseRunRecord(JSON.stringify({ ...runRecord(), classWeights: { 0: 1 } }));
  assert.ok(weights.ok);
  assert.equal(weights.value.classWeights, undefined);
});

function writeRun(dir: string, text: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'run.json'), text);
}

test('the runs folder lists runs newest first; broken ones say why and never break the list', (t) => {
  const root = tempDir('runs-entry');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  writeRun(path.join(root, 'old'), JSON.stringify(runRecord({ createdAt: '2026-01-01T10:00:00.000Z' })));
  writeRun(path.join(root, 'new'), JSON.stringify(runRecord({ createdAt: '2026-03-01T10:00:00.000Z', status: 'running' })));
  writeRun(path.join(root, 'half'), JSON.stringify(runRecord()).slice(0, 120));
  fs.mkdirSync(path.join(root, 'empty'));
  fs.mkdirSync(path.join(root, '.hidden'));
  fs.writeFileSync(path.join(root, 'notes.txt'), 'not a folder');
  const entries = listEntries(root);
  assert.deepEqual(entries.filter((e) => e.kind === 'run').map((e) => e.name), ['new', 'old']);
  const broken = Object.fromEntries(entries.filter((e) => e.kind === 'broken').map((e) => [e.name, e.kind === 'broken' ? e.reason : '']));
  assert.match(broken.half, /half-written/);
  assert.match(broken.empty, /no run\.json/);
  assert.equal(entries.some((e) => e.name === '.hidden' || e.name === 'notes.txt'), false);
  assert.deepEqual(listEntries(path.join(root, 'absent')), []);
});

test('an evaluation folder lists its folds, the running one included', (t) => {
  const root = tempDir('runs-eval');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const dir = path.join(root, 'eval');
  writeRun(path.join(dir, 'fold-1'), JSON.stringify(runRecord()));
  writeRun(path.join(dir, 'fold-2'), JSON.stringify(runRecord({ status: 'running' })));
  fs.writeFileSync(
    path.join(dir, 'evaluation.json'),
    JSON.stringify({
      format: 'unet3d-evaluation',
      version: 1,
      status: 'running',
      createdAt: '2026-02-01T00:00:00.000Z',
      updatedAt: '2026-02-01T00:01:00.000Z',
      folds: 3,
      volumes: [{ image: '/a.nii.gz', labels: '/a.labels.nii.gz' }],
      preset: 'fast',
      results: [{ fold: 0, runDir: 'fold-1', iou: [0.9, 0.7], meanForegroundIoU: 0.7 }],
      meanIoU: [0.9, 0.7],
      meanForegroundIoU: 0.7,
    }),
  );
  const entry = loadEntry(dir);
  assert.equal(entry.kind, 'evaluation');
  if (entry.kind !== 'evaluation') return;
  assert.deepEqual(entry.folds.map((f) => f.name), ['fold-1', 'fold-2']);
  assert.equal(entry.evaluation.meanForegroundIoU, 0.7);
  assert.equal(parseEvaluationRecord('{"format":"unet3d-evaluation","version":1,"status":"done"}').ok, false);
});

test('segmentations.json: paths inside the run are relative, malformed items are dropped', (t) => {
  const dir = tempDir('runs-segs');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(
    path.join(dir, 'segmentations.json'),
    serializeSegmentations([
      { volume: '/data/t2.nii.gz', output: '/data/t2.seg.nii.gz', probabilities: 'segmentations/t2-1234.prob.nii.gz', createdAt: '2026-01-01T00:00:00Z' },
      { volume: 3, output: '/x' } as never,
    ]),
  );
  const list = readSegmentations(dir);
  assert.equal(list.length, 1);
  assert.equal(list[0].probabilities, path.join(dir, 'segmentations', 't2-1234.prob.nii.gz'));
  assert.equal(list[0].output, '/data/t2.seg.nii.gz');
  assert.deepEqual(parseSegmentations('{"segmentations": 5}'), []);
  assert.deepEqual(parseSegmentations('garbage'), []);
});

test('run names: no separators, no leading dot, not empty', () => {
  assert.equal(checkRunName('spleen 3 levels'), undefined);
  assert.match(checkRunName('  ') ?? '', /needed/);
  assert.match(checkRunName('a/b') ?? '', /no \//);
  assert.match(checkRunName('.hidden') ?? '', /dot/);
  assert.match(checkRunName('x'.repeat(200)) ?? '', /120/);
});

test('a running run\'s lock tells whether its training process is alive', () => {
  const dir = tempDir('runs-lock');
  try {
    const runDir = path.join(dir, 'run-a');
    fs.mkdirSync(runDir);
    fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify(runRecord({ status: 'running', finishedAt: undefined, summary: undefined })));
    const state = () => (loadEntry(runDir) as RunEntry).worker;
    assert.equal(state(), 'unknown', 'no lock: a run from before locks');
    fs.writeFileSync(path.join(runDir, 'worker.lock'), JSON.stringify({ pid: process.pid, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    assert.equal(state(), 'alive');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    fs.writeFileSync(path.join(runDir, 'worker.lock'), JSON.stringify({ pid: dead, hostname: os.hostname(), startedAt: new Date().toISOString() }));
    assert.equal(state(), 'gone');
    fs.writeFileSync(path.join(runDir, 'worker.lock'), JSON.stringify({ pid: process.pid, hostname: 'another-machine', startedAt: new Date().toISOString() }));
    assert.equal(state(), 'unknown', 'another machine\'s process cannot be checked from here');
    fs.writeFileSync(path.join(runDir, 'worker.lock'), '{"pid": "x"}');
    assert.equal(state(), 'unknown');
    assert.equal(runWorkerState(path.join(dir, 'none')), 'unknown');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
