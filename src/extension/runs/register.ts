/**
 * Registers the Runs view and its actions: refresh, cancel a run in progress, segment with a
 * run, show its training curves, reveal it in the explorer, rename it, delete it (after asking).
 * Each action takes the view's row, or a run folder's path or URI (for calls from code).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { WorkerJobs } from '../workerJobs';
import { CurvesView } from './curvesView';
import { checkRunName } from './runEntry';
import { RunsModel } from './runsModel';
import { isRunsNode, RunsTreeProvider } from './runsTree';

export interface RunsView {
  model: RunsModel;
  tree: RunsTreeProvider;
  curves: CurvesView;
  view: vscode.TreeView<unknown>;
}

/** The folder (or file) an action is about. */
export function targetPath(arg: unknown): string | undefined {
  if (isRunsNode(arg)) return arg.row.runDir ?? arg.row.resource;
  if (arg instanceof vscode.Uri) return arg.fsPath;
  if (typeof arg === 'string') return path.resolve(arg);
  return undefined;
}

export function registerRunsView(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, jobs: WorkerJobs): RunsView {
  const model = new RunsModel(jobs, log);
  const tree = new RunsTreeProvider(model);
  const curves = new CurvesView(model);
  const view = vscode.window.createTreeView('unet3d.runs', { treeDataProvider: tree, showCollapseAll: true });
  const updateMessage = () => {
    view.message = vscode.workspace.isTrusted ? undefined : 'Restricted Mode: training, segmenting and evaluating are disabled.';
  };
  updateMessage();
  const running = (dir: string) => jobs.jobOf(dir) ?? jobs.jobs.find((j) => j.runDir && path.dirname(j.runDir) === dir);

  const need = (arg: unknown, what: string): string | undefined => {
    const target = targetPath(arg);
    if (!target) void vscode.window.showInformationMessage(`3D U-Net: choose a run in the Runs view to ${what}.`);
    return target;
  };
  /** Rename and delete act only on entries of the runs folders (never on any path given as an argument). */
  const needRun = (arg: unknown, what: string): string | undefined => {
    const target = need(arg, what);
    if (!target) return undefined;
    model.reread();
    if (!model.find(target)) {
      void vscode.window.showErrorMessage(`3D U-Net: cannot ${what} ${target}: it is not a run in the runs folder (setting unet3d.runsFolder).`);
      log.warn(`${what} refused: ${target} is not an entry of a runs folder`);
      return undefined;
    }
    return path.resolve(target);
  };

  context.subscriptions.push(
    model,
    tree,
    curves,
    view,
    model.onDidChange(updateMessage),
    vscode.workspace.onDidGrantWorkspaceTrust(updateMessage),
    vscode.commands.registerCommand('unet3d.runs.refresh', () => model.reread()),
    // For tests and scripts: the rows the view shows now, as plain data.
    vscode.commands.registerCommand('unet3d.runs.rows', () => tree.rootRows()),
    vscode.commands.registerCommand('unet3d.runs.cancel', (arg: unknown) => {
      const dir = need(arg, 'cancel');
      if (!dir) return false;
      const job = running(dir);
      if (!job) {
        void vscode.window.showInformationMessage(`3D U-Net: ${path.basename(dir)} is not running in this window.`);
        return false;
      }
      job.cancel();
      return true;
    }),
    vscode.commands.registerCommand('unet3d.runs.showCurves', (arg: unknown) => {
      const dir = need(arg, 'show its training curves');
      if (dir) return curves.show(dir);
      return undefined;
    }),
    vscode.commands.registerCommand('unet3d.runs.segmentWith', (arg: unknown) => {
      const dir = need(arg, 'segment with');
      if (dir) return vscode.commands.executeCommand('unet3d.segment', { run: dir });
      return undefined;
    }),
    vscode.commands.registerCommand('unet3d.runs.reveal', async (arg: unknown) => {
      const target = need(arg, 'reveal');
      if (!target) return;
      const uri = vscode.Uri.file(target);
      if (vscode.workspace.getWorkspaceFolder(uri)) await vscode.commands.executeCommand('revealInExplorer', uri);
      else await vscode.commands.executeCommand('revealFileInOS', uri);
    }),
    vscode.commands.registerCommand('unet3d.runs.rename', async (arg: unknown, newName?: unknown) => {
      const dir = needRun(arg, 'rename');
      if (!dir) return undefined;
      if (running(dir)) {
        void vscode.window.showWarningMessage(`3D U-Net: ${path.basename(dir)} is running; rename it when it has ended.`);
        return undefined;
      }
      const parent = path.dirname(dir);
      const name =
        typeof newName === 'string'
          ? newName
          : await vscode.window.showInputBox({
              title: 'Rename run',
              value: path.basename(dir),
              validateInput: (n) => checkRunName(n) ?? (n.trim() !== path.basename(dir) && model.find(path.join(parent, n.trim())) ? 'a run of that name exists' : undefined),
            });
      if (name === undefined || name.trim() === path.basename(dir)) return undefined;
      const problem = checkRunName(name);
      if (problem) {
        void vscode.window.showErrorMessage(`3D U-Net: cannot rename: ${problem}.`);
        return undefined;
      }
      const target = vscode.Uri.file(path.join(parent, name.trim()));
      try {
        await vscode.workspace.fs.rename(vscode.Uri.file(dir), target, { overwrite: false });
        curves.forget(dir);
        log.info(`run ${path.basename(dir)} renamed to ${name.trim()}`);
      } catch (error) {
        void vscode.window.showErrorMessage(`3D U-Net: cannot rename ${path.basename(dir)}: ${(error as Error).message}`);
        return undefined;
      } finally {
        model.reread();
      }
      return target.fsPath;
    }),
    vscode.commands.registerCommand('unet3d.runs.delete', async (arg: unknown, confirmed?: unknown) => {
      const dir = needRun(arg, 'delete');
      if (!dir) return false;
      if (running(dir)) {
        void vscode.window.showWarningMessage(`3D U-Net: ${path.basename(dir)} is running; cancel it first.`);
        return false;
      }
      if (confirmed !== true) {
        const del = 'Delete';
        const answer = await vscode.window.showWarningMessage(
          `Delete the run ${path.basename(dir)}?`,
          { modal: true, detail: `Its folder (${dir}) goes with its model and records. Segmentations written beside volumes stay.` },
          del,
        );
        if (answer !== del) return false;
      }
      const uri = vscode.Uri.file(dir);
      try {
        try {
          await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: true });
        } catch {
          // No trash here (a remote or headless machine): delete for good, as asked.
          await vscode.workspace.fs.delete(uri, { recursive: true, useTrash: false });
        }
        curves.forget(dir);
        log.info(`run ${path.basename(dir)} deleted`);
        return true;
      } catch (error) {
        void vscode.window.showErrorMessage(`3D U-Net: cannot delete ${path.basename(dir)}: ${(error as Error).message}`);
        return false;
      } finally {
        model.reread();
      }
    }),
  );
  return { model, tree, curves, view };
}
