/** The worker channel checks every message in full: a table of good and bad requests and events. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { segmentOptionsProblem, workerEventProblem, workerRequestProblem } from '../../src/protocol/worker';

const report = { active: 'wasm', statuses: [{ name: 'wasm', available: true, detail: 'SIMD' }] };
const validation = { iteration: 3, iou: [0.9, null], meanForegroundIoU: null, seconds: 1.5 };

test('requests: each type with its fields passes, and every missing or wrong field is named', () => {
  const good: unknown[] = [
    { type: 'start', id: 'a', settings: { volumes: [{ image: 'i.nii', labels: 'l.nii' }], outDir: 'run' } },
    { type: 'cancel', id: 'a' },
    { type: 'probe', id: 'a' },
    { type: 'shutdown' },
    { type: 'segment', id: 'a', options: { runDir: 'r', image: 'i.nii.gz' } },
    { type: 'segment', id: 'a', options: { runDir: 'r', image: 'i.nii.gz', tile: [96, 96, 8], overlap: 0.5, context: 4, checkpoint: 'last', backend: 'wasm' } },
  ];
  for (const m of good) assert.equal(workerRequestProblem(m), undefined, JSON.stringify(m));
  const bad: [unknown, RegExp][] = [
    [null, /not an object/],
    ['start', /not an object/],
    [{ type: 'train', id: 'a' }, /unknown type "train"/],
    [{ type: 'cancel' }, /'cancel'\.id is not a non-empty string/],
    [{ type: 'start', id: 'a', settings: { outDir: 'run' } }, /\.settings\.volumes is not a list/],
    [{ type: 'start', id: 'a', settings: { volumes: [{ image: 'i' }], outDir: 'run' } }, /\.settings\.volumes\[0\]\.labels is not a non-empty string/],
    [{ type: 'segment', id: 'a', options: { runDir: 'r' } }, /\.options\.image/],
    [{ type: 'segment', id: 'a', options: { runDir: 'r', image: 'i', tile: [96, 96] } }, /\.options\.tile is not a list of three/],
    [{ type: 'segment', id: 'a', options: { runDir: 'r', image: 'i', tile: [96, 0, 8] } }, /\.options\.tile is not a whole number ≥ 1/],
    [{ type: 'segment', id: 'a', options: { runDir: 'r', image: 'i', overlap: 1 } }, /\.options\.overlap is not a number in \[0, 1\)/],
    [{ type: 'segment', id: 'a', options: { runDir: 'r', image: 'i', checkpoint: 'first' } }, /\.options\.checkpoint is not one of best, last/],
    [{ type: 'segment', id: 'a', options: { runDir: 'r', image: 'i', backend: 'tpu' } }, /\.options\.backend is not a backend name/],
  ];
  for (const [m, problem] of bad) assert.match(workerRequestProblem(m) ?? 'passed', problem, JSON.stringify(m));
  assert.match(segmentOptionsProblem({ runDir: 'r', image: 'i', context: -1 }) ?? '', /the segment options\.context is not a whole number ≥ 0/);
});

test('events: what the host acts on is checked before it acts', () => {
  const good: unknown[] = [
    { type: 'ready', pid: 12 },
    { type: 'progress', id: 'a', iteration: 1, loss: 0.5, smoothedLoss: 0.5, learningRate: 0.001, voxelsPerSecond: 100, elapsedSeconds: 1, etaSeconds: Infinity, backend: 'wasm' },
    { type: 'validation', id: 'a', result: validation, improved: true },
    { type: 'checkpoint', id: 'a', kind: 'best', dir: '/r/best', iteration: 3, meanForegroundIoU: null },
    { type: 'finished', id: 'a', runDir: '/r', summary: { status: 'interrupted', stopReason: 'interrupted', iterations: 3, seconds: 2, finalLoss: null, modelDir: '/r/last' } },
    { type: 'failed', id: 'a', message: 'why' },
    { type: 'probeResult', id: 'a', report },
    { type: 'segmentProgress', id: 'a', progress: { done: 1, total: 2, elapsedSeconds: 1, etaSeconds: 1, voxelsPerSecond: 10 } },
  ];
  for (const m of good) assert.equal(workerEventProblem(m), undefined, JSON.stringify(m));
  const bad: [unknown, RegExp][] = [
    [{ type: 'ready' }, /\.pid/],
    [{ type: 'progress', id: 'a', iteration: 1, loss: NaN, smoothedLoss: 0.5, learningRate: 0.001, voxelsPerSecond: 1, elapsedSeconds: 1, etaSeconds: 1, backend: 'wasm' }, /\.loss is not a number/],
    [{ type: 'validation', id: 'a', result: { ...validation, iou: [0.9, 'x'] }, improved: true }, /\.result\.iou\[1\] is not a finite number/],
    [{ type: 'finished', id: 'a', runDir: '/r', summary: { status: 'done' } }, /\.summary\.status is not one of/],
    [{ type: 'probeResult', id: 'a', report: { active: 'wasm' } }, /\.report\.statuses is not a list/],
    [{ type: 'segmented', id: 'a', result: { out: 'x' } }, /\.result\.classesFile/],
  ];
  for (const [m, problem] of bad) assert.match(workerEventProblem(m) ?? 'passed', problem, JSON.stringify(m));
});
