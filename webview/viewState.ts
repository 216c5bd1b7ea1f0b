/**
 * How the editor shows the document (not the document itself): the crosshair, the tool, the
 * brush, the active class, the layout and the layers' look; and the part of it the webview
 * remembers across reloads (VS Code's webview state), checked when it comes back. Pure.
 */
import type { Vec3 } from '../src/core/geometry';
import { PLANES, type PlaneName } from '../src/core/planes';
import { TOOL_NAMES, type EditorSettings, type ToolName } from '../src/protocol/webview';
import { LAYER_LOOKS, type LayerLook } from './render';

/** The largest brush, voxels. */
export const MAX_BRUSH = 99;

/** Three panes side by side, or one maximized. */
export type LayoutMode = 'three' | 'single';

/**
 * Whether the side bar shows: `auto` hides it when the editor is narrower than
 * SIDEBAR_MIN_EDITOR_WIDTH (the panes need the room), `shown` and `hidden` are the user's choice.
 */
export type SidebarMode = 'auto' | 'shown' | 'hidden';

/** Below this editor width (CSS pixels) an `auto` side bar is hidden. */
export const SIDEBAR_MIN_EDITOR_WIDTH = 760;

/** Whether the side bar is hidden in `mode` for an editor `width` CSS pixels wide. */
export function isSidebarHidden(mode: SidebarMode, width: number): boolean {
  return mode === 'hidden' || (mode === 'auto' && width < SIDEBAR_MIN_EDITOR_WIDTH);
}

/** The editor's panes: the three slice panes and the 3D view. */
export type PaneName = PlaneName | '3d';

/** The editor's view settings. */
export interface ViewState {
  /** Voxel (i, j, k) where the three planes cross. */
  crosshair: Vec3;
  tool: ToolName;
  /** Brush diameter in voxels of the finer in-plane spacing, 1..MAX_BRUSH. */
  brushSize: number;
  /** The class the brush, fill and fill slice paint, 1..the number of classes. */
  activeClass: number;
  layoutMode: LayoutMode;
  /** The pane shown alone in the single layout (a slice pane, or the 3D view). */
  maximized: PaneName;
  /** Labels drawn as outlines only. */
  outline: boolean;
  /** Label layer opacity, 0–1. */
  labelOpacity: number;
  /** Prediction layer opacity, 0–1. */
  predictionOpacity: number;
  /** How the prediction is drawn (hatched by default: told apart from the painted labels). */
  predictionLook: LayerLook;
  showPrediction: boolean;
  sidebar: SidebarMode;
}

/** What the webview remembers across reloads, for the file it names. */
export interface SavedViewState {
  fileName: string;
  crosshair: Vec3;
  tool: ToolName;
  brushSize: number;
  activeClass: number;
  layoutMode: LayoutMode;
  maximized: PaneName;
  outline: boolean;
  predictionLook: LayerLook;
  sidebar: SidebarMode;
}

/** The view a volume of `dims` opens with: crosshair at the centre, class 2 (foreground) when there is one. */
export function initialViewState(dims: Vec3, classCount: number, settings: EditorSettings): ViewState {
  return {
    crosshair: [Math.floor(dims[0] / 2), Math.floor(dims[1] / 2), Math.floor(dims[2] / 2)],
    tool: 'navigate',
    brushSize: 5,
    activeClass: classCount >= 2 ? 2 : 1,
    layoutMode: 'three',
    maximized: 'axial',
    outline: false,
    labelOpacity: settings.labelOpacity,
    predictionOpacity: settings.predictionOpacity,
    predictionLook: 'hatched',
    showPrediction: true,
    sidebar: 'auto',
  };
}

/**
 * Takes into `view` what a saved state holds for file `fileName`, field by field where the field
 * is valid for a volume of `dims` with `classCount` classes; a state saved for another file, or
 * anything that is not one, changes nothing.
 */
export function restoreViewState(view: ViewState, saved: unknown, fileName: string, dims: Vec3, classCount: number): void {
  if (typeof saved !== 'object' || saved === null) return;
  const s = saved as Partial<Record<keyof SavedViewState, unknown>>;
  if (s.fileName !== fileName) return;
  const c = s.crosshair;
  if (Array.isArray(c) && c.length === 3 && c.every((v, a) => Number.isInteger(v) && v >= 0 && v < dims[a])) view.crosshair = [...c] as Vec3;
  if (TOOL_NAMES.includes(s.tool as ToolName)) view.tool = s.tool as ToolName;
  if (typeof s.brushSize === 'number' && s.brushSize >= 1 && s.brushSize <= MAX_BRUSH) view.brushSize = s.brushSize;
  if (typeof s.activeClass === 'number' && s.activeClass >= 1 && s.activeClass <= classCount) view.activeClass = s.activeClass;
  if (s.layoutMode === 'single' || s.layoutMode === 'three') view.layoutMode = s.layoutMode;
  if (PLANES.includes(s.maximized as PlaneName) || s.maximized === '3d') view.maximized = s.maximized as PaneName;
  if (typeof s.outline === 'boolean') view.outline = s.outline;
  if (LAYER_LOOKS.includes(s.predictionLook as LayerLook)) view.predictionLook = s.predictionLook as LayerLook;
  if (s.sidebar === 'auto' || s.sidebar === 'shown' || s.sidebar === 'hidden') view.sidebar = s.sidebar;
}

/** The part of `view` to remember for file `fileName`. */
export function savedViewState(view: ViewState, fileName: string): SavedViewState {
  return {
    fileName,
    crosshair: [...view.crosshair] as Vec3,
    tool: view.tool,
    brushSize: view.brushSize,
    activeClass: view.activeClass,
    layoutMode: view.layoutMode,
    maximized: view.maximized,
    outline: view.outline,
    predictionLook: view.predictionLook,
    sidebar: view.sidebar,
  };
}

/** A brush size made whole and kept within 1..MAX_BRUSH. */
export function clampBrushSize(size: number): number {
  return Math.max(1, Math.min(MAX_BRUSH, Math.round(size)));
}

/** True when `pane` shows in the layout (all three, or the maximized one). */
export function isPlaneVisible(view: Pick<ViewState, 'layoutMode' | 'maximized'>, plane: PaneName): boolean {
  return view.layoutMode === 'three' || plane === view.maximized;
}
