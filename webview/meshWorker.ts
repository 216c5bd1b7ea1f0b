/**
 * The 3D view's web worker (bundled to dist/meshWorker.js): keeps the voxel counts of each label
 * layer on a coarse grid and builds their surfaces by marching cubes, off the editor's thread.
 */
import type { Vec3 } from '../src/core/geometry';
import { LayerCounts, gridFactors, type BrickMesh, type MeshLayer } from './meshBuilder';
import type { FromMeshWorker, ToMeshWorker } from './meshProtocol';

interface WorkerScope {
  onmessage: ((event: MessageEvent<ToMeshWorker>) => void) | null;
  postMessage(message: FromMeshWorker, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

/** Painted labels count by occupancy (thin slices show); the prediction by share (smooth). */
const MODES: Record<MeshLayer, 'occupancy' | 'fraction'> = { labels: 'occupancy', prediction: 'fraction' };
let layers: Record<MeshLayer, LayerCounts> | undefined;

function handle(message: ToMeshWorker): void {
  switch (message.type) {
    case 'init': {
      const { fine } = gridFactors(message.dims);
      layers = { labels: new LayerCounts(message.dims, fine), prediction: new LayerCounts(message.dims, fine) };
      return;
    }
    case 'labels': {
      const values = message.wide ? new Uint16Array(message.values) : new Uint8Array(message.values);
      layers![message.layer].update(message.box, values);
      scope.postMessage({ type: 'counted', id: message.id });
      return;
    }
    case 'clear':
      layers![message.layer].clear();
      return;
    case 'build': {
      const started = performance.now();
      const counts = layers![message.layer];
      const meshes: BrickMesh[] = [];
      const bricks = counts.bricks(message.level, message.range);
      for (const brick of bricks) {
        for (const value of counts.values) {
          const mesh = counts.brickMesh(message.layer, value, message.level, brick as Vec3, MODES[message.layer]);
          if (mesh.indices.length) meshes.push(mesh);
        }
      }
      const transfer = meshes.flatMap((m) => [m.positions.buffer, m.normals.buffer, m.indices.buffer]);
      scope.postMessage(
        {
          type: 'meshes',
          id: message.id,
          layer: message.layer,
          level: message.level,
          bricks: bricks.map((b) => `${message.layer}:${message.level}:${b.join(',')}`),
          meshes,
          milliseconds: performance.now() - started,
        },
        transfer,
      );
      return;
    }
  }
}

scope.onmessage = (event) => {
  try {
    handle(event.data);
  } catch (error) {
    scope.postMessage({ type: 'error', message: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error) });
  }
};
