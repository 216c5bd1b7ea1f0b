/**
 * `unet3d bench segment`: segmenting a whole size³ volume (default 256³, a real CT resampled)
 * with the `fast` network, tile by tile as `unet3d segment` does: voxels per second and the
 * process's peak memory (measured in a fresh process, above an idle one that loaded the same
 * backend). The PyTorch peer (torch_peer.py, shared with bench train/infer) runs the same network
 * on the same tiles, one forward pass per tile, in the same run (the engines take turns), for the
 * comparison the README gives.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Vec3 } from '../../core/geometry';
import { readVolumeFile } from '../../core/readVolume';
import { parseCommandArgs, parseNumber, parseTriple } from '../args';
import { UsageError } from '../command';
import { writeBenchVolume } from './benchVolume';
import type { BenchKind } from './kind';
import { median, mib, peakRssBytes, runCliChild } from './stats';
import { startTorchPeer } from './torchPeer';
import { isBackendName } from '../../protocol/backends';
import { PRESETS, resolveFilters } from '../../protocol/network';

/** What one child process reports. */
interface ChildResult {
  mode: 'idle' | 'segment';
  backend: string;
  seconds: number;
  tiles: number;
  tile: number[];
  inputTile: number[];
  blend: boolean;
  peakRss: number;
}

/** What `unet3d bench segment --json` prints. */
export interface BenchSegmentJson {
  source: string;
  dims: number[];
  network: string;
  backend: string;
  tiles: number;
  tile: number[];
  overlap: number;
  repeats: number;
  /** Median seconds to segment the volume (tiles: cut out, normalize, network, merge). */
  seconds: number;
  voxelsPerSecond: number;
  /** Peak resident memory above an idle process with the same backend loaded, and of the idle process, bytes. */
  peakMemory: number;
  idleMemory: number;
  /** PyTorch: seconds for the same tiles (median per tile × tiles), when the peer ran. */
  pytorchSeconds?: number;
  pytorchVoxelsPerSecond?: number;
  pytorch?: string;
  /** seconds / pytorchSeconds. */
  ratio?: number;
  peerMissing?: string;
}

/** In the child: load the backend (and, for 'segment', segment the file with an untrained `fast` network). */
async function child(mode: 'idle' | 'segment', file: string, backendName: string, tile: Vec3 | undefined, overlap: number | undefined): Promise<ChildResult> {
  const { initBackend } = await import('../../engine/backends');
  const { createUNet } = await import('../../engine/model');
  const { computeNormalization } = await import('../../engine/normalize');
  const { predictVolume } = await import('../../engine/predict');
  const backend = await initBackend(backendName as Parameters<typeof initBackend>[0]);
  // The same network in both modes, so the idle figure holds the weights too.
  const net = createUNet({ ...PRESETS.fast, inChannels: 1, classes: 2 }, 1);
  try {
    if (mode === 'idle') return { mode, backend: backend.active, seconds: 0, tiles: 0, tile: [], inputTile: [], blend: false, peakRss: peakRssBytes() };
    const volume = readVolumeFile(file);
    const start = performance.now();
    const predicted = await predictVolume(net, volume, computeNormalization(volume), { tile, overlap });
    const seconds = (performance.now() - start) / 1000;
    const { plan } = predicted;
    return { mode, backend: backend.active, seconds, tiles: plan.tiles.length, tile: plan.tile, inputTile: plan.inputSize, blend: plan.blend, peakRss: peakRssBytes() };
  } finally {
    net.dispose();
  }
}

export const segment: BenchKind = {
  summary: 'segment a 256³ volume with the fast network, tiled: voxels/s and peak memory, against PyTorch',
  usage: `Usage: unet3d bench segment [--size N] [--tile X,Y,Z] [--overlap F] [--backend B] [--repeats R] [--source FILE] [--no-peer] [--python PATH] [--json]

  --size N       the cube's edge in voxels (default 256)
  --tile X,Y,Z   output tile (default 96,96,96, as unet3d segment)
  --overlap F    overlap of the blended tiles (default 0.125, as unet3d segment)
  --backend B    auto (default), tensorflow-gpu, webgpu, tensorflow, wasm or cpu
  --repeats R    segmentations, each in a fresh process (default 1)
  --source FILE  a real volume resampled to size³ (default: ../shared/data/semi/spleen CT)
  --no-peer      skip PyTorch (by default Debian's /usr/bin/python3 with python3-torch, $UNET3D_PYTHON or
                 --python), which runs the same network on the same tiles
The network is the fast preset (3 levels, 16,16 | 32,32 | 64,64, same padding, BN + ReLU, 2 classes),
with untrained weights (speed does not depend on them).`,
  async run(argv) {
    const { values } = parseCommandArgs(argv, {
      size: { type: 'string' },
      tile: { type: 'string' },
      overlap: { type: 'string' },
      backend: { type: 'string' },
      repeats: { type: 'string' },
      source: { type: 'string' },
      'no-peer': { type: 'boolean' },
      python: { type: 'string' },
      json: { type: 'boolean' },
      child: { type: 'string' },
      file: { type: 'string' },
    });
    const tile = values.tile === undefined ? undefined : parseTriple(values.tile, '--tile');
    const overlap = parseNumber(values.overlap, '--overlap', 0, 0.9);
    const backendName = values.backend ?? 'auto';
    if (backendName !== 'auto' && !isBackendName(backendName)) throw new UsageError(`unknown backend "${backendName}"`);
    if (values.child) {
      if ((values.child !== 'idle' && values.child !== 'segment') || !values.file) throw new UsageError('bad --child');
      process.stdout.write(JSON.stringify(await child(values.child, values.file, backendName, tile, overlap)) + '\n');
      return 0;
    }
    const size = parseNumber(values.size, '--size', 8, 1024) ?? 256;
    if (!Number.isInteger(size)) throw new UsageError(`--size must be an integer, not ${values.size}`);
    const repeats = parseNumber(values.repeats, '--repeats', 1, 20) ?? 1;
    const { file, dir, source } = writeBenchVolume(values.source, size, 'unet3d-bench-segment');
    const extra = [...(values.tile ? ['--tile', values.tile] : []), ...(values.overlap ? ['--overlap', values.overlap] : []), '--backend', backendName];
    const runs: ChildResult[] = [];
    let idle: ChildResult;
    try {
      idle = runCliChild<ChildResult>(['bench', 'segment', '--child', 'idle', '--file', file, ...extra]);
      for (let r = 0; r < repeats; r++) runs.push(runCliChild<ChildResult>(['bench', 'segment', '--child', 'segment', '--file', file, ...extra]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const first = runs[0];
    const seconds = median(runs.map((r) => r.seconds));
    const report: BenchSegmentJson = {
      source: `${path.basename(source)} resampled to ${size}³`,
      dims: [size, size, size],
      network: 'fast (3 levels, 16,16 | 32,32 | 64,64, same, BN + ReLU, 2 classes)',
      backend: first.backend,
      tiles: first.tiles,
      tile: first.tile,
      overlap: overlap ?? 0.125,
      repeats,
      seconds,
      voxelsPerSecond: size ** 3 / seconds,
      peakMemory: Math.max(0, median(runs.map((r) => r.peakRss)) - idle.peakRss),
      idleMemory: idle.peakRss,
    };

    // PyTorch on the same tiles (cubes only: the peer takes an edge length).
    const [tx, ty, tz] = first.inputTile;
    if (values['no-peer']) report.peerMissing = 'skipped (--no-peer)';
    else if (tx !== ty || ty !== tz) report.peerMissing = `the tile ${first.inputTile.join('×')} is not a cube, which the peer needs`;
    else {
      const { simdRuntime } = await import('../../engine/ops/simd/runtime');
      const config = PRESETS.fast;
      // As many threads as the engine's kernels use (bench train/infer do the same).
      const peer = await startTorchPeer({ filters: resolveFilters(config), inChannels: 1, classes: 2, batchNorm: config.batchNorm }, simdRuntime().threads, values.python);
      if ('missing' in peer) report.peerMissing = peer.missing;
      else {
        try {
          await peer.time('infer', 16);
          const perTile: number[] = [];
          for (let r = 0; r < 3; r++) perTile.push(await peer.time('infer', tx));
          report.pytorchSeconds = median(perTile) * first.tiles;
          report.pytorchVoxelsPerSecond = size ** 3 / report.pytorchSeconds;
          report.pytorch = peer.description;
          report.ratio = seconds / report.pytorchSeconds;
        } finally {
          peer.close();
        }
      }
    }

    if (values.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const lines = [
      `${report.source}: the fast network, ${report.tiles} tiles of ${report.tile.join('×')}${first.blend ? `, Gaussian-blended (overlap ${report.overlap})` : ''}; median of ${repeats} fresh process(es)`,
      `unet3d ${report.backend}: ${seconds.toFixed(1)} s, ${Math.round(report.voxelsPerSecond).toLocaleString('en-US')} voxels/s, peak memory ${mib(report.peakMemory)} above an idle process (${mib(report.idleMemory)})`,
      report.pytorchSeconds !== undefined
        ? `${report.pytorch}: ${report.pytorchSeconds.toFixed(1)} s for the same tiles (forward passes only), ${Math.round(report.pytorchVoxelsPerSecond!).toLocaleString('en-US')} voxels/s; unet3d takes ${report.ratio!.toFixed(1)}× as long`
        : `PyTorch peer missing: ${report.peerMissing}`,
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  },
};
