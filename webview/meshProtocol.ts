/**
 * Messages between the 3D view (view3d.ts) and its mesh worker (meshWorker.ts). Labels travel as
 * boxes of values (exact-size buffers, transferred); surfaces come back per brick and class.
 */
import type { Vec3 } from '../src/core/geometry';
import type { BrickMesh, MeshLayer, MeshLevel, VoxelRange } from './meshBuilder';

export type ToMeshWorker =
  /** A volume of `dims`: the layers start empty. */
  | { type: 'init'; dims: Vec3 }
  /** The labels of a cell-aligned voxel box of a layer, x fastest (uint8 or uint16 values). */
  | { type: 'labels'; layer: MeshLayer; box: VoxelRange; values: ArrayBuffer; wide: boolean; id: number }
  /** Forget a layer's labels (a new label map follows, or the prediction is gone). */
  | { type: 'clear'; layer: MeshLayer }
  /** Build the surfaces of a layer at a level: of the bricks around `range`, or all. */
  | { type: 'build'; layer: MeshLayer; level: MeshLevel; range?: VoxelRange; id: number };

export type FromMeshWorker =
  /** The labels of message `id` are counted (the view sends the next box). */
  | { type: 'counted'; id: number }
  /** Surfaces built for build `id`: replace the bricks named in `bricks` (keys without the class: `layer:level:bx,by,bz`), add `meshes`. */
  | { type: 'meshes'; id: number; layer: MeshLayer; level: MeshLevel; bricks: string[]; meshes: BrickMesh[]; milliseconds: number }
  | { type: 'error'; message: string };
