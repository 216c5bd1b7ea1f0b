/**
 * "Show Training Curves": the loss and the validation IoU of a run against iterations (SVG made
 * by curvesSvg.ts) in the "Training Curves" view of the bottom panel, so the volume editor keeps
 * its width; redrawn whenever the run changes: on every progress event of a job of this window,
 * and when run.json is rewritten. The view shows one run at a time (the newest until one is
 * chosen), side by side when it is wide. The page runs one small inline script (nonce CSP, no
 * other source) that swaps in the SVG it is sent and says how wide it is.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { curvesSvg, mergeCurves, type ChartArrangement } from './curvesSvg';
import { bestValidation, formatDuration, formatIoU, runSeconds } from './runPresentation';
import type { RunsModel } from './runsModel';

/** The view's id (package.json: in the "3D U-Net" container of the panel). */
export const CURVES_VIEW_ID = 'unet3d.curves';

/** What the page is sent: the chart and a line of text above it. */
interface CurvesMessage {
  type: 'curves';
  svg: string;
  summary: string;
}

/** What the page says: it is ready, or its shape changed (wide: side by side fits better). */
function pageMessage(m: unknown): { wide: boolean } | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const { type, wide } = m as { type?: unknown; wide?: unknown };
  return (type === 'ready' || type === 'resize') && typeof wide === 'boolean' ? { wide } : undefined;
}

export class CurvesView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  /** The run shown (a folder), or undefined for the newest run. */
  private runDir: string | undefined;
  private arrangement: ChartArrangement = 'side-by-side';
  private ready = false;
  private readonly subscriptions: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly model: RunsModel) {
    this.subscriptions.push(
      vscode.window.registerWebviewViewProvider(CURVES_VIEW_ID, this),
      model.onDidChange(() => this.update()),
      model.jobs.onDidChange((job) => {
        if (job.runDir && job.runDir === this.shownRun()) this.updateSoon();
      }),
    );
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.ready = false;
    view.webview.options = { enableScripts: true, localResourceRoots: [] };
    view.webview.html = pageHtml(view.webview, crypto.randomBytes(16).toString('base64'));
    // The page asks once its script runs; until then a message could be lost.
    view.webview.onDidReceiveMessage((m: unknown) => {
      const shape = pageMessage(m);
      if (!shape) return;
      this.ready = true;
      this.arrangement = shape.wide ? 'side-by-side' : 'stacked';
      this.update();
    });
    view.onDidChangeVisibility(() => view.visible && this.update());
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
    });
  }

  /** Shows the curves of the run in `runDir` in the panel (opening it). */
  async show(runDir: string): Promise<void> {
    this.runDir = path.resolve(runDir);
    if (this.view) {
      this.view.show(true);
      this.update();
    } else {
      await vscode.commands.executeCommand(`${CURVES_VIEW_ID}.focus`);
    }
  }

  /** A run that was renamed or deleted: the view goes back to the newest run. */
  forget(runDir: string): void {
    if (this.runDir === path.resolve(runDir)) {
      this.runDir = undefined;
      this.update();
    }
  }

  /** The chosen run, else the newest run of the workspace. */
  private shownRun(): string | undefined {
    if (this.runDir) return this.runDir;
    return this.model.all.find(({ entry }) => entry.kind === 'run')?.entry.dir;
  }

  private updateSoon(): void {
    // Progress events can come many times a second: redraw at most a few times a second.
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.update();
    }, 200);
  }

  private update(): void {
    const view = this.view;
    if (!view || !this.ready || !view.visible) return;
    const dir = this.shownRun();
    if (!dir) {
      view.description = undefined;
      void view.webview.postMessage({ type: 'curves', svg: '', summary: 'No run yet: train one (3D U-Net: Train), then its curves show here.' } satisfies CurvesMessage);
      return;
    }
    const entry = this.model.find(dir);
    view.description = path.basename(dir);
    const record = entry?.kind === 'run' ? entry.record : undefined;
    const job = this.model.jobs.jobOf(dir);
    const curves = mergeCurves(record, job?.curves);
    const classNames = (record?.classes ?? []).slice().sort((a, b) => a.value - b.value).map((c) => c.name);
    let summary: string;
    if (!entry) summary = 'This run is no longer in the runs folder.';
    else if (entry.kind !== 'run') summary = entry.kind === 'broken' ? `Cannot read this run: ${entry.reason}` : 'An evaluation: open the curves of one of its folds.';
    else {
      const best = bestValidation(entry.record);
      const status = job ? 'running' : entry.record.status;
      const last = curves.loss[curves.loss.length - 1];
      summary =
        `${path.basename(dir)} · ${status} · ${last ? `iteration ${last.iteration}${curves.totalIterations ? `/${curves.totalIterations}` : ''} · loss ${last.loss.toFixed(4)} · ` : ''}` +
        `best mean IoU ${formatIoU(job?.live?.bestIoU ?? best?.meanForegroundIoU)} · ${formatDuration(runSeconds(entry.record, Date.now()))}`;
    }
    const message: CurvesMessage = { type: 'curves', svg: curvesSvg({ ...curves, classNames }, this.arrangement), summary };
    void view.webview.postMessage(message);
  }
}

function pageHtml(webview: vscode.Webview, nonce: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} data:; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Training curves</title>
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 4px 16px; }
  #summary { margin: 2px 0 6px; color: var(--vscode-descriptionForeground); }
  #plot svg { display: block; max-height: calc(100vh - 40px); max-width: 100%; }
  svg text { fill: var(--vscode-foreground); font-size: 12px; }
  svg .title { font-weight: 600; font-size: 13px; }
  svg .tick, svg .empty { fill: var(--vscode-descriptionForeground); font-size: 11px; }
  svg .grid { stroke: var(--vscode-editorWidget-border, #8884); stroke-width: 0.5; }
  svg .frame { fill: none; stroke: var(--vscode-editorWidget-border, #8888); }
  svg .line { fill: none; stroke-width: 1.6; }
  svg .mean { stroke: var(--vscode-foreground); fill: var(--vscode-foreground); stroke-width: 2.4; }
  svg .s0 { stroke: var(--vscode-charts-blue, #3794ff); fill: var(--vscode-charts-blue, #3794ff); }
  svg .s1 { stroke: var(--vscode-charts-foreground, #999); fill: var(--vscode-charts-foreground, #999); stroke-dasharray: 4 3; }
  svg .s2 { stroke: var(--vscode-charts-red, #f14c4c); fill: var(--vscode-charts-red, #f14c4c); }
  svg .s3 { stroke: var(--vscode-charts-green, #89d185); fill: var(--vscode-charts-green, #89d185); }
  svg .s4 { stroke: var(--vscode-charts-yellow, #cca700); fill: var(--vscode-charts-yellow, #cca700); }
  svg .s5 { stroke: var(--vscode-charts-orange, #d18616); fill: var(--vscode-charts-orange, #d18616); }
  svg .s6 { stroke: var(--vscode-charts-purple, #b180d7); fill: var(--vscode-charts-purple, #b180d7); }
  svg .line.mean, svg .line.s0, svg .line.s1, svg .line.s2, svg .line.s3, svg .line.s4, svg .line.s5, svg .line.s6 { fill: none; }
</style>
</head>
<body>
<div id="summary">Reading the run…</div>
<div id="plot"></div>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  // Side by side where the view is wide (the panel), one above the other where it is tall.
  const wide = () => window.innerWidth > 1.6 * window.innerHeight;
  let shape = wide();
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || m.type !== 'curves' || typeof m.svg !== 'string') return;
    document.getElementById('summary').textContent = String(m.summary);
    document.getElementById('plot').innerHTML = m.svg;
    document.body.dataset.points = String(document.querySelectorAll('#plot circle').length);
  });
  window.addEventListener('resize', () => {
    if (wide() === shape) return;
    shape = wide();
    vscode.postMessage({ type: 'resize', wide: shape });
  });
  vscode.postMessage({ type: 'ready', wide: shape });
</script>
</body>
</html>`;
}
