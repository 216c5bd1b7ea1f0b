/**
 * The loop inside a real VS Code (extension-host tests): train on a real volume with a few
 * labeled slices, see the run with its IoU in the Runs view, segment, suggest the next slice,
 * evaluate, cancel a run, kill a worker, rename and delete runs, read a corrupt run.json.
 *
 * The labels are made as QUALITY.md says: from the manual segmentation of
 * semi/spinalcord/t2.nii.gz, the 3 foreground slices per axis nearest the quarter, middle and
 * three-quarter points, fully labeled; every other voxel unlabeled. The network is tiny and the
 * budget a few iterations: these tests check the loop, not the model's quality.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readLabelsAs } from '../../../src/core/labelConvention';
import { writeLabelMapNifti } from '../../../src/core/labelMapIO';
import { readVolumeFile } from '../../../src/core/readVolume';
import { chooseAnnotatedSlices, sparseLabels } from '../../../src/core/sparseLabels';
import { gridMismatch } from '../../../src/core/volumeFiles';
import type { RowData } from '../../../src/extension/runs/runPresentation';
import type { EvaluateResult } from '../../../src/extension/commands/evaluate';
import type { SegmentCommandResult } from '../../../src/extension/commands/segment';
import { rimWidth, teachingScores } from '../../../src/core/sliceEntropy';
import type { SuggestResult } from '../../../src/extension/commands/suggestNextSlice';
import type { TrainArgs, TrainResult } from '../../../src/extension/commands/train';
import type { BackendReport } from '../../../src/protocol/backends';
import type { RunRecord } from '../../../src/protocol/run';
import { SKIP_WITHOUT_DATA } from '../../helpers/data';

const EXTENSION_ID = 'unet3d.unet3d-vscode';
/** A network and patch small enough for a few seconds per run on two cores. */
const TINY: TrainArgs['settings'] = { network: { levels: 2, baseFilters: 8 }, patchSize: [32, 32, 16], validateEvery: 10 };

function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'no workspace folder');
  return folder.uri.fsPath;
}

const runsDir = () => path.join(workspaceDir(), '.unet3d', 'runs');
const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

async function rows(): Promise<RowData[]> {
  return (await vscode.commands.executeCommand<RowData[]>('unet3d.runs.rows')) ?? [];
}

/** Polls `read` every 200 ms until `ok` holds; fails after `timeoutMs` with the last value. */
async function waitFor<T>(what: string, read: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)?.slice(0, 400)})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Process ids of the engine workers that are children of this extension host (Linux /proc). */
function workerPids(): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || Number(ppid) !== process.pid) continue;
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(path.join('dist', 'worker.js'))) out.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

function readRun(dir: string): { status: string; error?: string; summary?: { best?: { meanForegroundIoU: number | null } }; parent?: { runDir: string } } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8'));
}

/** The whole run.json, typed. */
function readRecord(dir: string): RunRecord {
  return JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
}

const sliceKey = (s: { axis: number; index: number }) => `${s.axis}:${s.index}`;

describe('the loop: train, segment, suggest, evaluate', function () {
  this.timeout(240_000);
  let volume: vscode.Uri;
  let labels: string;
  let labelsHash: string;
  let runDir: string;
  /** The 9 annotated slices of the fixture (axis:index). */
  let fixtureSlices: Set<string>;

  before(async function () {
    if (SKIP_WITHOUT_DATA || process.platform !== 'linux') this.skip();
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
    const image = path.join(workspaceDir(), 'semi', 'spinalcord', 't2.nii.gz');
    assert.ok(fs.existsSync(image), `no ${image} in the test workspace`);
    volume = vscode.Uri.file(image);
    // Sparse labels per QUALITY.md, written where the volume editor keeps them.
    const truth = readLabelsAs(path.join(path.dirname(image), 't2_seg-manual.nii.gz'), 'mask');
    const slices = chooseAnnotatedSlices(truth.data, truth.dims);
    fixtureSlices = new Set(slices.map(sliceKey));
    labels = path.join(path.dirname(image), 't2.labels.nii.gz');
    writeLabelMapNifti(labels, { dims: truth.dims, affine: truth.affine, data: sparseLabels(truth.data, truth.dims, slices) });
    labelsHash = sha256(labels);
  });

  it('trains from the open volume and shows the run with its IoU in the Runs view', async () => {
    await vscode.commands.executeCommand('vscode.openWith', volume, 'unet3d.volume');
    const started = Date.now();
    const result = await vscode.commands.executeCommand<TrainResult>('unet3d.train', { volumes: [volume], iterations: 20, validationFraction: 0.34, settings: TINY, name: 'first' });
    console.log(`    training took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(result, 'the command did not run');
    assert.equal(result.status, 'succeeded', result.error);
    runDir = result.runDir;
    assert.equal(runDir, path.join(runsDir(), 'first'));
    const record = readRun(runDir);
    assert.equal(record.status, 'succeeded');
    const iou = record.summary?.best?.meanForegroundIoU;
    assert.equal(typeof iou, 'number');
    const row = await waitFor('the run in the Runs view', rows, (list) => list.some((r) => r.runDir === runDir && /IoU \d\.\d{3}/.test(r.label)));
    const mine = row.find((r) => r.runDir === runDir)!;
    assert.equal(mine.name, 'first');
    assert.equal(mine.label, `IoU ${iou!.toFixed(3)}`);
    assert.match(mine.description ?? '', /^(\d\d:\d\d|\d+ \w{3} \d\d:\d\d) · first( · refit on all \d+ slices)?$/, 'when, then which run (and the refit after the held-out IoU)');
    assert.match(mine.tooltip ?? '', /Backend: \w+/);
    assert.deepEqual(mine.children?.filter((c) => c.id.startsWith('iou-')).map((c) => c.label), ['background', 'foreground']);
    assert.equal(sha256(labels), labelsHash, 'training must not touch the label file');
    // What the fixture fixes: its 9 slices, split between training and validation.
    const full = readRecord(runDir);
    const { trainingSlices, validationSlices } = full.volumes[0];
    assert.ok(validationSlices.length >= 1 && trainingSlices.length >= 1, `${trainingSlices.length} training, ${validationSlices.length} validation slices`);
    assert.deepEqual(new Set([...trainingSlices, ...validationSlices].map(sliceKey)), fixtureSlices);
    assert.equal(trainingSlices.length + validationSlices.length, 9, 'no slice on both sides');
    // The IoU shown is the best validation's: the highest, and (one foreground class) the cord's own.
    const validated = full.validation.map((v) => v.meanForegroundIoU ?? -1);
    assert.equal(iou, Math.max(...validated));
    const best = full.validation.find((v) => v.meanForegroundIoU === iou)!;
    assert.equal(best.iou[1], iou, "the mean over one foreground class is the cord's IoU");
  });

  it('segments the volume: NAME.seg.nii.gz on the volume grid, recorded with the run', async () => {
    const result = await vscode.commands.executeCommand<SegmentCommandResult>('unet3d.segment', { run: runDir, volumes: [volume] });
    assert.ok(result, 'the command did not run');
    assert.deepEqual(result.failed, []);
    assert.equal(result.results.length, 1);
    const out = path.join(path.dirname(volume.fsPath), 't2.seg.nii.gz');
    assert.equal(result.results[0].out, out);
    const image = readVolumeFile(volume.fsPath);
    const seg = readVolumeFile(out);
    assert.equal(gridMismatch(image, seg, 'the segmentation'), undefined);
    let min = Infinity;
    let max = -Infinity;
    for (const v of seg.data) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.ok(min >= 0 && max <= 1, `values ${min}..${max}, expected within 0..1 (0 = background, as other tools read it)`);
    // Its sidecar states the convention; read back, the file gives editor labels (1 = background).
    assert.equal(JSON.parse(fs.readFileSync(result.results[0].classesFile, 'utf8')).labelValues, '0-background');
    assert.deepEqual(readLabelsAs(out).data, Uint8Array.from(seg.data, (v) => v + 1));
    assert.ok(result.results[0].probabilities && fs.existsSync(result.results[0].probabilities), 'no probability map');
    // The probabilities agree with the values: two frames (frame c = value c) summing to 255
    // (rounding aside), and the cord wherever it is predicted at least as likely as background
    // (the clean-up only ever turns stray cord components into background).
    const map = readVolumeFile(result.results[0].probabilities, { allFrames: true });
    assert.equal(gridMismatch(map, image, 'the probability map'), undefined, 'the probability map is on the volume grid');
    assert.equal(map.frames, 2);
    const p = map.allFrames!;
    const n = seg.data.length;
    let cord = 0;
    for (let i = 0; i < n; i++) {
      assert.ok(Math.abs(p[i] + p[n + i] - 255) <= 2, `voxel ${i}: probabilities ${p[i]} + ${p[n + i]}`);
      if (seg.data[i] === 1) {
        cord++;
        assert.ok(p[n + i] >= p[i] - 1, `voxel ${i} is cord at ${p[n + i]}/255 against background ${p[i]}/255`);
      }
    }
    assert.ok(cord > 0 && cord < n, `${cord} cord voxels of ${n}`);
    const segs = await waitFor('the segmentation under the run', rows, (list) => list.find((r) => r.runDir === runDir)?.children?.find((c) => c.id === 'segmentations')?.description === '1');
    assert.equal(segs.find((r) => r.runDir === runDir)?.children?.find((c) => c.id === 'segmentations')?.children?.[0].resource, out);
    assert.equal(sha256(labels), labelsHash);
  });

  it('suggests the most uncertain unlabeled slice of each axis', async () => {
    const result = await vscode.commands.executeCommand<SuggestResult>('unet3d.suggestNextSlice', volume);
    assert.ok(result, 'no suggestion');
    assert.equal(result.slices.length, 3);
    const annotated = new Set(chooseAnnotatedSlices(readLabelsAs(path.join(path.dirname(volume.fsPath), 't2_seg-manual.nii.gz'), 'mask').data, [60, 55, 52]).map((s) => `${s.axis}:${s.index}`));
    for (const s of result.slices) {
      assert.ok(!annotated.has(`${s.axis}:${s.index}`), `slice ${s.index} of axis ${s.axis} is labeled already`);
      assert.ok(s.entropy >= 0 && s.entropy <= 1, `entropy ${s.entropy} of 2 classes`);
      assert.equal(s.number, s.index + 1, 'numbered as the panes number slices');
      const rim = rimWidth(s.count);
      assert.ok(s.index >= rim && s.index < s.count - rim, `${s.plane} slice ${s.number} of ${s.count} is on the volume's rim`);
    }
    assert.deepEqual(result.voxel, [result.slices[0].index, result.slices[1].index, result.slices[2].index]);
    // The same choice from the probability map read here: per axis the unannotated slice with the
    // most to teach (teachingScores, unit-tested on its own), and its mean entropy.
    const map = readVolumeFile(result.probabilities, { allFrames: true });
    assert.equal(map.frames, 2);
    const scores = teachingScores(map.allFrames as Uint8Array, map.dims, map.frames, map.spacing);
    for (const s of result.slices) {
      const candidates = [...scores.score[s.axis]].map((h, index) => ({ h, index })).filter((c) => !fixtureSlices.has(`${s.axis}:${c.index}`));
      const top = candidates.reduce((a, b) => (b.h > a.h ? b : a));
      assert.equal(s.index, top.index, `axis ${s.axis}: slice ${s.index} suggested, ${top.index} has the most to teach`);
      assert.ok(Math.abs(s.entropy - scores.entropy[s.axis][top.index]) < 1e-9, `axis ${s.axis}: entropy ${s.entropy}`);
    }
  });

  it("evaluates with the paper's k-fold check, recorded as an entry with one run per fold", async () => {
    const result = await vscode.commands.executeCommand<EvaluateResult>('unet3d.evaluate', { volumes: [volume], folds: 3, iterations: 10, settings: TINY, name: 'kfold' });
    assert.ok(result, 'the command did not run');
    assert.equal(result.evaluation.status, 'succeeded', result.evaluation.error);
    assert.equal(result.evaluation.results.length, 3);
    assert.equal(typeof result.evaluation.meanForegroundIoU, 'number');
    for (const fold of ['fold-1', 'fold-2', 'fold-3']) assert.equal(readRun(path.join(result.dir, fold)).status, 'succeeded');
    const list = await waitFor('the evaluation in the Runs view', rows, (l) => l.some((r) => r.runDir === result.dir && /3-fold IoU/.test(r.label)));
    const row = list.find((r) => r.runDir === result.dir)!;
    assert.deepEqual(row.children?.filter((c) => /^fold-\d$/.test(c.name ?? '')).map((c) => c.name), ['fold-1', 'fold-2', 'fold-3']);
    // The folds deal the fixture's 9 slices: each held out once, trained on in the other folds.
    const heldOut = new Map<string, number>();
    result.evaluation.results.forEach((fold, f) => {
      const record = readRecord(path.join(result.dir, `fold-${f + 1}`));
      const { trainingSlices, validationSlices } = record.volumes[0];
      assert.ok(validationSlices.length >= 1);
      for (const s of validationSlices) heldOut.set(sliceKey(s), (heldOut.get(sliceKey(s)) ?? 0) + 1);
      assert.deepEqual(new Set([...trainingSlices, ...validationSlices].map(sliceKey)), fixtureSlices, `fold ${f + 1} uses the 9 slices`);
      assert.equal(trainingSlices.length + validationSlices.length, 9);
      // Each fold's IoU is its run's last validation (on its held-out slices).
      const last = record.validation.at(-1)!;
      assert.equal(fold.meanForegroundIoU, last.meanForegroundIoU, `fold ${f + 1}`);
      assert.deepEqual(fold.iou, last.iou);
    });
    assert.deepEqual([...heldOut.keys()].sort(), [...fixtureSlices].sort(), 'every slice is held out');
    assert.ok([...heldOut.values()].every((count) => count === 1), 'and only once');
    const scored = result.evaluation.results.map((f) => f.meanForegroundIoU).filter((x): x is number => x !== null);
    assert.ok(Math.abs(result.evaluation.meanForegroundIoU! - scored.reduce((a, b) => a + b, 0) / scored.length) < 1e-12, 'the mean of the folds');
  });

  it('continues from the newest run of the volume (warm start), says so in the Runs view, and segments the open volume at once', async () => {
    const seg = path.join(path.dirname(volume.fsPath), 't2.seg.nii.gz');
    const before = fs.statSync(seg).mtimeMs;
    const result = await vscode.commands.executeCommand<TrainResult>('unet3d.train', { volumes: [volume], iterations: 10, validationFraction: 0.34, settings: TINY, name: 'second' });
    assert.ok(result, 'the command did not run');
    assert.equal(result.status, 'succeeded', result.error);
    assert.equal(result.parent, runDir, 'it starts from the first run');
    assert.equal(readRun(result.runDir).parent?.runDir, runDir);
    assert.equal(result.segmented?.length, 1, 'the open volume is segmented when training ends');
    assert.equal(result.segmented?.[0].out, seg);
    assert.ok(fs.statSync(seg).mtimeMs > before, 'the segmentation was rewritten by the new run');
    const list = await waitFor('the second run', rows, (l) => l.some((r) => r.runDir === result.runDir && r.children?.some((c) => c.id === 'parent')));
    assert.match(list.find((r) => r.runDir === result.runDir)!.children!.find((c) => c.id === 'parent')!.description ?? '', /^first · iteration \d+/);
    // From scratch stays one argument away.
    const scratch = await vscode.commands.executeCommand<TrainResult>('unet3d.train', { volumes: [volume], iterations: 2, validationFraction: 0.34, settings: TINY, name: 'third', init: 'scratch', segmentAfter: false });
    assert.equal(scratch?.parent, undefined);
    assert.equal(readRun(scratch!.runDir).parent, undefined);
  });
});

describe('robustness: cancel, crash, corrupt records, rename, delete', function () {
  this.timeout(180_000);
  let volume: vscode.Uri;

  before(async function () {
    if (SKIP_WITHOUT_DATA || process.platform !== 'linux') this.skip();
    volume = vscode.Uri.file(path.join(workspaceDir(), 'semi', 'spinalcord', 't2.nii.gz'));
    if (!fs.existsSync(path.join(path.dirname(volume.fsPath), 't2.labels.nii.gz'))) this.skip();
  });

  /** Starts a long training and waits until the Runs view shows it running with live progress. */
  async function startLongRun(name: string): Promise<{ done: Thenable<TrainResult | undefined>; dir: string }> {
    const done = vscode.commands.executeCommand<TrainResult | undefined>('unet3d.train', { volumes: [volume], iterations: 5000, validationFraction: 0.34, settings: TINY, name });
    const dir = path.join(runsDir(), name);
    // Live progress (iteration > 0) comes from the job's events, before run.json has any.
    await waitFor(`${name} running`, rows, (list) => /^iteration [1-9]\d*\//.test(list.find((r) => r.runDir === dir)?.label ?? ''), 90_000);
    return { done, dir };
  }

  it('a cancelled run ends "cancelled" and keeps a checkpoint', async () => {
    const { done, dir } = await startLongRun('to-cancel');
    const running = (await rows()).find((r) => r.runDir === dir)!;
    assert.ok(running.contextValue.split(':').includes('running'), running.contextValue);
    assert.equal(await vscode.commands.executeCommand('unet3d.runs.cancel', dir), true);
    const result = await done;
    assert.equal(result?.status, 'cancelled');
    const record = readRun(dir) as ReturnType<typeof readRun> & { checkpoints: { last?: { dir: string } } };
    assert.equal(record.status, 'cancelled');
    assert.ok(record.checkpoints.last && fs.existsSync(path.join(dir, record.checkpoints.last.dir, 'model.json')), 'no checkpoint kept');
    const row = (await rows()).find((r) => r.runDir === dir);
    assert.ok(row?.contextValue.split(':').includes('model'), 'a cancelled run can segment with its checkpoint');
    await waitFor('the cancelled run', rows, (list) => /^cancelled/.test(list.find((r) => r.runDir === dir)?.label ?? ''));
    await waitFor('its worker gone', workerPids, (pids) => pids.length === 0, 20_000);
  });

  it('a killed worker marks its run failed with the reason', async () => {
    const { done, dir } = await startLongRun('to-kill');
    const pids = workerPids();
    assert.equal(pids.length, 1, `expected one worker, found ${pids.join(', ')}`);
    process.kill(pids[0], 'SIGKILL');
    const result = await done;
    assert.equal(result?.status, 'failed');
    assert.match(result?.error ?? '', /killed by SIGKILL/);
    const record = readRun(dir);
    assert.equal(record.status, 'failed');
    assert.match(record.error ?? '', /the engine worker was killed by SIGKILL/);
    await waitFor('the failed run', rows, (list) => list.find((r) => r.runDir === dir)?.label === 'failed' && /· the engine worker was killed by SIGKILL/.test(list.find((r) => r.runDir === dir)?.description ?? ''));
  });

  it('a corrupt or half-written run.json shows as a broken run with the reason', async () => {
    const dir = path.join(runsDir(), 'half-written');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'run.json'), '{"schemaVersion": 1, "status": "runn');
    const list = await waitFor('the broken run', rows, (l) => l.some((r) => r.runDir === dir));
    assert.equal(list.find((r) => r.runDir === dir)!.label, 'broken');
    assert.match(list.find((r) => r.runDir === dir)!.description ?? '', /^half-written · run\.json is not valid JSON \(half-written or corrupt\)/);
    assert.ok(list.some((r) => r.name === 'first'), 'the other runs are still listed');
  });

  it('renames and deletes runs', async () => {
    const from = path.join(runsDir(), 'to-cancel');
    const renamed = await vscode.commands.executeCommand<string>('unet3d.runs.rename', from, 'cancelled run');
    assert.equal(renamed, path.join(runsDir(), 'cancelled run'));
    await waitFor('the renamed run', rows, (l) => l.some((r) => r.name === 'cancelled run') && !l.some((r) => r.name === 'to-cancel'));
    for (const name of ['cancelled run', 'half-written']) {
      assert.equal(await vscode.commands.executeCommand('unet3d.runs.delete', path.join(runsDir(), name), true), true);
      assert.equal(fs.existsSync(path.join(runsDir(), name)), false);
    }
    await waitFor('the deleted runs gone', rows, (l) => !l.some((r) => r.name === 'cancelled run' || r.name === 'half-written'));    // Only entries of the runs folder: any other folder given as an argument is refused and kept.
    const outside = fs.mkdtempSync(path.join(path.dirname(runsDir()), 'not-a-run-'));
    assert.equal(await vscode.commands.executeCommand('unet3d.runs.delete', outside, true), false);
    assert.equal(await vscode.commands.executeCommand('unet3d.runs.rename', outside, 'moved'), undefined);
    assert.ok(fs.existsSync(outside), 'a folder outside the runs folder is never deleted');
    fs.rmSync(outside, { recursive: true, force: true });
  });

  it('shows the compute backend, and why the others do not load', async () => {
    const report = await vscode.commands.executeCommand<BackendReport>('unet3d.showBackend');
    assert.ok(report, 'no report');
    assert.deepEqual(report.statuses.map((s) => s.name), ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu']);
    assert.ok(report.statuses.find((s) => s.name === report.active)?.available);
    for (const s of report.statuses.filter((x) => !x.available)) assert.ok(s.reason, `${s.name} has no reason`);
    // The report the command showed (its Markdown preview may live in another extension host).
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: 'unet3d-info', path: '/Compute Backend.md' }));
    assert.match(doc.getText(), new RegExp(`run on \\*\\*${report.active}\\*\\*`));
  });

  it('leaves no worker process behind', async () => {
    await waitFor('no workers', workerPids, (pids) => pids.length === 0, 20_000);
  });
});
