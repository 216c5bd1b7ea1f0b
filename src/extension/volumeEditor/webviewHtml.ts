/** The editor webview's HTML: one script and one stylesheet, under a strict Content Security Policy. */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

function nonce(): string {
  return randomBytes(18).toString('base64');
}

/** The folders the webview may load from: the bundle and the stylesheet. */
export function webviewRoots(extensionUri: vscode.Uri): vscode.Uri[] {
  return [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')];
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A page with the editor's stylesheet under `csp`. */
function page(webview: vscode.Webview, extensionUri: vscode.Uri, csp: string, title: string, body: string): string {
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'editor.css'));
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escapeHtml(title)}</title>
</head>
${body}
</html>`;
}

/** The page shown in place of the editor when a volume could not be opened: what and why, no script. */
export function unopenedHtml(webview: vscode.Webview, extensionUri: vscode.Uri, fileName: string, reason: string): string {
  return page(
    webview,
    extensionUri,
    `default-src 'none'; style-src ${webview.cspSource}`,
    fileName,
    `<body data-state="unopened">
<div class="unopened">
<h2>${escapeHtml(fileName)} was not opened</h2>
<p class="reason">${escapeHtml(reason)}</p>
<p class="hint">Reopen it with another editor (Reopen Editor With… in the title bar's menu), or close it.</p>
</div>
</body>`,
  );
}

/**
 * The editor: one script (with the nonce) and one stylesheet. The page may fetch from the webview's
 * resources (the volume's file, the mesh worker's bundle) and start that worker from a blob, and
 * run the 3D view's bundle later with the same nonce; no `unsafe-eval`, no inline script.
 */
export function editorHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const worker = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'meshWorker.js'));
  const view3d = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'view3d.js'));
  const n = nonce();
  const csp = [
    "default-src 'none'",
    `img-src ${webview.cspSource} data: blob:`,
    `style-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
    `connect-src ${webview.cspSource}`,
    'worker-src blob:',
    `script-src 'nonce-${n}'`,
  ].join('; ');
  return page(
    webview,
    extensionUri,
    csp,
    title,
    `<body data-state="loading">
<div id="app"><div class="loading">Loading ${escapeHtml(title)}…</div></div>
<script nonce="${n}" src="${script}" data-mesh-worker="${worker}" data-view3d="${view3d}"></script>
</body>`,
  );
}
