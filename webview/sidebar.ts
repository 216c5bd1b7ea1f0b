/**
 * The editor's side panel: tools and brush size, the class list (select, add, rename, recolor,
 * remove), window/level presets, label and prediction display (with a legend telling painted
 * labels from the prediction) and the layout switch; a button hides it (the panes get the room).
 * Controls are @vscode-elements components, coloured by the VS Code theme.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import type { WindowLevel } from '../src/core/windowLevel';
import type { ClassEdit, ToolName } from '../src/protocol/webview';
import type { GrayWindow } from './grayWindow';
import type { LayerLook } from './render';
import type { DocumentStore } from './store';
import { MAX_BRUSH, type LayoutMode, type ViewState } from './viewState';

/** What the side bar needs from the editor around it: the state its controls show, and the actions they take. */
export interface SidebarHost {
  readonly view: Readonly<ViewState>;
  /** The window/level now, its name and the presets. */
  readonly gray: Pick<GrayWindow, 'window' | 'name' | 'presets'>;
  /** The classes and the prediction. */
  readonly store: Pick<DocumentStore, 'classes' | 'prediction' | 'predictionName'>;
  setTool(tool: ToolName): void;
  setBrushSize(size: number): void;
  selectClass(value: number): void;
  /** Asks the host for a class-list change. */
  requestClassEdit(edit: ClassEdit): Promise<void>;
  fillSlice(): void;
  acceptPrediction(): void;
  setOpacity(layer: 'labels' | 'prediction', opacity: number): void;
  setOutline(outline: boolean): void;
  setPredictionLook(look: LayerLook): void;
  setShowPrediction(show: boolean): void;
  setWindow(window: WindowLevel, name: string): void;
  setLayoutMode(mode: LayoutMode): void;
  /** Shows or hides the side bar (the user's choice; it is hidden on its own when the editor is narrow). */
  setSidebarHidden(hidden: boolean): void;
}

interface Checkable extends HTMLElement {
  checked: boolean;
  disabled: boolean;
}
interface Valued extends HTMLElement {
  value: string;
}

const LOOKS: { look: LayerLook; label: string; title: string }[] = [
  { look: 'hatched', label: 'Hatched', title: 'Diagonal stripes over the predicted regions, their edges drawn: told apart from painted labels' },
  { look: 'outline', label: 'Outline', title: 'Only the edges of the predicted regions' },
  { look: 'filled', label: 'Filled', title: 'The predicted regions filled like painted labels' },
];

const TOOLS: { tool: ToolName; label: string; key: string; title: string }[] = [
  { tool: 'navigate', label: 'Navigate', key: 'N', title: 'Click or drag to move the crosshair' },
  { tool: 'brush', label: 'Brush', key: 'B', title: 'Paint the active class with a round brush' },
  { tool: 'eraser', label: 'Eraser', key: 'E', title: 'Erase back to unlabeled' },
  { tool: 'fill', label: 'Fill', key: 'F', title: 'Flood-fill the clicked region of this slice with the active class' },
];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function custom<T extends HTMLElement>(tag: string, attributes: Record<string, string | boolean> = {}): T {
  const e = document.createElement(tag) as T;
  for (const [k, v] of Object.entries(attributes)) {
    if (v === true) e.setAttribute(k, '');
    else if (v !== false) e.setAttribute(k, v);
  }
  return e;
}

/** A collapsible section of the side bar, open unless `open` is false. */
export function section(title: string, ...children: HTMLElement[]): HTMLElement {
  const s = custom<HTMLElement>('vscode-collapsible', { title, open: true });
  const body = el('div', 'section-body');
  body.append(...children);
  s.append(body);
  return s;
}

function slider(min: number, max: number, step: number, onInput: (v: number) => void): HTMLInputElement {
  const input = el('input', 'slider');
  input.type = 'range';
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  input.addEventListener('input', () => onInput(Number(input.value)));
  return input;
}

function formatWindowValue(v: number): string {
  return String(Math.abs(v) >= 100 ? v.toFixed(0) : +v.toPrecision(3));
}

/** Keeps typing inside a text field from reaching VS Code's keybindings (single-letter tool keys). */
function keepKeys(element: HTMLElement): void {
  element.addEventListener('keydown', (e) => {
    if (!e.ctrlKey && !e.metaKey && !e.altKey) e.stopPropagation();
  });
}

export class Sidebar {
  readonly element: HTMLElement;
  /** What shows instead while the side bar is hidden: a narrow strip with a button to show it. */
  readonly strip: HTMLElement;
  private readonly toolButtons = new Map<ToolName, HTMLElement>();
  private readonly brushSlider: HTMLInputElement;
  private readonly brushValue: HTMLSpanElement;
  private readonly classList: HTMLDivElement;
  private classSignature = '';
  private readonly labelOpacity: HTMLInputElement;
  private readonly outline: Checkable;
  private readonly predictionName: HTMLDivElement;
  private readonly showPrediction: Checkable;
  private readonly predictionOpacity: HTMLInputElement;
  private readonly lookButtons = new Map<LayerLook, HTMLButtonElement>();
  private readonly legend: HTMLDivElement;
  private readonly acceptButton: Checkable;
  private readonly windowChips: HTMLDivElement;
  private windowSignature = '';
  private readonly windowText: HTMLDivElement;
  private readonly layoutButton: HTMLElement;

  constructor(private readonly host: SidebarHost) {
    this.element = el('aside', 'sidebar');
    const hide = el('button', 'sidebar-hide', '«');
    hide.title = 'Hide the side bar (the panes get the room)';
    hide.addEventListener('click', () => host.setSidebarHidden(true));
    const top = el('div', 'sidebar-top');
    top.append(el('span', 'sidebar-title', '3D U-Net'), hide);
    this.strip = el('div', 'sidebar-strip');
    const show = el('button', 'sidebar-show', '»');
    show.title = 'Show the side bar: tools, classes, window, prediction';
    show.addEventListener('click', () => host.setSidebarHidden(false));
    this.strip.append(show);

    // Tools
    const tools = el('div', 'tool-buttons');
    for (const t of TOOLS) {
      const b = custom<HTMLElement>('vscode-button', { title: `${t.title} (${t.key})` });
      b.dataset.tool = t.tool;
      b.textContent = `${t.label}`;
      b.addEventListener('click', () => host.setTool(t.tool));
      this.toolButtons.set(t.tool, b);
      tools.append(b);
    }
    this.brushSlider = slider(1, MAX_BRUSH, 1, (v) => host.setBrushSize(v));
    this.brushSlider.title = 'Brush diameter in voxels of the finer in-plane spacing ([ and ] change it)';
    this.brushValue = el('span', 'value');
    const brushRow = el('div', 'row');
    brushRow.append(el('span', 'row-label', 'Size'), this.brushSlider, this.brushValue);
    const fillSlice = custom<HTMLElement>('vscode-button', { secondary: true, title: 'Give every unlabeled voxel of the active slice the active class (Shift+F)' });
    fillSlice.textContent = 'Fill unlabeled in slice';
    fillSlice.className = 'wide';
    fillSlice.addEventListener('click', () => host.fillSlice());

    // Classes
    this.classList = el('div', 'class-list');
    const addClass = custom<HTMLElement>('vscode-button', { secondary: true, title: 'Add a class' });
    addClass.textContent = 'Add class';
    addClass.className = 'wide';
    addClass.addEventListener('click', () => this.requestClassEdit({ action: 'add' }));

    // Label display
    this.labelOpacity = slider(0, 1, 0.05, (v) => host.setOpacity('labels', v));
    const opacityRow = el('div', 'row');
    opacityRow.append(el('span', 'row-label', 'Opacity'), this.labelOpacity);
    this.outline = custom<Checkable>('vscode-checkbox', { label: 'Outline only (O)' });
    this.outline.addEventListener('change', () => host.setOutline(this.outline.checked));

    // Prediction
    this.predictionName = el('div', 'prediction-name');
    this.showPrediction = custom<Checkable>('vscode-checkbox', { label: 'Show (P)' });
    this.showPrediction.addEventListener('change', () => host.setShowPrediction(this.showPrediction.checked));
    this.predictionOpacity = slider(0, 1, 0.05, (v) => host.setOpacity('prediction', v));
    const predictionOpacityRow = el('div', 'row');
    predictionOpacityRow.append(el('span', 'row-label', 'Opacity'), this.predictionOpacity);
    const looks = el('div', 'chips');
    looks.title = 'How the prediction is drawn';
    for (const l of LOOKS) {
      const b = el('button', 'chip', l.label);
      b.title = l.title;
      b.dataset.look = l.look;
      b.addEventListener('click', () => host.setPredictionLook(l.look));
      this.lookButtons.set(l.look, b);
      looks.append(b);
    }
    this.legend = el('div', 'legend');
    this.acceptButton = custom<Checkable>('vscode-button', { secondary: true, title: 'Replace the labels of the active slice with the prediction (Shift+A)' });
    this.acceptButton.textContent = 'Accept on this slice';
    this.acceptButton.className = 'wide';
    this.acceptButton.addEventListener('click', () => host.acceptPrediction());

    // Window: every preset a button (a drop-down list was cut off at the editor's bottom edge).
    this.windowChips = el('div', 'chips');
    this.windowChips.title = 'Window presets (right-drag on a pane adjusts the window)';
    this.windowText = el('div', 'window-text');

    // View
    this.layoutButton = custom<HTMLElement>('vscode-button', { secondary: true, title: 'Switch between three panes and one maximized pane (M)' });
    this.layoutButton.className = 'wide';
    this.layoutButton.addEventListener('click', () => host.setLayoutMode(host.view.layoutMode === 'three' ? 'single' : 'three'));

    this.element.append(
      top,
      section('Tools', tools, brushRow, fillSlice),
      section('Classes', this.classList, addClass),
      section('Window', this.windowChips, this.windowText),
      section('Labels', opacityRow, this.outline),
      section('Prediction', this.predictionName, this.showPrediction, predictionOpacityRow, looks, this.legend, this.acceptButton),
      section('View', this.layoutButton),
    );
    this.refresh();
  }

  private requestClassEdit(edit: ClassEdit): void {
    void this.host.requestClassEdit(edit);
  }

  /** Brings every control in line with the editor's state. */
  refresh(): void {
    const { view, store } = this.host;
    for (const [tool, b] of this.toolButtons) {
      b.toggleAttribute('secondary', tool !== view.tool);
      b.classList.toggle('selected', tool === view.tool);
    }
    this.brushSlider.value = String(view.brushSize);
    this.brushValue.textContent = `${view.brushSize} vox`;
    this.refreshClasses();
    this.labelOpacity.value = String(view.labelOpacity);
    this.outline.checked = view.outline;
    const hasPrediction = store.prediction !== undefined;
    this.predictionName.textContent = store.predictionName ?? 'None yet: run Segment, or Show Prediction… from the title bar.';
    this.predictionName.classList.toggle('muted', !hasPrediction);
    this.showPrediction.checked = view.showPrediction;
    this.showPrediction.disabled = !hasPrediction;
    this.predictionOpacity.value = String(view.predictionOpacity);
    this.predictionOpacity.disabled = !hasPrediction;
    for (const [look, b] of this.lookButtons) {
      b.classList.toggle('selected', look === view.predictionLook);
      b.disabled = !hasPrediction;
    }
    this.refreshLegend(hasPrediction);
    this.acceptButton.toggleAttribute('disabled', !hasPrediction);
    this.refreshWindow();
    this.layoutButton.textContent = view.layoutMode === 'three' ? 'One pane' : 'Three panes';
  }

  /** Painted labels are filled, the prediction drawn in its look: a swatch of each, in the active class's colour. */
  private refreshLegend(hasPrediction: boolean): void {
    const { view, store } = this.host;
    const color = store.classes.find((c) => c.value === view.activeClass)?.color ?? store.classes[0]?.color ?? '#ff0000';
    const signature = `${color}|${view.predictionLook}|${view.outline}|${hasPrediction}`;
    if (this.legend.dataset.signature === signature) return;
    this.legend.dataset.signature = signature;
    this.legend.textContent = '';
    this.legend.style.setProperty('--swatch', color);
    const row = (swatchClass: string, text: string) => {
      const r = el('div', 'legend-row');
      r.append(el('span', `legend-swatch ${swatchClass}`), el('span', undefined, text));
      return r;
    };
    this.legend.append(
      row(view.outline ? 'outline' : 'filled', view.outline ? 'Painted labels (outline)' : 'Painted labels'),
      row(view.predictionLook, `Prediction${hasPrediction ? '' : ' (none yet)'}`),
    );
  }

  private refreshWindow(): void {
    const gray = this.host.gray;
    const signature = gray.presets.map((p) => p.name).join('|');
    if (signature !== this.windowSignature) {
      this.windowSignature = signature;
      this.windowChips.textContent = '';
      for (const preset of gray.presets) {
        const chip = el('button', 'chip window-chip', preset.name);
        chip.dataset.window = preset.name;
        chip.title = `Width ${formatWindowValue(preset.width)} · Level ${formatWindowValue(preset.level)}`;
        chip.addEventListener('click', () => {
          this.host.setWindow(preset, preset.name);
          this.refresh();
        });
        this.windowChips.append(chip);
      }
      const customChip = el('button', 'chip window-chip custom', 'Custom');
      customChip.dataset.window = 'Custom';
      customChip.disabled = true;
      customChip.title = 'Right-drag on a pane: left/right sets the width, up/down the level';
      this.windowChips.append(customChip);
    }
    for (const chip of this.windowChips.children) (chip as HTMLElement).classList.toggle('selected', (chip as HTMLElement).dataset.window === gray.name);
    this.windowText.textContent = `Width ${formatWindowValue(gray.window.width)} · Level ${formatWindowValue(gray.window.level)}`;
  }

  private refreshClasses(): void {
    const { host } = this;
    const classes = host.store.classes;
    const activeClass = host.view.activeClass;
    const signature = JSON.stringify(classes) + activeClass;
    if (signature === this.classSignature) return;
    this.classSignature = signature;
    this.classList.textContent = '';
    for (const c of classes) {
      const row = el('div', 'class-row');
      row.dataset.value = String(c.value);
      row.classList.toggle('active', c.value === activeClass);
      row.title = `Class ${c.value}${c.value <= 9 ? ` (key ${c.value})` : ''}: click to paint with it`;
      const key = el('span', 'class-key', c.value <= 9 ? String(c.value) : '');
      const color = el('input', 'class-color');
      color.type = 'color';
      color.value = c.color;
      color.title = 'Change the colour';
      color.addEventListener('click', (e) => e.stopPropagation());
      color.addEventListener('change', () => this.requestClassEdit({ action: 'recolor', value: c.value, color: color.value }));
      const name = el('span', 'class-name', c.name);
      name.title = 'Double-click to rename';
      name.addEventListener('dblclick', (e) => {
        e.stopPropagation();
        this.startRename(name, c.value, c.name);
      });
      const remove = el('button', 'class-remove', '×');
      remove.title = `Remove "${c.name}" and its labeled voxels (undo with Ctrl+Z)`;
      remove.disabled = classes.length <= 1;
      remove.addEventListener('click', (e) => {
        e.stopPropagation();
        this.requestClassEdit({ action: 'remove', value: c.value });
      });
      row.append(key, color, name, remove);
      row.addEventListener('click', () => host.selectClass(c.value));
      this.classList.append(row);
    }
  }

  private startRename(name: HTMLElement, value: number, current: string): void {
    const field = custom<Valued>('vscode-textfield', { value: current });
    field.className = 'class-name-field';
    keepKeys(field);
    let done = false;
    const finish = (commit: boolean) => {
      if (done) return;
      done = true;
      const text = field.value.trim();
      if (commit && text && text !== current) this.requestClassEdit({ action: 'rename', value, name: text });
      this.classSignature = '';
      this.refreshClasses();
    };
    field.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') finish(true);
      if (e.key === 'Escape') finish(false);
    });
    field.addEventListener('blur', () => finish(true));
    field.addEventListener('click', (e) => e.stopPropagation());
    name.replaceWith(field);
    requestAnimationFrame(() => field.focus());
  }
}
