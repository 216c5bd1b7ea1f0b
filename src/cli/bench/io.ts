/**
 * `unet3d bench io`: reading a 256³ int16 `.nii.gz` made from a real CT, against the floor
 * (Node's zlib gunzip alone on the same bytes) and a peer (nifti-reader-js's own path, which
 * inflates with the JS library fflate), each in a fresh process for its peak memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { decompress, readHeader, readImage } from 'nifti-reader-js';
import { readVolumeFile } from '../../core/readVolume';
import { parseCommandArgs, parseNumber } from '../args';
import { UsageError } from '../command';
import { writeBenchVolume } from './benchVolume';
import type { BenchKind } from './kind';
import { median, mib, peakRssBytes, runCliChild } from './stats';

type Method = 'baseline' | 'unet3d' | 'zlib' | 'fflate';
const METHODS: Method[] = ['baseline', 'unet3d', 'zlib', 'fflate'];

interface ChildResult {
  method: Method;
  seconds: number;
  peakRss: number;
}

/** What `unet3d bench io --json` prints. */
export interface BenchIoJson {
  file: string;
  dims: number[];
  datatype: string;
  compressedBytes: number;
  repeats: number;
  /** Median seconds per read. */
  seconds: { unet3d: number; zlib: number; fflate: number };
  /** Peak resident memory above an idle process, bytes. */
  peakMemory: { unet3d: number; zlib: number; fflate: number };
}

/** One timed read in this process. */
function readOnce(method: Method, file: string): number {
  const start = process.hrtime.bigint();
  if (method === 'unet3d') {
    readVolumeFile(file);
  } else if (method === 'zlib') {
    zlib.gunzipSync(fs.readFileSync(file));
  } else if (method === 'fflate') {
    const bytes = fs.readFileSync(file);
    const ab = decompress(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer) as ArrayBuffer;
    const header = readHeader(ab);
    readImage(header, ab);
  }
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export const io: BenchKind = {
  summary: 'read a 256³ int16 .nii.gz: our reader vs zlib alone vs nifti-reader-js (fflate)',
  usage: `Usage: unet3d bench io [--source FILE] [--size N] [--repeats R] [--json]

  --source FILE  a real volume to resample into int16 (default: ../shared/data/semi/spleen CT)
  --size N       the cube's edge in voxels (default 256)
  --repeats R    reads per method, each in a fresh process (default 5)`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      source: { type: 'string' },
      size: { type: 'string' },
      repeats: { type: 'string' },
      json: { type: 'boolean' },
      child: { type: 'string' },
      file: { type: 'string' },
    });
    if (values.child) {
      const method = values.child as Method;
      if (!METHODS.includes(method) || !values.file) throw new UsageError('bad --child');
      const seconds = method === 'baseline' ? 0 : readOnce(method, values.file);
      const result: ChildResult = { method, seconds, peakRss: peakRssBytes() };
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    const size = parseNumber(values.size, '--size', 8, 1024) ?? 256;
    const repeats = parseNumber(values.repeats, '--repeats', 1, 100) ?? 5;
    const { file, dir, source } = writeBenchVolume(values.source, size, 'unet3d-bench-io');
    const compressedBytes = fs.statSync(file).size;

    const runs: Record<Method, ChildResult[]> = { baseline: [], unet3d: [], zlib: [], fflate: [] };
    try {
      // Interleave the methods so drifting machine load hits them alike.
      for (let r = 0; r < repeats; r++) {
        for (const method of METHODS) runs[method].push(runCliChild<ChildResult>(['bench', 'io', '--child', method, '--file', file]));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const idle = median(runs.baseline.map((r) => r.peakRss));
    const seconds = (m: Method) => median(runs[m].map((r) => r.seconds));
    const memory = (m: Method) => Math.max(0, median(runs[m].map((r) => r.peakRss)) - idle);
    const report: BenchIoJson = {
      file: `${path.basename(source)} resampled to ${size}³`,
      dims: [size, size, size],
      datatype: 'int16',
      compressedBytes,
      repeats,
      seconds: { unet3d: seconds('unet3d'), zlib: seconds('zlib'), fflate: seconds('fflate') },
      peakMemory: { unet3d: memory('unet3d'), zlib: memory('zlib'), fflate: memory('fflate') },
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const raw = size ** 3 * 2;
    const row = (name: string, m: 'unet3d' | 'zlib' | 'fflate') =>
      `${name.padEnd(38)} ${report.seconds[m].toFixed(3).padStart(8)} s  ${(raw / report.seconds[m] / 1e6).toFixed(0).padStart(6)} MB/s  ${mib(report.peakMemory[m]).padStart(9)}`;
    process.stdout.write(
      [
        `${report.file}: ${size}³ int16, ${mib(raw)} of voxels, ${mib(compressedBytes)} gzip; median of ${repeats} fresh processes`,
        `${'method'.padEnd(38)} ${'time'.padStart(10)}  ${'speed'.padStart(11)}  ${'peak mem'.padStart(9)}`,
        row('unet3d reader (zlib, typed array)', 'unet3d'),
        row('zlib gunzip alone (the floor)', 'zlib'),
        row('nifti-reader-js (fflate inflate)', 'fflate'),
        `peak memory is above an idle process (${mib(idle)})`,
      ].join('\n') + '\n',
    );
    return 0;
  },
};
