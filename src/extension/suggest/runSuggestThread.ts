/**
 * Runs Suggest Next Slice's reading and scoring on a worker thread, so the extension host stays
 * responsive while a large probability map is inflated and scored.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { SuggestRequest, SuggestScores } from '../../core/suggestSlices';

export type SuggestThreadReply = { ok: true; scores: SuggestScores } | { ok: false; error: string };

/** `threadFile`: the bundled thread (dist/suggestThread.js beside dist/extension.js by default). */
export function runSuggestThread(request: SuggestRequest, threadFile = path.join(__dirname, 'suggestThread.js')): Promise<SuggestScores> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(threadFile, { workerData: request });
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.once('message', (reply: SuggestThreadReply) => settle(() => (reply.ok ? resolve(reply.scores) : reject(new Error(reply.error)))));
    worker.once('error', (error) => settle(() => reject(error)));
    worker.once('exit', (code) => settle(() => reject(new Error(`the scoring thread ended (exit code ${code}) without an answer`))));
  });
}
