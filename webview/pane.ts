/**
 * One slice pane (axial, coronal or sagittal): a header, a canvas showing the current slice in
 * anatomical orientation with the true aspect, the crosshair, the brush outline, edge letters
 * and a slice bar whose ticks mark the slices that carry labels.
 */
import type { Vec3 } from '../src/core/geometry';
import { pixelOfVoxel, planeVoxelIndices, voxelOfPixel, type PlaneLayout, type PlaneName } from '../src/core/planes';
import { composeGray, composeHatchMask, composeLayers, type PlaneImageInput } from './render';
import { paneButton } from './paneButton';

/** Width of the slice bar at the canvas's right edge, CSS pixels. */
const BAR_WIDTH = 14;
/** The hatch of a hatched layer: a diagonal line this many CSS pixels wide every HATCH_PERIOD. */
const HATCH_PERIOD = 6;
const HATCH_LINE = 2;

/** What a pane needs from the editor around it. */
export interface PaneHost {
  readonly crosshair: Vec3;
  /** Changes whenever the window/level changes (the gray image is cached until then). */
  readonly windowVersion: number;
  /** What to draw on the pane's current slice: voxels, window, and the layers that have something there. */
  imageInput(pane: Pane): PlaneImageInput;
  /** The annotated slices along `axis`. */
  annotatedSlices(axis: 0 | 1 | 2): ReadonlySet<number>;
  /** Brush diameter in mm, when a brush or eraser is the tool (for the outline), else 0. */
  brushOutlineMm(): number;
  /** Pointer events, in image pixels (fractional). */
  onPointerDown(pane: Pane, event: PointerEvent, col: number, row: number): void;
  onPointerMove(pane: Pane, event: PointerEvent, col: number, row: number): void;
  onPointerUp(pane: Pane, event: PointerEvent): void;
  onWheel(pane: Pane, event: WheelEvent): void;
  onHeaderDoubleClick(pane: Pane): void;
  onJumpLabeled(pane: Pane, step: 1 | -1): void;
  onToggleMaximize(pane: Pane): void;
  onSliceBar(pane: Pane, slice: number): void;
  onActivate(pane: Pane): void;
}

const TITLES: Record<PlaneName, string> = { axial: 'Axial', coronal: 'Coronal', sagittal: 'Sagittal' };

export class Pane {
  readonly element: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  private readonly context: CanvasRenderingContext2D;
  private readonly imageCanvas: HTMLCanvasElement;
  private readonly imageContext: CanvasRenderingContext2D;
  private readonly titleLabel: HTMLSpanElement;
  private readonly sliceLabel: HTMLSpanElement;
  private readonly labeledLabel: HTMLSpanElement;
  private imageData: ImageData | undefined;
  private pixels: Uint32Array | undefined;
  /** The gray levels of the current slice, cached while the slice and the window stay. */
  private gray: Uint32Array | undefined;
  private grayKey = '';
  /** The hatched layer's regions in colour (transparent elsewhere), at the image's resolution, and its opacity. */
  private readonly maskCanvas: HTMLCanvasElement;
  private readonly maskContext: CanvasRenderingContext2D;
  private maskData: ImageData | undefined;
  private hatchOpacity = 0;
  /** The slice holds a hatched layer (drawn over the image at screen resolution). */
  private hatched = false;
  /** Scratch canvas at the canvas's size, where the hatch is cut out of the mask; and the stripe pattern. */
  private hatchCanvas: HTMLCanvasElement | undefined;
  private hatchPattern: { dpr: number; pattern: CanvasPattern } | undefined;
  /** Rows whose labels changed (inclusive), when only part of the image must be composed again. */
  private dirtyRows: [number, number] | undefined;
  private indices: Uint32Array | undefined;
  private indicesSlice = -1;
  /** The image must be composed again (slice, labels, window or colours changed). */
  imageDirty = true;
  /** The canvas must be drawn again (image, crosshair, cursor or view changed). */
  canvasDirty = true;
  zoom = 1;
  panX = 0;
  panY = 0;
  /** Where the pointer is, image pixels (fractional), or undefined when outside. */
  hover: [number, number] | undefined;
  private cssWidth = 1;
  private cssHeight = 1;
  private dpr = 1;
  /** Milliseconds the last compose took. */
  lastComposeMs = 0;

  constructor(
    readonly plane: PlaneName,
    public layout: PlaneLayout,
    private readonly host: PaneHost,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'pane';
    this.element.dataset.plane = plane;
    const header = document.createElement('div');
    header.className = 'pane-header';
    this.titleLabel = span('pane-title', TITLES[plane]);
    this.sliceLabel = span('pane-slice', '');
    this.labeledLabel = span('pane-labeled', '');
    const previous = paneButton('◂', 'Previous labeled slice', () => host.onJumpLabeled(this, -1));
    const next = paneButton('▸', 'Next labeled slice', () => host.onJumpLabeled(this, 1));
    const maximize = paneButton('⤢', 'Maximize or restore this pane (M)', () => host.onToggleMaximize(this));
    maximize.classList.add('pane-maximize');
    header.append(this.titleLabel, this.sliceLabel, previous, this.labeledLabel, next, maximize);
    header.addEventListener('dblclick', (e) => {
      if (!(e.target instanceof HTMLButtonElement)) host.onHeaderDoubleClick(this);
    });
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'pane-canvas';
    this.canvas.tabIndex = 0;
    this.element.append(header, this.canvas);
    this.context = this.canvas.getContext('2d', { alpha: false })!;
    this.imageCanvas = document.createElement('canvas');
    this.imageContext = this.imageCanvas.getContext('2d', { willReadFrequently: false })!;
    this.maskCanvas = document.createElement('canvas');
    this.maskContext = this.maskCanvas.getContext('2d')!;
    this.attachEvents();
    new ResizeObserver(() => this.resize()).observe(this.canvas);
  }

  get slice(): number {
    return this.host.crosshair[this.layout.sliceAxis];
  }

  setLayout(layout: PlaneLayout): void {
    this.layout = layout;
    this.indices = undefined;
    this.indicesSlice = -1;
    this.imageData = undefined;
    this.grayKey = '';
    this.imageDirty = true;
    this.canvasDirty = true;
  }

  /** Marks image rows `first`..`last` (inclusive) for composing again (labels changed there). */
  markRowsDirty(first: number, last: number): void {
    const a = Math.max(0, Math.min(first, last));
    const b = Math.min(this.layout.height - 1, Math.max(first, last));
    if (a > b) return;
    this.dirtyRows = this.dirtyRows ? [Math.min(this.dirtyRows[0], a), Math.max(this.dirtyRows[1], b)] : [a, b];
  }

  /** Image rows where voxels `minVoxel`..`maxVoxel` along the row axis appear. */
  rowsOfVoxels(minVoxel: number, maxVoxel: number): [number, number] {
    const h = this.layout.height;
    return this.layout.rowFlip ? [h - 1 - maxVoxel, h - 1 - minVoxel] : [minVoxel, maxVoxel];
  }

  private resize(): void {
    const rect = this.canvas.getBoundingClientRect();
    this.cssWidth = Math.max(1, rect.width);
    this.cssHeight = Math.max(1, rect.height);
    this.dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.cssWidth * this.dpr);
    this.canvas.height = Math.round(this.cssHeight * this.dpr);
    this.canvasDirty = true;
    this.requestDraw?.();
  }

  /** Set by the editor: asks for a frame. */
  requestDraw: (() => void) | undefined;

  // ------------------------------------------------------------ geometry

  /** CSS pixels per mm at the current zoom. */
  get scale(): number {
    const { width, height, colSpacing, rowSpacing } = this.layout;
    const areaWidth = Math.max(1, this.cssWidth - BAR_WIDTH);
    const fit = Math.min(areaWidth / (width * colSpacing), this.cssHeight / (height * rowSpacing)) * 0.96;
    return fit * this.zoom;
  }

  /** Top-left corner of the image on the canvas, CSS pixels. */
  private origin(scale = this.scale): [number, number] {
    const { width, height, colSpacing, rowSpacing } = this.layout;
    const areaWidth = Math.max(1, this.cssWidth - BAR_WIDTH);
    return [(areaWidth - width * colSpacing * scale) / 2 + this.panX, (this.cssHeight - height * rowSpacing * scale) / 2 + this.panY];
  }

  /** Canvas CSS point → image pixel coordinates (fractional; pixel c spans [c, c + 1)). */
  toImage(x: number, y: number): [number, number] {
    const scale = this.scale;
    const [ox, oy] = this.origin(scale);
    return [(x - ox) / (this.layout.colSpacing * scale), (y - oy) / (this.layout.rowSpacing * scale)];
  }

  /** Image pixel centre → canvas CSS point. */
  toCanvas(col: number, row: number): [number, number] {
    const scale = this.scale;
    const [ox, oy] = this.origin(scale);
    return [ox + (col + 0.5) * this.layout.colSpacing * scale, oy + (row + 0.5) * this.layout.rowSpacing * scale];
  }

  /** Canvas CSS point of a voxel's centre in this pane (whatever its slice). */
  canvasPointOfVoxel(ijk: Vec3): [number, number] {
    const [c, r] = pixelOfVoxel(this.layout, ijk);
    return this.toCanvas(c, r);
  }

  /** The voxel under image pixel (col, row) on the current slice, or undefined outside the image. */
  voxelAt(col: number, row: number): Vec3 | undefined {
    const c = Math.floor(col);
    const r = Math.floor(row);
    if (c < 0 || r < 0 || c >= this.layout.width || r >= this.layout.height) return undefined;
    return voxelOfPixel(this.layout, this.slice, c, r);
  }

  /** Zooms by `factor` keeping the canvas point (x, y) fixed. */
  zoomAt(factor: number, x: number, y: number): void {
    const before = this.scale;
    const [ox, oy] = this.origin(before);
    const zoom = Math.min(64, Math.max(0.25, this.zoom * factor));
    const after = (before / this.zoom) * zoom;
    this.zoom = zoom;
    const { width, height, colSpacing, rowSpacing } = this.layout;
    const areaWidth = Math.max(1, this.cssWidth - BAR_WIDTH);
    const nx = x - (x - ox) * (after / before);
    const ny = y - (y - oy) * (after / before);
    this.panX = nx - (areaWidth - width * colSpacing * after) / 2;
    this.panY = ny - (this.cssHeight - height * rowSpacing * after) / 2;
    this.canvasDirty = true;
  }

  resetView(): void {
    this.zoom = 1;
    this.panX = 0;
    this.panY = 0;
    this.canvasDirty = true;
  }

  /** The slice under a canvas point in the slice bar, or undefined when the point is not on the bar. */
  sliceOfBar(x: number, y: number): number | undefined {
    if (x < this.cssWidth - BAR_WIDTH) return undefined;
    const n = this.layout.sliceCount;
    const t = 1 - (y - 4) / Math.max(1, this.cssHeight - 8);
    return Math.max(0, Math.min(n - 1, Math.floor(t * n)));
  }

  // ------------------------------------------------------------ drawing

  /** The voxel indices of the current slice (cached while the slice stays). */
  currentIndices(): Uint32Array {
    const slice = this.slice;
    if (!this.indices || this.indicesSlice !== slice) {
      this.indices = planeVoxelIndices(this.layout, this.hostDims(), slice, this.indices);
      this.indicesSlice = slice;
    }
    return this.indices;
  }

  /** The voxel grid's dimensions (rebuilt from the layout). */
  private hostDims(): Vec3 {
    const d: Vec3 = [0, 0, 0];
    d[this.layout.sliceAxis] = this.layout.sliceCount;
    d[this.layout.colAxis] = this.layout.width;
    d[this.layout.rowAxis] = this.layout.height;
    return d;
  }

  /** Composes the slice image (all of it, or the rows whose labels changed) and draws the canvas. */
  draw(): void {
    const { width, height } = this.layout;
    if (!this.imageData || !this.pixels || !this.gray) {
      this.imageCanvas.width = width;
      this.imageCanvas.height = height;
      this.maskCanvas.width = width;
      this.maskCanvas.height = height;
      this.maskData = this.maskContext.createImageData(width, height);
      this.imageData = this.imageContext.createImageData(width, height);
      this.pixels = new Uint32Array(this.imageData.data.buffer);
      this.gray = new Uint32Array(width * height);
      this.grayKey = '';
      this.imageDirty = true;
    }
    if (this.imageDirty || this.dirtyRows) {
      const start = performance.now();
      const input = this.host.imageInput(this);
      let first = 0;
      let end = height;
      if (!this.imageDirty && this.dirtyRows) {
        // One row more on each side: an outline there may change too.
        first = Math.max(0, this.dirtyRows[0] - 1);
        end = Math.min(height, this.dirtyRows[1] + 2);
      }
      const key = `${this.slice}:${this.host.windowVersion}`;
      if (key !== this.grayKey) {
        composeGray(this.gray, input);
        this.grayKey = key;
        first = 0;
        end = height;
      }
      this.pixels.set(this.gray.subarray(first * width, end * width), first * width);
      composeLayers(this.pixels, input, first, end);
      this.imageContext.putImageData(this.imageData, 0, 0, 0, first, width, end - first);
      // The hatched layer (the prediction) changes with the slice, not with a label edit.
      if (first === 0 && end === height) {
        this.hatched = composeHatchMask(new Uint32Array(this.maskData!.data.buffer), input);
        if (this.hatched) this.maskContext.putImageData(this.maskData!, 0, 0);
        this.hatchOpacity = input.layers.find((l) => l.look === 'hatched')?.opacity ?? 0;
      }
      this.imageDirty = false;
      this.dirtyRows = undefined;
      this.canvasDirty = true;
      this.lastComposeMs = performance.now() - start;
    }
    if (!this.canvasDirty) return;
    this.canvasDirty = false;
    const ctx = this.context;
    const dpr = this.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const scale = this.scale;
    const [ox, oy] = this.origin(scale);
    const dw = width * this.layout.colSpacing * scale;
    const dh = height * this.layout.rowSpacing * scale;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.imageCanvas, ox, oy, dw, dh);
    if (this.hatched) this.drawHatch(ctx, ox, oy, dw, dh);
    this.drawCrosshair(ctx);
    this.drawBrushOutline(ctx, scale);
    this.drawEdgeLetters(ctx);
    this.drawSliceBar(ctx);
    this.updateHeader();
  }

  /**
   * Draws the hatched layer: its mask scaled onto a scratch canvas, kept only under diagonal
   * stripes fixed to the screen (so they stay fine at any zoom), then blended over the image.
   */
  private drawHatch(ctx: CanvasRenderingContext2D, ox: number, oy: number, dw: number, dh: number): void {
    const { width, height } = this.canvas;
    const hatch = (this.hatchCanvas ??= document.createElement('canvas'));
    if (hatch.width !== width || hatch.height !== height) {
      hatch.width = width;
      hatch.height = height;
    }
    const hc = hatch.getContext('2d')!;
    hc.globalCompositeOperation = 'source-over';
    hc.setTransform(1, 0, 0, 1, 0, 0);
    hc.clearRect(0, 0, width, height);
    hc.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    hc.imageSmoothingEnabled = false;
    hc.drawImage(this.maskCanvas, ox, oy, dw, dh);
    hc.setTransform(1, 0, 0, 1, 0, 0);
    hc.globalCompositeOperation = 'destination-in';
    hc.fillStyle = this.stripes(hc);
    hc.fillRect(0, 0, width, height);
    hc.globalCompositeOperation = 'source-over';
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    // Stripes cover a third of the area: twice the layer's opacity keeps them as visible as a fill.
    ctx.globalAlpha = Math.min(1, this.hatchOpacity * 2);
    ctx.drawImage(hatch, 0, 0);
    ctx.restore();
  }

  /** The stripe pattern at the current device pixel ratio: opaque where (x + y) mod period < line. */
  private stripes(context: CanvasRenderingContext2D): CanvasPattern {
    if (this.hatchPattern?.dpr === this.dpr) return this.hatchPattern.pattern;
    const period = Math.max(3, Math.round(HATCH_PERIOD * this.dpr));
    const line = Math.max(1, Math.round(HATCH_LINE * this.dpr));
    const tile = document.createElement('canvas');
    tile.width = period;
    tile.height = period;
    const tc = tile.getContext('2d')!;
    const data = tc.createImageData(period, period);
    const px = new Uint32Array(data.data.buffer);
    for (let y = 0; y < period; y++) for (let x = 0; x < period; x++) if ((x + y) % period < line) px[x + y * period] = 0xffffffff;
    tc.putImageData(data, 0, 0);
    const pattern = context.createPattern(tile, 'repeat')!;
    this.hatchPattern = { dpr: this.dpr, pattern };
    return pattern;
  }

  private drawCrosshair(ctx: CanvasRenderingContext2D): void {
    const [x, y] = this.canvasPointOfVoxel(this.host.crosshair);
    const gap = 6;
    const right = this.cssWidth - BAR_WIDTH;
    ctx.strokeStyle = 'rgba(80, 200, 255, 0.75)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    const px = Math.round(x) + 0.5;
    const py = Math.round(y) + 0.5;
    ctx.moveTo(0, py);
    ctx.lineTo(x - gap, py);
    ctx.moveTo(x + gap, py);
    ctx.lineTo(right, py);
    ctx.moveTo(px, 0);
    ctx.lineTo(px, y - gap);
    ctx.moveTo(px, y + gap);
    ctx.lineTo(px, this.cssHeight);
    ctx.stroke();
  }

  private drawBrushOutline(ctx: CanvasRenderingContext2D, scale: number): void {
    const mm = this.host.brushOutlineMm();
    if (!mm || !this.hover) return;
    const [x, y] = this.toCanvas(Math.floor(this.hover[0]), Math.floor(this.hover[1]));
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.85)';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.arc(x, y, Math.max(1.5, (mm / 2) * scale), 0, Math.PI * 2);
    ctx.stroke();
  }

  private drawEdgeLetters(ctx: CanvasRenderingContext2D): void {
    const { left, right, top, bottom } = this.layout.edges;
    const w = this.cssWidth - BAR_WIDTH;
    const h = this.cssHeight;
    ctx.fillStyle = 'rgba(255, 210, 90, 0.9)';
    ctx.font = 'bold 12px sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'left';
    ctx.fillText(left, 4, h / 2);
    ctx.textAlign = 'right';
    ctx.fillText(right, w - 4, h / 2);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(top, w / 2, 4);
    ctx.textBaseline = 'bottom';
    ctx.fillText(bottom, w / 2, h - 4);
  }

  private drawSliceBar(ctx: CanvasRenderingContext2D): void {
    const x0 = this.cssWidth - BAR_WIDTH;
    const h = this.cssHeight;
    ctx.fillStyle = '#1b1b1b';
    ctx.fillRect(x0, 0, BAR_WIDTH, h);
    const n = this.layout.sliceCount;
    const yOf = (s: number) => 4 + (1 - (s + 0.5) / n) * (h - 8);
    ctx.fillStyle = 'rgba(255, 200, 0, 0.95)';
    for (const s of this.host.annotatedSlices(this.layout.sliceAxis)) ctx.fillRect(x0 + 3, Math.round(yOf(s)) - 1, BAR_WIDTH - 6, 2);
    const y = Math.round(yOf(this.slice));
    ctx.fillStyle = '#fff';
    ctx.beginPath();
    ctx.moveTo(x0, y - 4);
    ctx.lineTo(x0 + 5, y);
    ctx.lineTo(x0, y + 4);
    ctx.fill();
  }

  private updateHeader(): void {
    this.sliceLabel.textContent = `${this.slice + 1} / ${this.layout.sliceCount}`;
    const annotated = this.host.annotatedSlices(this.layout.sliceAxis);
    this.labeledLabel.textContent = `${annotated.size} annotated`;
    const here = annotated.has(this.slice);
    this.labeledLabel.classList.toggle('has-labels', here);
    this.labeledLabel.title = here ? 'This slice is annotated' : 'This slice is not annotated';
  }

  // ------------------------------------------------------------ events

  private attachEvents(): void {
    const c = this.canvas;
    const local = (e: MouseEvent): [number, number] => {
      const rect = c.getBoundingClientRect();
      return [e.clientX - rect.left, e.clientY - rect.top];
    };
    c.addEventListener('pointerdown', (e) => {
      c.focus({ preventScroll: true });
      this.host.onActivate(this);
      const [x, y] = local(e);
      const bar = this.sliceOfBar(x, y);
      if (bar !== undefined && e.button === 0) {
        capture(c, e.pointerId);
        this.barDrag = true;
        this.host.onSliceBar(this, bar);
        return;
      }
      capture(c, e.pointerId);
      const [col, row] = this.toImage(x, y);
      this.host.onPointerDown(this, e, col, row);
    });
    c.addEventListener('pointermove', (e) => {
      const [x, y] = local(e);
      if (this.barDrag) {
        const s = this.sliceOfBar(this.cssWidth - 1, y);
        if (s !== undefined) this.host.onSliceBar(this, s);
        return;
      }
      const [col, row] = this.toImage(x, y);
      this.hover = [col, row];
      this.host.onPointerMove(this, e, col, row);
    });
    const up = (e: PointerEvent) => {
      if (c.hasPointerCapture(e.pointerId)) c.releasePointerCapture(e.pointerId);
      if (this.barDrag) {
        this.barDrag = false;
        return;
      }
      this.host.onPointerUp(this, e);
    };
    c.addEventListener('pointerup', up);
    c.addEventListener('pointercancel', up);
    c.addEventListener('pointerenter', () => this.host.onActivate(this));
    c.addEventListener('pointerleave', () => {
      this.hover = undefined;
      this.canvasDirty = true;
      this.requestDraw?.();
    });
    c.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.host.onWheel(this, e);
    }, { passive: false });
    c.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  private barDrag = false;

  /** Canvas-relative CSS size (for tests and the benchmark). */
  get size(): { width: number; height: number } {
    return { width: this.cssWidth, height: this.cssHeight };
  }
}

/** Keeps the pointer's events on the canvas while a button is held (synthetic events have no capturable pointer). */
function capture(element: Element, pointerId: number): void {
  try {
    element.setPointerCapture(pointerId);
  } catch {
    // not a live pointer: nothing to capture
  }
}

function span(className: string, text: string): HTMLSpanElement {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

