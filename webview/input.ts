/**
 * The pointer, the wheel and the keys on the panes: a drag paints a stroke, moves the
 * crosshair, pans or sets the window; the wheel steps slices (Ctrl: zooms); keys step, jump and
 * zoom. Keys that VS Code binds (tools, classes, undo) arrive as commands from the host instead.
 */
import { dragWindow, type WindowLevel } from '../src/core/windowLevel';
import type { Vec3 } from '../src/core/geometry';
import type { GrayWindow } from './grayWindow';
import type { Pane } from './pane';
import type { FrameScheduler } from './schedule';
import type { Painter, Stroke } from './tools';
import type { ViewState } from './viewState';

/** A drag in progress: what the pointer does until its button is released. */
type Drag =
  | { kind: 'stroke'; pane: Pane; stroke: Stroke }
  | { kind: 'crosshair'; pane: Pane }
  | { kind: 'pan'; pane: Pane; x: number; y: number; panX: number; panY: number }
  | { kind: 'window'; x: number; y: number; start: WindowLevel };

/** Wheel pixels per slice step (a line of a line-mode wheel counts 16). */
const WHEEL_STEP = 50;
const DOM_DELTA_LINE = 1;

/**
 * Slices to step for a wheel event, from what was left over from the last ones: trackpads send
 * many small deltas (one slice per 50 pixels), a mouse notch steps one slice at least.
 * `steps` follows the sign of `deltaY` (down is positive).
 */
export function wheelSteps(remainder: number, deltaY: number, deltaMode: number): { steps: number; remainder: number } {
  const delta = deltaMode === DOM_DELTA_LINE ? deltaY * 16 : deltaY;
  const total = remainder + delta;
  const notch = Math.abs(delta) >= WHEEL_STEP;
  const steps = Math.trunc(total / WHEEL_STEP) || (notch ? Math.sign(delta) : 0);
  if (steps === 0) return { steps, remainder: total };
  return { steps, remainder: notch ? 0 : total - steps * WHEEL_STEP };
}

/** What a key does on the active pane: step slices, jump to the first or last, or zoom. */
export type KeyAction = { kind: 'step'; step: number } | { kind: 'first' } | { kind: 'last' } | { kind: 'zoom'; factor: number };

/**
 * The action of a key press, or undefined when it is not one of the editor's own keys. With Alt,
 * Ctrl or Cmd a key is VS Code's (Alt+↑/↓ jump between annotated slices): it reaches the editor
 * as a command from the host and must not also step here, or the two cancel out.
 */
export function keyAction(e: Pick<KeyboardEvent, 'key' | 'shiftKey' | 'altKey' | 'ctrlKey' | 'metaKey'>): KeyAction | undefined {
  if (e.altKey || e.ctrlKey || e.metaKey) return undefined;
  switch (e.key) {
    case 'ArrowUp':
    case 'ArrowRight':
      return { kind: 'step', step: e.shiftKey ? 10 : 1 };
    case 'ArrowDown':
    case 'ArrowLeft':
      return { kind: 'step', step: e.shiftKey ? -10 : -1 };
    case 'PageUp':
      return { kind: 'step', step: 10 };
    case 'PageDown':
      return { kind: 'step', step: -10 };
    case 'Home':
      return { kind: 'first' };
    case 'End':
      return { kind: 'last' };
    case '+':
    case '=':
      return { kind: 'zoom', factor: 1.25 };
    case '-':
      return { kind: 'zoom', factor: 0.8 };
    default:
      return undefined;
  }
}

/** What the input needs from the editor around it. */
export interface InputHost {
  /** The volume and labels are there: input does nothing before. */
  readonly ready: boolean;
  readonly view: Readonly<ViewState>;
  /** The pane the keys act on. */
  readonly activePane: Pane;
  readonly gray: Pick<GrayWindow, 'window'>;
  readonly frames: Pick<FrameScheduler, 'requestFrame' | 'noteInput'>;
  setWindow(window: WindowLevel, name: string): void;
  /** Brings the side bar's controls in line (the window changed). */
  refreshControls(): void;
  setCrosshair(ijk: Vec3): void;
  stepSlice(pane: Pane, step: number): void;
  goToSlice(pane: Pane, slice: number): void;
  /** Shows what lies at a voxel in the status line, or nothing. */
  showVoxel(ijk: Vec3 | undefined): void;
  /** Whether the pane's slice can be painted on (its voxels are there; says why not where not). */
  canPaint(pane: Pane): boolean;
}

export class EditorInput {
  private drag: Drag | undefined;
  private wheelRemainder = 0;

  constructor(
    private readonly host: InputHost,
    private readonly painter: Painter,
  ) {}

  /** A button is held on a pane (a pane does not become active meanwhile). */
  get dragging(): boolean {
    return this.drag !== undefined;
  }

  onPointerDown(pane: Pane, event: PointerEvent, col: number, row: number): void {
    const { host } = this;
    if (!host.ready || this.drag) return;
    if (event.button === 2) {
      this.drag = { kind: 'window', x: event.clientX, y: event.clientY, start: { ...host.gray.window } };
      return;
    }
    if (event.button === 1 || (event.button === 0 && event.shiftKey)) {
      this.drag = { kind: 'pan', pane, x: event.clientX, y: event.clientY, panX: pane.panX, panY: pane.panY };
      return;
    }
    if (event.button !== 0) return;
    const { tool, activeClass, brushSize } = host.view;
    if (tool === 'navigate' || event.ctrlKey || event.metaKey) {
      this.drag = { kind: 'crosshair', pane };
      this.moveCrosshairTo(pane, col, row);
      return;
    }
    if (!host.canPaint(pane)) return; // the slice's voxels are still on their way
    if (tool === 'fill') {
      const voxel = pane.voxelAt(col, row);
      if (voxel) this.painter.fill(pane.layout, voxel, activeClass);
      return;
    }
    const erase = tool === 'eraser';
    const stroke = this.painter.beginStroke(erase ? 'Erase' : 'Brush', pane.layout, pane.slice, erase ? 0 : activeClass, brushSize, col, row);
    this.drag = { kind: 'stroke', pane, stroke };
    host.frames.noteInput(event.timeStamp);
  }

  onPointerMove(pane: Pane, event: PointerEvent, col: number, row: number): void {
    const { host } = this;
    const drag = this.drag;
    if (drag?.kind === 'stroke' && drag.pane === pane) {
      this.painter.continueStroke(drag.stroke, col, row);
      host.frames.noteInput(event.timeStamp);
    } else if (drag?.kind === 'crosshair' && drag.pane === pane) {
      this.moveCrosshairTo(pane, col, row);
    } else if (drag?.kind === 'pan') {
      drag.pane.panX = drag.panX + (event.clientX - drag.x);
      drag.pane.panY = drag.panY + (event.clientY - drag.y);
      drag.pane.canvasDirty = true;
    } else if (drag?.kind === 'window') {
      host.setWindow(dragWindow(drag.start, event.clientX - drag.x, event.clientY - drag.y), 'Custom');
      host.refreshControls();
    }
    pane.canvasDirty = true;
    host.showVoxel(pane.voxelAt(col, row));
    host.frames.requestFrame();
  }

  onPointerUp(): void {
    const drag = this.drag;
    this.drag = undefined;
    if (drag?.kind === 'stroke') this.painter.endStroke(drag.stroke);
    if (drag?.kind === 'window') this.host.refreshControls();
  }

  private moveCrosshairTo(pane: Pane, col: number, row: number): void {
    const c = Math.max(0, Math.min(pane.layout.width - 1, Math.floor(col)));
    const r = Math.max(0, Math.min(pane.layout.height - 1, Math.floor(row)));
    const voxel = pane.voxelAt(c, r);
    if (voxel) this.host.setCrosshair(voxel);
  }

  onWheel(pane: Pane, event: WheelEvent): void {
    const { host } = this;
    if (!host.ready) return;
    if (event.ctrlKey || event.metaKey) {
      const rect = pane.canvas.getBoundingClientRect();
      pane.zoomAt(Math.exp(-event.deltaY * 0.002), event.clientX - rect.left, event.clientY - rect.top);
      host.frames.requestFrame();
      return;
    }
    if (this.drag?.kind === 'stroke') return; // the slice stays put while painting
    const { steps, remainder } = wheelSteps(this.wheelRemainder, event.deltaY, event.deltaMode);
    this.wheelRemainder = remainder;
    if (steps !== 0) host.stepSlice(pane, -steps);
  }

  /** Listens to the keys on `target` (the webview's window). */
  attachKeys(target: Window): void {
    target.addEventListener('keydown', (e) => {
      if (this.onKey(e)) e.preventDefault();
    });
  }

  /** Acts on a key; true when it was one of ours. */
  private onKey(e: KeyboardEvent): boolean {
    const { host } = this;
    if (!host.ready || isTextInput(e.target)) return false;
    if (e.key === 'Escape' && this.drag?.kind === 'stroke') {
      this.painter.cancelStroke(this.drag.stroke);
      this.drag = undefined;
      return false;
    }
    const action = keyAction(e);
    if (!action) return false;
    const pane = host.activePane;
    if (action.kind === 'step') host.stepSlice(pane, action.step);
    else if (action.kind === 'first') host.goToSlice(pane, 0);
    else if (action.kind === 'last') host.goToSlice(pane, pane.layout.sliceCount - 1);
    else this.zoomCentre(pane, action.factor);
    return true;
  }

  private zoomCentre(pane: Pane, factor: number): void {
    const { width, height } = pane.size;
    pane.zoomAt(factor, width / 2, height / 2);
    this.host.frames.requestFrame();
  }
}

function isTextInput(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.tagName === 'INPUT' || target.tagName === 'TEXTAREA' || target.tagName === 'VSCODE-TEXTFIELD' || target.isContentEditable;
}
