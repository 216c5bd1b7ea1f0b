/**
 * Streams the three planes through a voxel from a volume's file on a worker thread of the
 * extension host (dist/planesThread.js; see planesThread.ts for why not on the host's own).
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Vec3 } from '../../core/geometry';
import type { FileRule } from '../../core/regularFile';
import type { PlaneVoxels, VolumeGrid, VoxelLayout } from '../../core/voxelStream';

export interface PlanesRequest {
  file: string;
  grid: Pick<VolumeGrid, 'dims' | 'datatype'>;
  layout: VoxelLayout;
  voxel: Vec3;
  rule: FileRule;
  /** Where to write the inflated voxels as they pass (a file that must not exist yet), if anywhere. */
  rawCopy?: string;
}

/** `done.rawCopy`: the copy asked for, holding every voxel (absent where it could not be written). */
export type PlanesThreadMessage = ({ type: 'plane' } & PlaneVoxels) | { type: 'done'; rawCopy?: string } | { type: 'error'; message: string };

/**
 * Hands each plane through `request.voxel` to `onPlane` as soon as the thread has it; resolves
 * once all three are in (and the raw copy written, where asked: its path when whole), rejects
 * with the reader's message where the file cannot be streamed. `signal` ends the thread (the
 * promise then resolves). `threadFile`: the bundled thread (dist/planesThread.js beside
 * dist/extension.js by default).
 */
export function runPlanesThread(
  request: PlanesRequest,
  onPlane: (plane: PlaneVoxels) => void,
  signal?: AbortSignal,
  threadFile = path.join(__dirname, 'planesThread.js'),
): Promise<{ rawCopy?: string }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return resolve({});
    const worker = new Worker(threadFile, { workerData: request });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', stop);
      fn();
      void worker.terminate();
    };
    const stop = () => settle(() => resolve({}));
    signal?.addEventListener('abort', stop, { once: true });
    worker.on('message', (message: PlanesThreadMessage) => {
      if (settled) return;
      if (message.type === 'plane') onPlane({ axis: message.axis, index: message.index, bytes: message.bytes });
      else if (message.type === 'done') settle(() => resolve(message.rawCopy ? { rawCopy: message.rawCopy } : {}));
      else settle(() => reject(new Error(message.message)));
    });
    worker.once('error', (error) => settle(() => reject(error)));
    worker.once('exit', (code) => settle(() => reject(new Error(`the thread streaming the planes ended (exit code ${code}) before they were in`))));
  });
}
