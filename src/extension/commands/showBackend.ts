/**
 * "3D U-Net: Show Compute Backend" (`unet3d.showBackend`): asks a fresh worker which backends
 * load (the worker's `probe` request) and shows which one training and segmentation would use,
 * and for each backend that does not load, why and how to fix it, in a Markdown preview.
 */
import * as vscode from 'vscode';
import { plural } from '../../core/words';
import type { BackendReport } from '../../protocol/backends';
import { backendReportMarkdown, chosenBackend } from './backendReport';
import { showCommandError } from '../notices';
import { readLoopSettings } from '../settings';
import type { LoopContext } from './loopContext';

const SCHEME = 'unet3d-info';
const REPORT_URI = vscode.Uri.from({ scheme: SCHEME, path: '/Compute Backend.md' });

export function registerBackendReport(context: vscode.ExtensionContext): (text: string) => void {
  let text = '';
  const changed = new vscode.EventEmitter<vscode.Uri>();
  context.subscriptions.push(
    changed,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, { onDidChange: changed.event, provideTextDocumentContent: () => text }),
  );
  return (next) => {
    text = next;
    changed.fire(REPORT_URI);
  };
}

/** Shows the report; resolves with it (for tests and callers), or undefined when the worker could not tell. */
export async function showBackendCommand(ctx: LoopContext, publish: (text: string) => void): Promise<BackendReport | undefined> {
  // Probing only loads libraries in a child process and reads nothing of the workspace: allowed in Restricted Mode.
  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: '3D U-Net: probing the compute backends…' },
      () => ctx.jobs.run('probe', 'Probing compute backends', (job) => job.client.probe()),
    );
    const preference = readLoopSettings().backend;
    const markdown = backendReportMarkdown(report, preference);
    publish(markdown);
    ctx.log.info(markdown);
    const chosen = chosenBackend(report, preference);
    const missing = report.statuses.filter((s) => !s.available).length;
    void vscode.window.showInformationMessage(
      chosen.name
        ? `3D U-Net computes on ${chosen.name}${missing ? `; ${plural(missing, 'other backend does', 'other backends do')} not load here (the report says why)` : ''}.`
        : `3D U-Net: ${chosen.note}.`,
    );
    try {
      await vscode.commands.executeCommand('markdown.showPreview', REPORT_URI);
    } catch {
      await vscode.window.showTextDocument(REPORT_URI, { preview: true });
    }
    return report;
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`backend probe: ${message}`);
    void showCommandError('probe the compute backends', `the engine worker could not probe them: ${message}`, ctx.log);
    return undefined;
  }
}
