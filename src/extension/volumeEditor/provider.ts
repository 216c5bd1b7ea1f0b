/**
 * The `unet3d.volume` custom editor: opens volume documents, gives each a webview session,
 * passes their edits to VS Code's undo stack, saves, reverts and backs them up, and keeps the
 * prediction overlay in step with `NAME.seg.nii.gz` beside the volume.
 */
import * as vscode from 'vscode';
import type { Vec3 } from '../../core/geometry';
import { labelFileNames } from '../../core/labels';
import type { LeftRightConvention } from '../../core/planes';
import type { EditorCommand, EditorSettings } from '../../protocol/webview';
import { VolumeDocument } from './document';
import { exists, siblingUri, uriFileName } from './labelFiles';
import { EditorSession } from './session';
import { editorHtml, unopenedHtml, webviewRoots } from './webviewHtml';

export const VIEW_TYPE = 'unet3d.volume';

/** The `unet3d.editor.*` settings. */
export function readEditorSettings(): EditorSettings {
  const config = vscode.workspace.getConfiguration('unet3d.editor');
  const clamp01 = (v: unknown, fallback: number) => (typeof v === 'number' && v >= 0 && v <= 1 ? v : fallback);
  const leftRight = config.get<string>('leftRight');
  return {
    leftRight: (leftRight === 'neurological' ? 'neurological' : 'radiological') as LeftRightConvention,
    labelOpacity: clamp01(config.get('labelOpacity'), 0.5),
    predictionOpacity: clamp01(config.get('predictionOpacity'), 0.4),
  };
}

/**
 * A volume the editor could not open (unreadable, too large, a label file the user would not
 * ignore): the editor shows why, in place, instead of VS Code's generic error page.
 */
export class UnopenedDocument implements vscode.CustomDocument {
  constructor(
    readonly uri: vscode.Uri,
    readonly reason: string,
  ) {}
  dispose(): void {}
}

type EditorDocument = VolumeDocument | UnopenedDocument;

/** Only volume documents can be edited; VS Code never asks an unopened one to save (it is never dirty). */
function opened(document: EditorDocument): VolumeDocument {
  if (document instanceof UnopenedDocument) throw new Error(`${uriFileName(document.uri)} was not opened: ${document.reason}`);
  return document;
}

export class VolumeEditorProvider implements vscode.CustomEditorProvider<EditorDocument> {
  private readonly changeEmitter = new vscode.EventEmitter<vscode.CustomDocumentEditEvent<EditorDocument>>();
  readonly onDidChangeCustomDocument = this.changeEmitter.event;
  private readonly sessions = new Set<EditorSession>();
  private readonly crosshairEmitter = new vscode.EventEmitter<{ volume: vscode.Uri; voxel: Vec3 }>();
  private readonly documents = new Map<string, VolumeDocument>();
  private activeSession: EditorSession | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async openCustomDocument(uri: vscode.Uri, openContext: vscode.CustomDocumentOpenContext, _token: vscode.CancellationToken): Promise<EditorDocument> {
    let document: VolumeDocument;
    try {
      document = await VolumeDocument.open(uri, openContext.backupId, this.log, (problem) => this.askIgnoreLabels(problem));
    } catch (error) {
      const reason = (error as Error).message;
      this.log.error(`${uriFileName(uri)}: ${reason}`);
      void vscode.window.showErrorMessage(`${uriFileName(uri)}: ${reason}`);
      return new UnopenedDocument(uri, reason);
    }
    const key = uri.toString();
    this.documents.set(key, document);
    const listeners: vscode.Disposable[] = [
      document.onDidEdit((edit) => this.changeEmitter.fire({ document, ...edit })),
      this.watchPrediction(document),
    ];
    document.onDidDispose(() => {
      this.documents.delete(key);
      for (const l of listeners) l.dispose();
    });
    return document;
  }

  private async askIgnoreLabels(problem: string): Promise<boolean> {
    const ignore = 'Open Without It';
    const answer = await vscode.window.showWarningMessage(
      `${problem}`,
      { modal: true, detail: 'The editor will start with no labels; saving will replace the file.' },
      ignore,
    );
    if (answer !== ignore) throw new Error(`${problem} (opening without it was declined)`);
    return true;
  }

  /** Shows `NAME.seg.nii.gz` beside the volume as the overlay, now and whenever it is written or removed. */
  private watchPrediction(document: VolumeDocument): vscode.Disposable {
    const name = labelFileNames(document.fileName).prediction;
    const file = siblingUri(document.uri, name);
    const load = async () => {
      try {
        await document.loadPrediction(file);
      } catch (error) {
        this.report(document, 'warning', `${name} is not shown: ${(error as Error).message}`);
      }
    };
    void exists(file).then((present) => (present ? load() : undefined));
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(document.uri, '..'), name));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reload = () => {
      // A writer may touch the file more than once: load once it has settled.
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => void load(), 300);
    };
    watcher.onDidCreate(reload);
    watcher.onDidChange(reload);
    watcher.onDidDelete(() => {
      if (document.prediction?.uri.toString() === file.toString()) document.clearPrediction();
    });
    return new vscode.Disposable(() => {
      if (timer) clearTimeout(timer);
      watcher.dispose();
    });
  }

  private report(document: VolumeDocument, level: 'info' | 'warning' | 'error', message: string): void {
    this.log[level === 'warning' ? 'warn' : level](`${document.fileName}: ${message}`);
    for (const s of this.sessions) if (s.document === document) s.notify(level, message);
  }

  async resolveCustomEditor(document: EditorDocument, panel: vscode.WebviewPanel, _token: vscode.CancellationToken): Promise<void> {
    if (document instanceof UnopenedDocument) {
      panel.webview.options = { enableScripts: false, localResourceRoots: webviewRoots(this.extensionUri) };
      panel.webview.html = unopenedHtml(panel.webview, this.extensionUri, uriFileName(document.uri), document.reason);
      return;
    }
    // The webview fetches the voxels from the volume's file itself: that one folder is added.
    const voxelFile = document.source.voxelFile;
    const roots = webviewRoots(this.extensionUri);
    if (voxelFile) roots.push(vscode.Uri.joinPath(vscode.Uri.file(voxelFile), '..'));
    panel.webview.options = { enableScripts: true, localResourceRoots: roots };
    panel.webview.html = editorHtml(panel.webview, this.extensionUri, document.fileName);
    const session = new EditorSession(document, panel, this.log, readEditorSettings);
    this.sessions.add(session);
    session.onDidMoveCrosshair((voxel) => this.crosshairEmitter.fire({ volume: document.uri, voxel }));
    if (panel.active) this.activeSession = session;
    panel.onDidChangeViewState(() => {
      if (panel.active) this.activeSession = session;
    });
    panel.onDidDispose(() => {
      this.sessions.delete(session);
      if (this.activeSession === session) this.activeSession = undefined;
      session.dispose();
    });
  }

  async saveCustomDocument(document: EditorDocument, token: vscode.CancellationToken): Promise<void> {
    return opened(document).save(token);
  }

  async saveCustomDocumentAs(document: EditorDocument, destination: vscode.Uri, token: vscode.CancellationToken): Promise<void> {
    return opened(document).saveAs(destination, token);
  }

  async revertCustomDocument(document: EditorDocument, token: vscode.CancellationToken): Promise<void> {
    return opened(document).revert(token);
  }

  async backupCustomDocument(document: EditorDocument, context: vscode.CustomDocumentBackupContext, token: vscode.CancellationToken): Promise<vscode.CustomDocumentBackup> {
    return opened(document).backup(context.destination, token);
  }

  /** The session of the editor in front, if it is one of ours. */
  get active(): EditorSession | undefined {
    return this.activeSession?.panel.active ? this.activeSession : undefined;
  }

  sendCommand(command: EditorCommand): void {
    const session = this.active;
    if (session) session.sendCommand(command);
    else void vscode.window.showInformationMessage('Open a volume in the 3D U-Net volume editor first.');
  }

  broadcastSettings(): void {
    for (const s of this.sessions) s.sendSettings();
  }

  /** Moves the crosshair of every editor of `volumeUri` to `voxel`; false when none is open. */
  reveal(volumeUri: vscode.Uri, voxel: Vec3, message?: string): boolean {
    const key = volumeUri.toString();
    let shown = false;
    for (const s of this.sessions) {
      if (s.document.uri.toString() !== key) continue;
      s.reveal(voxel, message);
      shown = true;
    }
    return shown;
  }

  /** The sessions (editors) of a volume. */
  sessionsOf(volumeUri: vscode.Uri): EditorSession[] {
    const key = volumeUri.toString();
    return [...this.sessions].filter((s) => s.document.uri.toString() === key);
  }

  /** Fires with a volume and its crosshair whenever the user moves the crosshair in one of its editors. */
  readonly onDidMoveCrosshair = this.crosshairEmitter.event;

  /** The open document of a volume, if any. */
  documentOf(volumeUri: vscode.Uri): VolumeDocument | undefined {
    return this.documents.get(volumeUri.toString());
  }
}
