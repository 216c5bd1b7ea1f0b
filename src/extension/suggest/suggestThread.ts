/**
 * The worker thread of Suggest Next Slice (bundled as dist/suggestThread.js): reads and scores
 * the files of one request, posts the result or the error's message, and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { suggestSlicesFromFiles, type SuggestRequest } from '../../core/suggestSlices';
import type { SuggestThreadReply } from './runSuggestThread';

let reply: SuggestThreadReply;
try {
  reply = { ok: true, scores: suggestSlicesFromFiles(workerData as SuggestRequest) };
} catch (error) {
  reply = { ok: false, error: (error as Error).message };
}
parentPort?.postMessage(reply);
