/**
 * What the explorer offers Train, Segment and Evaluate on: volume files (a `when` clause on the
 * name) and the folders that hold some, which only the extension can tell: it keeps the context
 * key `unet3d.volumeFolders` (every workspace folder path with a volume somewhere below it) up to
 * date as volumes are created and deleted. And "3D U-Net: Open Volume…", the walkthrough's first step.
 */
import * as vscode from 'vscode';
import { foldersHoldingVolumes } from './folderSet';
import { VOLUME_VIEW_TYPE, workspaceVolumes } from './volumes';

export function registerVolumeFolders(context: vscode.ExtensionContext): void {
  let pending: ReturnType<typeof setTimeout> | undefined;
  const update = async () => {
    const volumes = await workspaceVolumes();
    const roots = (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath);
    await vscode.commands.executeCommand('setContext', 'unet3d.volumeFolders', foldersHoldingVolumes(volumes.map((v) => v.fsPath), roots));
  };
  const soon = () => {
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => void update(), 500);
  };
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.{nii,nii.gz,nrrd,nhdr}', false, true, false);
  context.subscriptions.push(
    watcher,
    watcher.onDidCreate(soon),
    watcher.onDidDelete(soon),
    vscode.workspace.onDidChangeWorkspaceFolders(soon),
    { dispose: () => pending && clearTimeout(pending) },
    vscode.commands.registerCommand('unet3d.openVolume', openVolumeCommand),
  );
  void update();
}

/** Asks for a volume file and opens it in the volume editor. */
async function openVolumeCommand(arg?: unknown): Promise<boolean> {
  let uri = arg instanceof vscode.Uri ? arg : undefined;
  if (!uri) {
    const picked = await vscode.window.showOpenDialog({
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
      canSelectMany: false,
      openLabel: 'Open in 3D U-Net',
      filters: { 'NIfTI and NRRD volumes': ['nii', 'gz', 'nrrd', 'nhdr'] },
    });
    uri = picked?.[0];
  }
  if (!uri) return false;
  await vscode.commands.executeCommand('vscode.openWith', uri, VOLUME_VIEW_TYPE);
  return true;
}
