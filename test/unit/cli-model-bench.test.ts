/**
 * `unet3d model` and `unet3d bench` through the built CLI (dist/cli.js, built by `npm test` before
 * the unit tests): the paper's network and a small one counted by hand; each benchmark once on a
 * tiny size, with no PyTorch peer, checking what its JSON reports (never how fast).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { BenchIoJson } from '../../src/cli/bench/io';
import type { BenchSegmentJson } from '../../src/cli/bench/segment';
import type { UnetBenchJson } from '../../src/cli/bench/unetStep';
import type { ModelSummary } from '../../src/protocol/networkSummary';
import { REPO_ROOT, SKIP_WITHOUT_DATA } from '../helpers/data';

const CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const skip = !fs.existsSync(CLI) ? 'dist/cli.js is not built (npm run build)' : false;

function cli(...args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
}

/** Runs a command that ends by printing one JSON line; returns it parsed. */
function json<T>(...args: string[]): T {
  const result = cli(...args);
  assert.equal(result.status, 0, `unet3d ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as T;
}

test("unet3d model: the paper's network has 19,069,955 parameters, 132×132×116 in, 44×44×28 out", { skip }, () => {
  const summary = json<ModelSummary>('model', '--preset', 'paper', '--json');
  assert.equal(summary.parameters, 19_069_955);
  assert.deepEqual(summary.inputShape, [132, 132, 116, 3]);
  assert.deepEqual(summary.outputShape, [44, 44, 28, 3]);
  assert.equal(summary.layers.reduce((s, l) => s + l.parameters, 0), 19_069_955);
  const text = cli('model', '--preset', 'paper');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /19[,  ]?069[,  ]?955/);
});

test('unet3d model: a 2-level network of 2 and 4 filters, counted by hand (1,392 parameters)', { skip }, () => {
  const summary = json<ModelSummary>('model', '--levels', '2', '--base-filters', '2', '--input', '8,8,8', '--json');
  // The fast preset's flat filters: 2,2 | 4,4; 1 input channel, 2 classes, same padding.
  const byHand =
    (27 * 1 * 2 + 2) + (27 * 2 * 2 + 2) + // enc0
    (27 * 2 * 4 + 4) + (27 * 4 * 4 + 4) + // enc1
    8 * 4 * 4 + // up0 (no bias)
    (27 * (4 + 2) * 2 + 2) + (27 * 2 * 2 + 2) + // dec0, after the concat with enc0's 2
    (2 * 2 + 2); // final 1×1×1
  assert.equal(byHand, 1392);
  assert.equal(summary.parameters, byHand);
  assert.deepEqual(summary.inputShape, [8, 8, 8, 1]);
  assert.deepEqual(summary.outputShape, [8, 8, 8, 2]);
  assert.deepEqual(summary.config.filters, [[2, 2], [4, 4]]);
});

for (const kind of ['train', 'infer'] as const) {
  test(`unet3d bench ${kind}: one step of the benchmark network at 16³ on cpu`, { skip, timeout: 300_000 }, () => {
    const reports = json<UnetBenchJson | UnetBenchJson[]>('bench', kind, '--size', '16', '--repeats', '1', '--backend', 'cpu', '--no-peer', '--json');
    const [report] = Array.isArray(reports) ? reports : [reports];
    assert.equal(report.kind, kind);
    assert.equal(report.backend, 'cpu');
    assert.equal(report.size, 16);
    assert.equal(report.repeats, 1);
    assert.ok(report.seconds > 0 && Number.isFinite(report.seconds), `seconds ${report.seconds}`);
    // CPU seconds of the process per step: measured, finite (not compared with the wall clock: threads add up).
    assert.ok(report.cpuSeconds >= 0 && Number.isFinite(report.cpuSeconds), `cpuSeconds ${report.cpuSeconds}`);
    assert.ok(Math.abs(report.voxelsPerSecond * report.seconds - 16 ** 3) < 1e-6 * 16 ** 3, 'voxels per second of 16³ voxels');
    // GFLOP/s counts a training step as three forward passes, inference as one.
    const forward = json<ModelSummary>('model', '--preset', 'bench', '--input', '16,16,16', '--json').forwardFlops;
    const passes = kind === 'train' ? 3 : 1;
    assert.ok(Math.abs(report.gflops * 1e9 * report.seconds - passes * forward) < 1e-6 * passes * forward, `${report.gflops} GFLOP/s over ${report.seconds} s`);
    assert.match(report.peerMissing ?? '', /--no-peer/);
    assert.equal(report.pytorchSeconds, undefined);
    assert.equal(report.pytorchCpuSeconds, undefined);
  });
}

test('unet3d bench segment: an untrained fast network segments a 32³ volume in one tile', { skip: skip || SKIP_WITHOUT_DATA, timeout: 300_000 }, () => {
  const report = json<BenchSegmentJson>('bench', 'segment', '--size', '32', '--repeats', '1', '--backend', 'cpu', '--no-peer', '--json');
  assert.deepEqual(report.dims, [32, 32, 32]);
  assert.equal(report.backend, 'cpu');
  assert.equal(report.tiles, 1, 'the default 96³ tile covers 32³');
  assert.equal(report.repeats, 1);
  assert.ok(report.seconds > 0);
  assert.ok(Math.abs(report.voxelsPerSecond * report.seconds - 32 ** 3) < 1e-6 * 32 ** 3);
  assert.match(report.source, /resampled to 32³/);
  assert.match(report.peerMissing ?? '', /--no-peer/);
});

test('unet3d bench io: a 16³ volume read by each method', { skip: skip || SKIP_WITHOUT_DATA, timeout: 300_000 }, () => {
  const report = json<BenchIoJson>('bench', 'io', '--size', '16', '--repeats', '1', '--json');
  assert.deepEqual(report.dims, [16, 16, 16]);
  assert.equal(report.datatype, 'int16');
  assert.equal(report.repeats, 1);
  assert.ok(report.compressedBytes > 0 && report.compressedBytes < 16 ** 3 * 2 + 1024, `${report.compressedBytes} bytes`);
  for (const method of ['unet3d', 'zlib', 'fflate'] as const) assert.ok(report.seconds[method] > 0, method);
});

test('unet3d bench: usage mistakes exit 2 and name the mistake', { skip }, () => {
  for (const [args, message] of [
    [['bench'], /which benchmark/],
    [['bench', 'warp'], /unknown benchmark "warp"/],
    [['bench', 'train', '--size', '10'], /--size must be a multiple of 4/],
    [['bench', 'infer', '--backend', 'tpu'], /unknown backend "tpu"/],
    [['model', '--preset', 'huge'], /--preset must be one of paper, fast, bench/],
  ] as [string[], RegExp][]) {
    const result = cli(...args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});
