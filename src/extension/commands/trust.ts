/**
 * Restricted Mode: training, segmenting and evaluating run the engine (native TensorFlow code
 * when installed) on the workspace's files and write into it, so in an untrusted workspace the
 * commands say why they do nothing and how to change that, instead of being silently absent.
 */
import * as vscode from 'vscode';

/** True in a trusted workspace; otherwise explains (without waiting for the user) and returns false. */
export function requireTrust(what: string): boolean {
  if (vscode.workspace.isTrusted) return true;
  const manage = 'Manage Workspace Trust';
  void vscode.window
    .showWarningMessage(
      `3D U-Net: ${what} is disabled in Restricted Mode. It runs the 3D U-Net engine on this workspace's files and writes its results into the workspace; trust this workspace to use it.`,
      manage,
    )
    .then((answer) => {
      if (answer === manage) void vscode.commands.executeCommand('workbench.trust.manage');
    });
  return false;
}
