/**
 * Driving the volume editor's webview from a UI test: waiting for it, reading its state through
 * `window.unet3dEditor` (webview/main.ts), and painting with the real mouse at a voxel.
 */
import type { FrameLocator, Locator, Page } from 'playwright-core';
import type { Vec3 } from '../../../src/core/geometry';
import type { PlaneName } from '../../../src/core/planes';
import * as path from 'node:path';
import { activeGroup, quickOpen, runCommand, waitForActiveTab, webview } from '../workbench';

/** What `window.unet3dEditor.state()` returns. */
export interface EditorState {
  crosshair: Vec3;
  tool: string;
  brushSize: number;
  activeClass: number;
  layoutMode: string;
  classes: { value: number; name: string; color: string }[];
  dims: Vec3;
  labeledSlices: Record<PlaneName, number[]>;
  slices: Record<PlaneName, number>;
  prediction: string | null;
  window: { width: number; level: number };
  windowName: string;
  predictionLook: string;
}

interface EditorHandle {
  ready: boolean;
  pendingEdits: number;
  state(): EditorState;
  canvasPoint(plane: PlaneName, ijk: Vec3): { x: number; y: number };
  setCrosshair(ijk: Vec3): void;
  labelAt(ijk: Vec3): number;
}

export class EditorDriver {
  readonly view: FrameLocator;

  constructor(readonly page: Page) {
    this.view = webview(page);
  }

  /** Opens a workspace volume (path relative to the workspace) through quick open and waits for the editor. */
  async open(relativePath: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      await quickOpen(this.page, relativePath);
      await waitForActiveTab(this.page, path.basename(relativePath));
      // Picked before the workbench has the extension's custom editor, a volume opens in the text
      // editor ("binary"; seen on CI with the extension's activity-bar item already there): it is
      // closed and picked again.
      const placeholder = activeGroup(this.page).locator('.monaco-editor-pane-placeholder');
      const opened = await Promise.race([
        placeholder.waitFor({ state: 'visible', timeout: 60_000 }).then(
          () => 'text editor' as const,
          () => new Promise<never>(() => undefined),
        ),
        this.ready().then(() => 'volume editor' as const),
      ]);
      if (opened === 'volume editor') return;
      if (attempt === 3) throw new Error(`${relativePath} opened in the text editor three times, not in the volume editor`);
      await runCommand(this.page, 'View: Close Editor');
      await this.page.waitForTimeout(2000);
    }
  }

  /** Waits until the editor shows the volume with its labels. */
  async ready(timeoutMs = 60_000): Promise<void> {
    await this.view.locator('body[data-state="ready"]').waitFor({ state: 'attached', timeout: timeoutMs });
  }

  state(): Promise<EditorState> {
    return this.view.locator('body').evaluate(() => (window as unknown as { unet3dEditor: EditorHandle }).unet3dEditor.state());
  }

  labelAt(ijk: Vec3): Promise<number> {
    return this.view.locator('body').evaluate((_b, v) => (window as unknown as { unet3dEditor: EditorHandle }).unet3dEditor.labelAt(v), ijk);
  }

  setCrosshair(ijk: Vec3): Promise<void> {
    return this.view.locator('body').evaluate((_b, v) => (window as unknown as { unet3dEditor: EditorHandle }).unet3dEditor.setCrosshair(v), ijk);
  }

  private pendingEdits(): Promise<number> {
    return this.view.locator('body').evaluate(() => (window as unknown as { unet3dEditor: EditorHandle }).unet3dEditor.pendingEdits);
  }

  /** Waits until the host has answered every edit sent. */
  async settled(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.pendingEdits()) > 0) {
      if (Date.now() > deadline) throw new Error('edits still unanswered by the host');
      await this.page.waitForTimeout(50);
    }
  }

  /** Polls `check` until it returns true. */
  async until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await this.page.waitForTimeout(100);
    }
  }

  canvas(plane: PlaneName): Locator {
    return this.view.locator(`.pane[data-plane="${plane}"] canvas`);
  }

  /** Page coordinates of a voxel's centre on a pane. */
  async pagePoint(plane: PlaneName, ijk: Vec3): Promise<{ x: number; y: number }> {
    const box = await this.canvas(plane).boundingBox();
    if (!box) throw new Error(`the ${plane} pane is not visible`);
    const p = await this.view
      .locator('body')
      .evaluate((_b, [pl, v]) => (window as unknown as { unet3dEditor: EditorHandle }).unet3dEditor.canvasPoint(pl, v), [plane, ijk] as [PlaneName, Vec3]);
    return { x: box.x + p.x, y: box.y + p.y };
  }

  /** One stroke with the real mouse from voxel `from` to voxel `to` (both on the pane's current slice). */
  async stroke(plane: PlaneName, from: Vec3, to: Vec3): Promise<void> {
    const a = await this.pagePoint(plane, from);
    const b = await this.pagePoint(plane, to);
    await this.page.mouse.move(a.x, a.y);
    await this.page.mouse.down();
    await this.page.mouse.move(b.x, b.y, { steps: 12 });
    await this.page.mouse.up();
  }

  /** The status line's message now. */
  statusMessage(): Promise<string> {
    return this.view.locator('.status-message').innerText();
  }

  /** Waits until the status line's message matches `pattern`, and returns it. */
  async waitForMessage(pattern: RegExp, timeoutMs = 20_000): Promise<string> {
    let text = '';
    await this.until(`a status message matching ${pattern}`, async () => pattern.test((text = await this.statusMessage())), timeoutMs);
    return text;
  }

  /** The slice a pane's header shows, as it shows it: "28 / 55". */
  paneSlice(plane: PlaneName): Promise<string> {
    return this.view.locator(`.pane[data-plane="${plane}"] .pane-slice`).innerText();
  }

  /**
   * The RGB of the canvas pixels in a square of `half` CSS pixels either side of a voxel's
   * centre on a pane (as drawn: image, layers, hatch), one [r, g, b] per pixel.
   */
  async pixelsAround(plane: PlaneName, ijk: Vec3, half: number): Promise<[number, number, number][]> {
    return this.view.locator(`.pane[data-plane="${plane}"] canvas`).evaluate(
      (canvas, [pl, v, h]) => {
        const c = canvas as HTMLCanvasElement;
        const p = (window as unknown as { unet3dEditor: EditorHandle }).unet3dEditor.canvasPoint(pl, v);
        const scale = c.width / c.getBoundingClientRect().width;
        const size = Math.round(2 * h * scale);
        const data = c.getContext('2d')!.getImageData(Math.round((p.x - h) * scale), Math.round((p.y - h) * scale), size, size).data;
        const out: [number, number, number][] = [];
        for (let i = 0; i < data.length; i += 4) out.push([data[i], data[i + 1], data[i + 2]]);
        return out;
      },
      [plane, ijk, half] as [PlaneName, Vec3, number],
    );
  }

  /** Moves the mouse over a pane (making it the active pane) and focuses the editor. */
  async hover(plane: PlaneName): Promise<void> {
    const box = await this.canvas(plane).boundingBox();
    if (!box) throw new Error(`the ${plane} pane is not visible`);
    await this.page.mouse.move(box.x + box.width / 2, box.y + 8);
  }
}
