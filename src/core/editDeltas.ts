/**
 * Label edits as compact deltas: runs of changed voxels with their values before and after.
 * Pure (no Node imports): the webview builds them, the host validates and applies them and
 * keeps them for undo and redo.
 *
 * A brush stroke, a fill or an accepted prediction changes one slice: its delta lives in the
 * slice's frame (positions laid out as `extractSlice` does, so a run follows the slice's
 * rows whatever the axis). Removing a class changes the whole volume: its delta lives in the
 * volume's frame (linear voxel index, x fastest).
 */
import type { Vec3 } from './geometry';
import { sliceAxes, type Axis } from './slices';

/** A label map's voxels: 0 = unlabeled, 1..K the classes. */
export type LabelArray = Uint8Array | Uint16Array;

/**
 * `labels`, widened to 16 bits where `classCount` classes do not fit in 8 (a class list with more
 * than 255 classes read from labels.json or a backup beside a uint8 map): class 300 must not be
 * painted as 44. The same array where it fits.
 */
export function labelsForClasses(labels: LabelArray, classCount: number): LabelArray {
  return classCount > 255 && labels instanceof Uint8Array ? Uint16Array.from(labels) : labels;
}

/** Where a delta's positions live. */
export type DeltaFrame = { kind: 'slice'; axis: Axis; index: number } | { kind: 'volume' };

/**
 * A change of labels. `runs` holds 4 numbers per run: start position, length, the value every
 * voxel of the run held before, and the value it holds after. Runs are sorted and disjoint.
 */
export interface LabelDelta {
  frame: DeltaFrame;
  runs: Uint32Array;
}

export type DeltaDirection = 'forward' | 'backward';

/** Number of positions in a frame: a slice's width × height, or every voxel. */
export function frameSize(frame: DeltaFrame, dims: Vec3): number {
  if (frame.kind === 'volume') return dims[0] * dims[1] * dims[2];
  const [u, v] = sliceAxes(frame.axis);
  return dims[u] * dims[v];
}

/**
 * The runs where `after` differs from `before` (two images of one frame, same length), or
 * undefined when nothing changed.
 */
export function diffLabels(frame: DeltaFrame, before: ArrayLike<number>, after: ArrayLike<number>): LabelDelta | undefined {
  if (before.length !== after.length) throw new RangeError(`before has ${before.length} values, after ${after.length}`);
  const runs: number[] = [];
  const n = before.length;
  let i = 0;
  while (i < n) {
    if (before[i] === after[i]) {
      i++;
      continue;
    }
    const b = before[i];
    const a = after[i];
    let j = i + 1;
    while (j < n && before[j] === b && after[j] === a) j++;
    runs.push(i, j - i, b, a);
    i = j;
  }
  return runs.length ? { frame, runs: Uint32Array.from(runs) } : undefined;
}

/** How many voxels a delta gives each value (after the change), by value. */
export function deltaValueCounts(delta: LabelDelta): Map<number, number> {
  const counts = new Map<number, number>();
  const { runs } = delta;
  for (let r = 0; r < runs.length; r += 4) counts.set(runs[r + 3], (counts.get(runs[r + 3]) ?? 0) + runs[r + 1]);
  return counts;
}

/**
 * Calls `visit(voxelIndex, before, after)` for every voxel a delta changes, `voxelIndex`
 * being the linear index in the volume (x fastest).
 */
export function forEachDeltaVoxel(delta: LabelDelta, dims: Vec3, visit: (voxel: number, before: number, after: number) => void): void {
  const { runs, frame } = delta;
  if (frame.kind === 'volume') {
    for (let r = 0; r < runs.length; r += 4) {
      const end = runs[r] + runs[r + 1];
      for (let p = runs[r]; p < end; p++) visit(p, runs[r + 2], runs[r + 3]);
    }
    return;
  }
  const [u, v] = sliceAxes(frame.axis);
  const stride = [1, dims[0], dims[0] * dims[1]];
  const width = dims[u];
  const base = frame.index * stride[frame.axis];
  const su = stride[u];
  const sv = stride[v];
  for (let r = 0; r < runs.length; r += 4) {
    const start = runs[r];
    const end = start + runs[r + 1];
    let a = start % width;
    let b = (start - a) / width;
    for (let p = start; p < end; p++) {
      visit(base + a * su + b * sv, runs[r + 2], runs[r + 3]);
      if (++a === width) {
        a = 0;
        b++;
      }
    }
  }
}

/** Writes a delta's values into `labels`: the `after` values going forward, the `before` values going backward. */
export function applyDelta(labels: LabelArray, dims: Vec3, delta: LabelDelta, direction: DeltaDirection): void {
  if (direction === 'forward') forEachDeltaVoxel(delta, dims, (voxel, _before, after) => (labels[voxel] = after));
  else forEachDeltaVoxel(delta, dims, (voxel, before) => (labels[voxel] = before));
}

/**
 * True where `labels` holds what the delta expects to find before it is applied in
 * `direction` (its `before` values going forward): the two sides agree on the document.
 */
export function deltaMatches(labels: LabelArray, dims: Vec3, delta: LabelDelta, direction: DeltaDirection): boolean {
  let ok = true;
  const side = direction === 'forward' ? 0 : 1;
  forEachDeltaVoxel(delta, dims, (voxel, before, after) => {
    if (labels[voxel] !== (side === 0 ? before : after)) ok = false;
  });
  return ok;
}

/** Number of voxels a delta changes. */
export function deltaVoxelCount(delta: LabelDelta): number {
  let n = 0;
  for (let r = 1; r < delta.runs.length; r += 4) n += delta.runs[r];
  return n;
}

/**
 * Why a delta cannot apply to a `dims` volume whose label values go up to `maxValue`, or
 * undefined when it can: the frame lies inside the volume, runs are sorted, disjoint, non-empty
 * and inside the frame, and every value is 0..maxValue.
 */
export function checkDelta(delta: LabelDelta, dims: Vec3, maxValue: number): string | undefined {
  const { frame, runs } = delta;
  if (frame.kind === 'slice') {
    if (frame.axis !== 0 && frame.axis !== 1 && frame.axis !== 2) return `slice axis ${frame.axis} is not 0, 1 or 2`;
    if (!Number.isInteger(frame.index) || frame.index < 0 || frame.index >= dims[frame.axis]) {
      return `slice ${frame.index} is outside 0..${dims[frame.axis] - 1} along axis ${frame.axis}`;
    }
  }
  if (runs.length === 0 || runs.length % 4 !== 0) return `${runs.length} run values is not a positive multiple of 4`;
  const size = frameSize(frame, dims);
  let end = 0;
  for (let r = 0; r < runs.length; r += 4) {
    const [start, length, before, after] = [runs[r], runs[r + 1], runs[r + 2], runs[r + 3]];
    if (length === 0) return `run ${r / 4} is empty`;
    if (start < end) return `run ${r / 4} starts at ${start}, before the end of the previous run (${end})`;
    end = start + length;
    if (end > size) return `run ${r / 4} ends at ${end}, outside the ${size} positions of its frame`;
    if (before > maxValue || after > maxValue) return `run ${r / 4} holds label ${Math.max(before, after)}, above the highest class ${maxValue}`;
  }
  return undefined;
}

const DELTA_MAGIC = 0x554c4431; // "ULD1"
const HEADER = 5;

/** The delta as one exact-size ArrayBuffer (for postMessage). */
export function encodeDelta(delta: LabelDelta): ArrayBuffer {
  const out = new Uint32Array(HEADER + delta.runs.length);
  const { frame } = delta;
  out[0] = DELTA_MAGIC;
  out[1] = frame.kind === 'slice' ? 1 : 0;
  out[2] = frame.kind === 'slice' ? frame.axis : 0;
  out[3] = frame.kind === 'slice' ? frame.index : 0;
  out[4] = delta.runs.length / 4;
  out.set(delta.runs, HEADER);
  return out.buffer;
}

/** Reads `encodeDelta`'s bytes. Throws a RangeError naming what is wrong with malformed input. */
export function decodeDelta(bytes: ArrayBuffer | ArrayBufferView): LabelDelta {
  const buffer = bytes instanceof ArrayBuffer ? bytes : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength % 4 !== 0 || buffer.byteLength < HEADER * 4) {
    throw new RangeError(`a delta of ${buffer.byteLength} bytes is not a whole number of 32-bit words with a header`);
  }
  const words = new Uint32Array(buffer);
  if (words[0] !== DELTA_MAGIC) throw new RangeError('not a label delta (bad magic number)');
  const runCount = words[4];
  if (words.length !== HEADER + runCount * 4) throw new RangeError(`the delta declares ${runCount} runs but holds ${(words.length - HEADER) / 4}`);
  const kind = words[1];
  if (kind !== 0 && kind !== 1) throw new RangeError(`frame kind ${kind} is neither 0 (volume) nor 1 (slice)`);
  const frame: DeltaFrame = kind === 1 ? { kind: 'slice', axis: words[2] as Axis, index: words[3] } : { kind: 'volume' };
  return { frame, runs: words.slice(HEADER) };
}

/**
 * A whole label map as runs of labeled voxels: 3 numbers per run (start, length, value), zeros
 * left out. Sparse labels shrink from a byte per voxel to a few numbers per labeled row.
 */
export function encodeLabelRuns(labels: ArrayLike<number>): Uint32Array {
  const runs: number[] = [];
  const n = labels.length;
  const zeros = zeroSkipper(labels);
  let i = 0;
  while (i < n) {
    const v = labels[i];
    if (v === 0) {
      i = zeros ? zeros(i) : i + 1;
      continue;
    }
    let j = i + 1;
    while (j < n && labels[j] === v) j++;
    runs.push(i, j - i, v);
    i = j;
  }
  return Uint32Array.from(runs);
}

/**
 * For a typed array of 1-, 2- or 4-byte integers: a function that, from a zero at element `i`,
 * returns the next element past `i` that may not be zero, skipping zeros 4 bytes at a time (a
 * mostly empty 512³ label map is 128 MiB of zeros: element by element that took half a second).
 */
function zeroSkipper(labels: ArrayLike<number>): ((i: number) => number) | undefined {
  if (!ArrayBuffer.isView(labels) || labels instanceof DataView) return undefined;
  const view = labels as unknown as Uint8Array;
  const size = view.BYTES_PER_ELEMENT;
  if (size !== 1 && size !== 2 && size !== 4) return undefined;
  const firstWord = Math.ceil(view.byteOffset / 4);
  const endWord = Math.floor((view.byteOffset + view.byteLength) / 4);
  if (endWord <= firstWord) return undefined;
  const words = new Uint32Array(view.buffer, firstWord * 4, endWord - firstWord);
  return (i) => {
    const byte = view.byteOffset + i * size;
    if (byte % 4 !== 0) return i + 1;
    let w = byte / 4 - firstWord;
    if (w < 0 || w >= words.length) return i + 1;
    while (w < words.length && words[w] === 0) w++;
    return Math.max(i + 1, ((w + firstWord) * 4 - view.byteOffset) / size);
  };
}

/**
 * Fills `out` (zeroed first) from `encodeLabelRuns`' runs; throws a RangeError on runs outside
 * `out` or values above `maxValue`. `fresh`: `out` was just made and holds only zeros, so it is
 * not zeroed again (that would touch every page of a large new array for nothing).
 */
export function decodeLabelRuns(runs: Uint32Array, out: LabelArray, maxValue: number, fresh = false): void {
  if (runs.length % 3 !== 0) throw new RangeError(`${runs.length} run values is not a multiple of 3`);
  if (!fresh) out.fill(0);
  for (let r = 0; r < runs.length; r += 3) {
    const start = runs[r];
    const end = start + runs[r + 1];
    const value = runs[r + 2];
    if (end > out.length) throw new RangeError(`run ${r / 3} ends at ${end}, outside the ${out.length} voxels`);
    if (value > maxValue) throw new RangeError(`run ${r / 3} holds label ${value}, above ${maxValue}`);
    out.fill(value, start, end);
  }
}

/** Per slice along each voxel axis, how many voxels carry a label (non-zero). */
export type SliceLabelCounts = [Uint32Array, Uint32Array, Uint32Array];

/** Counts, per slice along each axis, the voxels whose value is at least `minValue` (1: every label). */
export function sliceLabelCounts(labels: ArrayLike<number>, dims: Vec3, minValue = 1): SliceLabelCounts {
  const [nx, ny, nz] = dims;
  const counts: SliceLabelCounts = [new Uint32Array(nx), new Uint32Array(ny), new Uint32Array(nz)];
  let i = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      let row = 0;
      for (let x = 0; x < nx; x++, i++) {
        if (labels[i] >= minValue) {
          counts[0][x]++;
          row++;
        }
      }
      counts[1][j] += row;
      counts[2][k] += row;
    }
  }
  return counts;
}

/**
 * `sliceLabelCounts` of the labels that `encodeLabelRuns` gave `runs` (every label counts), from
 * the runs alone: work in proportion to the labeled voxels, not to the volume (a sparse 512³ label
 * map is counted at once, where a scan of its 134 million voxels takes a second in a webview).
 */
export function sliceLabelCountsOfRuns(runs: Uint32Array, dims: Vec3): SliceLabelCounts {
  const [nx, ny, nz] = dims;
  const counts: SliceLabelCounts = [new Uint32Array(nx), new Uint32Array(ny), new Uint32Array(nz)];
  for (let r = 0; r + 2 < runs.length; r += 3) {
    let at = runs[r];
    const end = Math.min(at + runs[r + 1], nx * ny * nz);
    while (at < end) {
      // The part of the run in one row: x .. x + n - 1 at (y, z).
      const x = at % nx;
      const row = (at - x) / nx;
      const n = Math.min(nx - x, end - at);
      const xs = counts[0];
      for (let i = x; i < x + n; i++) xs[i]++;
      counts[1][row % ny] += n;
      counts[2][Math.floor(row / ny)] += n;
      at += n;
    }
  }
  return counts;
}

/** Updates per-slice counts for a delta applied in `direction` (call it once per application). */
export function updateSliceLabelCounts(counts: SliceLabelCounts, dims: Vec3, delta: LabelDelta, direction: DeltaDirection): void {
  const nx = dims[0];
  const plane = dims[0] * dims[1];
  forEachDeltaVoxel(delta, dims, (voxel, before, after) => {
    const from = direction === 'forward' ? before : after;
    const to = direction === 'forward' ? after : before;
    const change = (to !== 0 ? 1 : 0) - (from !== 0 ? 1 : 0);
    if (change === 0) return;
    const k = Math.floor(voxel / plane);
    const rest = voxel - k * plane;
    const j = Math.floor(rest / nx);
    counts[0][rest - j * nx] += change;
    counts[1][j] += change;
    counts[2][k] += change;
  });
}

/** The smallest box (inclusive voxel bounds) holding every voxel a delta changes. */
export function deltaBounds(delta: LabelDelta, dims: Vec3): { min: Vec3; max: Vec3 } {
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  const nx = dims[0];
  const plane = dims[0] * dims[1];
  forEachDeltaVoxel(delta, dims, (voxel) => {
    const k = Math.floor(voxel / plane);
    const rest = voxel - k * plane;
    const j = Math.floor(rest / nx);
    const i = rest - j * nx;
    if (i < min[0]) min[0] = i;
    if (i > max[0]) max[0] = i;
    if (j < min[1]) min[1] = j;
    if (j > max[1]) max[1] = j;
    if (k < min[2]) min[2] = k;
    if (k > max[2]) max[2] = k;
  });
  return { min, max };
}

/**
 * The delta that removes class `value`: its voxels become unlabeled and the classes above it
 * move down by one (classes stay 1..K without gaps). Undefined when no voxel changes.
 */
export function removeClassDelta(labels: LabelArray, value: number): LabelDelta | undefined {
  const runs: number[] = [];
  const n = labels.length;
  let i = 0;
  while (i < n) {
    const v = labels[i];
    if (v < value) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n && labels[j] === v) j++;
    runs.push(i, j - i, v, v === value ? 0 : v - 1);
    i = j;
  }
  return runs.length ? { frame: { kind: 'volume' }, runs: Uint32Array.from(runs) } : undefined;
}
