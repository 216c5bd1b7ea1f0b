/**
 * The loop's commands: Train, Segment, Evaluate, Show Compute Backend, Install Native TensorFlow, Suggest Next Slice, and
 * the status-bar item of running jobs. Each command resolves with its result (for tests and
 * other extensions) or undefined when it did not run.
 */
import * as vscode from 'vscode';
import type { RunsView } from '../runs/register';
import type { VolumeEditorApi } from '../volumeEditor/register';
import type { WorkerJobs } from '../workerJobs';
import { evaluateCommand } from './evaluate';
import { installNativeTensorFlowCommand } from './installNativeTensorFlow';
import { registerJobStatusBar } from './jobStatusBar';
import type { LoopContext } from './loopContext';
import { segmentCommand } from './segment';
import { registerBackendReport, showBackendCommand } from './showBackend';
import { suggestNextSliceCommand } from './suggestNextSlice';
import { trainCommand } from './train';
import { registerVolumeFolders } from './volumeFolders';

export function registerLoopCommands(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
  jobs: WorkerJobs,
  runs: RunsView,
  editor: VolumeEditorApi,
): void {
  const ctx: LoopContext = { log, jobs, runs: runs.model, curves: runs.curves, editor, state: context.workspaceState };
  const publishBackendReport = registerBackendReport(context);
  registerJobStatusBar(context, jobs);
  registerVolumeFolders(context);
  context.subscriptions.push(
    vscode.commands.registerCommand('unet3d.train', (arg?: unknown, selection?: unknown) => trainCommand(ctx, arg, selection)),
    vscode.commands.registerCommand('unet3d.segment', (arg?: unknown, selection?: unknown) => segmentCommand(ctx, arg, selection)),
    vscode.commands.registerCommand('unet3d.evaluate', (arg?: unknown, selection?: unknown) => evaluateCommand(ctx, arg, selection)),
    vscode.commands.registerCommand('unet3d.showBackend', () => showBackendCommand(ctx, publishBackendReport)),
    vscode.commands.registerCommand('unet3d.installNativeTensorFlow', (arg?: unknown) => installNativeTensorFlowCommand(ctx, context, arg)),
    vscode.commands.registerCommand('unet3d.suggestNextSlice', (arg?: unknown) => suggestNextSliceCommand(ctx, arg)),
    vscode.commands.registerCommand('unet3d.showLog', () => log.show()),
  );
}
