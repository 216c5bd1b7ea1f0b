/**
 * The UI test runner's rerun policy (test/e2e/rerunPolicy.ts): a file that fails is run again
 * only when it reported the harness's known symptom (a webview iframe that never loaded); any
 * other failure is reported as a failure, however the second run would have gone.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { reportSymptom, runWithRerunPolicy, SYMPTOM_FILE_ENV, takeSymptoms, WEBVIEW_NEVER_LOADED, type FileRun } from '../e2e/rerunPolicy';
import { tempDir } from '../helpers/data';

const work = tempDir('rerun-policy');
after(() => fs.rmSync(work, { recursive: true, force: true }));

/** A run script per file: what each successive run of it gives. */
function scripted(script: Record<string, FileRun[]>): { run: (file: string) => Promise<FileRun>; calls: string[] } {
  const calls: string[] = [];
  const next = new Map(Object.entries(script).map(([f, runs]) => [f, [...runs]]));
  return {
    calls,
    run: async (file) => {
      calls.push(file);
      const run = next.get(file)?.shift();
      assert.ok(run, `${file} run more often than scripted`);
      return run;
    },
  };
}

const pass: FileRun = { ok: true, symptoms: [] };
const fail: FileRun = { ok: false, symptoms: [] };
const failWithSymptom: FileRun = { ok: false, symptoms: [WEBVIEW_NEVER_LOADED] };

test('a failure without the known symptom is a failure, and is not run again', async () => {
  // An intermittent product bug: fails once, would pass on a second run. It must not pass.
  const { run, calls } = scripted({ 'a.test.ts': [fail, pass], 'b.test.ts': [pass] });
  const lines: string[] = [];
  const outcomes = await runWithRerunPolicy(['a.test.ts', 'b.test.ts'], run, (l) => lines.push(l));
  assert.deepEqual(calls, ['a.test.ts', 'b.test.ts']);
  assert.deepEqual(outcomes.map((o) => o.status), ['failed', 'passed']);
  assert.match(lines.join('\n'), /a\.test\.ts failed \(not the known symptom\): not run again/);
  // Another symptom than the known one is no reason either.
  const other = scripted({ 'c.test.ts': [{ ok: false, symptoms: ['something else'] }, pass] });
  assert.deepEqual((await runWithRerunPolicy(['c.test.ts'], other.run, () => undefined)).map((o) => o.status), ['failed']);
  assert.deepEqual(other.calls, ['c.test.ts']);
});

test('a failure with the known symptom runs once more: flaky if it then passes, failed if not', async () => {
  const { run, calls } = scripted({ 'a.test.ts': [failWithSymptom, pass], 'b.test.ts': [failWithSymptom, failWithSymptom] });
  const outcomes = await runWithRerunPolicy(['a.test.ts', 'b.test.ts'], run, () => undefined);
  assert.deepEqual(calls, ['a.test.ts', 'a.test.ts', 'b.test.ts', 'b.test.ts']);
  assert.deepEqual(outcomes.map((o) => o.status), ['flaky', 'failed']);
  assert.equal(outcomes[0].runs.length, 2);
});

test('symptoms reach the runner through the file it names, one run at a time', () => {
  const file = path.join(work, 'symptoms.txt');
  const before = process.env[SYMPTOM_FILE_ENV];
  process.env[SYMPTOM_FILE_ENV] = file;
  try {
    reportSymptom(WEBVIEW_NEVER_LOADED, 'a test');
    assert.deepEqual(takeSymptoms(file), [WEBVIEW_NEVER_LOADED]);
    assert.deepEqual(takeSymptoms(file), [], 'taken once');
  } finally {
    if (before === undefined) delete process.env[SYMPTOM_FILE_ENV];
    else process.env[SYMPTOM_FILE_ENV] = before;
  }
});
