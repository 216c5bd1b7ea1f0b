/**
 * Runs the engine's WebAssembly SIMD kernels (assembly/kernels.ts) on every core: one shared
 * WebAssembly.Memory, one instance of the module on this thread and one on each of
 * (threads − 1) worker threads; a kernel call is split by its outermost range across them, and this
 * thread blocks (Atomics.wait) until all are done, so an operation is synchronous as tfjs expects.
 *
 * Memory is an arena: an operation takes what it needs with alloc() after reset(), and nothing
 * survives from one operation to the next.
 */
import * as os from 'node:os';
import * as v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { KERNELS_RELAXED_SIMD, KERNELS_SIMD } from './kernelsWasm';

/** The kernels' exports (pointers are byte offsets, sizes in floats; see assembly/kernels.ts). */
interface KernelExports {
  conv(...args: number[]): void;
  convFilterGrad(...args: number[]): void;
  copyBox(...args: number[]): void;
  addInto(...args: number[]): void;
  channelMoments(...args: number[]): void;
  scaleShiftRelu(...args: number[]): void;
  bnReluGradSums(...args: number[]): void;
  bnReluGradInput(...args: number[]): void;
  maxPool2(...args: number[]): void;
  maxPool2Grad(...args: number[]): void;
  winograd(...args: number[]): void;
  winogradFilter(...args: number[]): void;
  winogradFilterGrad(...args: number[]): void;
  winogradFilterGradOut(...args: number[]): void;
}

export type KernelName = keyof KernelExports;

const KERNEL_NAMES: KernelName[] = [
  'conv',
  'convFilterGrad',
  'copyBox',
  'addInto',
  'channelMoments',
  'scaleShiftRelu',
  'bnReluGradSums',
  'bnReluGradInput',
  'maxPool2',
  'maxPool2Grad',
  'winograd',
  'winogradFilter',
  'winogradFilterGrad',
  'winogradFilterGradOut',
];

const PAGE_BYTES = 65536;
/** 4 GiB, wasm32's limit; reserved, not committed. */
const MAX_PAGES = 65536;
/** The arena starts here; pointer 0 means "none" to the kernels. */
const ARENA_BASE = 65536;

// Control block (Int32 slots) shared with the workers. A job is split in chunks of its range;
// every thread (this one too) claims chunks until none is left, so a thread that gets less CPU
// simply does fewer. NEXT holds the job's tag (its sequence number) above the next chunk index,
// so a worker that wakes late can never claim a chunk of a job whose arguments it did not read;
// and NEXT is closed before a job's arguments are written (runSplit).
const SEQ = 0; // bumped for each job
const KERNEL = 1; // index into KERNEL_NAMES, −1 to stop
const NARGS = 2;
const FAILED = 3; // a kernel threw
const NEXT = 4; // (tag << 16) | next chunk
const COMPLETED = 5; // chunks finished
const CHUNKS = 6;
const RANGE = 7;
const CHUNK = 8; // range per chunk
const PER_THREAD_INDEX = 9; // the argument offset per thread, or −1
const PER_THREAD_STRIDE = 10;
const ARGS = 16; // the kernel's arguments
const MAX_ARGS = 32;
const CONTROL_SLOTS = ARGS + MAX_ARGS;
const MAX_THREADS = 64;
const MAX_CHUNKS = 0xffff;

const SLOTS = { KERNEL, NARGS, FAILED, NEXT, COMPLETED, CHUNKS, RANGE, CHUNK, PER_THREAD_INDEX, PER_THREAD_STRIDE, ARGS };

/**
 * Claims and runs chunks of the current job until none is left, on this thread and in the workers
 * (whose source embeds this function's text: it must use only its parameters and globals).
 */
function serveChunks(ctrl: Int32Array, fns: ((...args: number[]) => void)[], seq: number, index: number, slot: typeof SLOTS): void {
  const tag = (seq & 0x7fff) << 16;
  const k = ctrl[slot.KERNEL];
  const args: number[] = [];
  for (let i = 0; i < ctrl[slot.NARGS]; i++) args.push(ctrl[slot.ARGS + i] >>> 0);
  const which = ctrl[slot.PER_THREAD_INDEX];
  if (which >= 0) args[which] += ctrl[slot.PER_THREAD_STRIDE] * index;
  const chunks = ctrl[slot.CHUNKS];
  const range = ctrl[slot.RANGE];
  const chunk = ctrl[slot.CHUNK];
  for (;;) {
    const next = Atomics.load(ctrl, slot.NEXT);
    if ((next & ~0xffff) !== tag || (next & 0xffff) >= chunks) return;
    if (Atomics.compareExchange(ctrl, slot.NEXT, next, next + 1) !== next) continue;
    const begin = (next & 0xffff) * chunk;
    try {
      fns[k](...args, begin, Math.min(range, begin + chunk));
    } catch {
      Atomics.store(ctrl, slot.FAILED, 1);
    }
    if (Atomics.add(ctrl, slot.COMPLETED, 1) + 1 === chunks) Atomics.notify(ctrl, slot.COMPLETED);
  }
}

// A worker: instantiate the module on the shared memory, then serve jobs until told to stop.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, index, names } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory, abort() { throw new Error('kernel abort'); } } });
const ctrl = new Int32Array(control);
const fns = names.map((n) => instance.exports[n]);
const serveChunks = ${serveChunks.toString()};
const slots = ${JSON.stringify(SLOTS)};
let seen = 0;
for (;;) {
  Atomics.wait(ctrl, ${SEQ}, seen);
  seen = Atomics.load(ctrl, ${SEQ});
  if (ctrl[slots.KERNEL] < 0) break;
  serveChunks(ctrl, fns, seen, index, slots);
}
`;

/**
 * Whether the relaxed-SIMD build (fused multiply-add) can run. V8 ships relaxed SIMD from 11.4;
 * Node 20's V8 11.3 has it complete behind a flag, which can still be set before compiling.
 * UNET3D_NO_RELAXED_SIMD=1 turns it off.
 */
function relaxedSimdAvailable(bytes: Uint8Array<ArrayBuffer>): boolean {
  if (process.env.UNET3D_NO_RELAXED_SIMD) return false;
  if (WebAssembly.validate(bytes)) return true;
  if (!/^11\./.test(process.versions.v8)) return false;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return WebAssembly.validate(bytes);
}

/** How many threads the kernels use: UNET3D_THREADS, else every core (at most 16). */
function defaultThreads(): number {
  const fromEnv = Number(process.env.UNET3D_THREADS);
  if (Number.isInteger(fromEnv) && fromEnv >= 1) return Math.min(fromEnv, MAX_THREADS);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, 16));
}

/** A per-thread argument: args[index] += stride × thread (e.g. each thread's own sum buffer). */
export interface PerThreadArg {
  index: number;
  /** Bytes between consecutive threads' buffers. */
  stride: number;
}

export class SimdRuntime {
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  /** Whether the fused multiply-add (relaxed SIMD) build runs. */
  readonly relaxed: boolean;
  private readonly kernels: KernelExports;
  private readonly module: WebAssembly.Module;
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
  private workers: Worker[] = [];
  private top = ARENA_BASE;
  private view: Float32Array;

  constructor(threads = defaultThreads()) {
    const relaxedBytes = Buffer.from(KERNELS_RELAXED_SIMD, 'base64');
    this.relaxed = relaxedSimdAvailable(relaxedBytes);
    this.module = new WebAssembly.Module(this.relaxed ? relaxedBytes : Buffer.from(KERNELS_SIMD, 'base64'));
    this.memory = new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    const instance = new WebAssembly.Instance(this.module, {
      env: {
        memory: this.memory,
        abort() {
          throw new Error('kernel abort');
        },
      },
    });
    this.kernels = instance.exports as unknown as KernelExports;
    this.threads = Math.max(1, Math.min(threads, MAX_THREADS));
    this.view = new Float32Array(this.memory.buffer);
  }

  /** Frees everything alloc() handed out. */
  reset(): void {
    this.top = ARENA_BASE;
  }

  /** Room for `floats` float32 values, 64-byte aligned; returns its byte offset. Grows the memory if needed. */
  alloc(floats: number): number {
    const ptr = this.top;
    const end = ptr + Math.ceil((floats * 4) / 64) * 64;
    if (end > MAX_PAGES * PAGE_BYTES) {
      throw new Error(`the SIMD kernels need ${(end / 2 ** 30).toFixed(1)} GiB for this operation, over WebAssembly's 4 GiB: use a smaller patch size`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
    this.top = end;
    return ptr;
  }

  /** A float32 view of the whole memory (re-made after growth). */
  get f32(): Float32Array {
    if (this.view.buffer.byteLength !== this.memory.buffer.byteLength) this.view = new Float32Array(this.memory.buffer);
    return this.view;
  }

  /** Float64 view of `count` values at `ptr`. */
  f64(ptr: number, count: number): Float64Array {
    return new Float64Array(this.memory.buffer, ptr, count);
  }

  /** Copies floats into the arena; returns the pointer. */
  put(values: ArrayLike<number>, floats = values.length): number {
    const ptr = this.alloc(floats);
    if (values instanceof Float32Array) this.f32.set(values.length === floats ? values : values.subarray(0, floats), ptr >>> 2);
    else for (let i = 0; i < floats; i++) this.f32[(ptr >>> 2) + i] = values[i];
    return ptr;
  }

  /** Zeroes `floats` floats at `ptr`. */
  zero(ptr: number, floats: number): void {
    this.f32.fill(0, ptr >>> 2, (ptr >>> 2) + floats);
  }

  /**
   * Runs a kernel over [0, range) of its outermost loop, split in contiguous chunks across the
   * threads (chunks of at least `grain`); `args` are its arguments before the range.
   */
  run(kernel: KernelName, args: number[], range: number, perThread?: PerThreadArg, grain = 1): void {
    if (range <= 0) return;
    if (this.profile) {
      const start = performance.now();
      this.runSplit(kernel, args, range, perThread, grain);
      const entry = this.profile.get(kernel) ?? { ms: 0, calls: 0 };
      entry.ms += performance.now() - start;
      entry.calls++;
      this.profile.set(kernel, entry);
      return;
    }
    this.runSplit(kernel, args, range, perThread, grain);
  }

  /** Time spent in each kernel since profiling was switched on (benchmarks set this). */
  profile: Map<string, { ms: number; calls: number }> | undefined;

  private runSplit(kernel: KernelName, args: number[], range: number, perThread: PerThreadArg | undefined, grain: number): void {
    const threads = Math.max(1, Math.min(this.threads, Math.floor(range / grain)));
    if (threads === 1) {
      this.kernels[kernel](...args, 0, range);
      return;
    }
    this.startWorkers();
    const ctrl = this.control;
    if (args.length > MAX_ARGS) throw new Error(`internal: too many kernel arguments (${args.length})`);
    // Close the last job to claims before its arguments are overwritten: a worker that woke late
    // for it may be reading them, and with NEXT still carrying that job's tag it could claim a
    // chunk with half-old, half-new arguments (say a larger chunk count) and run it, and count
    // its completion into this job. No tag matches this value, and its index admits no chunk.
    Atomics.store(ctrl, NEXT, (((this.seq + 1) & 0x7fff) << 16) | 0xffff);
    // About four chunks per thread, so that the threads finish together even on a busy machine.
    const chunk = Math.max(grain, Math.ceil(range / (4 * threads)), Math.ceil(range / MAX_CHUNKS));
    const chunks = Math.ceil(range / chunk);
    ctrl[KERNEL] = KERNEL_NAMES.indexOf(kernel);
    ctrl[NARGS] = args.length;
    for (let i = 0; i < args.length; i++) ctrl[ARGS + i] = args[i] | 0;
    ctrl[PER_THREAD_INDEX] = perThread ? perThread.index : -1;
    ctrl[PER_THREAD_STRIDE] = perThread ? perThread.stride : 0;
    ctrl[RANGE] = range;
    ctrl[CHUNK] = chunk;
    ctrl[CHUNKS] = chunks;
    Atomics.store(ctrl, COMPLETED, 0);
    Atomics.store(ctrl, FAILED, 0);
    const seq = (this.seq = (this.seq + 1) & 0x7fffffff);
    Atomics.store(ctrl, NEXT, (seq & 0x7fff) << 16);
    Atomics.store(ctrl, SEQ, seq);
    Atomics.notify(ctrl, SEQ);
    serveChunks(ctrl, this.kernelList, seq, 0, SLOTS);
    for (let done = Atomics.load(ctrl, COMPLETED); done < chunks; done = Atomics.load(ctrl, COMPLETED)) Atomics.wait(ctrl, COMPLETED, done);
    if (Atomics.load(ctrl, FAILED)) throw new Error(`the ${kernel} kernel failed (out of bounds?)`);
  }

  private seq = 0;

  private get kernelList(): ((...args: number[]) => void)[] {
    return KERNEL_NAMES.map((name) => this.kernels[name]);
  }

  private startWorkers(): void {
    if (this.workers.length === this.threads - 1) return;
    for (let index = 1; index < this.threads; index++) {
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.module, memory: this.memory, control: this.control.buffer, index, names: KERNEL_NAMES },
      });
      // The workers never keep the process alive; they block on Atomics.wait between jobs.
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** Stops the worker threads (they are started again on the next parallel run). */
  async dispose(): Promise<void> {
    if (this.workers.length === 0) return;
    Atomics.store(this.control, KERNEL, -1);
    Atomics.store(this.control, SEQ, (this.seq = (this.seq + 1) & 0x7fffffff));
    Atomics.notify(this.control, SEQ);
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}

let shared: SimdRuntime | undefined;

/** The process's runtime, made on first use. */
export function simdRuntime(): SimdRuntime {
  shared ??= new SimdRuntime();
  return shared;
}
