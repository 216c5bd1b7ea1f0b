/**
 * Registers the volume editor, its commands (the keybindings' targets) and its settings, and
 * returns the API other features use to show a prediction over an open volume.
 */
import * as vscode from 'vscode';
import type { Vec3 } from '../../core/geometry';
import type { EditorCommand, TrainingPreviewMessage } from '../../protocol/webview';
import { uriFileName } from './labelFiles';
import { VIEW_TYPE, VolumeEditorProvider } from './provider';

/** What other parts of the extension may ask of the volume editor. */
export interface VolumeEditorApi {
  /**
   * Shows `predictionUri` (a dense segmentation on the volume's grid, e.g. `NAME.seg.nii.gz`)
   * over the open editor of `volumeUri`. Resolves false when that volume is not open; rejects
   * with the reason when the file does not fit the volume.
   */
  showPrediction(volumeUri: vscode.Uri, predictionUri: vscode.Uri): Promise<boolean>;
  /**
   * Moves the crosshair of every open editor of `volumeUri` to voxel (i, j, k) (clamped into
   * the volume), showing `message` in its status line; an editor still loading does it once
   * loaded. False when that volume is not open.
   */
  revealVoxel(volumeUri: vscode.Uri, voxel: Vec3, message?: string): boolean;
  /** Where the crosshair of an open editor of `volumeUri` is (undefined: not open, or not yet said). */
  crosshairOf(volumeUri: vscode.Uri): Vec3 | undefined;
  /** Fires when the user moves the crosshair of an open volume. */
  readonly onDidMoveCrosshair: vscode.Event<{ volume: vscode.Uri; voxel: Vec3 }>;
  /** Shows a training's live preview over the open editors of `volumeUri` (null ends it); false when none is open. */
  showTrainingPreview(volumeUri: vscode.Uri, preview: TrainingPreviewMessage['preview']): boolean;
}

/** Commands that only forward to the webview in front, with their message. */
const FORWARDED: Record<string, EditorCommand> = {
  'unet3d.editor.navigate': { command: 'tool', tool: 'navigate' },
  'unet3d.editor.brush': { command: 'tool', tool: 'brush' },
  'unet3d.editor.eraser': { command: 'tool', tool: 'eraser' },
  'unet3d.editor.fill': { command: 'tool', tool: 'fill' },
  'unet3d.editor.fillSlice': { command: 'fillSlice' },
  'unet3d.editor.acceptPrediction': { command: 'acceptPrediction' },
  'unet3d.editor.toggleOutline': { command: 'toggleOutline' },
  'unet3d.editor.togglePrediction': { command: 'togglePrediction' },
  'unet3d.editor.brushBigger': { command: 'brushSize', step: 1 },
  'unet3d.editor.brushSmaller': { command: 'brushSize', step: -1 },
  'unet3d.editor.toggleLayout': { command: 'toggleLayout' },
  'unet3d.editor.resetView': { command: 'resetView' },
  'unet3d.editor.nextLabeledSlice': { command: 'nextLabeledSlice', step: 1 },
  'unet3d.editor.previousLabeledSlice': { command: 'nextLabeledSlice', step: -1 },
};

export function registerVolumeEditor(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): VolumeEditorApi {
  const provider = new VolumeEditorProvider(context.extensionUri, log);
  context.subscriptions.push(
    vscode.window.registerCustomEditorProvider(VIEW_TYPE, provider, {
      // The webview holds the whole volume: rebuilding it on every tab switch would resend it.
      webviewOptions: { retainContextWhenHidden: true },
      supportsMultipleEditorsPerDocument: false,
    }),
    ...Object.entries(FORWARDED).map(([id, command]) => vscode.commands.registerCommand(id, () => provider.sendCommand(command))),
    vscode.commands.registerCommand('unet3d.editor.selectClass', (args?: { value?: unknown }) => {
      const value = typeof args?.value === 'number' ? args.value : NaN;
      if (Number.isInteger(value) && value >= 1) provider.sendCommand({ command: 'selectClass', value });
    }),
    vscode.commands.registerCommand('unet3d.editor.showPrediction', (volumeUri?: vscode.Uri, predictionUri?: vscode.Uri) =>
      showPredictionCommand(provider, volumeUri, predictionUri),
    ),
    vscode.commands.registerCommand('unet3d.editor.clearPrediction', () => provider.active?.document.clearPrediction()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('unet3d.editor')) provider.broadcastSettings();
    }),
  );
  return {
    async showPrediction(volumeUri, predictionUri) {
      const document = provider.documentOf(volumeUri);
      if (!document) return false;
      await document.loadPrediction(predictionUri);
      return true;
    },
    revealVoxel: (volumeUri, voxel, message) => provider.reveal(volumeUri, voxel, message),
    crosshairOf: (volumeUri) => provider.sessionsOf(volumeUri).find((s) => s.crosshair)?.crosshair,
    onDidMoveCrosshair: provider.onDidMoveCrosshair,
    showTrainingPreview(volumeUri, preview) {
      const sessions = provider.sessionsOf(volumeUri);
      for (const s of sessions) s.showTrainingPreview(preview);
      return sessions.length > 0;
    },
  };
}

/** `unet3d.editor.showPrediction`: with URIs (from code) or by asking for a file (from the palette). */
async function showPredictionCommand(provider: VolumeEditorProvider, volumeUri?: vscode.Uri, predictionUri?: vscode.Uri): Promise<boolean> {
  const document = volumeUri instanceof vscode.Uri ? provider.documentOf(volumeUri) : provider.active?.document;
  if (!document) {
    if (!(volumeUri instanceof vscode.Uri)) void vscode.window.showInformationMessage('Open a volume in the 3D U-Net volume editor first.');
    return false;
  }
  let file = predictionUri instanceof vscode.Uri ? predictionUri : undefined;
  if (!file) {
    const picked = await vscode.window.showOpenDialog({
      defaultUri: vscode.Uri.joinPath(document.uri, '..'),
      canSelectMany: false,
      openLabel: 'Show as Prediction',
      filters: { 'Segmentations': ['nii.gz', 'nii', 'nrrd', 'nhdr'] },
    });
    file = picked?.[0];
    if (!file) return false;
  }
  try {
    await document.loadPrediction(file);
    return true;
  } catch (error) {
    void vscode.window.showErrorMessage(`${uriFileName(file)}: ${(error as Error).message}`);
    return false;
  }
}
