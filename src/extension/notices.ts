/**
 * Errors as a user can read them whole. A notification toast shows one line and cuts the rest
 * ("… paint a f…"): an error that stops a command is a modal dialog with the whole reason, and a
 * failure the user learns of later (a run that failed while they worked) is a notification with
 * "Show Details", which opens the whole text.
 */
import * as vscode from 'vscode';
import { sentence } from '../core/words';

/**
 * A command could not do what it was asked (nothing was started): "3D U-Net cannot train" with
 * the whole reason under it, in a modal dialog; "Show Log" opens the extension's log.
 */
export async function showCommandError(what: string, reason: string, log?: vscode.LogOutputChannel): Promise<void> {
  const showLog = 'Show Log';
  const answer = await vscode.window.showErrorMessage(`3D U-Net cannot ${what}`, { modal: true, detail: sentence(reason) }, ...(log ? [showLog] : []));
  if (answer === showLog) log?.show();
}

/**
 * Something failed while the user did other things (a training, a segmentation): a notification
 * with its first line, and "Show Details" for the whole text.
 */
export async function showFailure(summary: string, details: string, log?: vscode.LogOutputChannel): Promise<void> {
  const showDetails = 'Show Details';
  const showLog = 'Show Log';
  const answer = await vscode.window.showErrorMessage(`3D U-Net: ${summary}`, showDetails, ...(log ? [showLog] : []));
  if (answer === showDetails) await showCommandDetails(summary, details, log);
  else if (answer === showLog) log?.show();
}

async function showCommandDetails(summary: string, details: string, log?: vscode.LogOutputChannel): Promise<void> {
  const showLog = 'Show Log';
  const answer = await vscode.window.showErrorMessage(`3D U-Net: ${summary}`, { modal: true, detail: sentence(details) }, ...(log ? [showLog] : []));
  if (answer === showLog) log?.show();
}
