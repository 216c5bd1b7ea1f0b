/**
 * The GPU benchmark's pack (`npm run bench:gpu -- --pack DIR`), run the way the bare GPU machine
 * runs it: built here (Node from npm, Debian's Vulkan loader, the CLI bundle and the packages it
 * loads, under 64 MiB), copied elsewhere, and `run.sh OUTDIR` on a software adapter (lavapipe)
 * with tiny sizes. PyTorch has no CUDA here, so the peer's rows say why they are missing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import type { GpuBenchJson } from '../../src/cli/bench/gpu';
import { buildPack, PACK_LIMIT_BYTES } from '../bench/gpu';
import { REPO_ROOT, tempDir } from '../helpers/data';
import { SKIP_WITHOUT_WEBGPU } from '../helpers/webgpu';

const work = tempDir('bench-gpu-pack');
after(() => fs.rmSync(work, { recursive: true, force: true }));

const skip =
  SKIP_WITHOUT_WEBGPU ||
  (process.platform !== 'linux' || process.arch !== 'x64' ? 'the pack is for linux-x64' : false) ||
  (!fs.existsSync('/usr/bin/apt-get') ? 'needs apt-get (the pack takes the Vulkan loader from Debian)' : false) ||
  (!fs.existsSync(path.join(REPO_ROOT, 'dist', 'cli.js')) ? 'dist/cli.js is not built (npm run build)' : false);

test('the GPU benchmark pack: under 64 MiB, and run.sh runs it from a copy (lavapipe, tiny sizes) into one JSON table', { skip, timeout: 1_200_000 }, () => {
  const pack = path.join(work, 'pack');
  const bytes = buildPack(pack, 0);
  assert.ok(bytes <= PACK_LIMIT_BYTES, `${bytes} bytes`);
  assert.deepEqual(fs.readdirSync(pack).sort(), ['MANIFEST.json', 'payload.tar.xz', 'run.sh']);
  // As the GPU machine gets it: a copy somewhere else, nothing of this checkout on its paths.
  const copy = path.join(work, 'copy');
  fs.cpSync(pack, copy, { recursive: true });
  const out = path.join(work, 'out');
  const result = spawnSync(
    path.join(copy, 'run.sh'),
    [out, '--allow-software', '--bench-size', '8', '--paper-size', '132,132,116', '--volume', '24', '--segment-network', 'bench', '--repeats', '1', '--kernel-size', '4', '--budget', '600'],
    { cwd: work, encoding: 'utf8', env: { ...process.env, PATH: '/usr/bin:/bin', NODE_OPTIONS: '' }, timeout: 1_100_000 },
  );
  const logText = fs.existsSync(path.join(out, 'bench-gpu.log')) ? fs.readFileSync(path.join(out, 'bench-gpu.log'), 'utf8') : result.stderr;
  assert.equal(result.status, 0, `run.sh failed:\n${logText.slice(-3000)}`);
  const json = JSON.parse(fs.readFileSync(path.join(out, 'bench-gpu.json'), 'utf8')) as GpuBenchJson;
  assert.match(json.node, /^v24\./, 'the pack brings its own Node (24: a global navigator, which the engine handles)');
  assert.equal((json.adapter as { software: boolean }).software, true);
  // The benchmark network ran on webgpu, training and inference.
  for (const kind of ['train', 'infer'] as const) {
    const row = json.rows.find((r) => r.network === 'bench' && r.kind === kind && r.engine === 'webgpu');
    assert.ok(row && row.seconds !== null && row.seconds > 0 && row.gflops !== null, `bench ${kind}: ${JSON.stringify(row)}`);
  }
  // The paper's network cannot fit lavapipe's 128 MiB buffers: refused, with the reason.
  const paper = json.rows.find((r) => r.network === 'paper' && r.engine === 'webgpu');
  assert.match(paper?.error ?? '', /does not fit this GPU: its largest tensor takes 448 MiB/);
  // PyTorch: no CUDA here (or no torch), said so.
  assert.ok(json.pytorch === null && json.pytorchMissing, `pytorch: ${json.pytorch}, ${json.pytorchMissing}`);
  assert.ok(json.segment.seconds! > 0 && json.segment.tiles! >= 1, JSON.stringify(json.segment));
  assert.ok(json.kernels.length >= 12 && json.kernels.every((k) => k.engineMs > 0), JSON.stringify(json.kernels.slice(0, 2)));
  assert.ok(fs.readFileSync(path.join(out, 'environment.txt'), 'utf8').includes('LD_LIBRARY_PATH='));
});
