/**
 * `unet3d bench save`: what saving the volume editor's labels costs for a 512³ label map
 * painted as a user paints (a few fully labeled slices): the files encoded and written as one
 * all-or-nothing set, with the compression on the calling thread (as before) and on Node's
 * thread pool (as the editor saves now), and how long the calling thread (the extension host,
 * which carries the editor's edits) is blocked meanwhile.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NODE_FILE_SET_IO } from '../../core/atomicWrite';
import { defaultClasses } from '../../core/labels';
import { encodeLabelFiles, encodeLabelFilesAsync, writeFileSet, type NamedFile } from '../../core/volumeFiles';
import { parseCommandArgs, parseNumber } from '../args';
import type { BenchKind } from './kind';
import { median } from './stats';

type Method = 'blocking' | 'threadPool';

/** What `unet3d bench save --json` prints. */
export interface BenchSaveJson {
  dims: number[];
  annotatedSlices: number;
  repeats: number;
  /** Bytes written per save (the label map and the class list). */
  bytes: number;
  /** Median seconds per save, and the longest the calling thread was blocked during one (median over saves), s. */
  seconds: Record<Method, number>;
  blockedSeconds: Record<Method, number>;
}

/** A label map of `size`³ with `slices` fully labeled axial slices (background 1, a disc of class 2). */
function paintedLabels(size: number, slices: number): Uint8Array {
  const labels = new Uint8Array(size ** 3);
  const plane = size * size;
  for (let s = 0; s < slices; s++) {
    const z = Math.floor(((s + 1) * size) / (slices + 1));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) labels[z * plane + y * size + x] = (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 5) ** 2 ? 2 : 1;
    }
  }
  return labels;
}

async function saveOnce(method: Method, dir: string, size: number, labels: Uint8Array): Promise<{ seconds: number; blocked: number; bytes: number }> {
  const volume = { dims: [size, size, size] as [number, number, number], affine: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], format: 'nifti1' as const };
  // The longest gap between ticks of a 5 ms timer: how long the thread could not run anything else.
  let last = performance.now();
  let blocked = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    blocked = Math.max(blocked, t - last);
    last = t;
  }, 5);
  const start = process.hrtime.bigint();
  const files: NamedFile[] =
    method === 'blocking' ? encodeLabelFiles('bench.nii.gz', volume, labels, defaultClasses()) : await encodeLabelFilesAsync('bench.nii.gz', volume, labels, defaultClasses());
  await writeFileSet(NODE_FILE_SET_IO, files.map((f) => ({ target: path.join(dir, f.name), bytes: f.bytes })));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // A stall at the very end shows at the next tick.
  await new Promise((resolve) => setTimeout(resolve, 20));
  clearInterval(ticker);
  return { seconds, blocked: blocked / 1000, bytes: files.reduce((n, f) => n + f.bytes.length, 0) };
}

export const save: BenchKind = {
  summary: "save a 512³ label map as the volume editor does: compression blocking the thread vs on Node's thread pool",
  usage: `Usage: unet3d bench save [--size N] [--slices S] [--repeats R] [--json]

  --size N     the label map's edge in voxels (default 512)
  --slices S   fully labeled slices (default 6)
  --repeats R  saves per method (default 5)`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, { size: { type: 'string' }, slices: { type: 'string' }, repeats: { type: 'string' }, json: { type: 'boolean' } });
    const size = parseNumber(values.size, '--size', 8, 1024) ?? 512;
    const slices = parseNumber(values.slices, '--slices', 0, size) ?? 6;
    const repeats = parseNumber(values.repeats, '--repeats', 1, 100) ?? 5;
    const labels = paintedLabels(size, slices);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'unet3d-bench-save-'));
    const runs: Record<Method, { seconds: number; blocked: number; bytes: number }[]> = { blocking: [], threadPool: [] };
    try {
      // Interleaved, so drifting machine load hits both alike.
      for (let r = 0; r < repeats; r++) for (const method of ['blocking', 'threadPool'] as const) runs[method].push(await saveOnce(method, dir, size, labels));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const of = (m: Method, key: 'seconds' | 'blocked') => median(runs[m].map((r) => r[key]));
    const report: BenchSaveJson = {
      dims: [size, size, size],
      annotatedSlices: slices,
      repeats,
      bytes: runs.threadPool[0].bytes,
      seconds: { blocking: of('blocking', 'seconds'), threadPool: of('threadPool', 'seconds') },
      blockedSeconds: { blocking: of('blocking', 'blocked'), threadPool: of('threadPool', 'blocked') },
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const row = (name: string, m: Method) => `${name.padEnd(34)} ${report.seconds[m].toFixed(2).padStart(7)} s  ${report.blockedSeconds[m].toFixed(2).padStart(9)} s`;
    process.stdout.write(
      [
        `${size}³ uint8 label map (${(size ** 3 / 2 ** 20).toFixed(0)} MiB), ${slices} labeled slices, ${(report.bytes / 1024).toFixed(0)} KiB written; median of ${repeats} saves`,
        `${'compression'.padEnd(34)} ${'save'.padStart(9)}  ${'longest stall'.padStart(11)}`,
        row('on the calling thread (before)', 'blocking'),
        row("on Node's thread pool (the editor)", 'threadPool'),
      ].join('\n') + '\n',
    );
    return 0;
  },
};
