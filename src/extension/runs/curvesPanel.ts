/**
 * "Show training curves": a webview panel per run plotting the loss and the validation IoU
 * against iterations (SVG made by curvesSvg.ts), redrawn whenever the run changes: on every
 * progress event of a job of this window, and when run.json is rewritten. The page runs one
 * small inline script (nonce CSP, no other source) that swaps in the SVG it is sent.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { curvesSvg, mergeCurves } from './curvesSvg';
import { bestValidation, formatDuration, formatIoU, runSeconds } from './runPresentation';
import type { RunsModel } from './runsModel';

/** What the page is sent: the chart and a line of text above it. */
interface CurvesMessage {
  type: 'curves';
  svg: string;
  summary: string;
}

export class CurvesPanels implements vscode.Disposable {
  private readonly panels = new Map<string, vscode.WebviewPanel>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly pending = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly model: RunsModel) {
    this.subscriptions.push(
      model.onDidChange(() => this.updateAll()),
      model.jobs.onDidChange((job) => {
        if (job.runDir && this.panels.has(job.runDir)) this.updateSoon(job.runDir);
      }),
    );
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
    for (const p of this.panels.values()) p.dispose();
  }

  /** Opens (or brings forward) the curves of the run in `runDir`. */
  show(runDir: string): vscode.WebviewPanel {
    const dir = path.resolve(runDir);
    const existing = this.panels.get(dir);
    if (existing) {
      existing.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel('unet3d.curves', `Curves: ${path.basename(dir)}`, vscode.ViewColumn.Beside, {
      enableScripts: true,
      localResourceRoots: [],
    });
    const nonce = crypto.randomBytes(16).toString('base64');
    panel.webview.html = pageHtml(panel.webview, nonce);
    this.panels.set(dir, panel);
    panel.onDidDispose(() => this.panels.delete(dir));
    // The page asks once its script runs; until then a message could be lost.
    panel.webview.onDidReceiveMessage((m: unknown) => {
      if (typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ready') this.update(dir);
    });
    return panel;
  }

  /** Closes the panel of a run that was renamed or deleted. */
  forget(runDir: string): void {
    this.panels.get(path.resolve(runDir))?.dispose();
  }

  /** The runs whose curves are shown (for tests and the status bar). */
  get shown(): string[] {
    return [...this.panels.keys()];
  }

  private updateSoon(dir: string): void {
    this.pending.add(dir);
    // Progress events can come many times a second: redraw at most a few times a second.
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      for (const d of this.pending) this.update(d);
      this.pending.clear();
    }, 200);
  }

  private updateAll(): void {
    for (const dir of this.panels.keys()) this.update(dir);
  }

  private update(dir: string): void {
    const panel = this.panels.get(dir);
    if (!panel) return;
    const entry = this.model.find(dir);
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
        `${status} · ${last ? `iteration ${last.iteration}${curves.totalIterations ? `/${curves.totalIterations}` : ''} · loss ${last.loss.toFixed(4)} · ` : ''}` +
        `best mean IoU ${formatIoU(job?.live?.bestIoU ?? best?.meanForegroundIoU)} · ${formatDuration(runSeconds(entry.record, Date.now()))}`;
    }
    const message: CurvesMessage = { type: 'curves', svg: curvesSvg({ ...curves, classNames }), summary };
    void panel.webview.postMessage(message);
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
  body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); padding: 8px 16px; }
  #summary { margin: 4px 0 10px; color: var(--vscode-descriptionForeground); }
  #plot { max-width: 1100px; }
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
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || m.type !== 'curves' || typeof m.svg !== 'string') return;
    document.getElementById('summary').textContent = String(m.summary);
    document.getElementById('plot').innerHTML = m.svg;
    document.body.dataset.points = String(document.querySelectorAll('#plot circle').length);
  });
  vscode.postMessage({ type: 'ready' });
</script>
</body>
</html>`;
}
