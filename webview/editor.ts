/**
 * The volume editor in the webview: builds the page (side bar, the three panes, the annotated
 * slice list, the status line) and carries out what the user and the host ask: tools, classes,
 * window/level, layout, navigation and the edits sent to the host. What it holds lives in
 * the modules it wires together: the document (store), the view settings (viewState), the
 * window (grayWindow), the host's messages (hostMessages), the input (input) and the frames
 * (schedule); each reaches the editor only through the small host interface it declares.
 */
import { isNearlyEmptySlice } from '../src/core/annotatedSlices';
import { deltaValueCounts, encodeDelta, type LabelDelta } from '../src/core/editDeltas';
import { voxelToWorld, type Vec3 } from '../src/core/geometry';
import { describeSlice, planeLayouts, type PlaneName } from '../src/core/planes';
import type { Axis } from '../src/core/slices';
import type { WindowLevel } from '../src/core/windowLevel';
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
import { adjacentAnnotatedSlice, AnnotatedSliceList, noAdjacentSliceMessage, type AnnotatedListHost } from './annotatedList';
import { GrayWindow } from './grayWindow';
import { HostMessages, type HostMessageTarget } from './hostMessages';
import { acceptedPredictionMessage, capitalized, nearlyEmptySliceMessage } from './messages';
import { EditorInput, type InputHost } from './input';
import { Pane, type PaneHost } from './pane';
import { planeImageInput } from './planeImage';
import type { LayerLook, PlaneImageInput } from './render';
import { coalesce, FrameScheduler } from './schedule';
import { section, Sidebar, type SidebarHost } from './sidebar';
import { loadingLine, paneLoadingNote, setPaneNote } from './loadProgress';
import { StatusBar, type StatusBarHost } from './statusBar';
import { DocumentStore, type LabelChange } from './store';
import { View3dPane } from './view3dPane';
import type { View3dAssets, View3dHost } from './view3dTypes';
import { VoxelLoader, type VoxelLoadingHost } from './voxelLoading';
import { Painter } from './tools';
import {
  clampBrushSize,
  initialViewState,
  isPlaneVisible,
  isSidebarHidden,
  restoreViewState,
  savedViewState,
  type LayoutMode,
  type PaneName,
  type SavedViewState,
  type ViewState,
} from './viewState';

/** Voxels of the first three planes the window's percentiles are read from (every voxel's once they are in). */
const FIRST_PLANES_SAMPLES = 1 << 15;

export class Editor implements PaneHost, SidebarHost, StatusBarHost, AnnotatedListHost, InputHost, HostMessageTarget, VoxelLoadingHost {
  readonly store: DocumentStore;
  readonly view: ViewState;
  readonly gray: GrayWindow;
  readonly panes: Pane[];
  readonly frames: FrameScheduler;
  activePane: Pane;
  settings: EditorSettings;
  /** The labels and the planes through the crosshair have arrived: the editor draws and takes input. */
  ready = false;
  /** Where the voxels come from, and which are there yet. */
  readonly loader: VoxelLoader;
  /** When the first planes were drawn and when every voxel was in (epoch ms), for tests and the benchmark. */
  readonly timings: { firstPlanesAt?: number; wholeVolumeAt?: number; filledAtFirstPlanes?: number } = {};
  private labelsIn = false;
  /** Edits sent to the host and not answered yet. */
  pendingEdits = 0;
  private readonly painter: Painter;
  private readonly input: EditorInput;
  private readonly messages: HostMessages;
  private readonly sidebar: Sidebar;
  private readonly status: StatusBar;
  private readonly grid: HTMLDivElement;
  private readonly root: HTMLElement;
  private readonly annotatedList: AnnotatedSliceList;
  /** The fourth pane: labels and prediction in 3D. */
  readonly view3d: View3dPane;

  constructor(
    init: InitMessage,
    private readonly endpoint: MessageEndpoint<FromWebviewMessage, ToWebviewMessage>,
    private readonly saveState: (state: SavedViewState) => void,
    savedState: unknown,
    /** Where the 3D view's code is (its bundle and its mesh worker's), loaded once every voxel is in. */
    view3dAssets: View3dAssets = {},
  ) {
    const info = init.volume;
    this.store = new DocumentStore(info, init.labelType, (change) => this.onLabelsChange(change));
    this.store.setClasses(init.classes);
    this.settings = init.settings;
    this.view = initialViewState(info.dims, init.classes.length, init.settings);
    restoreViewState(this.view, savedState, info.fileName, info.dims, this.store.classes.length);
    // The first planes go through the host's crosshair (the one the saved state asked for, where it fits).
    this.view.crosshair = [...init.crosshair] as Vec3;
    this.gray = new GrayWindow(info);
    this.painter = new Painter(this.store);
    const layouts = planeLayouts(info.dims, info.spacing, info.affine, init.settings.leftRight);
    this.panes = layouts.map((layout) => new Pane(layout.plane, layout, this));
    this.frames = new FrameScheduler(this.panes, () => this.ready, (pane) => isPlaneVisible(this.view, pane.plane));
    for (const pane of this.panes) pane.requestDraw = () => this.frames.requestFrame();
    this.activePane = this.panes.find((p) => p.plane === this.view.maximized) ?? this.panes[0];
    this.input = new EditorInput(this, this.painter);
    this.loader = new VoxelLoader(this.store.voxels, info.dims, info.datatype, init.voxels, this);
    this.messages = new HostMessages(this);

    const root = document.getElementById('app')!;
    root.textContent = '';
    root.className = 'editor';
    this.sidebar = new Sidebar(this);
    const main = document.createElement('main');
    main.className = 'views';
    this.grid = document.createElement('div');
    this.grid.className = 'grid';
    const [axial, coronal, sagittal] = this.panes;
    this.annotatedList = new AnnotatedSliceList(this);
    this.view3d = new View3dPane(this.view3dHost(), view3dAssets);
    // ITK-SNAP's arrangement: axial | sagittal over coronal | 3D; the annotated slices and the keys in the side bar.
    this.grid.append(axial.element, sagittal.element, coronal.element, this.view3d.element);
    this.sidebar.element.append(section('Annotated slices', this.annotatedList.element), section('Keys', this.annotatedList.helpElement));
    this.status = new StatusBar(this);
    main.append(this.grid, this.status.element);
    root.append(this.sidebar.strip, this.sidebar.element, main);
    this.root = root;
    new ResizeObserver(() => this.applySidebar()).observe(root);
    this.applySidebar();
    this.applyLayoutMode();
    this.input.attachKeys(window);
    this.status.setMessage(`Loading ${info.fileName}…`);
  }

  /** What the 3D view reads of the editor, and what it asks of it. */
  private view3dHost(): View3dHost {
    const editor = this;
    const { store } = this;
    return {
      dims: store.dims,
      affine: store.info.affine,
      spacing: store.info.spacing,
      get crosshair() {
        return editor.view.crosshair;
      },
      get labels() {
        return store.labels;
      },
      get labelCountsZ() {
        return store.counts[2];
      },
      get prediction() {
        return store.prediction;
      },
      get predictionCountsZ() {
        return store.predictionCounts?.[2];
      },
      get colors() {
        return store.colors;
      },
      get showPrediction() {
        return editor.view.showPrediction;
      },
      setCrosshair: (voxel) => this.setCrosshair(voxel),
      onToggleMaximize3d: () => this.toggleMaximize(this.view3d),
      showMessage: (text, level) => this.status.setMessage(text, level),
      logError: (message) => this.logError(message),
    };
  }

  /** Handles a message from the host (in order, after those before it). */
  handle(message: ToWebviewMessage): void {
    this.messages.handle(message);
  }

  private persist(): void {
    this.saveState(savedViewState(this.view, this.store.info.fileName));
  }

  private readonly persistSoon = coalesce(() => this.persist(), 500);

  // ------------------------------------------------------------ HostMessageTarget

  showMessage(text: string, level: 'info' | 'warning' | 'error' = 'info'): void {
    this.status.setMessage(text, level);
  }

  logError(message: string): void {
    void this.endpoint.send({ type: 'log', level: 'error', message });
  }

  labelsOpened(): void {
    this.loader.mark('the labels from the host');
    this.labelsIn = true;
    this.startWhenPlanesAre();
  }

  /** Draws and takes input once the labels and the three planes through the crosshair are there. */
  private startWhenPlanesAre(): void {
    if (this.ready || !this.labelsIn || !this.loader.presence.planesPresent(this.view.crosshair)) return;
    this.ready = true;
    // The window from the three planes now; from every voxel once they are in.
    const sample = ([0, 1, 2] as Axis[]).map((axis) => this.loader.sliceVoxels(axis, this.view.crosshair[axis]));
    const joined = new (this.store.voxels.constructor as new (n: number) => typeof this.store.voxels)(sample.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const plane of sample) {
      joined.set(plane as ArrayLike<number>, at);
      at += plane.length;
    }
    // 2^15 of their voxels give the percentiles to a fraction of a gray level; the first draw waits for it.
    this.gray.fit(joined, FIRST_PLANES_SAMPLES);
    this.invalidateAll();
    this.frames.drawNow();
    this.timings.firstPlanesAt = performance.timeOrigin + performance.now();
    this.loader.mark('the first planes drawn');
    this.timings.filledAtFirstPlanes = this.loader.presence.filled;
    document.body.dataset.state = 'ready';
    this.showLoadProgress();
    this.reportCrosshairSoon();
    if (this.loader.presence.complete) this.voxelsComplete();
  }

  // ------------------------------------------------------------ VoxelLoadingHost

  voxelsArrived(): void {
    if (!this.ready) {
      this.startWhenPlanesAre();
      return;
    }
    this.showLoadProgressSoon();
  }

  voxelsComplete(): void {
    if (!this.ready || this.timings.wholeVolumeAt !== undefined) return;
    this.timings.wholeVolumeAt = performance.timeOrigin + performance.now();
    if (this.gray.name === 'Automatic') this.gray.fit(this.store.voxels);
    else this.gray.dropCaches();
    this.showLoadProgress();
    this.invalidateAll();
    const info = this.store.info;
    this.status.setMessage(
      `${info.fileName}: ${info.dims.join(' × ')} ${info.datatype}, ${info.spacing.map((s) => +s.toFixed(3)).join(' × ')} mm, ${info.axisCodes}` +
        (info.frames > 1 ? ` (frame 1 of ${info.frames})` : '') +
        info.warnings.map((w) => `. Warning: ${w}`).join(''),
      info.warnings.length ? 'warning' : 'info',
    );
    document.body.dataset.voxels = 'all';
    this.view3d.activate();
    const origin = performance.timeOrigin;
    void this.endpoint.send({
      type: 'loaded',
      firstPlanesMs: this.timings.firstPlanesAt! - origin,
      wholeVolumeMs: this.timings.wholeVolumeAt - origin,
      transport: this.loader.transport,
      voxelBytes: this.store.voxels.byteLength,
    });
  }

  voxelValue(index: number): number {
    return this.loader.valueAt(index);
  }

  fetchRouteFailed(reason: string): void {
    void this.endpoint.send({ type: 'log', level: 'warning', message: `fetching the volume: ${reason}` });
  }

  fetchFailed(reason: string): void {
    this.logError(`fetching the volume failed: ${reason}`);
    void this.endpoint.send({ type: 'voxelsFailed', reason });
  }

  /** The progress line, and a note on each pane whose slice is not there yet; panes still filling are drawn again. */
  private showLoadProgress(): void {
    const { presence } = this.loader;
    if (!presence.complete) this.status.setMessage(loadingLine(this.store.info.fileName, presence.filled, presence.total, this.ready));
    const percent = Math.floor(presence.fraction * 100);
    let filling = false;
    for (const pane of this.panes) {
      const present = presence.slicePresent(pane.layout.sliceAxis, pane.slice);
      setPaneNote(pane.element, present ? undefined : paneLoadingNote(pane.plane, percent));
      if (!present || pane.element.dataset.filling === 'true') filling = true;
      pane.element.dataset.filling = String(!present);
    }
    // A slice that is filling (or has just filled) is composed again from the voxels.
    if (filling) {
      this.gray.dropCaches();
      this.frames.invalidateImages();
    }
  }

  private readonly showLoadProgressSoon = coalesce(() => this.showLoadProgress(), 120);

  canPaint(pane: Pane): boolean {
    if (this.loader.presence.slicePresent(pane.layout.sliceAxis, pane.slice)) return true;
    this.status.setMessage(`This ${pane.plane} slice is still loading (${Math.floor(this.loader.presence.fraction * 100)} %): paint on it once it is shown whole.`, 'warning');
    return false;
  }

  classesChanged(): void {
    const count = this.store.classes.length;
    if (this.view.activeClass > count) this.view.activeClass = count;
    this.invalidateAll();
  }

  predictionChanged(): void {
    this.invalidateAll();
  }

  applySettings(settings: EditorSettings): void {
    const relayout = settings.leftRight !== this.settings.leftRight;
    this.settings = settings;
    this.view.labelOpacity = settings.labelOpacity;
    this.view.predictionOpacity = settings.predictionOpacity;
    if (relayout) {
      const info = this.store.info;
      const layouts = planeLayouts(info.dims, info.spacing, info.affine, settings.leftRight);
      this.panes.forEach((pane, i) => pane.setLayout(layouts[i]));
    }
    this.invalidateAll();
  }

  runCommand(command: EditorCommand): void {
    const view = this.view;
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
        view.outline = !view.outline;
        this.invalidateAll();
        break;
      case 'togglePrediction':
        view.showPrediction = !view.showPrediction;
        this.invalidateAll();
        break;
      case 'brushSize':
        this.setBrushSize(view.brushSize + command.step);
        break;
      case 'toggleLayout':
        this.toggleMaximize(this.activePane);
        break;
      case 'resetView':
        for (const pane of this.panes) pane.resetView();
        this.frames.requestFrame();
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

  // ------------------------------------------------------------ tools, classes, layers, window, layout

  setTool(tool: ToolName): void {
    this.view.tool = tool;
    document.body.dataset.tool = tool;
    this.refreshControls();
    this.frames.invalidateCanvases();
  }

  setBrushSize(size: number): void {
    this.view.brushSize = clampBrushSize(size);
    this.refreshControls();
    this.frames.invalidateCanvases();
  }

  selectClass(value: number): void {
    if (value < 1 || value > this.store.classes.length) {
      this.status.setMessage(`There is no class ${value}.`, 'warning');
      return;
    }
    const view = this.view;
    view.activeClass = value;
    if (view.tool === 'eraser' || view.tool === 'navigate') view.tool = 'brush';
    document.body.dataset.tool = view.tool;
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
    this.gray.set(window, name);
    this.frames.invalidateImages();
  }

  setOpacity(layer: 'labels' | 'prediction', opacity: number): void {
    if (layer === 'labels') this.view.labelOpacity = opacity;
    else this.view.predictionOpacity = opacity;
    this.frames.invalidateImages();
  }

  setOutline(outline: boolean): void {
    this.view.outline = outline;
    this.invalidateAll();
    this.persist();
  }

  setPredictionLook(look: LayerLook): void {
    this.view.predictionLook = look;
    this.invalidateAll();
    this.persist();
  }

  setShowPrediction(show: boolean): void {
    this.view.showPrediction = show;
    this.invalidateAll();
  }

  setSidebarHidden(hidden: boolean): void {
    // The user's choice; when it is what the editor's width would give anyway, back to automatic.
    const automatic = isSidebarHidden('auto', this.root.clientWidth);
    this.view.sidebar = hidden === automatic ? 'auto' : hidden ? 'hidden' : 'shown';
    this.applySidebar();
    this.persist();
  }

  private applySidebar(): void {
    const hidden = isSidebarHidden(this.view.sidebar, this.root.clientWidth);
    this.root.classList.toggle('sidebar-hidden', hidden);
    document.body.dataset.sidebar = hidden ? 'hidden' : 'shown';
  }

  toggleMaximize(pane: { readonly plane: PaneName }): void {
    const view = this.view;
    if (view.layoutMode === 'single' && view.maximized === pane.plane) view.layoutMode = 'three';
    else {
      view.layoutMode = 'single';
      view.maximized = pane.plane;
    }
    this.applyLayoutMode();
    this.persist();
  }

  setLayoutMode(mode: LayoutMode): void {
    this.view.layoutMode = mode;
    this.view.maximized = this.activePane.plane;
    this.applyLayoutMode();
    this.persist();
  }

  private applyLayoutMode(): void {
    const { layoutMode, maximized } = this.view;
    this.grid.classList.toggle('single', layoutMode === 'single');
    for (const pane of [...this.panes, this.view3d]) pane.element.classList.toggle('maximized', layoutMode === 'single' && pane.plane === maximized);
    this.refreshControls();
    this.invalidateAll();
  }

  // ------------------------------------------------------------ label edits

  /** Fills the unlabeled voxels of the active pane's slice with the active class. */
  fillSlice(): void {
    if (!this.ready) return;
    const pane = this.activePane;
    if (!this.canPaint(pane)) return;
    const delta = this.painter.fillUnlabeled(pane.layout, pane.slice, this.view.activeClass);
    if (!delta) this.status.setMessage(`${capitalized(describeSlice(pane.plane, pane.slice, pane.layout.sliceCount))} has no unlabeled voxel.`);
  }

  /** Takes the prediction on the active pane's slice into the labels. */
  acceptPrediction(): void {
    if (!this.ready) return;
    const { store } = this;
    if (!store.prediction) {
      this.status.setMessage('There is no prediction to accept: run Segment, or open a NAME.seg.nii.gz with "Show Prediction".', 'warning');
      return;
    }
    if (store.predictionMax > store.classes.length) {
      this.status.setMessage(
        `The prediction holds class values up to ${store.predictionMax}, but the class list has ${store.classes.length}: add classes first.`,
        'warning',
      );
      return;
    }
    const pane = this.activePane;
    if (!this.canPaint(pane)) return;
    const delta = this.painter.acceptPrediction(pane.layout, pane.slice);
    const where = describeSlice(pane.plane, pane.slice, pane.layout.sliceCount);
    if (!delta) {
      this.status.setMessage(`The labels of ${where} already match the prediction: nothing to accept.`);
      return;
    }
    this.status.setMessage(acceptedPredictionMessage(pane.plane, pane.slice, pane.layout.sliceCount, deltaValueCounts(delta), (v) => store.classOf(v)?.name));
  }

  /** Redraws what a label change touched; an edit made here goes to the host. */
  private onLabelsChange(change: LabelChange): void {
    if (change.kind === 'replaced') {
      this.view3d.labelsReplaced();
      this.invalidateAll();
      return;
    }
    // The 3D surfaces follow each stroke when it ends (and each undo, redo or fill), not every step of it.
    if (change.kind !== 'painted') this.view3d.labelsChanged(change.box);
    if (this.frames.invalidateBox(change.box)) this.refreshAnnotatedListSoon();
    if (change.kind !== 'edited') return;
    this.sendEdit(change.label, change.delta);
    if (change.newlyAnnotated) this.warnIfNearlyEmpty(change.newlyAnnotated.axis, change.newlyAnnotated.index);
  }

  /** A slice that just became annotated with hardly any labels of its own (a stray click?) is worth a word. */
  private warnIfNearlyEmpty(axis: Axis, index: number): void {
    const pane = this.panes.find((p) => p.layout.sliceAxis === axis);
    if (!pane) return;
    const own = this.store.ownLabeledVoxels(axis, index);
    if (isNearlyEmptySlice(own, pane.layout.width * pane.layout.height)) {
      this.status.setMessage(nearlyEmptySliceMessage(pane.plane, index, pane.layout.sliceCount, own), 'warning');
    }
  }

  /** Sends an edit made here (already applied here) to the host. */
  private sendEdit(label: EditLabel, delta: LabelDelta): void {
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
      if (next[pane.layout.sliceAxis] !== this.view.crosshair[pane.layout.sliceAxis]) pane.imageDirty = true;
      pane.canvasDirty = true;
    }
    this.view.crosshair = next;
    this.view3d.crosshairMoved();
    if (!this.loader.presence.complete) this.showLoadProgress();
    this.frames.requestFrame();
    this.annotatedList.refresh();
    this.persistSoon();
    this.reportCrosshairSoon();
  }

  /** Tells the host where the crosshair is (a training preview follows it), at most every 150 ms. */
  private readonly reportCrosshairSoon = coalesce(() => {
    void this.endpoint.send({ type: 'crosshair', voxel: [...this.view.crosshair] as Vec3 });
  }, 150);

  stepSlice(pane: Pane, step: number): void {
    const next: Vec3 = [...this.view.crosshair] as Vec3;
    next[pane.layout.sliceAxis] += step;
    this.setCrosshair(next);
    this.status.showVoxel(next);
  }

  goToSlice(pane: Pane, slice: number): void {
    const next: Vec3 = [...this.view.crosshair] as Vec3;
    next[pane.layout.sliceAxis] = slice;
    this.setCrosshair(next);
  }

  jumpLabeled(pane: Pane, step: 1 | -1): void {
    const slices = this.store.labeledSlices(pane.layout.sliceAxis);
    const target = adjacentAnnotatedSlice(slices, pane.slice, step);
    if (target === undefined) {
      this.status.setMessage(noAdjacentSliceMessage(pane.plane, slices.length, step));
      return;
    }
    this.goToSlice(pane, target);
  }

  showVoxel(ijk: Vec3 | undefined): void {
    if (ijk) this.status.showVoxel(ijk);
    else this.status.clearVoxel();
  }

  worldOf(ijk: Vec3): Vec3 {
    return voxelToWorld(this.store.info.affine, ijk);
  }

  // ------------------------------------------------------------ the annotated slice list

  labeledSlices(axis: Axis): number[] {
    return this.store.labeledSlices(axis);
  }

  ownLabeledVoxels(axis: Axis, index: number): number {
    return this.store.ownLabeledVoxels(axis, index);
  }

  goToAnnotated(pane: Pane, slice: number): void {
    this.onActivate(pane);
    this.goToSlice(pane, slice);
  }

  private readonly refreshAnnotatedListSoon = coalesce(() => this.annotatedList.refresh(), 150);

  // ------------------------------------------------------------ PaneHost

  get crosshair(): Vec3 {
    return this.view.crosshair;
  }

  get windowVersion(): number {
    return this.gray.version;
  }

  imageInput(pane: Pane): PlaneImageInput {
    const held = this.loader.heldPlane(pane.layout.sliceAxis, pane.slice);
    return planeImageInput({ layout: pane.layout, slice: pane.slice, indices: pane.currentIndices() }, this.store, this.view, this.gray, held);
  }

  annotatedSlices(axis: Axis): ReadonlySet<number> {
    return this.store.annotated[axis];
  }

  brushOutlineMm(): number {
    const { tool, brushSize } = this.view;
    if (tool !== 'brush' && tool !== 'eraser') return 0;
    const s = this.store.info.spacing;
    const layout = this.activePane.layout;
    return brushSize * Math.min(s[layout.colAxis], s[layout.rowAxis]);
  }

  onActivate(pane: Pane): void {
    if (this.input.dragging) return;
    if (this.activePane !== pane) {
      this.activePane.element.classList.remove('active');
      this.activePane = pane;
    }
    pane.element.classList.add('active');
  }

  onPointerDown(pane: Pane, event: PointerEvent, col: number, row: number): void {
    this.input.onPointerDown(pane, event, col, row);
  }

  onPointerMove(pane: Pane, event: PointerEvent, col: number, row: number): void {
    this.input.onPointerMove(pane, event, col, row);
  }

  onPointerUp(): void {
    this.input.onPointerUp();
  }

  onWheel(pane: Pane, event: WheelEvent): void {
    this.input.onWheel(pane, event);
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

  // ------------------------------------------------------------ redraws

  /** Everything is drawn again: images, controls and the annotated slice list. */
  private invalidateAll(): void {
    this.view3d.refresh();
    this.frames.invalidateImages();
    this.refreshControls();
    this.annotatedList.refresh();
  }

  refreshControls(): void {
    this.sidebar.refresh();
  }

  /**
   * Composes and draws all three panes now, each image rebuilt from the voxels (gray cache
   * dropped); returns the time taken in total and per pane, ms (for tests and the benchmark).
   */
  redrawAllTimed(): { total: number; panes: Record<PlaneName, number> } {
    this.gray.dropCaches();
    return this.frames.redrawAllTimed();
  }
}
