/**
 * The Runs view (`unet3d.runs`): every run of the workspace, newest first, as RunsModel reads
 * them and runPresentation describes them; live while a job of this window runs.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Job } from '../workerJobs';
import { presentEntry, type RowData } from './runPresentation';
import type { RunsModel } from './runsModel';

/** A row of the tree, with the path of ids that makes it unique. */
export interface RunsNode {
  row: RowData;
  /** Unique among all rows: the ids from the root down. */
  key: string;
}

export function isRunsNode(value: unknown): value is RunsNode {
  return typeof value === 'object' && value !== null && typeof (value as RunsNode).key === 'string' && typeof (value as RunsNode).row === 'object';
}

export class RunsTreeProvider implements vscode.TreeDataProvider<RunsNode>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<RunsNode | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: RunsModel) {
    this.subscription = model.onDidChange(() => this.changeEmitter.fire(undefined));
  }

  dispose(): void {
    this.subscription.dispose();
    this.changeEmitter.dispose();
  }

  /** The job writing `dir`, or one of its folds (an evaluation's). */
  private liveOf(dir: string): Job | undefined {
    return this.model.jobs.jobOf(dir) ?? this.model.jobs.jobs.find((j) => j.runDir !== undefined && path.dirname(j.runDir) === dir);
  }

  /** The top-level rows as they are now (also for tests, through `unet3d.runs.rows`). */
  rootRows(): RowData[] {
    const now = Date.now();
    const multiRoot = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
    return this.model.all.map(({ folder, entry }) => {
      const job = this.liveOf(entry.dir);
      const row = presentEntry(entry, { now, active: job !== undefined, live: job?.live });
      if (multiRoot) row.description = `${row.description ?? ''} · ${vscode.workspace.getWorkspaceFolder(folder)?.name ?? folder.fsPath}`;
      return row;
    });
  }

  getChildren(element?: RunsNode): RunsNode[] {
    if (!element) return this.rootRows().map((row) => ({ row, key: row.id }));
    return (element.row.children ?? []).map((row) => ({ row, key: `${element.key}/${row.id}` }));
  }

  getTreeItem(node: RunsNode): vscode.TreeItem {
    const { row } = node;
    const expandable = row.children !== undefined;
    const item = new vscode.TreeItem(row.label, expandable ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
    item.id = node.key;
    item.description = row.description;
    if (row.tooltip) item.tooltip = new vscode.MarkdownString(row.tooltip);
    item.contextValue = row.contextValue;
    if (row.icon) item.iconPath = new vscode.ThemeIcon(row.icon, row.iconColor ? new vscode.ThemeColor(row.iconColor) : undefined);
    if (row.resource) item.resourceUri = vscode.Uri.file(row.resource);
    if (row.open && row.resource) item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(row.resource)] };
    return item;
  }
}
