/**
 * The PyTorch peer of `unet3d bench train|infer|segment|gpu`: torch_peer.py in a child process
 * that waits on stdin between commands, so the two engines take turns and never compete for the
 * CPU or the GPU.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';

/** The network the peer builds (the engine's U-Net). */
export interface PeerNetwork {
  filters: [number, number][];
  inChannels: number;
  classes: number;
  batchNorm: boolean;
  /** Default 'same'. */
  padding?: 'same' | 'valid';
}

/** Where the peer runs: the CPU (default) or the first CUDA device. */
export type PeerDevice = 'cpu' | 'cuda';

/** One timed command's result. */
export interface PeerTiming {
  seconds: number;
  /** CPU seconds of the peer's process (every thread) during the command. */
  cpuSeconds: number;
  /** CUDA: the most memory PyTorch held during the command, bytes. */
  peakBytes?: number;
}

export interface TorchPeer {
  /** e.g. "PyTorch 1.13.0 (2 threads, /usr/bin/python3)". */
  readonly description: string;
  readonly version: string;
  readonly threads: number;
  /** 'cpu', or the CUDA device's name. */
  readonly device: string;
  /** Seconds of one training step or one inference at size³. */
  time(cmd: 'train' | 'infer', size: number): Promise<number>;
  /** One training step or inference on a [z, y, x] input; on CUDA with TF32 on or off (default off). */
  run(cmd: 'train' | 'infer', shape: [number, number, number], tf32?: boolean): Promise<PeerTiming>;
  close(): void;
}

/** Why no peer runs, in words a user can act on. */
export interface PeerMissing {
  missing: string;
}

const SCRIPT = 'torch_peer.py';

/** torch_peer.py beside the bundle (dist/) or in the source tree above it. */
function findScript(): string | undefined {
  for (let dir = __dirname, i = 0; i < 6; i++, dir = path.dirname(dir)) {
    for (const candidate of [path.join(dir, SCRIPT), path.join(dir, 'src', 'cli', 'bench', SCRIPT)]) {
      if (fs.existsSync(candidate)) return candidate;
    }
  }
  return undefined;
}

/** The first Python that imports torch: --python, $UNET3D_PYTHON, Debian's /usr/bin/python3, python3 on PATH. */
function findPython(preferred: string | undefined): { python?: string; tried: string[] } {
  const candidates = [...new Set([preferred, process.env.UNET3D_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c))];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 120_000 });
    if (probe.status === 0) return { python, tried: candidates };
  }
  return { tried: candidates };
}

/** Starts the peer with the network built; resolves to why not when torch or the script is missing. */
export async function startTorchPeer(network: PeerNetwork, threads: number, preferredPython?: string, device: PeerDevice = 'cpu'): Promise<TorchPeer | PeerMissing> {
  const script = findScript();
  if (!script) return { missing: `${SCRIPT} was not found beside the CLI` };
  const { python, tried } = findPython(preferredPython);
  if (!python) {
    return { missing: `no Python with torch found (tried ${tried.join(', ')}); on Debian: apt-get install python3-torch, or set UNET3D_PYTHON` };
  }
  // PyTorch's OpenMP threads (libgomp) spin after each parallel region by default; between its
  // turns that spinning takes the cores from the engine measured next, and within its own step it
  // measured slower here than with passive waiting (1.0–1.25 s against 1.1–1.6 s at 64³ on the
  // 2-core machine). The peer gets its faster setting unless the caller chose one.
  const env = { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? 'PASSIVE' };
  const child: ChildProcessWithoutNullStreams = spawn(python, [script], { stdio: ['pipe', 'pipe', 'pipe'], env });
  const lines = readline.createInterface({ input: child.stdout });
  const queue: string[] = [];
  const waiters: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  let stderr = '';
  let exited: Error | undefined;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  lines.on('line', (line) => {
    const waiter = waiters.shift();
    if (waiter) waiter.resolve(line);
    else queue.push(line);
  });
  const onGone = (error: Error) => {
    exited = error;
    for (const w of waiters.splice(0)) w.reject(error);
  };
  child.on('error', (error) => onGone(error));
  child.on('exit', (code) => onGone(new Error(`the PyTorch peer exited (status ${code}): ${stderr.trim().split('\n').pop() ?? ''}`)));
  const request = <T>(message: object): Promise<T> => {
    if (exited) return Promise.reject(exited);
    child.stdin.write(JSON.stringify(message) + '\n');
    const next = queue.shift();
    if (next !== undefined) return Promise.resolve(JSON.parse(next) as T);
    return new Promise<string>((resolve, reject) => waiters.push({ resolve, reject })).then((line) => JSON.parse(line) as T);
  };
  try {
    const setup = await request<{ torch: string; threads: number; device: string; cuda: string | null }>({
      cmd: 'setup',
      filters: network.filters,
      in_channels: network.inChannels,
      classes: network.classes,
      batch_norm: network.batchNorm,
      padding: network.padding ?? 'same',
      device,
      threads,
    });
    const where = device === 'cuda' ? `CUDA ${setup.cuda ?? '?'} on ${setup.device}` : `${setup.threads} thread${setup.threads === 1 ? '' : 's'}`;
    return {
      description: `PyTorch ${setup.torch} (${where}, ${python})`,
      version: setup.torch,
      threads: setup.threads,
      device: setup.device ?? 'cpu',
      async time(cmd, size) {
        return (await request<{ seconds: number }>({ cmd, size })).seconds;
      },
      async run(cmd, shape, tf32 = false) {
        const reply = await request<{ seconds: number; cpu_seconds: number; peak_bytes?: number }>({ cmd, shape, tf32 });
        return { seconds: reply.seconds, cpuSeconds: reply.cpu_seconds, peakBytes: reply.peak_bytes };
      },
      close() {
        if (!exited) child.stdin.end(JSON.stringify({ cmd: 'quit' }) + '\n');
      },
    };
  } catch (error) {
    child.kill();
    return { missing: `the PyTorch peer failed to start: ${(error as Error).message}` };
  }
}
