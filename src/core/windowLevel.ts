/**
 * Window/level: which intensities map to black and white. Pure (no Node imports): the
 * webview renders with it. Intensities are scaled values (`stored · slope + inter`).
 */
import type { DataType, VoxelArray } from './datatypes';
import { sampleFinite } from './sampling';

/** A display window in scaled intensity units: `level − width/2` is black, `level + width/2` white. */
export interface WindowLevel {
  width: number;
  level: number;
}

/** A named window. */
export interface WindowPreset extends WindowLevel {
  name: string;
}

/** Common CT windows (Hounsfield units), offered when a volume looks like CT. */
export const CT_PRESETS: readonly WindowPreset[] = [
  { name: 'CT soft tissue', width: 400, level: 40 },
  { name: 'CT lung', width: 1500, level: -600 },
  { name: 'CT bone', width: 1800, level: 400 },
  { name: 'CT brain', width: 80, level: 40 },
  { name: 'CT abdomen', width: 350, level: 50 },
];

/** A window from the `low` and `high` intensities (black at low, white at high). */
export function windowOfRange(low: number, high: number): WindowLevel {
  if (!Number.isFinite(low) || !Number.isFinite(high)) return { width: 1, level: 0.5 }; // no finite intensity at all
  const width = Math.max(high - low, Number.EPSILON * Math.max(1, Math.abs(low)));
  return { width, level: low + width / 2 };
}

/**
 * At most `maxSamples` stored values spread over the whole volume (`sampleFinite`: no axis
 * favoured; NaN and ±Infinity left out), sorted: what every percentile below is read from. Sort it
 * once for several percentiles (a sort of 2^18 values takes tens of milliseconds in a webview).
 */
export function sortedSample(data: VoxelArray, maxSamples = 1 << 18): Float64Array {
  const sample = sampleFinite(data, maxSamples);
  // 8- and 16-bit values: a counting sort, a few times quicker than the comparison sort.
  const offset = data instanceof Int16Array ? 32768 : data instanceof Int8Array ? 128 : 0;
  const bins = data instanceof Uint8Array || data instanceof Int8Array ? 256 : data instanceof Uint16Array || data instanceof Int16Array ? 65536 : 0;
  if (bins === 0 || sample.length < bins / 16) return sample.sort();
  const counts = new Uint32Array(bins);
  for (let i = 0; i < sample.length; i++) counts[sample[i] + offset]++;
  let at = 0;
  for (let bin = 0; bin < bins; bin++) {
    const count = counts[bin];
    if (count === 0) continue;
    sample.fill(bin - offset, at, at + count);
    at += count;
  }
  return sample;
}

/** The intensities at the `lowPercent` and `highPercent` percentiles of a sorted sample (`sortedSample`). */
export function percentilesOfSorted(sorted: ArrayLike<number>, slope: number, inter: number, lowPercent: number, highPercent: number): [number, number] {
  const count = sorted.length;
  if (count === 0) return [0, 1];
  const at = (p: number) => sorted[Math.min(count - 1, Math.max(0, Math.round((p / 100) * (count - 1))))];
  const a = at(lowPercent) * slope + inter;
  const b = at(highPercent) * slope + inter;
  return a <= b ? [a, b] : [b, a];
}

/**
 * The intensities at the `lowPercent` and `highPercent` percentiles, from at most `maxSamples`
 * voxels spread over the whole volume (`sortedSample`).
 */
export function intensityPercentiles(
  data: VoxelArray,
  slope: number,
  inter: number,
  lowPercent: number,
  highPercent: number,
  maxSamples = 1 << 18,
): [number, number] {
  return percentilesOfSorted(sortedSample(data, maxSamples), slope, inter, lowPercent, highPercent);
}

/** The automatic window: 0.5 % to 99.5 % of the intensities (the full range where those meet). */
export function automaticWindow(data: VoxelArray, slope: number, inter: number, sorted = sortedSample(data)): WindowLevel {
  let [low, high] = percentilesOfSorted(sorted, slope, inter, 0.5, 99.5);
  if (!(high > low)) [low, high] = percentilesOfSorted(sorted, slope, inter, 0, 100);
  return windowOfRange(low, high);
}

/** The window a CT opens with: soft tissue, where organs differ by tens of HU. */
export const CT_DEFAULT_WINDOW: WindowPreset = CT_PRESETS[0];

/**
 * The window a volume opens with, and its name. A CT in Hounsfield units gets the soft-tissue
 * window: its percentile window spans air, padding and bone (on an abdominal CT about 1400 HU
 * wide), which leaves organs a few gray levels apart. Anything else gets the automatic
 * percentile window (`automatic`, from automaticWindow).
 */
export function initialWindow(automatic: WindowLevel, minIntensity: number, maxIntensity: number): WindowPreset {
  if (looksLikeCt(minIntensity, maxIntensity)) return { ...CT_DEFAULT_WINDOW };
  return { name: 'Automatic', width: automatic.width, level: automatic.level };
}

/** True where the intensities look like CT in Hounsfield units (air near −1000). */
export function looksLikeCt(minIntensity: number, maxIntensity: number): boolean {
  return minIntensity <= -900 && minIntensity >= -3100 && maxIntensity >= 200;
}

/** Gray level 0–255 of a scaled intensity. */
export function grayOf(intensity: number, window: WindowLevel): number {
  const g = ((intensity - (window.level - window.width / 2)) / window.width) * 255;
  return g <= 0 ? 0 : g >= 255 ? 255 : g | 0;
}

/** Offset added to a stored value to index a lookup table (int8: 128, int16: 32768). */
export function lookupOffset(datatype: DataType): number {
  return datatype === 'int8' ? 128 : datatype === 'int16' ? 32768 : 0;
}

/**
 * For 8- and 16-bit types, a table from stored value (+ `lookupOffset`) to gray level, so
 * rendering costs one lookup per pixel; undefined for wider types (computed per pixel).
 */
export function grayLookupTable(datatype: DataType, slope: number, inter: number, window: WindowLevel): Uint8Array | undefined {
  const size = datatype === 'uint8' || datatype === 'int8' ? 256 : datatype === 'uint16' || datatype === 'int16' ? 65536 : 0;
  if (size === 0) return undefined;
  const offset = lookupOffset(datatype);
  const table = new Uint8Array(size);
  for (let i = 0; i < size; i++) table[i] = grayOf((i - offset) * slope + inter, window);
  return table;
}

/**
 * Window/level after a drag of (dx, dy) screen pixels: right widens the window, down raises
 * the level, both in proportion to the current width (so one gesture works for any range).
 */
export function dragWindow(start: WindowLevel, dx: number, dy: number): WindowLevel {
  const width = Math.max(start.width * Math.exp(dx * 0.005), 1e-6);
  return { width, level: start.level + dy * start.width * 0.003 };
}
