/**
 * When the volume editor writes its labels, and whether. VS Code's auto-save (code-server's
 * default: a second after each edit) calls save again and again while the user paints; writing
 * a 512³ label map takes seconds. So:
 * - one write at a time: two would interleave their temporary files, copies and renames;
 * - a save whose content is what was written last (same revision, or the same fingerprint) and
 *   whose files are as that write left them writes nothing;
 * - with auto-save after a delay, a write waits until the document has been idle for twice as
 *   long as the last write took (at most `maxIdleMs`), so writing takes at most about a third of
 *   the time while the user paints; a save waits at most `maxWaitMs` in all;
 * - a save VS Code has cancelled (a newer one replaced it) before its write started writes
 *   nothing: the newer one will;
 * - a save returns only once its write holds every edit made until then (VS Code marks all
 *   edits up to the moment a save returns as saved): edits that came during a write are
 *   written again.
 * No VS Code here: the document hands in what to write; unit-tested with real timers.
 */

/** What the saver saves: the document's content (copied as a snapshot `S`) and its files. */
export interface SaveTarget<S> {
  /** Bumped by every change of the labels or the classes. */
  readonly revision: number;
  /** When the content last changed, ms (the clock of `SaverTiming.now`). */
  readonly lastChangeAt: number;
  /** A copy of the content now, which later changes do not touch. */
  snapshot(): S;
  /** A fingerprint of a snapshot (e.g. a hash of the labels and classes). */
  fingerprint(snapshot: S): Promise<string>;
  /** The written files' stamp (e.g. the label map's mtime and size), undefined when there are none. */
  diskStamp(): Promise<string | undefined>;
  /** Writes a snapshot; resolves with the bytes written. */
  write(snapshot: S): Promise<number>;
}

export interface SaverTiming {
  /** The idle time wanted before an auto-save writes, at least and at most, ms. */
  minIdleMs: number;
  maxIdleMs: number;
  /** The longest a save waits for the document to go idle, ms. */
  maxWaitMs: number;
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const DEFAULT_SAVER_TIMING: SaverTiming = {
  minIdleMs: 0,
  maxIdleMs: 10_000,
  maxWaitMs: 15_000,
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface SaveRequest {
  /** Auto-save after a delay is on: wait for the document to go idle first. */
  waitForIdle: boolean;
  /** VS Code cancelled this save (a newer one replaces it). */
  isCancelled(): boolean;
}

/** What a save did, how long its writes took (ms) and how many bytes they wrote. */
export type SaveOutcome =
  | { kind: 'written'; writes: number; ms: number; bytes: number }
  | { kind: 'unchanged' }
  | { kind: 'superseded' };

/** What was last written: the content's revision and fingerprint, and the files' stamp after the write. */
interface Written {
  revision: number;
  fingerprint: string | undefined;
  stamp: string | undefined;
}

export class LabelSaver<S> {
  private queue: Promise<unknown> = Promise.resolve();
  private written: Written | undefined;
  private lastWriteMs = 0;

  constructor(
    private readonly target: SaveTarget<S>,
    private readonly timing: SaverTiming = DEFAULT_SAVER_TIMING,
  ) {}

  /** The content at `revision` is what the files hold (the document was opened from them; `stamp` their stamp then). */
  markWritten(revision: number, stamp: string | undefined): void {
    this.written = { revision, fingerprint: undefined, stamp };
  }

  /** How long the last write took, ms (0 before the first). */
  get lastWriteDuration(): number {
    return this.lastWriteMs;
  }

  /** Saves after every save asked before it (one write at a time). */
  save(request: SaveRequest): Promise<SaveOutcome> {
    const run = this.queue.then(() => this.run(request));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(request: SaveRequest): Promise<SaveOutcome> {
    if (request.waitForIdle) await this.waitForIdle(request);
    if (request.isCancelled()) return { kind: 'superseded' };
    let writes = 0;
    let ms = 0;
    let bytes = 0;
    for (;;) {
      const revision = this.target.revision;
      const same = await this.matchesWritten(revision);
      // Whatever is said must hold for the content as it is when the save returns.
      if (this.target.revision !== revision) continue;
      if (same) return writes ? { kind: 'written', writes, ms, bytes } : { kind: 'unchanged' };
      const snapshot = this.target.snapshot();
      const fingerprint = this.target.fingerprint(snapshot);
      const started = this.timing.now();
      const writing = this.target.write(snapshot);
      bytes += await writing;
      this.lastWriteMs = this.timing.now() - started;
      ms += this.lastWriteMs;
      writes++;
      this.written = { revision, fingerprint: await fingerprint, stamp: await this.target.diskStamp() };
      // Edits made during the write are not in it: write again, unless a newer save will.
      if (this.target.revision === revision || request.isCancelled()) return { kind: 'written', writes, ms, bytes };
    }
  }

  /** Waits until the content has not changed for twice the last write's time (bounded), or the save is cancelled. */
  private async waitForIdle(request: SaveRequest): Promise<void> {
    const { minIdleMs, maxIdleMs, maxWaitMs, now, sleep } = this.timing;
    const wanted = Math.min(maxIdleMs, Math.max(minIdleMs, 2 * this.lastWriteMs));
    const deadline = now() + maxWaitMs;
    for (;;) {
      const idle = now() - this.target.lastChangeAt;
      const left = Math.min(wanted - idle, deadline - now());
      if (left <= 0 || request.isCancelled()) return;
      await sleep(Math.min(left, 250));
    }
  }

  /**
   * Whether the content at `revision` (now) is what was last written and the files are as that
   * write left them: the same revision, or content changed and changed back (an edit undone, a
   * class renamed and renamed back) to the same fingerprint.
   */
  private async matchesWritten(revision: number): Promise<boolean> {
    const written = this.written;
    if (!written) return false;
    // Taken at once, so that it is the content at `revision`.
    const fingerprint = revision !== written.revision && written.fingerprint !== undefined ? this.target.fingerprint(this.target.snapshot()) : undefined;
    if ((await this.target.diskStamp()) !== written.stamp) return false;
    if (revision === written.revision) return true;
    if (!fingerprint || (await fingerprint) !== written.fingerprint) return false;
    written.revision = revision;
    return true;
  }
}
