/**
 * Activation: registers the editor, commands and views. Stays light: nothing here loads
 * TensorFlow.js (training and segmentation run in the worker process, dist/worker.js).
 */
import * as vscode from 'vscode';
import { registerLoopCommands } from './commands';
import { registerRunsView } from './runs/register';
import { registerVolumeEditor } from './volumeEditor/register';
import { registerWorkerJobs } from './workerJobs';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('3D U-Net', { log: true });
  context.subscriptions.push(log);
  const editor = registerVolumeEditor(context, log);
  const jobs = registerWorkerJobs(context, log);
  registerLoopCommands(context, log, jobs, registerRunsView(context, log, jobs), editor);
}

export function deactivate(): void {
  // Worker processes are ended by their owners' disposables.
}
