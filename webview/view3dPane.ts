/**
 * The fourth pane's frame: its header, canvas and note, in the page's own bundle. The 3D view
 * itself (three.js, about three quarters of the webview's code) is a bundle of its own
 * (dist/view3d.js, entry view3dBundle.ts), loaded once every voxel is in: the page that shows the
 * first planes fetches and compiles a quarter of the code it did. Until then, and where it cannot
 * load, the pane says why, and the calls the editor makes are no-ops (the view reads the editor's
 * state when it starts).
 */
import type { VoxelRange } from './meshBuilder';
import { paneButton } from './paneButton';
import { VIEW3D_GLOBAL, type View3dAssets, type View3dClass, type View3dFrame, type View3dHost, type View3dView } from './view3dTypes';

/** Runs the view's bundle (a script element with the page's nonce, as the policy asks) and returns the class it leaves. */
function loadView3d(assets: View3dAssets): Promise<View3dClass> {
  const loaded = (globalThis as Record<string, unknown>)[VIEW3D_GLOBAL] as View3dClass | undefined;
  if (loaded) return Promise.resolve(loaded);
  const url = assets.script;
  if (!url) return Promise.reject(new Error('no 3D view script was given to the page'));
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    if (assets.nonce) script.nonce = assets.nonce;
    script.src = url;
    script.onload = () => {
      const view = (globalThis as Record<string, unknown>)[VIEW3D_GLOBAL] as View3dClass | undefined;
      if (view) resolve(view);
      else reject(new Error('the 3D view script ran but left no view'));
    };
    script.onerror = () => reject(new Error('the 3D view script could not be loaded'));
    document.head.append(script);
  });
}

export class View3dPane implements View3dFrame {
  readonly plane = '3d' as const;
  readonly element: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  private readonly note: HTMLDivElement;
  private view: View3dView | undefined;
  private loading = false;
  private loadFailed: string | undefined;

  constructor(
    private readonly host: View3dHost,
    private readonly assets: View3dAssets,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'pane pane-3d';
    this.element.dataset.plane = '3d';
    const header = document.createElement('div');
    header.className = 'pane-header';
    const title = document.createElement('span');
    title.className = 'pane-title';
    title.textContent = '3D';
    const hint = document.createElement('span');
    hint.className = 'pane-hint';
    hint.textContent = 'drag: rotate · right-drag: pan · wheel: zoom · click: crosshair';
    const reset = paneButton('⟲', 'Reset the 3D view', () => this.view?.resetCamera());
    const maximize = paneButton('⤢', 'Maximize or restore this pane', () => host.onToggleMaximize3d());
    maximize.classList.add('pane-maximize');
    header.append(title, hint, maximize, reset);
    header.addEventListener('dblclick', (e) => {
      if (!(e.target instanceof HTMLButtonElement)) host.onToggleMaximize3d();
    });
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'pane-canvas view3d-canvas';
    this.note = document.createElement('div');
    this.note.className = 'view3d-note';
    this.element.append(header, this.canvas, this.note);
    this.showNote('The 3D view starts once every voxel is in.');
  }

  showNote(text: string | undefined): void {
    this.note.textContent = text ?? '';
    this.note.hidden = text === undefined;
  }

  /** Loads the view and starts it building surfaces (the editor calls it once the volume is in). */
  activate(): void {
    if (this.view || this.loading || this.loadFailed) return;
    this.loading = true;
    this.showNote('The 3D view is loading…');
    loadView3d(this.assets).then(
      (View3dClass) => {
        this.loading = false;
        this.showNote(undefined);
        this.view = new View3dClass(this.host, this, this.assets.worker);
        this.view.activate();
      },
      (error: Error) => {
        this.loading = false;
        this.loadFailed = error.message;
        this.showNote(`The 3D view is not available: ${error.message}. The slice panes work as usual.`);
        this.host.logError(`3D view: ${error.message}`);
      },
    );
  }

  /** Every label is new (opened, reverted). */
  labelsReplaced(): void {
    this.view?.labelsReplaced();
  }

  /** Labels changed in `box` (a stroke ended, an undo). */
  labelsChanged(box: VoxelRange): void {
    this.view?.labelsChanged(box);
  }

  /** The editor's state changed: a new or removed prediction, the class colours, what is shown. */
  refresh(): void {
    this.view?.refresh();
  }

  /** The crosshair moved. */
  crosshairMoved(): void {
    this.view?.crosshairMoved();
  }

  // ------------------------------------------------------------ for tests

  /** Whether the view can draw (WebGL2) and build surfaces (the worker), and why not. */
  get status(): { webgl: boolean; worker: boolean; problem?: string } {
    if (this.view) return this.view.status;
    return { webgl: false, worker: false, ...(this.loadFailed ? { problem: this.loadFailed } : {}) };
  }

  /** Builds the worker has answered: layer, level, milliseconds. */
  get builds(): View3dView['builds'] {
    return this.view?.builds ?? [];
  }

  /** Renders now and reads the pixels back (see View3dView.readBack). */
  readBack(values: number[]): ReturnType<View3dView['readBack']> {
    if (!this.view) throw new Error(this.loadFailed ? `the 3D view is not available: ${this.loadFailed}` : 'the 3D view has not started');
    return this.view.readBack(values);
  }
}
