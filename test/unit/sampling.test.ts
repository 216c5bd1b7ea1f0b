/**
 * Sampled statistics favour no axis whatever the dimensions (issue: a stride of 512 on a 512³
 * CT read only the x = 0 plane, and its automatic window came from that plane). Volumes whose
 * planes differ are generated with cheap typed-array fills (uint8: one byte a voxel); the exact
 * percentiles come from a histogram of every voxel.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readVolumeFile } from '../../src/core/readVolume';
import { resampleTrilinear } from '../../src/core/resample';
import { sampleFinite } from '../../src/core/sampling';
import { automaticWindow, intensityPercentiles, sortedSample } from '../../src/core/windowLevel';
import { percentiles } from '../../src/engine/normalize';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

type Axis = 0 | 1 | 2;

/** A uint8 volume whose intensity rises along `axis` (value = index · 255 / (n − 1)), filled row by row. */
function risingVolume(dims: [number, number, number], axis: Axis): Uint8Array {
  const [nx, ny, nz] = dims;
  const data = new Uint8Array(nx * ny * nz);
  const level = (i: number) => Math.round((i * 255) / (dims[axis] - 1));
  const row = new Uint8Array(nx);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      if (axis === 0) row.forEach((_, x) => (row[x] = level(x)));
      else row.fill(level(axis === 1 ? y : z));
      data.set(row, nx * (y + ny * z));
    }
  }
  return data;
}

/** Exact order statistics of integer data from a histogram: the value at rank `r` (0-based). */
function exactQuantiles(data: ArrayLike<number>, offset: number, bins: number) {
  const counts = new Float64Array(bins);
  for (let i = 0; i < data.length; i++) counts[data[i] + offset]++;
  const cumulative = new Float64Array(bins);
  let sum = 0;
  counts.forEach((c, b) => (cumulative[b] = sum += c));
  const atRank = (rank: number) => {
    let lo = 0;
    let hi = bins - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > rank) hi = mid;
      else lo = mid + 1;
    }
    return lo - offset;
  };
  const n = data.length;
  return {
    /** The nearest-rank percentile (as the window takes it). */
    nearest: (p: number) => atRank(Math.round((p / 100) * (n - 1))),
    /** Linear interpolation between order statistics (as the normalization takes it). */
    linear: (p: number) => {
      const pos = (p / 100) * (n - 1);
      const lo = atRank(Math.floor(pos));
      return lo + (atRank(Math.min(n - 1, Math.floor(pos) + 1)) - lo) * (pos - Math.floor(pos));
    },
  };
}

const PERCENTS = [0.5, 2, 25, 50, 75, 98, 99.5];

describe('sampled percentiles agree with the exact ones within 1 % of the range, whatever the dimensions', () => {
  const cases: { dims: [number, number, number]; axis: Axis }[] = [
    { dims: [512, 512, 512], axis: 0 },
    { dims: [256, 256, 128], axis: 0 },
    { dims: [512, 512, 300], axis: 0 },
    { dims: [512, 512, 300], axis: 1 },
    { dims: [256, 256, 128], axis: 2 },
  ];
  for (const { dims, axis } of cases) {
    test(`${dims.join('×')}, intensity rising along ${'xyz'[axis]}`, () => {
      const data = risingVolume(dims, axis);
      const exact = exactQuantiles(data, 0, 256);
      const tolerance = 0.01 * 255;
      for (const p of PERCENTS) {
        const [window] = intensityPercentiles(data, 1, 0, p, 100);
        assert.ok(Math.abs(window - exact.nearest(p)) <= tolerance, `window percentile ${p}: ${window}, exact ${exact.nearest(p)}`);
      }
      const normalization = percentiles(data, PERCENTS);
      PERCENTS.forEach((p, i) => {
        assert.ok(Math.abs(normalization[i] - exact.linear(p)) <= tolerance, `normalization percentile ${p}: ${normalization[i]}, exact ${exact.linear(p)}`);
      });
    });
  }
});

test('the sample is seeded (the same every time), skips NaN and ±Infinity, and reads every voxel of a small volume', () => {
  const values = new Float32Array(1000).map((_, i) => (i % 10 === 0 ? NaN : i % 10 === 1 ? Infinity : i));
  assert.equal(sampleFinite(values, 5000).length, 800);
  const big = new Float32Array(1 << 20).map((_, i) => i);
  assert.deepEqual(sampleFinite(big, 1000), sampleFinite(big, 1000));
  assert.equal(sampleFinite(big, 1000).length, 1000);
  assert.deepEqual(intensityPercentiles(values, 2, 1, 0, 100), [5, 1999]);
});

test('the automatic window of the spleen CT resampled to 512³ matches the whole volume\'s percentiles', { skip: SKIP_WITHOUT_DATA }, (t) => {
  // As `unet3d bench` builds its volume (src/cli/bench/benchVolume.ts): int16, trilinear, 512³.
  const ct = readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'));
  const int16 = Int16Array.from(ct.data, (v) => Math.max(-32768, Math.min(32767, Math.round(v * ct.sclSlope + ct.sclInter))));
  const { data } = resampleTrilinear(int16, ct.dims, ct.affine, [512, 512, 512]);
  const exact = exactQuantiles(data, 32768, 65536);
  const low = exact.nearest(0.5);
  const high = exact.nearest(99.5);
  const range = exact.nearest(100) - exact.nearest(0);
  const window = automaticWindow(data, 1, 0);
  const [windowLow, windowHigh] = [window.level - window.width / 2, window.level + window.width / 2];
  t.diagnostic(`automatic window ${windowLow}..${windowHigh} (W ${window.width} / L ${window.level}); whole volume 0.5–99.5 %: ${low}..${high}`);
  assert.ok(Math.abs(windowLow - low) <= 0.01 * range, `window from ${windowLow}, whole volume's 0.5 % percentile ${low}`);
  assert.ok(Math.abs(windowHigh - high) <= 0.01 * range, `window to ${windowHigh}, whole volume's 99.5 % percentile ${high}`);
  const [normLow, normHigh] = percentiles(data, [0.5, 99.5]);
  assert.ok(Math.abs(normLow - exact.linear(0.5)) <= 0.01 * range && Math.abs(normHigh - exact.linear(99.5)) <= 0.01 * range, `normalization ${normLow}..${normHigh}`);
});

test('the sorted sample the windows are read from is the same sample, sorted, for every type (a counting sort for 8 and 16 bits)', () => {
  const random = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const next = random(7);
  const cases: [string, ArrayLike<number> & { length: number }][] = [
    ['int16', Int16Array.from({ length: 700_000 }, (_, i) => (i % 97 === 0 ? (i % 2 ? 32767 : -32768) : Math.round((next() - 0.5) * 4000)))],
    ['uint16', Uint16Array.from({ length: 300_000 }, () => Math.round(next() * 65535))],
    ['int8', Int8Array.from({ length: 400_000 }, () => Math.round((next() - 0.5) * 255))],
    ['uint8', Uint8Array.from({ length: 100_000 }, () => Math.round(next() * 255))],
    ['int16, few values', Int16Array.from({ length: 1000 }, () => Math.round((next() - 0.5) * 100))],
    ['float32 with NaN', Float32Array.from({ length: 300_000 }, (_, i) => (i % 1000 === 0 ? NaN : next()))],
  ];
  for (const [name, data] of cases) {
    const expected = sampleFinite(data, 1 << 18).sort();
    const got = sortedSample(data as Int16Array);
    assert.equal(got.length, expected.length, name);
    assert.ok(got.every((v, i) => v === expected[i]), `${name}: the same values in the same order`);
  }
});
