/** What the Runs view shows: labels, descriptions, tooltips, context values and children of runs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunRecord } from '../../src/protocol/run';
import type { Entry, EvaluationEntry, RunEntry } from '../../src/extension/runs/runEntry';
import { displayStatus, formatDuration, formatShortTime, presentEntry, shortRunName, type RowData } from '../../src/extension/runs/runPresentation';
import { runRecord } from './runs-fixtures';

const NOW = Date.parse('2026-11-27T12:00:00.000Z');
/** When the fixture's run started, as the view shows it (local time). */
const STARTED = formatShortTime('2026-11-27T10:00:00.000Z', NOW);

function run(over: Parameters<typeof runRecord>[0] = {}, segmentations: RunEntry['segmentations'] = []): RunEntry {
  const record = runRecord(over);
  return { kind: 'run', dir: '/ws/.unet3d/runs/run-a', name: 'run-a', createdMs: Date.parse(record.createdAt), record, segmentations };
}

const child = (row: RowData, id: string) => row.children?.find((c) => c.id === id);
const tokens = (row: RowData) => row.contextValue.split(':');

test('a succeeded run leads with its mean IoU, then when and which run; backend, preset and duration in the tooltip', () => {
  const row = presentEntry(run(), { now: NOW });
  assert.equal(row.label, 'IoU 0.820');
  assert.equal(row.name, 'run-a');
  assert.equal(row.description, `${STARTED} · run-a`);
  assert.match(row.tooltip ?? '', /^\*\*run-a\*\* — succeeded/);
  assert.match(row.tooltip ?? '', /Backend: wasm/);
  assert.match(row.tooltip ?? '', /Preset: fast \(3 levels, base 16, same padding, BN\), 394,258 parameters/);
  assert.match(row.tooltip ?? '', /Duration: 2 min 05 s, 100 iterations/);
  assert.deepEqual(tokens(row), ['unet3d', 'run', 'model', 'curves', 'deletable', 'renamable', 'reveal']);
  assert.equal(row.icon, 'pass');
});

test('a run whose record cannot be shown is a broken row saying why, never an exception that empties the view', () => {
  const record = runRecord();
  // A field of the wrong type that the parser does not check, as a hand edit or another tool may leave it.
  (record as unknown as Record<string, unknown>).geometry = { input: 5, output: [8, 8, 8] };
  const row = presentEntry({ kind: 'run', dir: '/ws/.unet3d/runs/run-x', name: 'run-x', createdMs: 0, record, segmentations: [] }, { now: NOW });
  assert.equal(row.label, 'broken');
  assert.match(row.description ?? '', /^run-x · its run\.json cannot be shown \(/);
  assert.ok(tokens(row).includes('deletable') && tokens(row).includes('reveal'));
});

test('its children: IoU per class by name, the volumes, the settings, the segmentations', () => {
  const row = presentEntry(
    run({}, [{ volume: '/ws/semi/spinalcord/t2.nii.gz', output: '/ws/semi/spinalcord/t2.seg.nii.gz', createdAt: '2026-11-27T11:00:00.000Z' }]),
    { now: NOW },
  );
  const classes = row.children?.filter((c) => c.id.startsWith('iou-')).map((c) => `${c.label} ${c.description}`);
  assert.deepEqual(classes, ['background IoU 0.970', 'spinal cord IoU 0.820']);
  assert.deepEqual(child(row, 'volumes')?.children?.map((c) => [c.label, c.description]), [['t2.nii.gz', 'labels: t2.labels.nii.gz']]);
  // A run trained on a mask says so beside its label file.
  const masked = runRecord({ settings: { ...runRecord().settings, volumes: [{ image: '/ws/t2.nii.gz', labels: '/ws/t2_seg-manual.nii.gz', labelsConvention: 'mask' }] } });
  masked.volumes = [{ ...({} as RunRecord['volumes'][number]), labelsConvention: 'mask' }];
  const maskedRow = presentEntry({ kind: 'run', dir: '/ws/.unet3d/runs/run-m', name: 'run-m', createdMs: Date.parse(masked.createdAt), record: masked, segmentations: [] }, { now: NOW });
  assert.deepEqual(child(maskedRow, 'volumes')?.children?.map((c) => c.description), ['labels: t2_seg-manual.nii.gz (a mask: 0 = background)']);
  const settings = Object.fromEntries((child(row, 'settings')?.children ?? []).map((c) => [c.label, c.description]));
  assert.equal(settings.budget, '100 iterations');
  assert.equal(settings.validation, '20 % of the annotated slices held out, then 20 % of the budget on every slice');
  assert.equal(settings.patch, '40×40×40 → 40×40×40 voxels');
  assert.equal(settings.augmentation, 'deformation');
  assert.equal(settings.stopped, 'ran its 100 iterations');
  const segs = child(row, 'segmentations');
  assert.equal(segs?.description, '1');
  assert.equal(segs?.children?.[0].label, 't2.seg.nii.gz');
  assert.equal(segs?.children?.[0].open, true);
});

test('a run in progress shows its live iteration and best IoU, and can be cancelled but not deleted', () => {
  const entry = run({ status: 'running', finishedAt: undefined, summary: undefined, updatedAt: '2026-11-27T11:59:50.000Z' });
  const row = presentEntry(entry, { now: NOW, live: { iteration: 120, totalIterations: 1000, smoothedLoss: 0.31, etaSeconds: 190, bestIoU: 0.71 } });
  assert.equal(row.label, 'iteration 120/1000 · IoU 0.710');
  assert.equal(row.description, `${STARTED} · run-a`);
  assert.equal(presentEntry(entry, { now: NOW, active: true }).label, 'iteration 100/100 · IoU 0.820', 'before its first progress: what run.json says');
  const fresh = run({ status: 'running', finishedAt: undefined, summary: undefined, loss: [], validation: [], updatedAt: '2026-11-27T11:59:50.000Z' });
  assert.equal(presentEntry(fresh, { now: NOW, active: true }).label, 'starting…');
  assert.match(row.tooltip ?? '', /Loss 0\.3100, about 3 min 10 s to go/);
  assert.ok(tokens(row).includes('running'));
  assert.ok(!tokens(row).includes('deletable'));
  assert.equal(row.icon, 'sync~spin');
});

test('a run left "running" that nothing updates is shown as interrupted', () => {
  const entry = run({ status: 'running', finishedAt: undefined, summary: undefined, updatedAt: '2026-11-27T11:00:00.000Z' });
  assert.equal(displayStatus(entry, { now: NOW }), 'interrupted');
  assert.equal(displayStatus(entry, { now: NOW, staleAfterMs: 2 * 3600_000 }), 'running');
  const row = presentEntry(entry, { now: NOW });
  assert.equal(row.label, 'interrupted · IoU 0.820');
  assert.ok(tokens(row).includes('deletable'));
});

test('a running run whose training process is gone (its lock names a dead process) is interrupted at once; alive, it runs', () => {
  const fresh = { status: 'running' as const, finishedAt: undefined, summary: undefined, updatedAt: '2026-11-27T11:59:50.000Z' };
  const gone: RunEntry = { ...run(fresh), worker: 'gone' };
  assert.equal(displayStatus(gone, { now: NOW }), 'interrupted');
  const row = presentEntry(gone, { now: NOW });
  assert.ok(tokens(row).includes('deletable') && tokens(row).includes('renamable'), 'an interrupted run can be renamed and deleted at once');
  const alive: RunEntry = { ...run({ ...fresh, updatedAt: '2026-11-27T09:00:00.000Z' }), worker: 'alive' };
  assert.equal(displayStatus(alive, { now: NOW }), 'running', 'a live process is running however long since its last write');
});

test('a run the worker marked interrupted says why', () => {
  const row = presentEntry(run({ status: 'interrupted', error: 'the process that started the run went away' }), { now: NOW });
  assert.match(row.label, /^interrupted/);
  assert.match(row.tooltip ?? '', /Why: the process that started the run went away/);
  assert.equal(row.icon, 'debug-disconnect');
});

test('failed and cancelled runs say so; a failed run leads its children with the error', () => {
  const failed = presentEntry(run({ status: 'failed', error: 'the engine worker was killed by SIGKILL', summary: undefined, validation: [], checkpoints: {} }), { now: NOW });
  assert.equal(failed.label, 'failed');
  assert.equal(failed.description, `${STARTED} · run-a · the engine worker was killed by SIGKILL`);
  assert.equal(failed.children?.[0].description, 'the engine worker was killed by SIGKILL');
  assert.ok(!tokens(failed).includes('model'));
  const cancelled = presentEntry(run({ status: 'cancelled' }), { now: NOW });
  assert.equal(cancelled.label, 'cancelled · IoU 0.820');
});

test('without a summary the best validation so far gives the IoU', () => {
  const row = presentEntry(run({ summary: undefined }), { now: NOW });
  assert.equal(row.label, 'IoU 0.820');
  const none = presentEntry(run({ summary: undefined, validation: [] }), { now: NOW });
  assert.equal(none.label, 'IoU –');
});

test('a broken entry shows the reason and can be deleted', () => {
  const entry: Entry = { kind: 'broken', dir: '/r/x', name: 'x', createdMs: 0, reason: 'run.json is not valid JSON (half-written or corrupt): Unexpected end' };
  const row = presentEntry(entry, { now: NOW });
  assert.equal(row.label, 'broken');
  assert.equal(row.name, 'x');
  assert.equal(row.description, 'x · run.json is not valid JSON (half-written or corrupt): Unexpected end');
  assert.deepEqual(tokens(row), ['unet3d', 'broken', 'deletable', 'renamable', 'reveal']);
  assert.equal(row.children, undefined);
});

test('an evaluation: the k-fold mean IoU, per-class means, and its folds as runs', () => {
  const fold = run();
  const entry: EvaluationEntry = {
    kind: 'evaluation',
    dir: '/r/eval',
    name: 'eval',
    createdMs: 0,
    folds: [{ ...fold, dir: '/r/eval/fold-1', name: 'fold-1' }],
    evaluation: {
      format: 'unet3d-evaluation',
      version: 1,
      status: 'succeeded',
      createdAt: '2026-11-27T10:00:00.000Z',
      updatedAt: '2026-11-27T10:10:00.000Z',
      finishedAt: '2026-11-27T10:10:00.000Z',
      folds: 3,
      volumes: [{ image: '/ws/t2.nii.gz', labels: '/ws/t2.labels.nii.gz' }],
      preset: 'fast',
      classNames: ['background', 'cord'],
      results: [{ fold: 0, runDir: 'fold-1', iou: [0.9, 0.8], meanForegroundIoU: 0.8 }],
      meanIoU: [0.9, 0.8],
      meanForegroundIoU: 0.8,
    },
  };
  const row = presentEntry(entry, { now: NOW });
  assert.equal(row.label, '3-fold IoU 0.800');
  assert.equal(row.description, `${STARTED} · eval`);
  assert.deepEqual(row.children?.filter((c) => c.id.startsWith('iou-')).map((c) => `${c.label} ${c.description}`), ['background IoU 0.900', 'cord IoU 0.800']);
  const foldRow = row.children?.find((c) => c.name === 'fold-1');
  assert.ok(foldRow);
  assert.ok(!tokens(foldRow).includes('deletable'), 'a fold is deleted with its evaluation');
  assert.ok(tokens(foldRow).includes('model'));
});

test('short times and names: the time of day today, the date before; the name without its date and time', () => {
  const now = new Date(2026, 11, 6, 15, 30).getTime();
  assert.equal(formatShortTime(new Date(2026, 11, 6, 3, 34).toISOString(), now), '03:34');
  assert.equal(formatShortTime(new Date(2026, 11, 5, 23, 59).toISOString(), now), '5 Dec 23:59');
  assert.equal(formatShortTime(new Date(2025, 0, 9, 8, 0).toISOString(), now), '9 Jan 2025');
  assert.equal(formatShortTime('not a date', now), '–');
  assert.equal(shortRunName('20261206-033429-sub-spleen2_ct'), 'sub-spleen2_ct');
  assert.equal(shortRunName('20261206-033429-eval-t2-2'), 'eval-t2-2');
  assert.equal(shortRunName('first'), 'first');
});

test('durations', () => {
  assert.equal(formatDuration(42.4), '42 s');
  assert.equal(formatDuration(185), '3 min 05 s');
  assert.equal(formatDuration(3720), '1 h 02 min');
  assert.equal(formatDuration(NaN), '–');
});

test('a run that ended with a refit on every slice: its IoU is labeled held out, the refit explained', () => {
  const refit = { share: 0.2, from: { iteration: 100, meanForegroundIoU: 0.82 }, slices: 9, heldOutSlices: 2, iterations: 25, seconds: 30, done: true, heldOutCheckpoint: 'held-out' };
  const row = presentEntry(run({ refit, checkpoints: { last: { dir: 'last', iteration: 125 } } }), { now: NOW });
  assert.equal(row.label, 'IoU 0.820', 'the lead stays short');
  assert.match(row.description ?? '', / · refit on all 9 slices$/);
  assert.match(row.tooltip ?? '', /Refit: then trained 25 iterations on all 9 annotated slices, the 2 held out included; the IoU is the network's before it saw them/);
  assert.match(child(row, 'refit')?.description ?? '', /25 iterations, 2 held-out slices added; IoU below: held out, before the refit/);
  // A refit stopped before its end changes nothing: the held-out best stays the model.
  assert.doesNotMatch(presentEntry(run({ refit: { ...refit, done: false } }), { now: NOW }).description ?? '', /refit/);
});

test("a warm-started run whose held-out slices its parent had learned says so", () => {
  const parent = { runDir: '/ws/.unet3d/runs/run-0', checkpoint: 'last' as const, iteration: 300, classesAdded: 0, newSlices: 1, heldOutSeen: true };
  const row = presentEntry(run({ parent }), { now: NOW });
  assert.equal(row.label, 'IoU 0.820');
  assert.match(row.description ?? '', / · IoU on slices its parent learned$/);
  assert.match(row.tooltip ?? '', /learned by the run it continued: the IoU is not independent/);
});

test("a warm-started run that kept its parent's weights says so in its lineage, with both scores", () => {
  const comparison = { parentIoU: 0.981, trainedIoU: 0.969, checks: 10, voxels: 31_000, kept: 'parent' as const };
  const parent = { runDir: '/ws/.unet3d/runs/run-0', checkpoint: 'last' as const, iteration: 415, classesAdded: 0, newSlices: 1, comparison };
  const row = presentEntry(run({ parent }), { now: NOW });
  const kept = child(row, 'parent-comparison');
  assert.equal(kept?.label, "kept the parent's weights");
  assert.equal(kept?.description, 'IoU 0.969 trained, 0.981 parent, on 10 annotated slices');
  assert.equal(kept?.icon, 'discard');
  // The run's own IoU is of the network it set aside: its row says so.
  assert.match(row.description ?? '', / · kept its parent's weights: the IoU is of the network set aside$/);
  // Right after the lineage row.
  const ids = row.children?.map((c) => c.id) ?? [];
  assert.equal(ids.indexOf('parent-comparison'), ids.indexOf('parent') + 1);
  assert.match(row.tooltip ?? '', /the trained network scored IoU 0\.969, the parent's 0\.981: the run kept the parent's weights \(its model is the parent's network, iteration 0\)/);
  // A run that did better than its parent keeps what it trained.
  const better = presentEntry(run({ parent: { ...parent, comparison: { ...comparison, trainedIoU: 0.99, kept: 'trained' } } }), { now: NOW });
  assert.equal(child(better, 'parent-comparison')?.label, 'no worse than its parent');
  assert.doesNotMatch(better.description ?? '', /kept its parent/);
  assert.match(better.tooltip ?? '', /the run's model is the trained network\./);
});

test('a run that segments following some classes\' annotations more than its trust map names them and by how much', () => {
  const over = { annotationOffsets: [0, 4] };
  const base = runRecord();
  const row = presentEntry(run({ ...over, settings: { ...base.settings, annotationChannels: true, coordinateChannels: false } }), { now: NOW });
  const settings = Object.fromEntries((child(row, 'settings')?.children ?? []).map((c) => [c.label, c.description]));
  assert.equal(settings['extra inputs'], 'annotations (followed more when segmenting: spinal cord +4)');
  const plain = presentEntry(run({ settings: { ...base.settings, annotationChannels: true, coordinateChannels: false } }), { now: NOW });
  assert.equal(Object.fromEntries((child(plain, 'settings')?.children ?? []).map((c) => [c.label, c.description]))['extra inputs'], 'annotations');
});
