/**
 * Activation: registers the editor, commands and views. Stays light: nothing here loads
 * TensorFlow.js (training and segmentation run in the worker process, dist/worker.js).
 */
import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('3D U-Net', { log: true });
  context.subscriptions.push(log);
}

export function deactivate(): void {
  // Worker processes are ended by their owners' disposables.
}
