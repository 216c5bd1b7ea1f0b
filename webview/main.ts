/**
 * The volume editor webview's entry point (bundled to dist/webview.js): connects to the host,
 * asks for the document, and builds the editor when the volume's geometry arrives.
 */
import type { Vec3 } from '../src/core/geometry';
import type { PlaneName } from '../src/core/planes';
import type { ToWebviewMessage } from '../src/protocol/webview';
import { Editor } from './editor';
import { connectToHost } from './host';

let app: Editor | undefined;
const early: ToWebviewMessage[] = [];

const { endpoint, api } = connectToHost((message) => {
  try {
    if (message.type === 'init') {
      app = new Editor(message, endpoint, (state) => api.setState(state), api.getState());
      exposeForTests();
      for (const m of early.splice(0)) app.handle(m);
    } else if (app) {
      app.handle(message);
    } else {
      early.push(message);
    }
  } catch (error) {
    const text = error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error);
    void endpoint.send({ type: 'log', level: 'error', message: text });
    const status = document.querySelector('.status-message');
    if (status) status.textContent = `Error: ${(error as Error).message ?? error}`;
  }
});

window.addEventListener('error', (event) => {
  void endpoint.send({ type: 'log', level: 'error', message: `${event.message} (${event.filename}:${event.lineno})` });
});

void endpoint.send({ type: 'ready' });

/**
 * A small read-mostly handle for end-to-end tests and the benchmark (`window.unet3dEditor`):
 * where a voxel appears on a pane's canvas, what label it holds, and timings.
 */
function exposeForTests(): void {
  const paneOf = (plane: PlaneName) => app!.panes.find((p) => p.plane === plane)!;
  (window as unknown as { unet3dEditor: object }).unet3dEditor = {
    get ready() {
      return app?.ready ?? false;
    },
    get pendingEdits() {
      return app?.pendingEdits ?? 0;
    },
    state() {
      const a = app!;
      const view = a.view;
      return {
        crosshair: [...view.crosshair],
        tool: view.tool,
        brushSize: view.brushSize,
        activeClass: view.activeClass,
        layoutMode: view.layoutMode,
        classes: a.store.classes,
        dims: a.store.dims,
        labeledSlices: Object.fromEntries(a.panes.map((p) => [p.plane, a.store.labeledSlices(p.layout.sliceAxis)])),
        slices: Object.fromEntries(a.panes.map((p) => [p.plane, p.slice])),
        prediction: a.store.predictionName,
        window: a.gray.window,
        windowName: a.gray.name,
        predictionLook: view.predictionLook,
      };
    },
    /** The canvas-relative CSS point of a voxel's centre on a pane. */
    canvasPoint(plane: PlaneName, ijk: Vec3) {
      const [x, y] = paneOf(plane).canvasPointOfVoxel(ijk);
      return { x, y };
    },
    setCrosshair(ijk: Vec3) {
      app!.setCrosshair(ijk);
    },
    labelAt(ijk: Vec3) {
      const d = app!.store.dims;
      return app!.store.labels[ijk[0] + d[0] * (ijk[1] + d[1] * ijk[2])];
    },
    redrawAllTimed() {
      return app!.redrawAllTimed();
    },
    takeInputLatencies() {
      return app!.frames.inputLatencies.splice(0);
    },
  };
}
