/** What the loop's commands share: the log, the jobs, the runs, the curves panels, the editor's API, the workspace's memory. */
import type * as vscode from 'vscode';
import type { VolumeEditorApi } from '../volumeEditor/register';
import type { CurvesView } from '../runs/curvesView';
import type { RunsModel } from '../runs/runsModel';
import type { WorkerJobs } from '../workerJobs';

export interface LoopContext {
  log: vscode.LogOutputChannel;
  jobs: WorkerJobs;
  runs: RunsModel;
  curves: CurvesView;
  editor: VolumeEditorApi;
  /** Per-workspace memory of the last choices (ExtensionContext.workspaceState). */
  state: vscode.Memento;
}
