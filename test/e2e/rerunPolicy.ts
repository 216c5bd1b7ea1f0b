/**
 * When a UI test file is run again. Only for the one known symptom of the harness, not of the
 * product: code-server's webview iframe that never loads on a loaded machine (VS Code's outer
 * `iframe.webview` never gets its `ready` class). A test reports it through reportSymptom (the
 * workbench helpers do when a test ends with such an iframe); a file that fails without reporting
 * it is a failure, never rerun, so an intermittent bug cannot pass as flaky.
 */
import * as fs from 'node:fs';

/** The symptom that earns a second run. */
export const WEBVIEW_NEVER_LOADED = 'a webview iframe never loaded';

/** The file a run's symptoms are appended to, one per line (set by the runner for each run). */
export const SYMPTOM_FILE_ENV = 'UNET3D_E2E_SYMPTOM_FILE';

/** Records a symptom for the runner, and prints it for whoever reads the log. */
export function reportSymptom(symptom: string, where: string): void {
  console.log(`[e2e] known symptom in ${where}: ${symptom}`);
  const file = process.env[SYMPTOM_FILE_ENV];
  if (file) fs.appendFileSync(file, `${symptom}\n`);
}

/** Reads (and removes) what reportSymptom wrote to `file` during one run. */
export function takeSymptoms(file: string): string[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  fs.rmSync(file, { force: true });
  return lines;
}

/** One run of a test file. */
export interface FileRun {
  ok: boolean;
  /** Symptoms the run reported (reportSymptom). */
  symptoms: string[];
}

export interface FileOutcome {
  file: string;
  /** passed; flaky: failed with the known symptom, then passed; failed: anything else. */
  status: 'passed' | 'flaky' | 'failed';
  runs: FileRun[];
}

/**
 * Runs each file once; a file that failed with the known symptom runs once more, and passes as
 * flaky if that second run passes. Every other failure stands.
 */
export async function runWithRerunPolicy(
  files: readonly string[],
  run: (file: string) => Promise<FileRun>,
  log: (line: string) => void = console.log,
): Promise<FileOutcome[]> {
  const outcomes: FileOutcome[] = [];
  for (const file of files) {
    const first = await run(file);
    if (first.ok) {
      outcomes.push({ file, status: 'passed', runs: [first] });
      continue;
    }
    if (!first.symptoms.includes(WEBVIEW_NEVER_LOADED)) {
      log(`[e2e] ${file} failed (${first.symptoms.length ? `symptoms: ${first.symptoms.join('; ')}` : 'not the known symptom'}): not run again`);
      outcomes.push({ file, status: 'failed', runs: [first] });
      continue;
    }
    log(`[e2e] ${file} failed with the known symptom (${WEBVIEW_NEVER_LOADED}); running it once more`);
    const second = await run(file);
    log(`[e2e] ${file} ${second.ok ? 'passed on the second run (FLAKY: see the first run above)' : 'failed again'}`);
    outcomes.push({ file, status: second.ok ? 'flaky' : 'failed', runs: [first, second] });
  }
  return outcomes;
}
