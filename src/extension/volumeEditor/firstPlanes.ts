/**
 * The three planes through a voxel, streamed from the volume's file (on a worker thread) for a webview that has just
 * opened, so it shows them before the rest of the voxels arrive. The stream for the centre starts
 * as soon as the document opens (while VS Code builds the webview); a webview that resumes at
 * another voxel gets a stream of its own. Each plane is handed over as soon as it is complete (the
 * axial one halfway through the file), and nothing is kept once a webview has had them: the host
 * never holds the volume's voxels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../../core/geometry';
import { centreVoxel, streamableLayout, type PlaneVoxels, type VoxelLayout } from '../../core/voxelStream';
import { SERVER_ROUTE_MIN_BYTES } from '../../protocol/webview';
import { copyFolder } from './rawCopyFolder';
import { runPlanesThread } from './runPlanesThread';
import { UNCOMPRESSED_SUFFIX } from './serverAlias';
import type { VolumeSource } from './volumeFile';
import { dataFileRoots } from './volumeFile';

/**
 * The voxels as the planes' stream inflated them, in a file of their own (a private temporary
 * folder, named so that code-server sends it uncompressed): a webview in a browser workbench
 * fetches these instead of the gzip file, and so skips inflating 256 MiB again in the browser,
 * which took longer there (about 2.5 s for the 512³ CT) than the extra bytes take to travel.
 * Whoever is handed one removes it once the webview has the voxels.
 */
export interface RawCopy {
  /** The copy's path: the voxel bytes only, as stored in the file (their byte order included). */
  readonly path: string;
  /** How the voxels lie in the copy. */
  readonly layout: Omit<VoxelLayout, 'dataFile'>;
  /** Removes the copy and its folder. */
  dispose(): void;
}

interface PlanesRun {
  /** The planes complete so far. */
  planes: PlaneVoxels[];
  /** Who waits for the rest. */
  waiters: Set<(plane: PlaneVoxels) => void>;
  /** Settles when the stream has ended (every plane in, or an error). */
  done: Promise<void>;
  abort: AbortController;
  /** The raw copy, once whole, until it is handed over. */
  copy?: RawCopy;
}

const removeFolder = (dir: string) => fs.rm(dir, { recursive: true, force: true }, () => undefined);

export class FirstPlanes {
  private readonly runs = new Map<string, PlanesRun>();

  private constructor(
    private readonly source: Required<VolumeSource>,
    private readonly onError: (error: Error) => void,
    /** Told how long each plane took, once all are in (for the log). */
    private readonly onStreamed?: (note: string) => void,
    /** Whether to write a raw copy of a gzip file's voxels as the stream passes (for a webview in a browser workbench). */
    private readonly rawCopies = false,
  ) {
    this.start(centreVoxel(source.header.dims));
  }

  /** Planes for a volume whose voxels can be streamed from the disk (undefined otherwise: they come with the whole volume). */
  static of(source: VolumeSource, onError: (error: Error) => void, onStreamed?: (note: string) => void, rawCopies = false): FirstPlanes | undefined {
    if (!source.voxelFile || !streamableLayout(source.header)) return undefined;
    return new FirstPlanes(source as Required<VolumeSource>, onError, onStreamed, rawCopies);
  }

  private start(voxel: Vec3): PlanesRun {
    const { header, voxelFile } = this.source;
    const layout = streamableLayout(header)!;
    const run: PlanesRun = { planes: [], waiters: new Set(), done: Promise.resolve(), abort: new AbortController() };
    const copyDir = this.rawCopies && layout.compression === 'gzip' && layout.byteLength >= SERVER_ROUTE_MIN_BYTES ? copyFolder(layout.byteLength) : undefined;
    const rawCopy = copyDir ? path.join(copyDir, `${path.basename(voxelFile)}.voxels${UNCOMPRESSED_SUFFIX}`) : undefined;
    const rule = { what: voxelFile, roots: dataFileRoots() };
    const started = performance.now();
    const times: string[] = [];
    run.done = runPlanesThread(
      { file: voxelFile, grid: { dims: header.dims, datatype: header.datatype }, layout, voxel, rule, ...(rawCopy ? { rawCopy } : {}) },
      (plane) => {
        times.push(`${'xyz'[plane.axis]} = ${plane.index} after ${Math.round(performance.now() - started)} ms`);
        run.planes.push(plane);
        for (const waiter of run.waiters) waiter(plane);
      },
      run.abort.signal,
    ).then((result) => {
      if (copyDir && result.rawCopy && !run.abort.signal.aborted) {
        run.copy = { path: result.rawCopy, layout: { fileOffset: 0, compression: 'none', skip: 0, byteLength: layout.byteLength, littleEndian: layout.littleEndian }, dispose: () => removeFolder(copyDir) };
      } else if (copyDir) {
        removeFolder(copyDir);
      }
      if (!run.abort.signal.aborted) this.onStreamed?.(`the planes through ${voxel.join(', ')} streamed from the file${run.copy ? ' (the voxels copied raw for the webview)' : ''}: ${times.join(', ')}`);
    }).catch((error: Error) => {
      if (copyDir) removeFolder(copyDir);
      this.onError(error);
      throw error;
    });
    run.done.catch(() => undefined);
    this.runs.set(voxel.join(','), run);
    return run;
  }

  /**
   * Hands the planes through `voxel` to `onPlane`, each as soon as it is complete; resolves once
   * all three have been handed over (rejects where the file cannot be streamed), with the raw
   * copy of the voxels where one was made and no other caller took it first: the caller then
   * owns it and disposes of it.
   */
  async deliver(voxel: Vec3, onPlane: (plane: PlaneVoxels) => void): Promise<RawCopy | undefined> {
    const key = voxel.join(',');
    // A stream nobody waits for (the centre, when the webview resumed elsewhere) is stopped.
    for (const [other, run] of this.runs) {
      if (other !== key && run.waiters.size === 0) this.stop(run, other);
    }
    const run = this.runs.get(key) ?? this.start(voxel);
    for (const plane of run.planes) onPlane(plane);
    run.waiters.add(onPlane);
    try {
      await run.done;
      const copy = run.copy;
      run.copy = undefined;
      return copy;
    } finally {
      run.waiters.delete(onPlane);
      // Handed over: not kept (a webview opened later streams them again).
      if (run.waiters.size === 0 && this.runs.get(key) === run) this.runs.delete(key);
    }
  }

  private stop(run: PlanesRun, key: string): void {
    run.abort.abort();
    run.copy?.dispose();
    run.copy = undefined;
    // A copy still being written goes once its thread has stopped (the run's end removes it).
    this.runs.delete(key);
  }

  dispose(): void {
    for (const [key, run] of this.runs) this.stop(run, key);
  }
}
