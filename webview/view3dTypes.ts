/**
 * What the fourth pane's frame (view3dPane.ts, in the page's bundle) and its 3D view (view3d.ts,
 * a bundle of its own) know of each other: types, and the global the view's bundle leaves its
 * class in.
 */
import type { LabelArray } from '../src/core/editDeltas';
import type { Mat4, Vec3 } from '../src/core/geometry';
import type { MeshLayer, MeshLevel, VoxelRange } from './meshBuilder';
import type { ColorTable } from './store';

/** What the 3D view needs from the editor around it. */
export interface View3dHost {
  readonly dims: Vec3;
  /** Voxel index → RAS+ mm. */
  readonly affine: Mat4;
  readonly spacing: Vec3;
  readonly crosshair: Vec3;
  readonly labels: Readonly<LabelArray>;
  /** Labeled voxels per slice across z (slabs without any are not sent to the worker). */
  readonly labelCountsZ: ArrayLike<number>;
  readonly prediction: Readonly<LabelArray> | undefined;
  /** Voxels of a class above background per slice across z, when there is a prediction. */
  readonly predictionCountsZ: ArrayLike<number> | undefined;
  readonly colors: ColorTable;
  /** The prediction is shown (P). */
  readonly showPrediction: boolean;
  /** Moves the crosshair (a click on a surface). */
  setCrosshair(voxel: Vec3): void;
  onToggleMaximize3d(): void;
  /** Says something in the status line. */
  showMessage(text: string, level?: 'info' | 'warning' | 'error'): void;
  logError(message: string): void;
}

/** The pane's parts the view draws into and writes its notes in. */
export interface View3dFrame {
  readonly element: HTMLDivElement;
  readonly canvas: HTMLCanvasElement;
  showNote(text: string | undefined): void;
}

/** Where the page finds the view's code: its bundle and the mesh worker's (webview resource URLs), and the page's script nonce. */
export interface View3dAssets {
  script?: string;
  worker?: string;
  nonce?: string;
}

/** The global the view's bundle leaves its class in (a plain script cannot export). */
export const VIEW3D_GLOBAL = 'unet3dView3d';

/** What the pane asks of the view (view3d.ts, in its own bundle). */
export interface View3dView {
  /** Starts building surfaces (WebGL and the worker set up first). */
  activate(): void;
  labelsReplaced(): void;
  labelsChanged(box: VoxelRange): void;
  refresh(): void;
  crosshairMoved(): void;
  resetCamera(): void;
  readonly status: { webgl: boolean; worker: boolean; problem?: string };
  /** Builds the worker has answered, for tests: layer, level, milliseconds. */
  readonly builds: { layer: MeshLayer; level: MeshLevel; milliseconds: number; meshes: number }[];
  /**
   * Renders now and reads the pixels back: for each class value given, how many pixels show its
   * colour and their centre, CSS pixels from the canvas's top left.
   */
  readBack(values: number[]): { width: number; height: number; lit: number; classes: Record<number, { pixels: number; x: number; y: number }> };
}

/** The view's class, as its bundle leaves it in `VIEW3D_GLOBAL`. */
export type View3dClass = new (host: View3dHost, frame: View3dFrame, workerUrl: string | undefined) => View3dView;

