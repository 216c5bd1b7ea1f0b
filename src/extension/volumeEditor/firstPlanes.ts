/**
 * The three planes through a voxel, streamed from the volume's file (on a worker thread) for a webview that has just
 * opened, so it shows them before the rest of the voxels arrive. The stream for the centre starts
 * as soon as the document opens (while VS Code builds the webview); a webview that resumes at
 * another voxel gets a stream of its own. Each plane is handed over as soon as it is complete (the
 * axial one halfway through the file), and nothing is kept once a webview has had them: the host
 * never holds the volume's voxels.
 */
import type { Vec3 } from '../../core/geometry';
import { centreVoxel, streamableLayout, type PlaneVoxels } from '../../core/voxelStream';
import { runPlanesThread } from './runPlanesThread';
import type { VolumeSource } from './volumeFile';
import { dataFileRoots } from './volumeFile';

interface PlanesRun {
  /** The planes complete so far. */
  planes: PlaneVoxels[];
  /** Who waits for the rest. */
  waiters: Set<(plane: PlaneVoxels) => void>;
  /** Settles when the stream has ended (every plane in, or an error). */
  done: Promise<void>;
  abort: AbortController;
}

export class FirstPlanes {
  private readonly runs = new Map<string, PlanesRun>();

  private constructor(
    private readonly source: Required<VolumeSource>,
    private readonly onError: (error: Error) => void,
    /** Told how long each plane took, once all are in (for the log). */
    private readonly onStreamed?: (note: string) => void,
  ) {
    this.start(centreVoxel(source.header.dims));
  }

  /** Planes for a volume whose voxels can be streamed from the disk (undefined otherwise: they come with the whole volume). */
  static of(source: VolumeSource, onError: (error: Error) => void, onStreamed?: (note: string) => void): FirstPlanes | undefined {
    if (!source.voxelFile || !streamableLayout(source.header)) return undefined;
    return new FirstPlanes(source as Required<VolumeSource>, onError, onStreamed);
  }

  private start(voxel: Vec3): PlanesRun {
    const { header, voxelFile } = this.source;
    const run: PlanesRun = { planes: [], waiters: new Set(), done: Promise.resolve(), abort: new AbortController() };
    const rule = { what: voxelFile, roots: dataFileRoots() };
    const started = performance.now();
    const times: string[] = [];
    run.done = runPlanesThread(
      { file: voxelFile, grid: { dims: header.dims, datatype: header.datatype }, layout: streamableLayout(header)!, voxel, rule },
      (plane) => {
        times.push(`${'xyz'[plane.axis]} = ${plane.index} after ${Math.round(performance.now() - started)} ms`);
        run.planes.push(plane);
        for (const waiter of run.waiters) waiter(plane);
      },
      run.abort.signal,
    ).then(() => {
      if (!run.abort.signal.aborted) this.onStreamed?.(`the planes through ${voxel.join(', ')} streamed from the file: ${times.join(', ')}`);
    }).catch((error: Error) => {
      this.onError(error);
      throw error;
    });
    run.done.catch(() => undefined);
    this.runs.set(voxel.join(','), run);
    return run;
  }

  /**
   * Hands the planes through `voxel` to `onPlane`, each as soon as it is complete; resolves once
   * all three have been handed over (rejects where the file cannot be streamed).
   */
  async deliver(voxel: Vec3, onPlane: (plane: PlaneVoxels) => void): Promise<void> {
    const key = voxel.join(',');
    // A stream nobody waits for (the centre, when the webview resumed elsewhere) is stopped.
    for (const [other, run] of this.runs) {
      if (other !== key && run.waiters.size === 0) {
        run.abort.abort();
        this.runs.delete(other);
      }
    }
    const run = this.runs.get(key) ?? this.start(voxel);
    for (const plane of run.planes) onPlane(plane);
    run.waiters.add(onPlane);
    try {
      await run.done;
    } finally {
      run.waiters.delete(onPlane);
      // Handed over: not kept (a webview opened later streams them again).
      if (run.waiters.size === 0 && this.runs.get(key) === run) this.runs.delete(key);
    }
  }

  dispose(): void {
    for (const run of this.runs.values()) run.abort.abort();
    this.runs.clear();
  }
}
