/**
 * When things are drawn: one animation frame for whatever changed since the last, the panes
 * marked for what must be composed or drawn again, the input-to-frame latency the benchmark
 * reads, and bursts of calls folded into one later call.
 */
import type { PlaneName } from '../src/core/planes';
import type { Pane } from './pane';
import type { VoxelBox } from './store';

export class FrameScheduler {
  /** Time from the last pointer event of a stroke to the end of the frame that drew it, ms (for the benchmark). */
  readonly inputLatencies: number[] = [];
  private pendingInputTime: number | undefined;
  private frameRequested = false;

  /** `canDraw`: whether the editor has something to draw yet; `isVisible`: whether a pane shows in the layout. */
  constructor(
    private readonly panes: readonly Pane[],
    private readonly canDraw: () => boolean,
    private readonly isVisible: (pane: Pane) => boolean,
  ) {}

  /** Draws what changed on the next animation frame (one frame however many ask). */
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
    if (!this.canDraw()) return;
    for (const pane of this.panes) if (this.isVisible(pane)) pane.draw();
    if (this.pendingInputTime !== undefined) {
      this.inputLatencies.push(performance.now() - this.pendingInputTime);
      if (this.inputLatencies.length > 1000) this.inputLatencies.shift();
      this.pendingInputTime = undefined;
    }
  }

  /** Notes the time stamp of an input event whose effect the next frame draws. */
  noteInput(timeStamp: number): void {
    this.pendingInputTime = timeStamp;
  }

  /** Every pane's canvas must be drawn again (crosshair, cursor, brush outline), not its image. */
  invalidateCanvases(): void {
    for (const pane of this.panes) pane.canvasDirty = true;
    this.requestFrame();
  }

  /** Every pane's image must be composed again (window, opacity, colours). */
  invalidateImages(): void {
    for (const pane of this.panes) {
      pane.imageDirty = true;
      pane.canvasDirty = true;
    }
    this.requestFrame();
  }

  /** Marks for redraw the rows of the panes whose current slice crosses `box` (labels changed there); false when the box is empty. */
  invalidateBox(box: VoxelBox): boolean {
    if (!(box.min[0] <= box.max[0])) return false; // empty
    for (const pane of this.panes) {
      const { sliceAxis, rowAxis } = pane.layout;
      if (pane.slice >= box.min[sliceAxis] && pane.slice <= box.max[sliceAxis]) pane.markRowsDirty(...pane.rowsOfVoxels(box.min[rowAxis], box.max[rowAxis]));
      pane.canvasDirty = true; // the slice bar's ticks may change
    }
    this.requestFrame();
    return true;
  }

  /**
   * Composes and draws all three panes now, each image rebuilt from the voxels (the caller
   * drops the gray caches first); returns the time taken in total and per pane, ms.
   */
  redrawAllTimed(): { total: number; panes: Record<PlaneName, number> } {
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
}

/** A function that runs `action` once, `delayMs` after the first call of a burst. */
export function coalesce(action: () => void, delayMs: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      action();
    }, delayMs);
  };
}
