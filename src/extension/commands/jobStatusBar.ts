/**
 * The status-bar item shown while jobs run: the first job's title and progress, and how many
 * others run; clicking it shows the training curves of a training (or the log otherwise).
 */
import * as vscode from 'vscode';
import type { WorkerJobs } from '../workerJobs';

export function registerJobStatusBar(context: vscode.ExtensionContext, jobs: WorkerJobs): void {
  const item = vscode.window.createStatusBarItem('unet3d.jobs', vscode.StatusBarAlignment.Left, 50);
  item.name = '3D U-Net jobs';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const update = () => {
    timer = undefined;
    const list = jobs.jobs;
    if (list.length === 0) {
      item.hide();
      return;
    }
    const [first] = list;
    const more = list.length > 1 ? ` (+${list.length - 1})` : '';
    item.text = `$(sync~spin) ${first.title}${first.status ? ` · ${first.status}` : ''}${more}`;
    item.tooltip = new vscode.MarkdownString(list.map((j) => `- **${j.title}**${j.status ? `: ${j.status}` : ''}${j.cancelled ? ' (stopping)' : ''}`).join('\n'));
    item.command = first.kind === 'train' && first.runDir
      ? { command: 'unet3d.runs.showCurves', title: 'Show Training Curves', arguments: [first.runDir] }
      : { command: 'unet3d.showLog', title: 'Show Log' };
    item.show();
  };
  context.subscriptions.push(
    item,
    jobs.onDidChange(() => {
      timer ??= setTimeout(update, 150);
    }),
    { dispose: () => timer && clearTimeout(timer) },
  );
}
