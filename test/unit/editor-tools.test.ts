/** The editor's pure tools: window/level, the round brush with anisotropic spacing, the 2D flood fill. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { brushFootprint, stampBrush, strokeCenters } from '../../src/core/brush';
import { floodFillRegion } from '../../src/core/floodFill';
import { readVolumeFile } from '../../src/core/readVolume';
import { volumeStats } from '../../src/core/volume';
import {
  automaticWindow,
  dragWindow,
  grayLookupTable,
  grayOf,
  initialWindow,
  intensityPercentiles,
  looksLikeCt,
  lookupOffset,
  windowOfRange,
} from '../../src/core/windowLevel';
import { SKIP_WITHOUT_DATA, dataPath } from '../helpers/data';

// ---------------------------------------------------------------- window/level

test('gray levels: black below the window, white above, linear between', () => {
  const w = { width: 400, level: 40 };
  for (const [value, gray] of [[-1000, 0], [-160, 0], [40, 127], [240, 255], [3000, 255], [NaN, 0]] as const) {
    assert.equal(grayOf(value, w), gray, `value ${value}`);
  }
  assert.deepEqual(windowOfRange(-100, 300), { width: 400, level: 100 });
});

test('the 16-bit lookup table gives what grayOf gives, scaling included', () => {
  const w = { width: 200, level: 3200 };
  const slope = 0.0754;
  const inter = 3100.8;
  const table = grayLookupTable('int16', slope, inter, w)!;
  assert.equal(table.length, 65536);
  for (const stored of [-32768, -5, 0, 1, 1000, 1330, 2000, 32767]) {
    assert.equal(table[stored + lookupOffset('int16')], grayOf(stored * slope + inter, w), `stored ${stored}`);
  }
  assert.equal(grayLookupTable('float32', 1, 0, w), undefined);
  assert.equal(grayLookupTable('uint8', 1, 0, w)!.length, 256);
});

test('the automatic window of real volumes spans their bulk, and CT is recognised', { skip: SKIP_WITHOUT_DATA }, () => {
  const ct = readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'));
  const stats = volumeStats(ct);
  assert.ok(looksLikeCt(stats.min, stats.max), `${stats.min}..${stats.max}`);
  const w = automaticWindow(ct.data, ct.sclSlope, ct.sclInter);
  const [low, high] = intensityPercentiles(ct.data, ct.sclSlope, ct.sclInter, 0.5, 99.5);
  assert.ok(Math.abs(w.level - w.width / 2 - low) < 1e-9 && Math.abs(w.level + w.width / 2 - high) < 1e-9);
  assert.ok(low >= stats.min && high <= stats.max && high > low);
  const mri = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz'));
  const mriStats = volumeStats(mri);
  assert.ok(!looksLikeCt(mriStats.min, mriStats.max));
  // Scaled data (slope 0.0754, intercept 3100.8): the window is in scaled units.
  const functional = readVolumeFile(dataPath('formats', 'functional.nii'));
  const fw = automaticWindow(functional.data, functional.sclSlope, functional.sclInter);
  const fStats = volumeStats(functional);
  assert.ok(fw.level > fStats.min && fw.level < fStats.max, JSON.stringify(fw));
});

test('a CT opens in the soft-tissue window, where the spleen stands out from what surrounds it; an MRI in the automatic one', { skip: SKIP_WITHOUT_DATA }, () => {
  const ct = readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'));
  const spleen = readVolumeFile(dataPath('semi', 'spleen', 'sub-spleen2_ct_seg-manual.nii.gz'));
  const stats = volumeStats(ct);
  const automatic = automaticWindow(ct.data, ct.sclSlope, ct.sclInter);
  const initial = initialWindow(automatic, stats.min, stats.max);
  assert.deepEqual(initial, { name: 'CT soft tissue', width: 400, level: 40 });
  // Median intensities of the spleen and of a 4-voxel ring around it, in plane.
  const [nx, ny, nz] = ct.dims;
  const inside: number[] = [];
  const ring: number[] = [];
  const isSpleen = (i: number, j: number, k: number) => spleen.data[i + nx * (j + ny * k)] > 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const value = ct.data[i + nx * (j + ny * k)] * ct.sclSlope + ct.sclInter;
        if (isSpleen(i, j, k)) inside.push(value);
        else {
          let near = false;
          for (let dj = -4; dj <= 4 && !near; dj++) for (let di = -4; di <= 4 && !near; di++) near = i + di >= 0 && j + dj >= 0 && i + di < nx && j + dj < ny && isSpleen(i + di, j + dj, k);
          if (near) ring.push(value);
        }
      }
    }
  }
  const median = (list: number[]) => list.sort((a, b) => a - b)[list.length >> 1];
  const contrast = (w: { width: number; level: number }) => grayOf(median(inside), w) - grayOf(median(ring), w);
  // The percentile window spans air to bone: the spleen is a few gray levels above its surroundings.
  assert.ok(contrast(initial) >= 3 * contrast(automatic) && contrast(initial) >= 50, `gray contrast ${contrast(initial)} (soft tissue) vs ${contrast(automatic)} (automatic)`);

  const mri = readVolumeFile(dataPath('semi', 'spinalcord', 't2.nii.gz'));
  const mriStats = volumeStats(mri);
  const mriAutomatic = automaticWindow(mri.data, mri.sclSlope, mri.sclInter);
  assert.deepEqual(initialWindow(mriAutomatic, mriStats.min, mriStats.max), { name: 'Automatic', ...mriAutomatic });
});

test('dragging right widens the window, dragging down raises the level', () => {
  const start = { width: 100, level: 50 };
  assert.ok(dragWindow(start, 40, 0).width > 100);
  assert.ok(dragWindow(start, -40, 0).width < 100);
  assert.ok(dragWindow(start, 0, 40).level > 50);
  assert.ok(dragWindow(start, -100000, 0).width > 0);
});

// ---------------------------------------------------------------- brush

function footprintSet(size: number, cs: number, rs: number): Set<string> {
  const f = brushFootprint(size, cs, rs);
  const out = new Set<string>();
  for (let i = 0; i < f.length; i += 2) out.add(`${f[i]},${f[i + 1]}`);
  return out;
}

test('brush footprints on isotropic voxels: size 1 is one voxel, then discs', () => {
  for (const [size, count] of [[1, 1], [2, 5], [3, 9], [4, 13], [5, 21], [7, 37]] as const) {
    assert.equal(footprintSet(size, 1, 1).size, count, `size ${size}`);
  }
  // Symmetric under flips and 90° turns.
  const f = footprintSet(9, 0.7, 0.7);
  for (const key of f) {
    const [c, r] = key.split(',').map(Number);
    for (const other of [`${-c},${r}`, `${c},${-r}`, `${r},${c}`]) assert.ok(f.has(other.replace(/-0/g, '0')), other);
  }
});

test('on anisotropic slices the brush is round in millimetres', () => {
  // 0.8 mm columns, 5 mm rows (a coronal slice of a 0.8 × 0.8 × 5 mm CT): size 9 = 7.2 mm across.
  const f = brushFootprint(9, 0.8, 5);
  let maxCol = 0;
  let maxRow = 0;
  for (let i = 0; i < f.length; i += 2) {
    maxCol = Math.max(maxCol, Math.abs(f[i]));
    maxRow = Math.max(maxRow, Math.abs(f[i + 1]));
    const mm = Math.hypot(f[i] * 0.8, f[i + 1] * 5);
    assert.ok(mm <= 3.6 + 1e-6, `(${f[i]}, ${f[i + 1]}) lies ${mm} mm from the centre`);
  }
  assert.equal(maxCol, 4);
  assert.equal(maxRow, 0);
  // Rows are reached once the radius passes a row's spacing.
  const wide = brushFootprint(15, 0.8, 5); // 6 mm radius
  assert.ok(Array.from(wide).some((v, i) => i % 2 === 1 && Math.abs(v) === 1));
  assert.throws(() => brushFootprint(0, 1, 1), /below 1/);
  assert.throws(() => brushFootprint(3, 0, 1), /not positive/);
});

test('a fast stroke leaves no gaps, and stamps clip at the image edge', () => {
  const centres = strokeCenters([0.5, 0.5], [10.5, 3.5], true);
  for (let i = 1; i < centres.length; i++) {
    const [c0, r0] = centres[i - 1];
    const [c1, r1] = centres[i];
    assert.ok(Math.abs(c1 - c0) <= 1 && Math.abs(r1 - r0) <= 1, `jump from ${centres[i - 1]} to ${centres[i]}`);
  }
  assert.deepEqual(centres[0], [0, 0]);
  assert.deepEqual(centres.at(-1), [10, 3]);
  assert.deepEqual(strokeCenters([2.2, 2.2], [2.7, 2.9], false), []);
  const hits: string[] = [];
  stampBrush(brushFootprint(3, 1, 1), 4, 4, 0, 0, (c, r) => hits.push(`${c},${r}`));
  assert.deepEqual(hits.sort(), ['0,0', '0,1', '1,0', '1,1']);
});

// ---------------------------------------------------------------- flood fill

function image(rows: string[]): { values: Uint8Array; width: number; height: number } {
  const width = rows[0].length;
  return { values: Uint8Array.from(rows.join('').split('').map(Number)), width, height: rows.length };
}

test('flood fill stays inside a drawn outline (4-connected: diagonals do not leak)', () => {
  const { values, width, height } = image([
    '0000000',
    '0222220',
    '0200020',
    '0200020',
    '0222200',
    '0000020',
  ]);
  const inside = floodFillRegion(values, width, height, 2, 2);
  assert.deepEqual([...inside].sort((a, b) => a - b), [16, 17, 18, 23, 24, 25]);
  // Outside: everything 0 connected to the border, leaking through the gap at (5,4) into nothing else.
  const outside = floodFillRegion(values, width, height, 0, 0);
  assert.equal(outside.length, values.filter((v) => v === 0).length - 6);
  // The outline itself.
  assert.equal(floodFillRegion(values, width, height, 1, 1).length, 13);
  assert.throws(() => floodFillRegion(values, width, height, 7, 0), /outside/);
});

test('flood fill of a uniform 512 × 512 slice takes every pixel', () => {
  const values = new Uint16Array(512 * 512);
  const region = floodFillRegion(values, 512, 512, 100, 300);
  assert.equal(region.length, 512 * 512);
  assert.equal(region.reduce((s, p) => s + p, 0), ((512 * 512 - 1) * 512 * 512) / 2);
});
