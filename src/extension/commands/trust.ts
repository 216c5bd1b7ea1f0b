/**
 * Restricted Mode: training, segmenting and evaluating run the engine (native TensorFlow code
 * when installed) on the workspace's files and write into it, and Suggest Next Slice reads the
 * files that run records of the workspace name; so in an untrusted workspace these commands say
 * why they do nothing and how to change that, instead of being silently absent.
 */
import * as vscode from 'vscode';

/** Why the engine's commands need trust. */
const RUNS_THE_ENGINE = "It runs the 3D U-Net engine on this workspace's files and writes its results into the workspace";

/**
 * True in a trusted workspace; otherwise explains (without waiting for the user) and returns
 * false. `why` completes "<what> is disabled in Restricted Mode."
 */
export function requireTrust(what: string, why = RUNS_THE_ENGINE): boolean {
  if (vscode.workspace.isTrusted) return true;
  const manage = 'Manage Workspace Trust';
  void vscode.window
    .showWarningMessage(`3D U-Net: ${what} is disabled in Restricted Mode. ${why}; trust this workspace to use it.`, manage)
    .then((answer) => {
      if (answer === manage) void vscode.commands.executeCommand('workbench.trust.manage');
    });
  return false;
}
