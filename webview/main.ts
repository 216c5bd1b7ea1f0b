/**
 * The volume editor webview's entry point (bundled to dist/webview.js): connects to the host,
 * asks for the document, and builds the editor when the volume's geometry arrives.
 */
import './scriptStart';
import type { Vec3 } from '../src/core/geometry';
import type { PlaneName } from '../src/core/planes';
import type { ToWebviewMessage } from '../src/protocol/webview';
import { Editor } from './editor';
import { connectToHost } from './host';

let app: Editor | undefined;
/**
 * The 3D view's bundle and its mesh worker's, named by the page (the script tag's data attributes),
 * and the nonce the view's script must carry; read while this script runs.
 */
const pageScript = document.currentScript as HTMLScriptElement | null;
const view3dAssets = { script: pageScript?.dataset.view3d, worker: pageScript?.dataset.meshWorker, nonce: pageScript?.nonce };
const early: ToWebviewMessage[] = [];

const { endpoint, api } = connectToHost((message) => {
  try {
    // The benchmark's timeline of an open; nothing is marked once every voxel is in.
    if (message.type !== 'volumeChunk' && !app?.timings.wholeVolumeAt) performance.mark(`${message.type} arrived`);
    if (message.type === 'init') {
      app = new Editor(message, endpoint, (state) => api.setState(state), api.getState(), view3dAssets);
      performance.mark('the editor built');
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

// Where the saved state had the crosshair: the host sends the planes through it first.
const saved = api.getState() as { fileName?: unknown; crosshair?: unknown } | undefined;
const resume =
  saved && typeof saved.fileName === 'string' && Array.isArray(saved.crosshair) && saved.crosshair.length === 3 && saved.crosshair.every((v) => Number.isInteger(v) && v >= 0)
    ? { fileName: saved.fileName, crosshair: saved.crosshair as Vec3 }
    : undefined;
performance.mark('ready sent');
void endpoint.send({ type: 'ready', ...(resume ? { resume } : {}) });

/** The page's own timeline (epoch ms): its document and script loads, then the editor's marks. */
function pageMilestones(): { what: string; at: number }[] {
  const at = (ms: number) => performance.timeOrigin + ms;
  const out: { what: string; at: number }[] = [];
  const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
  if (nav) out.push({ what: 'the page\'s document in', at: at(nav.responseEnd) }, { what: 'the page\'s document parsed', at: at(nav.domInteractive) });
  for (const entry of performance.getEntriesByType('resource') as PerformanceResourceTiming[]) {
    const name = entry.name.split('?')[0]!.split('/').pop()!;
    out.push({ what: `${name} requested`, at: at(entry.startTime) }, { what: `${name} in`, at: at(entry.responseEnd) });
  }
  for (const m of performance.getEntriesByType('mark')) out.push({ what: m.name, at: at(m.startTime) });
  return out.sort((a, b) => a.at - b.at);
}

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
    /** When the first planes were drawn and when every voxel was in (epoch ms), and how they came (and from where, when fetched). */
    loading() {
      const a = app!;
      return { startedAt: performance.timeOrigin, ...a.timings, transport: a.loader.transport, route: a.loader.route, filled: a.loader.presence.filled, total: a.loader.presence.total, voxelBytes: a.store.voxels.byteLength, milestones: pageMilestones() };
    },
    /** Whether the slice through the crosshair across each axis has its voxels. */
    slicesPresent() {
      const a = app!;
      return [0, 1, 2].map((axis) => a.loader.presence.slicePresent(axis as 0 | 1 | 2, a.view.crosshair[axis]));
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
    /** The 3D view: whether it can draw and build, the builds so far, and its pixels read back for classes. */
    view3d: {
      status: () => app!.view3d.status,
      builds: () => [...app!.view3d.builds],
      readBack: (values: number[]) => app!.view3d.readBack(values),
    },
    takeInputLatencies() {
      return app!.frames.inputLatencies.splice(0);
    },
  };
}
