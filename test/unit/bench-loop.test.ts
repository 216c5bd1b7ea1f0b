/**
 * `unet3d bench loop` (the CLI's command, in this process) on the smallest semi/ set with a tiny
 * network and budget: that it runs from scratch, picks a correction, trains warm in engine
 * workers and prints the JSON the issue specifies. Timings are the bench's business, not checked.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { benchKinds } from '../../src/cli/bench';
import type { LoopBenchJson } from '../../src/cli/bench/loop';
import { readLabelsAs } from '../../src/core/labelConvention';
import { readVolumeFile } from '../../src/core/readVolume';
import { chooseAnnotatedSlices, sparseLabels } from '../../src/core/sparseLabels';
import { processCpuSeconds, suggestedSlice } from '../../src/experiments/timeToQuality';
import { SKIP_WITHOUT_DATA, DATA_DIR, dataPath, tempDir } from '../helpers/data';
import { captureStdout } from '../helpers/stdout';

const dir = tempDir('bench-loop');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('bench loop on the spinal cord, tiny: the JSON shape, a correction off the annotated slices, warm runs that ran', { skip: SKIP_WITHOUT_DATA, timeout: 300_000 }, async () => {
  const runs = path.join(dir, 'runs');
  const argv = ['--sets', 'spinalcord', '--budget', '4', '--warm', '2', '--clock', 'cpu', '--levels', '2', '--base-filters', '4', '--patch', '16,16,16', '--bn-calibration', '2'];
  const { result, out } = await captureStdout(() => benchKinds.loop.run([...argv, '--data', DATA_DIR, '--runs', runs, '--json']));
  assert.equal(result, 0);
  const json = JSON.parse(out.trim().split('\n').pop()!) as LoopBenchJson;
  assert.deepEqual(Object.keys(json), ['sets']);
  assert.equal(json.sets.length, 1);
  const set = json.sets[0];
  assert.deepEqual(Object.keys(set).sort(), ['baseline', 'correction', 'name', 'scratch']);
  assert.deepEqual(Object.keys(set.correction).sort(), ['after', 'before', 'scratchSameSlices', 'secondsToOverlay', 'slice']);
  assert.equal(set.name, 'spinalcord');
  // The best baseline on the cord is the nearest annotated slice along one axis (docs/protocol.md).
  assert.ok(set.baseline !== null && Math.abs(set.baseline - 0.879) < 0.005, `baseline ${set.baseline}`);
  // A 4 s budget is below every checkpoint: scored once, at its end.
  assert.deepEqual(set.scratch.map((p) => p.seconds), [4]);
  for (const p of [...set.scratch, ...set.correction.after]) assert.ok(p.iou === null || (p.iou >= 0 && p.iou <= 1));
  assert.deepEqual(set.correction.after.map((p) => p.seconds), [2]);
  // The slice added is one the protocol did not annotate.
  const truth = readLabelsAs(dataPath('semi', 'spinalcord', 't2_seg-manual.nii.gz')).data;
  const dims = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz')).dims;
  const slices = chooseAnnotatedSlices(truth, dims);
  const { axis, index } = set.correction.slice;
  assert.ok([0, 1, 2].includes(axis) && Number.isInteger(index) && index >= 0 && index < dims[axis]);
  assert.ok(!slices.some((s) => s.axis === axis && s.index === index), 'a new slice');
  assert.ok(set.correction.secondsToOverlay > 0 && Number.isFinite(set.correction.secondsToOverlay));
  // The warm run started from the first one and wrote its segmentation.
  const warm = JSON.parse(fs.readFileSync(path.join(runs, 'spinalcord', 'warm-2s', 'run.json'), 'utf8'));
  assert.equal(warm.parent.runDir, path.join(runs, 'spinalcord', 'scratch'));
  assert.equal(warm.parent.newSlices, 1);
  assert.equal(warm.settings.clock, 'cpu');
  assert.ok(warm.summary.iterations > 0);
  assert.ok(fs.existsSync(path.join(runs, 'spinalcord', 'warm-2s.seg.nii.gz')));
  // It was compared with its parent on the annotated slices, the new one included, and left the better network.
  const comparison = warm.parent.comparison;
  assert.ok(comparison.checks === 10 && comparison.voxels > 0, JSON.stringify(comparison));
  assert.equal(comparison.kept, (comparison.parentIoU ?? -1) > (comparison.trainedIoU ?? -1) ? 'parent' : 'trained');
  assert.equal(warm.checkpoints.last.iteration, comparison.kept === 'parent' ? 0 : warm.summary.iterations);
});

test('the suggested slice: of the unannotated slices, the most uncertain over every axis', () => {
  const dims: [number, number, number] = [4, 3, 2];
  const n = 24;
  // Two classes; certain everywhere except the plane x = 2 (50/50) and, less so, y = 0.
  const p = new Uint8Array(2 * n);
  for (let i = 0; i < n; i++) {
    const x = i % 4;
    const y = Math.floor(i / 4) % 3;
    const a = x === 2 ? 128 : y === 0 ? 200 : 255;
    p[i] = a;
    p[n + i] = 255 - a;
  }
  const none = new Uint8Array(n);
  assert.deepEqual(suggestedSlice(p, { dims }, 2, none), { axis: 0, index: 2 });
  // Once x = 2 is annotated, the next most uncertain.
  const annotated = sparseLabels(Uint8Array.from({ length: n }, () => 1), dims, [{ axis: 0, index: 2 }]);
  assert.deepEqual(suggestedSlice(p, { dims }, 2, annotated), { axis: 1, index: 0 });
  assert.ok(processCpuSeconds(process.pid) > 0, 'CPU seconds of a process from /proc');
  assert.ok(Number.isNaN(processCpuSeconds(undefined)));
});
