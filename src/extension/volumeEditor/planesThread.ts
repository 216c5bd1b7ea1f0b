/**
 * The worker thread that streams the three planes through a voxel from a volume's file (bundled
 * as dist/planesThread.js): posts each plane as soon as it is complete, then `done`, or the
 * error's message. On the extension host's own thread the stream's pieces of inflated voxels
 * (hundreds of MiB for a large CT) made the host's large heap collect garbage for about as long
 * as the inflating took, and anything else the host did (encoding the labels) held the stream up;
 * a thread of its own has a small heap and a loop nothing else uses.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { streamPlanes } from '../../core/voxelFileStream';
import type { PlanesRequest, PlanesThreadMessage } from './runPlanesThread';

const post = (message: PlanesThreadMessage, transfer: ArrayBuffer[] = []) => parentPort?.postMessage(message, transfer);
const request = workerData as PlanesRequest;
streamPlanes(request.file, request.grid, request.layout, request.voxel, (plane) => {
  // A plane's bytes are a view of their own buffer (PlaneCollector): handed over, not copied.
  const whole = plane.bytes.byteOffset === 0 && plane.bytes.byteLength === plane.bytes.buffer.byteLength;
  const bytes = whole ? plane.bytes : plane.bytes.slice();
  post({ type: 'plane', axis: plane.axis, index: plane.index, bytes }, [bytes.buffer as ArrayBuffer]);
}, request.rule).then(
  () => post({ type: 'done' }),
  (error: Error) => post({ type: 'error', message: error.message }),
);
