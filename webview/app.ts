/**
 * The volume editor in the webview: the three panes, the crosshair that links them, the tools,
 * window/level, the label and prediction layers, and the exchange with the host.
 */
import { deltaBounds, encodeDelta, type LabelDelta } from '../src/core/editDeltas';
import type { Vec3 } from '../src/core/geometry';
import { voxelToWorld } from '../src/core/geometry';
import { planeLayouts, PLANES, type PlaneName } from '../src/core/planes';
import { volumeStats } from '../src/core/volume';
import {
  automaticWindow,
  CT_PRESETS,
  dragWindow,
  grayLookupTable,
  intensityPercentiles,
  looksLikeCt,
  lookupOffset,
  windowOfRange,
  type WindowLevel,
  type WindowPreset,
} from '../src/core/windowLevel';
import type {
  ClassEdit,
  EditLabel,
  EditorCommand,
  EditorSettings,
  FromWebviewMessage,
  InitMessage,
  MessageEndpoint,
  ToolName,
  ToWebviewMessage,
} from '../src/protocol/webview';
import { decodeDelta } from '../src/core/editDeltas';
import { Pane, type PaneHost } from './pane';
import type { LayerStyle, PlaneImageInput } from './render';
import { Sidebar } from './sidebar';
import { StatusBar } from './statusBar';
import { DocumentStore, type VoxelBox } from './store';
import { Painter, type Stroke } from './tools';

/** What the webview remembers across reloads (VS Code's webview state). */
interface SavedViewState {
  fileName: string;
  crosshair: Vec3;
  tool: ToolName;
  brushSize: number;
  activeClass: number;
  layoutMode: 'three' | 'single';
  maximized: PlaneName;
  outline: boolean;
}

type Drag =
  | { kind: 'stroke'; pane: Pane; stroke: Stroke; label: EditLabel }
  | { kind: 'crosshair'; pane: Pane }
  | { kind: 'pan'; pane: Pane; x: number; y: number; panX: number; panY: number }
  | { kind: 'window'; x: number; y: number; start: WindowLevel };

export const MAX_BRUSH = 99;

export class EditorApp implements PaneHost {
  readonly store: DocumentStore;
  readonly panes: Pane[];
  crosshair: Vec3;
  tool: ToolName = 'navigate';
  brushSize = 5;
  activeClass = 2;
  labelOpacity: number;
  predictionOpacity: number;
  outline = false;
  predictionOutline = false;
  showPrediction = true;
  window: WindowLevel = { width: 1, level: 0.5 };
  windowPresets: WindowPreset[] = [];
  windowName = 'Automatic';
  layoutMode: 'three' | 'single' = 'three';
  maximized: PlaneName = 'axial';
  activePane: Pane;
  settings: EditorSettings;
  ready = false;
  /** Edits sent to the host and not answered yet. */
  pendingEdits = 0;
  /** Time from the last pointer event of a stroke to the end of the frame that drew it, ms (for the benchmark). */
  readonly inputLatencies: number[] = [];
  private pendingInputTime: number | undefined;
  private lookup: Uint8Array | undefined;
  /** Bumped whenever the window changes (panes cache their gray images until then). */
  windowVersion = 0;
  private readonly painter: Painter;
  private readonly sidebar: Sidebar;
  private readonly status: StatusBar;
  private readonly grid: HTMLDivElement;
  private readonly labeledList: HTMLDivElement;
  private drag: Drag | undefined;
  private frameRequested = false;
  private wheelRemainder = 0;
  private readonly loadStart = performance.now();
  private receiveMs = 0;
  private statsMin = 0;
  private statsMax = 1;

  constructor(
    init: InitMessage,
    private readonly endpoint: MessageEndpoint<FromWebviewMessage, ToWebviewMessage>,
    private readonly saveState: (state: SavedViewState) => void,
    savedState: unknown,
  ) {
    this.store = new DocumentStore(init.volume, init.labelType);
    this.store.setClasses(init.classes);
    this.settings = init.settings;
    this.labelOpacity = init.settings.labelOpacity;
    this.predictionOpacity = init.settings.predictionOpacity;
    const dims = init.volume.dims;
    this.crosshair = [Math.floor(dims[0] / 2), Math.floor(dims[1] / 2), Math.floor(dims[2] / 2)];
    this.activeClass = init.classes.length >= 2 ? 2 : 1;
    this.restore(savedState);
    this.painter = new Painter(this.store);
    const layouts = planeLayouts(dims, init.volume.spacing, init.volume.affine, init.settings.leftRight);
    this.panes = layouts.map((layout) => new Pane(layout.plane, layout, this));
    for (const pane of this.panes) pane.requestDraw = () => this.requestFrame();
    this.activePane = this.panes.find((p) => p.plane === this.maximized) ?? this.panes[0];

    const root = document.getElementById('app')!;
    root.textContent = '';
    root.className = 'editor';
    this.sidebar = new Sidebar(this);
    const main = document.createElement('main');
    main.className = 'views';
    this.grid = document.createElement('div');
    this.grid.className = 'grid';
    const [axial, coronal, sagittal] = this.panes;
    this.labeledList = document.createElement('div');
    this.labeledList.className = 'info-cell';
    // ITK-SNAP's arrangement: axial | sagittal over coronal | (the list of labeled slices).
    this.grid.append(axial.element, sagittal.element, coronal.element, this.labeledList);
    this.status = new StatusBar();
    main.append(this.grid, this.status.element);
    root.append(this.sidebar.element, main);
    this.applyLayoutMode();
    this.attachKeys();
    this.status.setMessage(`Loading ${init.volume.fileName}…`);
  }

  private restore(saved: unknown): void {
    const s = saved as Partial<SavedViewState> | undefined;
    if (!s || s.fileName !== this.store.info.fileName) return;
    const dims = this.store.dims;
    if (Array.isArray(s.crosshair) && s.crosshair.every((v, a) => Number.isInteger(v) && v >= 0 && v < dims[a])) this.crosshair = [...s.crosshair] as Vec3;
    if (s.tool && ['navigate', 'brush', 'eraser', 'fill'].includes(s.tool)) this.tool = s.tool;
    if (typeof s.brushSize === 'number' && s.brushSize >= 1 && s.brushSize <= MAX_BRUSH) this.brushSize = s.brushSize;
    if (typeof s.activeClass === 'number' && s.activeClass >= 1 && s.activeClass <= this.store.classes.length) this.activeClass = s.activeClass;
    if (s.layoutMode === 'single' || s.layoutMode === 'three') this.layoutMode = s.layoutMode;
    if (s.maximized && PLANES.includes(s.maximized)) this.maximized = s.maximized;
    if (typeof s.outline === 'boolean') this.outline = s.outline;
  }

  private persist(): void {
    this.saveState({
      fileName: this.store.info.fileName,
      crosshair: [...this.crosshair] as Vec3,
      tool: this.tool,
      brushSize: this.brushSize,
      activeClass: this.activeClass,
      layoutMode: this.layoutMode,
      maximized: this.maximized,
      outline: this.outline,
    });
  }

  // ------------------------------------------------------------ host messages

  /** Messages are handled one after another (inflating a voxel chunk takes a moment; what follows waits). */
  private queue: Promise<void> = Promise.resolve();

  handle(message: ToWebviewMessage): void {
    this.queue = this.queue
      .then(() => this.handleNow(message))
      .catch((error: unknown) => {
        const text = error instanceof Error ? error.message : String(error);
        this.status.setMessage(`Error: ${text}`, 'error');
        void this.endpoint.send({ type: 'log', level: 'error', message: `${message.type}: ${error instanceof Error ? error.stack ?? text : text}` });
      });
  }

  private async receiveChunk(byteOffset: number, byteLength: number, encoding: 'raw' | 'deflate-raw', bytes: ArrayBuffer): Promise<void> {
    let voxels = bytes;
    if (encoding === 'deflate-raw') {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate-raw'));
      voxels = await new Response(stream).arrayBuffer();
    }
    if (voxels.byteLength !== byteLength) throw new Error(`a voxel chunk holds ${voxels.byteLength} bytes, expected ${byteLength}`);
    const done = this.store.receiveChunk(byteOffset, voxels);
    const percent = Math.round(((byteOffset + byteLength) / Math.max(1, this.store.info.byteLength)) * 100);
    this.status.setMessage(`Loading ${this.store.info.fileName}… ${percent} %`);
    if (done) this.onVoxelsReceived();
  }

  private async handleNow(message: ToWebviewMessage): Promise<void> {
    switch (message.type) {
      case 'volumeChunk':
        await this.receiveChunk(message.byteOffset, message.byteLength, message.encoding, message.bytes);
        break;
      case 'labels':
        this.store.setLabels(new Uint32Array(message.runs), message.labelType);
        this.invalidateAll();
        if (message.reason === 'open') this.onLabelsReceived();
        if (message.reason === 'revert') this.status.setMessage('Labels reverted to the saved files.');
        break;
      case 'delta': {
        const box = this.store.applyDelta(decodeDelta(message.delta), message.direction);
        this.invalidateBox(box);
        break;
      }
      case 'classes':
        this.store.setClasses(message.classes);
        if (this.activeClass > message.classes.length) this.activeClass = message.classes.length;
        this.invalidateAll();
        break;
      case 'prediction':
        this.store.setPrediction(message.name, message.runs ? new Uint32Array(message.runs) : null, message.maxValue);
        if (message.name) this.status.setMessage(`Prediction ${message.name} shown.`);
        this.invalidateAll();
        break;
      case 'settings':
        this.applySettings(message.settings);
        break;
      case 'command':
        this.runCommand(message.command);
        break;
      case 'notice':
        this.status.setMessage(message.message, message.level);
        break;
      case 'reveal':
        this.setCrosshair(message.voxel);
        if (message.message) this.status.setMessage(message.message);
        break;
      case 'editResult':
      case 'init':
        break; // replies are routed to their requests; init is handled by main
    }
  }

  private onVoxelsReceived(): void {
    this.receiveMs = performance.now() - this.loadStart;
    const { voxels, info } = this.store;
    const stats = volumeStats({ data: voxels, sclSlope: info.sclSlope, sclInter: info.sclInter });
    this.statsMin = stats.min;
    this.statsMax = stats.max;
    this.window = automaticWindow(voxels, info.sclSlope, info.sclInter);
    const presets: WindowPreset[] = [
      { name: 'Automatic', ...this.window },
      { name: 'Full range', ...windowOfRange(stats.min, stats.max) },
      { name: '2–98 %', ...windowOfRange(...intensityPercentiles(voxels, info.sclSlope, info.sclInter, 2, 98)) },
    ];
    if (looksLikeCt(stats.min, stats.max)) presets.push(...CT_PRESETS);
    this.windowPresets = presets;
    this.updateLookup();
  }

  private onLabelsReceived(): void {
    this.ready = true;
    this.invalidateAll();
    const start = performance.now();
    this.drawNow();
    const firstRenderMs = performance.now() - start;
    const info = this.store.info;
    this.status.setMessage(
      `${info.fileName}: ${info.dims.join(' × ')} ${info.datatype}, ${info.spacing.map((s) => +s.toFixed(3)).join(' × ')} mm, ${info.axisCodes}` +
        (info.frames > 1 ? ` (frame 1 of ${info.frames})` : '') +
        info.warnings.map((w) => `. Warning: ${w}`).join(''),
      info.warnings.length ? 'warning' : 'info',
    );
    document.body.dataset.state = 'ready';
    void this.endpoint.send({ type: 'loaded', receiveMs: this.receiveMs, firstRenderMs });
  }

  private applySettings(settings: EditorSettings): void {
    const relayout = settings.leftRight !== this.settings.leftRight;
    this.settings = settings;
    this.labelOpacity = settings.labelOpacity;
    this.predictionOpacity = settings.predictionOpacity;
    if (relayout) {
      const info = this.store.info;
      const layouts = planeLayouts(info.dims, info.spacing, info.affine, settings.leftRight);
      this.panes.forEach((pane, i) => pane.setLayout(layouts[i]));
    }
    this.invalidateAll();
  }

  // ------------------------------------------------------------ commands

  runCommand(command: EditorCommand): void {
    switch (command.command) {
      case 'tool':
        this.setTool(command.tool);
        break;
      case 'fillSlice':
        this.fillSlice();
        break;
      case 'acceptPrediction':
        this.acceptPrediction();
        break;
      case 'toggleOutline':
        this.outline = !this.outline;
        this.invalidateAll();
        break;
      case 'togglePrediction':
        this.showPrediction = !this.showPrediction;
        this.invalidateAll();
        break;
      case 'brushSize':
        this.setBrushSize(this.brushSize + command.step);
        break;
      case 'toggleLayout':
        this.toggleMaximize(this.activePane);
        break;
      case 'resetView':
        for (const pane of this.panes) pane.resetView();
        this.requestFrame();
        break;
      case 'selectClass':
        this.selectClass(command.value);
        break;
      case 'nextLabeledSlice':
        this.jumpLabeled(this.activePane, command.step);
        break;
    }
    this.persist();
  }

  setTool(tool: ToolName): void {
    this.tool = tool;
    document.body.dataset.tool = tool;
    this.refreshControls();
    for (const pane of this.panes) pane.canvasDirty = true;
    this.requestFrame();
  }

  setBrushSize(size: number): void {
    this.brushSize = Math.max(1, Math.min(MAX_BRUSH, Math.round(size)));
    this.refreshControls();
    for (const pane of this.panes) pane.canvasDirty = true;
    this.requestFrame();
  }

  selectClass(value: number): void {
    if (value < 1 || value > this.store.classes.length) {
      this.status.setMessage(`There is no class ${value}.`, 'warning');
      return;
    }
    this.activeClass = value;
    if (this.tool === 'eraser' || this.tool === 'navigate') this.tool = 'brush';
    document.body.dataset.tool = this.tool;
    this.refreshControls();
    this.persist();
  }

  /** Asks the host for a class-list change (it becomes an undoable edit there). */
  async requestClassEdit(edit: ClassEdit): Promise<void> {
    const reply = await this.endpoint.request({ type: 'classEdit', edit });
    if (reply.type !== 'editResult') return;
    if (!reply.ok) {
      this.status.setMessage(`The class list was not changed: ${reply.reason}`, 'error');
      return;
    }
    if (edit.action === 'add') this.selectClass(this.store.classes.length);
    if (edit.action === 'remove') this.status.setMessage('Class removed with its labeled voxels (undo with Ctrl+Z).');
  }

  setWindow(window: WindowLevel, name: string): void {
    this.window = { width: Math.max(window.width, 1e-6), level: window.level };
    this.windowName = name;
    this.updateLookup();
    this.invalidateImages();
  }

  private updateLookup(): void {
    const info = this.store.info;
    this.lookup = grayLookupTable(info.datatype, info.sclSlope, info.sclInter, this.window);
    this.windowVersion++;
  }

  setOpacity(layer: 'labels' | 'prediction', opacity: number): void {
    if (layer === 'labels') this.labelOpacity = opacity;
    else this.predictionOpacity = opacity;
    this.invalidateImages();
  }

  setOutline(layer: 'labels' | 'prediction', outline: boolean): void {
    if (layer === 'labels') this.outline = outline;
    else this.predictionOutline = outline;
    this.invalidateAll();
    this.persist();
  }

  setShowPrediction(show: boolean): void {
    this.showPrediction = show;
    this.invalidateAll();
  }

  toggleMaximize(pane: Pane): void {
    if (this.layoutMode === 'single' && this.maximized === pane.plane) this.layoutMode = 'three';
    else {
      this.layoutMode = 'single';
      this.maximized = pane.plane;
    }
    this.applyLayoutMode();
    this.persist();
  }

  setLayoutMode(mode: 'three' | 'single'): void {
    this.layoutMode = mode;
    this.maximized = this.activePane.plane;
    this.applyLayoutMode();
    this.persist();
  }

  private applyLayoutMode(): void {
    this.grid.classList.toggle('single', this.layoutMode === 'single');
    for (const pane of this.panes) pane.element.classList.toggle('maximized', this.layoutMode === 'single' && pane.plane === this.maximized);
    this.refreshControls();
    this.invalidateAll();
  }

  /** Fills the unlabeled voxels of the active pane's slice with the active class. */
  fillSlice(): void {
    if (!this.ready) return;
    const pane = this.activePane;
    const delta = this.painter.fillUnlabeled(pane.layout, pane.slice, this.activeClass);
    this.commit('Fill slice', delta, `Slice ${pane.slice + 1} has no unlabeled voxel.`);
  }

  /** Takes the prediction on the active pane's slice into the labels. */
  acceptPrediction(): void {
    if (!this.ready) return;
    if (!this.store.prediction) {
      this.status.setMessage('There is no prediction to accept: run Segment, or open a NAME.seg.nii.gz with "Show Prediction".', 'warning');
      return;
    }
    if (this.store.predictionMax > this.store.classes.length) {
      this.status.setMessage(
        `The prediction holds class values up to ${this.store.predictionMax}, but the class list has ${this.store.classes.length}: add classes first.`,
        'warning',
      );
      return;
    }
    const pane = this.activePane;
    const delta = this.painter.acceptPrediction(pane.layout, pane.slice);
    this.commit('Accept prediction', delta, `The labels of slice ${pane.slice + 1} already match the prediction.`);
  }

  /** Sends a delta made here to the host (it is already applied here) and redraws what it touched. */
  private commit(label: EditLabel, delta: LabelDelta | undefined, nothingMessage?: string): void {
    if (!delta) {
      if (nothingMessage) this.status.setMessage(nothingMessage);
      return;
    }
    this.store.noteEdited(delta);
    this.invalidateBox(deltaBounds(delta, this.store.dims));
    this.pendingEdits++;
    document.body.dataset.pendingEdits = String(this.pendingEdits);
    void this.endpoint
      .request({ type: 'edit', label, delta: encodeDelta(delta) })
      .then((reply) => {
        if (reply.type === 'editResult' && !reply.ok) this.status.setMessage(`The edit was refused: ${reply.reason}`, 'error');
      })
      .finally(() => {
        this.pendingEdits--;
        document.body.dataset.pendingEdits = String(this.pendingEdits);
      });
  }

  // ------------------------------------------------------------ navigation

  setCrosshair(ijk: Vec3): void {
    const dims = this.store.dims;
    const next: Vec3 = [0, 1, 2].map((a) => Math.max(0, Math.min(dims[a] - 1, Math.round(ijk[a])))) as Vec3;
    for (const pane of this.panes) {
      if (next[pane.layout.sliceAxis] !== this.crosshair[pane.layout.sliceAxis]) pane.imageDirty = true;
      pane.canvasDirty = true;
    }
    this.crosshair = next;
    this.requestFrame();
    this.refreshLabeledList();
    this.persistSoon();
  }

  stepSlice(pane: Pane, step: number): void {
    const next: Vec3 = [...this.crosshair] as Vec3;
    next[pane.layout.sliceAxis] += step;
    this.setCrosshair(next);
    this.status.showVoxel(this, next);
  }

  goToSlice(pane: Pane, slice: number): void {
    const next: Vec3 = [...this.crosshair] as Vec3;
    next[pane.layout.sliceAxis] = slice;
    this.setCrosshair(next);
  }

  jumpLabeled(pane: Pane, step: 1 | -1): void {
    const slices = this.store.labeledSlices(pane.layout.sliceAxis);
    const current = pane.slice;
    const target = step > 0 ? slices.find((s) => s > current) : [...slices].reverse().find((s) => s < current);
    if (target === undefined) {
      this.status.setMessage(slices.length ? `No labeled ${pane.plane} slice ${step > 0 ? 'after' : 'before'} this one.` : `No ${pane.plane} slice carries labels yet.`);
      return;
    }
    this.goToSlice(pane, target);
  }

  private readonly persistSoon = coalesce(() => this.persist(), 500);

  // ------------------------------------------------------------ PaneHost

  imageInput(pane: Pane): PlaneImageInput {
    const { store } = this;
    const info = store.info;
    const axis = pane.layout.sliceAxis;
    const slice = pane.slice;
    const layers: LayerStyle[] = [];
    const { rowAxis, rowFlip, height } = pane.layout;
    // Rows whose slice along the row axis holds nothing cannot hold anything here either.
    const rowMask = (counts: Uint32Array) => {
      const mask = new Uint8Array(height);
      for (let r = 0; r < height; r++) mask[r] = counts[rowFlip ? height - 1 - r : r] > 0 ? 1 : 0;
      return mask;
    };
    if (store.prediction && this.showPrediction && store.predictionCounts && store.predictionCounts[axis][slice] > 0) {
      layers.push({
        values: store.prediction,
        colors: store.colors,
        opacity: this.predictionOpacity,
        outline: this.predictionOutline,
        minValue: 2,
        rowMask: rowMask(store.predictionCounts[rowAxis]),
      });
    }
    if (store.counts[axis][slice] > 0) {
      layers.push({ values: store.labels, colors: store.colors, opacity: this.labelOpacity, outline: this.outline, minValue: 1, rowMask: rowMask(store.counts[rowAxis]) });
    }
    return {
      indices: pane.currentIndices(),
      width: pane.layout.width,
      height: pane.layout.height,
      voxels: this.store.voxels,
      lookup: this.lookup,
      lookupOffset: lookupOffset(info.datatype),
      slope: info.sclSlope,
      inter: info.sclInter,
      window: this.window,
      layers,
    };
  }

  annotatedSlices(axis: 0 | 1 | 2): Set<number> {
    return this.store.annotated[axis];
  }

  brushOutlineMm(): number {
    if (this.tool !== 'brush' && this.tool !== 'eraser') return 0;
    const s = this.store.info.spacing;
    const layout = this.activePane.layout;
    return this.brushSize * Math.min(s[layout.colAxis], s[layout.rowAxis]);
  }

  onActivate(pane: Pane): void {
    if (this.drag) return;
    if (this.activePane !== pane) {
      this.activePane.element.classList.remove('active');
      this.activePane = pane;
    }
    pane.element.classList.add('active');
  }

  onPointerDown(pane: Pane, event: PointerEvent, col: number, row: number): void {
    if (!this.ready || this.drag) return;
    if (event.button === 2) {
      this.drag = { kind: 'window', x: event.clientX, y: event.clientY, start: { ...this.window } };
      return;
    }
    if (event.button === 1 || (event.button === 0 && event.shiftKey)) {
      this.drag = { kind: 'pan', pane, x: event.clientX, y: event.clientY, panX: pane.panX, panY: pane.panY };
      return;
    }
    if (event.button !== 0) return;
    if (this.tool === 'navigate' || event.ctrlKey || event.metaKey) {
      this.drag = { kind: 'crosshair', pane };
      this.moveCrosshairTo(pane, col, row);
      return;
    }
    if (this.tool === 'fill') {
      const voxel = pane.voxelAt(col, row);
      if (!voxel) return;
      this.commit('Fill', this.painter.fill(pane.layout, voxel, this.activeClass));
      return;
    }
    const value = this.tool === 'eraser' ? 0 : this.activeClass;
    const { stroke, box } = this.painter.beginStroke(pane.layout, pane.slice, value, this.brushSize, col, row);
    this.drag = { kind: 'stroke', pane, stroke, label: this.tool === 'eraser' ? 'Erase' : 'Brush' };
    this.pendingInputTime = event.timeStamp;
    this.invalidateBox(box);
  }

  onPointerMove(pane: Pane, event: PointerEvent, col: number, row: number): void {
    const drag = this.drag;
    if (drag?.kind === 'stroke' && drag.pane === pane) {
      const box = this.painter.continueStroke(drag.stroke, col, row);
      this.pendingInputTime = event.timeStamp;
      this.invalidateBox(box);
    } else if (drag?.kind === 'crosshair' && drag.pane === pane) {
      this.moveCrosshairTo(pane, col, row);
    } else if (drag?.kind === 'pan') {
      drag.pane.panX = drag.panX + (event.clientX - drag.x);
      drag.pane.panY = drag.panY + (event.clientY - drag.y);
      drag.pane.canvasDirty = true;
    } else if (drag?.kind === 'window') {
      this.setWindow(dragWindow(drag.start, event.clientX - drag.x, event.clientY - drag.y), 'Custom');
      this.refreshControls();
    }
    pane.canvasDirty = true;
    const voxel = pane.voxelAt(col, row);
    if (voxel) this.status.showVoxel(this, voxel);
    else this.status.clearVoxel();
    this.requestFrame();
  }

  onPointerUp(_pane: Pane, _event: PointerEvent): void {
    const drag = this.drag;
    this.drag = undefined;
    if (drag?.kind === 'stroke') this.commit(drag.label, this.painter.endStroke(drag.stroke));
    if (drag?.kind === 'window') this.refreshControls();
  }

  private moveCrosshairTo(pane: Pane, col: number, row: number): void {
    const c = Math.max(0, Math.min(pane.layout.width - 1, Math.floor(col)));
    const r = Math.max(0, Math.min(pane.layout.height - 1, Math.floor(row)));
    const voxel = pane.voxelAt(c, r);
    if (voxel) this.setCrosshair(voxel);
  }

  onWheel(pane: Pane, event: WheelEvent): void {
    if (!this.ready) return;
    if (event.ctrlKey || event.metaKey) {
      const rect = pane.canvas.getBoundingClientRect();
      pane.zoomAt(Math.exp(-event.deltaY * 0.002), event.clientX - rect.left, event.clientY - rect.top);
      this.requestFrame();
      return;
    }
    if (this.drag?.kind === 'stroke') return; // the slice stays put while painting
    // Trackpads send many small deltas: step one slice per 50 pixels, a mouse notch per notch.
    const delta = event.deltaMode === WheelEvent.DOM_DELTA_LINE ? event.deltaY * 16 : event.deltaY;
    this.wheelRemainder += delta;
    const steps = Math.trunc(this.wheelRemainder / 50) || (Math.abs(delta) >= 50 ? Math.sign(delta) : 0);
    if (steps === 0) return;
    this.wheelRemainder = Math.abs(delta) >= 50 ? 0 : this.wheelRemainder - steps * 50;
    this.stepSlice(pane, -steps);
  }

  onHeaderDoubleClick(pane: Pane): void {
    this.toggleMaximize(pane);
  }

  onToggleMaximize(pane: Pane): void {
    this.toggleMaximize(pane);
  }

  onJumpLabeled(pane: Pane, step: 1 | -1): void {
    this.onActivate(pane);
    this.jumpLabeled(pane, step);
  }

  onSliceBar(pane: Pane, slice: number): void {
    this.goToSlice(pane, slice);
  }

  private attachKeys(): void {
    window.addEventListener('keydown', (e) => {
      if (!this.ready || isTextInput(e.target)) return;
      const pane = this.activePane;
      switch (e.key) {
        case 'ArrowUp':
        case 'ArrowRight':
          this.stepSlice(pane, e.shiftKey ? 10 : 1);
          break;
        case 'ArrowDown':
        case 'ArrowLeft':
          this.stepSlice(pane, e.shiftKey ? -10 : -1);
          break;
        case 'PageUp':
          this.stepSlice(pane, 10);
          break;
        case 'PageDown':
          this.stepSlice(pane, -10);
          break;
        case 'Home':
          this.goToSlice(pane, 0);
          break;
        case 'End':
          this.goToSlice(pane, pane.layout.sliceCount - 1);
          break;
        case '+':
        case '=': {
          const { width, height } = pane.size;
          pane.zoomAt(1.25, width / 2, height / 2);
          this.requestFrame();
          break;
        }
        case '-': {
          const { width, height } = pane.size;
          pane.zoomAt(0.8, width / 2, height / 2);
          this.requestFrame();
          break;
        }
        case 'Escape':
          if (this.drag?.kind === 'stroke') {
            const box = this.drag.stroke.box;
            this.painter.cancelStroke(this.drag.stroke);
            this.drag = undefined;
            this.invalidateBox(box);
          }
          return;
        default:
          return;
      }
      e.preventDefault();
    });
  }

  // ------------------------------------------------------------ drawing

  private invalidateAll(): void {
    this.invalidateImages();
    this.refreshControls();
    this.refreshLabeledList();
  }

  /** Every pane's image must be composed again (window, opacity, colours). */
  private invalidateImages(): void {
    for (const pane of this.panes) {
      pane.imageDirty = true;
      pane.canvasDirty = true;
    }
    this.requestFrame();
  }

  /** Marks for redraw the rows of the panes whose current slice crosses `box` (labels changed there). */
  private invalidateBox(box: VoxelBox): void {
    if (!(box.min[0] <= box.max[0])) return; // empty
    for (const pane of this.panes) {
      const { sliceAxis, rowAxis } = pane.layout;
      if (pane.slice >= box.min[sliceAxis] && pane.slice <= box.max[sliceAxis]) pane.markRowsDirty(...pane.rowsOfVoxels(box.min[rowAxis], box.max[rowAxis]));
      pane.canvasDirty = true; // the slice bar's ticks may change
    }
    this.refreshLabeledListSoon();
    this.requestFrame();
  }

  requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.drawNow();
    });
  }

  /** Draws every visible pane that needs it, now. */
  drawNow(): void {
    if (!this.ready) return;
    for (const pane of this.panes) if (this.isVisible(pane)) pane.draw();
    if (this.pendingInputTime !== undefined) {
      this.inputLatencies.push(performance.now() - this.pendingInputTime);
      if (this.inputLatencies.length > 1000) this.inputLatencies.shift();
      this.pendingInputTime = undefined;
    }
  }

  isVisible(pane: Pane): boolean {
    return this.layoutMode === 'three' || pane.plane === this.maximized;
  }

  private refreshControls(): void {
    this.sidebar?.refresh();
  }

  private readonly refreshLabeledListSoon = coalesce(() => this.refreshLabeledList(), 150);

  /** The list of labeled slices per plane, each a button that jumps there. */
  private refreshLabeledList(): void {
    if (!this.labeledList) return;
    const list = this.labeledList;
    list.textContent = '';
    const title = document.createElement('div');
    title.className = 'info-title';
    title.textContent = 'Annotated slices';
    list.append(title);
    for (const pane of this.panes) {
      const row = document.createElement('div');
      row.className = 'labeled-row';
      row.dataset.plane = pane.plane;
      const name = document.createElement('span');
      name.className = 'labeled-plane';
      name.textContent = pane.plane[0].toUpperCase() + pane.plane.slice(1);
      row.append(name);
      const slices = this.store.labeledSlices(pane.layout.sliceAxis);
      if (slices.length === 0) {
        const none = document.createElement('span');
        none.className = 'labeled-none';
        none.textContent = 'none';
        row.append(none);
      }
      for (const s of slices) {
        const chip = document.createElement('button');
        chip.className = 'slice-chip';
        chip.textContent = String(s + 1);
        chip.title = `Go to ${pane.plane} slice ${s + 1}`;
        if (s === pane.slice) chip.classList.add('current');
        chip.addEventListener('click', () => {
          this.onActivate(pane);
          this.goToSlice(pane, s);
        });
        row.append(chip);
      }
      list.append(row);
    }
    const help = document.createElement('div');
    help.className = 'help';
    for (const line of [
      'Wheel or ↑↓: slice · Shift: ×10',
      'Ctrl+wheel: zoom · Shift+drag or middle drag: pan',
      'Right drag: window/level · Ctrl+click: crosshair',
      'N navigate · B brush · E eraser · F fill · [ ] size',
      'Shift+F fill slice · Shift+A accept prediction · 1–9 class',
    ]) {
      const p = document.createElement('div');
      p.textContent = line;
      help.append(p);
    }
    list.append(help);
  }

  // ------------------------------------------------------------ for tests and the benchmark

  /**
   * Composes and draws all three panes now, each image rebuilt from the voxels (gray cache
   * dropped); returns the time taken in total and per pane, ms.
   */
  redrawAllTimed(): { total: number; panes: Record<PlaneName, number> } {
    this.windowVersion++; // drops the gray caches
    const panes = {} as Record<PlaneName, number>;
    const start = performance.now();
    for (const pane of this.panes) {
      const t = performance.now();
      pane.imageDirty = true;
      pane.canvasDirty = true;
      pane.draw();
      panes[pane.plane] = performance.now() - t;
    }
    return { total: performance.now() - start, panes };
  }

  worldOf(ijk: Vec3): Vec3 {
    return voxelToWorld(this.store.info.affine, ijk);
  }

  intensityRange(): [number, number] {
    return [this.statsMin, this.statsMax];
  }
}

/** A function that runs `action` once, `delayMs` after the first call of a burst. */
function coalesce(action: () => void, delayMs: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      action();
    }, delayMs);
  };
}

function isTextInput(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'VSCODE-TEXTFIELD' || target.isContentEditable;
}
