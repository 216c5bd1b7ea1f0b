/** The training-curves chart: ticks, series, escaping, and merging run.json with live points. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { curvesSvg, mergeCurves, niceTicks } from '../../src/extension/runs/curvesSvg';
import { runRecord } from './runs-fixtures';

test('ticks are round numbers covering the range', () => {
  assert.deepEqual(niceTicks(0, 1, 4), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 1000, 6), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(0.13, 0.91, 4), [0.2, 0.4, 0.6, 0.8]);
  assert.deepEqual(niceTicks(3, 3), [3]);
});

test('the chart has a loss line, a mean IoU line and one line per class with its name', () => {
  const svg = curvesSvg({
    loss: [
      { iteration: 1, loss: 0.9 },
      { iteration: 50, loss: 0.3 },
    ],
    validation: [
      { iteration: 25, iou: [0.9, 0.4], meanForegroundIoU: 0.4 },
      { iteration: 50, iou: [0.95, 0.7], meanForegroundIoU: 0.7 },
    ],
    classNames: ['background', 'cord <main> & "spine"'],
    totalIterations: 100,
  });
  assert.match(svg, /^<svg [^>]*viewBox="0 0 720 460"/);
  assert.equal((svg.match(/<path class="line s0"/g) ?? []).length, 1);
  assert.equal((svg.match(/<path class="line mean"/g) ?? []).length, 0, 'one foreground class: its line is the mean');
  assert.equal((svg.match(/<circle class="dot s2"/g) ?? []).length, 2);
  assert.match(svg, /cord &lt;main&gt; &amp; &quot;spine&quot;/);
  assert.doesNotMatch(svg, /<main>/);
  assert.match(svg, />100</, 'the x axis reaches the budget');
  assert.doesNotMatch(svg, /NaN/);
});

test('several foreground classes add a line for their mean', () => {
  const svg = curvesSvg({ loss: [], validation: [{ iteration: 10, iou: [0.9, 0.5, 0.7], meanForegroundIoU: 0.6 }], classNames: ['background', 'a', 'b'] });
  assert.equal((svg.match(/<path class="line mean"/g) ?? []).length, 1);
  assert.match(svg, />mean foreground</);
});

test('an empty run draws empty charts that say so', () => {
  const svg = curvesSvg({ loss: [], validation: [], classNames: [] });
  assert.match(svg, /no loss recorded yet/);
  assert.match(svg, /no validation yet/);
  assert.doesNotMatch(svg, /NaN|Infinity/);
});

test('live points after the last ones in run.json are appended', () => {
  const record = runRecord();
  const merged = mergeCurves(record, {
    loss: [
      { iteration: 99, loss: 0.25 },
      { iteration: 101, loss: 0.19 },
      { iteration: 102, loss: 0.18 },
    ],
    validation: [{ iteration: 150, iou: [0.98, 0.85], meanForegroundIoU: 0.85 }],
    totalIterations: 200,
  });
  assert.deepEqual(merged.loss.map((p) => p.iteration), [1, 50, 100, 101, 102]);
  assert.deepEqual(merged.validation.map((v) => v.iteration), [50, 100, 150]);
  assert.equal(merged.totalIterations, 200);
  assert.equal(mergeCurves(record, undefined).totalIterations, 100);
  assert.deepEqual(mergeCurves(undefined, undefined), { loss: [], validation: [], totalIterations: undefined });
});
