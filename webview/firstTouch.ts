/**
 * The system's first touch of a large new buffer, paid ahead of time. A fresh `ArrayBuffer` of
 * 256 MiB is only address space until written: its first write to each 4 KiB page faults, and
 * 65,536 faults took 0.72–0.79 s in Chromium here (the same bytes written again: 11–13 ms). The
 * fetch that fills the voxel buffer used to pay them as it went; the editor waits 1 s or so for
 * the host's first planes before it fetches, so the pages are touched meanwhile, a slice at a
 * time between the page's other tasks.
 */

const PAGE_BYTES = 4096;
/** Bytes touched per task: 512 pages, a few milliseconds, so that messages and frames go between. */
const SLICE_BYTES = 2 << 20;

/** `scheduler.postTask` where the browser has it (Chromium): no 4 ms clamp between tasks, and below input and rendering. */
interface TaskScheduler {
  postTask(callback: () => void, options?: { priority?: 'user-blocking' | 'user-visible' | 'background' }): Promise<unknown>;
}

function laterTask(callback: () => void): void {
  const scheduler = (globalThis as { scheduler?: TaskScheduler }).scheduler;
  if (scheduler?.postTask) void scheduler.postTask(callback, { priority: 'background' }).catch(() => undefined);
  else setTimeout(callback, 0);
}

export class PageToucher {
  /** Bytes from the buffer's start whose pages have been touched. */
  touched = 0;
  private stopped = false;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly onDone: () => void = () => {},
  ) {}

  start(): void {
    laterTask(this.step);
  }

  /** Stops touching (the buffer's writer has started); returns the bytes touched. */
  stop(): number {
    this.stopped = true;
    return this.touched;
  }

  private readonly step = (): void => {
    if (this.stopped) return;
    const bytes = this.bytes;
    const end = Math.min(bytes.length, this.touched + SLICE_BYTES);
    // Each byte is written with its own value: the buffer may already hold a plane from the host.
    for (let i = this.touched; i < end; i += PAGE_BYTES) bytes[i] = bytes[i];
    this.touched = end;
    if (end < bytes.length) laterTask(this.step);
    else this.onDone();
  };
}
