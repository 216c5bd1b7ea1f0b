/**
 * Which voxels a statistic reads when a volume has too many to read them all. Pure (no Node
 * imports): the webview's automatic window and the engine's normalization share it.
 *
 * A regular stride aliases with the grid: on a 512³ volume a stride of 512 reads only the x = 0
 * plane, and any stride that divides a row, a plane or their multiples favours some planes. So
 * the index range is cut into `maxSamples` equal blocks and one position is drawn at random in
 * each (jittered sampling): every voxel is equally likely whatever the dimensions, the positions
 * still ascend (memory is read in order), and a fixed seed gives the same sample every time.
 */
import { Random } from './random';

/** The seed of every statistic's sample, so that a window or a normalization repeats exactly. */
export const SAMPLING_SEED = 0x5eed;

/**
 * The finite values of `values` (NaN and ±Infinity left out, and `exclude` too where given): all
 * of them when there are at most `maxSamples` positions, else those at `maxSamples` positions
 * drawn one per equal block of the index range (see the module comment).
 */
export function sampleFinite(values: ArrayLike<number>, maxSamples: number, exclude?: number, seed = SAMPLING_SEED): Float64Array {
  const n = values.length;
  const m = Math.max(1, Math.floor(maxSamples));
  if (n <= m) {
    const all = new Float64Array(n);
    let count = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v - v === 0 && v !== exclude) all[count++] = v; // v − v is NaN for NaN and ±Infinity
    }
    return all.subarray(0, count);
  }
  const sample = new Float64Array(m);
  const random = new Random(seed);
  const block = n / m;
  let count = 0;
  for (let k = 0; k < m; k++) {
    const start = Math.floor(k * block);
    const end = Math.floor((k + 1) * block);
    const v = values[start + Math.floor(random.next() * (end - start))];
    if (v - v === 0 && v !== exclude) sample[count++] = v;
  }
  return sample.subarray(0, count);
}
