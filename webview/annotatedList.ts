/**
 * The list of annotated slices in the side bar (one row per plane, each slice a button that
 * jumps there, with the labeled voxels it holds; an almost empty one stands out) and the short
 * key help (a section of its own), and the choice of the next annotated slice for the ◂ ▸
 * buttons and keys. The list's content is worked out by pure functions; the class only draws it.
 */
import { isNearlyEmptySlice } from '../src/core/annotatedSlices';
import type { Axis } from '../src/core/slices';
import type { PlaneName } from '../src/core/planes';
import { formatCount, voxelCount } from './messages';
import type { Pane } from './pane';

/** One plane's entry: its annotated slices (0-based, ascending) and the slice it shows. */
export interface PlaneSlices {
  plane: PlaneName;
  slices: readonly number[];
  current: number;
  /** Labeled voxels of each annotated slice that no annotated slice of another axis holds (as `slices`). */
  voxels: readonly number[];
  /** Voxels in one slice of this plane, and how many slices it has. */
  sliceVoxels: number;
  sliceCount: number;
}

/** A slice button: its 1-based number, its labeled voxels (short), tooltip, whether the plane shows it now, and whether it is almost empty. */
export interface SliceChip {
  slice: number;
  text: string;
  count: string;
  title: string;
  current: boolean;
  nearlyEmpty: boolean;
}

/** A count in at most four characters: 7, 980, 3.0k, 12k, 1.2M. */
export function shortCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 10_000) return `${(n / 1000).toFixed(1)}k`;
  if (n < 1_000_000) return `${Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** One row of the list. */
export interface AnnotatedRow {
  plane: PlaneName;
  /** The plane's name, capitalized. */
  name: string;
  /** Empty when the plane has no annotated slice (the row says "none"). */
  chips: SliceChip[];
}

/** The rows of the list, one per plane in the order given. */
export function annotatedRows(planes: readonly PlaneSlices[]): AnnotatedRow[] {
  return planes.map(({ plane, slices, current, voxels, sliceVoxels, sliceCount }) => ({
    plane,
    name: plane[0].toUpperCase() + plane.slice(1),
    chips: slices.map((s, i) => {
      const own = voxels[i] ?? 0;
      const nearlyEmpty = isNearlyEmptySlice(own, sliceVoxels);
      const held = `${voxelCount(own)} labeled (of ${formatCount(sliceVoxels)})`;
      return {
        slice: s,
        text: String(s + 1),
        count: shortCount(own),
        title:
          `Go to ${plane} slice ${s + 1} of ${sliceCount}: ${held}` +
          (nearlyEmpty ? '. Almost empty: training learns from it as an annotated slice; label it fully or erase a stray click.' : ''),
        current: s === current,
        nearlyEmpty,
      };
    }),
  }));
}

/** The nearest annotated slice after (`step` 1) or before (−1) `current`, or undefined; `slices` ascending. */
export function adjacentAnnotatedSlice(slices: readonly number[], current: number, step: 1 | -1): number | undefined {
  return step > 0 ? slices.find((s) => s > current) : [...slices].reverse().find((s) => s < current);
}

/** What to tell the user when there is no annotated slice to jump to. */
export function noAdjacentSliceMessage(plane: PlaneName, annotatedCount: number, step: 1 | -1): string {
  return annotatedCount ? `No labeled ${plane} slice ${step > 0 ? 'after' : 'before'} this one.` : `No ${plane} slice carries labels yet.`;
}

/** The short help under the list. */
export const HELP_LINES: readonly string[] = [
  'Wheel or ↑↓: slice · Shift: ×10',
  'Ctrl+wheel: zoom · Shift+drag or middle drag: pan',
  'Right drag: window/level · Ctrl+click: crosshair',
  'N navigate · B brush · E eraser · F fill · [ ] size',
  'Shift+F fill slice · Shift+A accept prediction · 1–9 class',
];

/** What the list needs from the editor around it. */
export interface AnnotatedListHost {
  readonly panes: readonly Pane[];
  /** The annotated slices along `axis`, ascending. */
  labeledSlices(axis: Axis): number[];
  /** Labeled voxels of annotated slice `index` along `axis` that no annotated slice of another axis holds. */
  ownLabeledVoxels(axis: Axis, index: number): number;
  /** Makes `pane` the active one and shows `slice` on it. */
  goToAnnotated(pane: Pane, slice: number): void;
}

export class AnnotatedSliceList {
  readonly element: HTMLDivElement;
  /** The key help, drawn once. */
  readonly helpElement: HTMLDivElement;

  constructor(private readonly host: AnnotatedListHost) {
    this.element = document.createElement('div');
    this.element.className = 'annotated-list';
    this.helpElement = element('div', 'help');
    for (const text of HELP_LINES) this.helpElement.append(element('div', undefined, text));
  }

  /** Draws the list again from the annotated slices and the panes' slices now. */
  refresh(): void {
    const { host } = this;
    const list = this.element;
    list.textContent = '';
    const rows = annotatedRows(
      host.panes.map((pane) => {
        const axis = pane.layout.sliceAxis;
        const slices = host.labeledSlices(axis);
        return {
          plane: pane.plane,
          slices,
          current: pane.slice,
          voxels: slices.map((s) => host.ownLabeledVoxels(axis, s)),
          sliceVoxels: pane.layout.width * pane.layout.height,
          sliceCount: pane.layout.sliceCount,
        };
      }),
    );
    rows.forEach((row, i) => {
      const pane = host.panes[i];
      const line = element('div', 'labeled-row');
      line.dataset.plane = row.plane;
      line.append(element('span', 'labeled-plane', row.name));
      if (row.chips.length === 0) line.append(element('span', 'labeled-none', 'none'));
      for (const chip of row.chips) {
        const button = element('button', 'slice-chip', chip.text);
        button.append(element('span', 'slice-chip-count', chip.count));
        button.title = chip.title;
        button.dataset.slice = String(chip.slice);
        if (chip.current) button.classList.add('current');
        if (chip.nearlyEmpty) button.classList.add('nearly-empty');
        button.addEventListener('click', () => host.goToAnnotated(pane, chip.slice));
        line.append(button);
      }
      list.append(line);
    });
  }
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string | undefined, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}
