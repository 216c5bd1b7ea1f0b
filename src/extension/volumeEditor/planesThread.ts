/**
 * The worker thread that streams the three planes through a voxel from a volume's file (bundled
 * as dist/planesThread.js): posts each plane as soon as it is complete, then `done`, or the
 * error's message. On the extension host's own thread the stream's pieces of inflated voxels
 * (hundreds of MiB for a large CT) made the host's large heap collect garbage for about as long
 * as the inflating took, and anything else the host did (encoding the labels) held the stream up;
 * a thread of its own has a small heap and a loop nothing else uses.
 *
 * Where asked (`rawCopy`), it also writes the voxels it inflates to that file, so that a webview
 * can fetch them without inflating the file again (see firstPlanes.ts); `done` then names the
 * copy when it holds every voxel. A copy that cannot be written is dropped, never the planes.
 */
import * as fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { streamPlanes } from '../../core/voxelFileStream';
import type { PlanesRequest, PlanesThreadMessage } from './runPlanesThread';

const post = (message: PlanesThreadMessage, transfer: ArrayBuffer[] = []) => parentPort?.postMessage(message, transfer);
const request = workerData as PlanesRequest;

/** Writes the voxels, in order, to `file` (created anew, private); `finish` says whether it holds all `byteLength` of them. */
function copyWriter(file: string, byteLength: number): { write: (bytes: Uint8Array, offset: number) => void; finish: () => Promise<boolean> } {
  let failed = false;
  let written = 0;
  const fail = () => {
    failed = true;
  };
  let created = false;
  const handle = fs.promises.open(file, 'wx', 0o600).then((h) => ((created = true), h));
  let chain: Promise<unknown> = handle.catch(fail);
  return {
    write(bytes, offset) {
      if (failed) return;
      // One write at a time: the inflating shares Node's thread pool with them. The pieces are
      // never reused by the inflater, so they can wait for their turn.
      chain = chain
        .then(async () => {
          if (failed) return;
          const { bytesWritten } = await (await handle).write(bytes, 0, bytes.length, offset);
          written += bytesWritten;
        })
        .catch(fail);
    },
    async finish() {
      await chain;
      await handle.then((h) => h.close()).catch(fail);
      const whole = !failed && written === byteLength;
      // Only what this thread created is removed (a file that was there is not its own).
      if (!whole && created) await fs.promises.rm(file, { force: true }).catch(() => undefined);
      return whole;
    },
  };
}

const copy = request.rawCopy ? copyWriter(request.rawCopy, request.layout.byteLength) : undefined;
streamPlanes(
  request.file,
  request.grid,
  request.layout,
  request.voxel,
  (plane) => {
    // A plane's bytes are a view of their own buffer (PlaneCollector): handed over, not copied.
    const whole = plane.bytes.byteOffset === 0 && plane.bytes.byteLength === plane.bytes.buffer.byteLength;
    const bytes = whole ? plane.bytes : plane.bytes.slice();
    post({ type: 'plane', axis: plane.axis, index: plane.index, bytes }, [bytes.buffer as ArrayBuffer]);
  },
  request.rule,
  undefined,
  copy ? (bytes, offset) => copy.write(bytes, offset) : undefined,
).then(
  async () => {
    const copied = copy ? await copy.finish() : false;
    post({ type: 'done', ...(copied ? { rawCopy: request.rawCopy } : {}) });
  },
  async (error: Error) => {
    await copy?.finish();
    post({ type: 'error', message: error.message });
  },
);
