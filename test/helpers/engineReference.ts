/**
 * Independent float64 references for the engine's kernels: naive loops over NDHWC arrays, and
 * central finite differences of them for the gradients. Written from the definitions, sharing no
 * code with src/engine.
 */

export type Shape = number[];

export const size = (shape: Shape) => shape.reduce((a, b) => a * b, 1);

/** Seeded normal draws (xorshift + Box–Muller), so cases are reproducible. */
export function normals(count: number, seed: number, scale = 1, offset = 0): Float64Array {
  let s = seed * 2654435761 + 1;
  const uniform = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = offset + scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return out;
}

/**
 * y = conv3d(concat of centre-cropped inputs, w) + b, stride 1: w is [k, k, k, cin, cout]; 'same' pads
 * (k−1)/2 zeros; inputs are [n, d, h, w, c] each.
 */
export function conv3dRef(inputs: { data: Float64Array; shape: Shape }[], w: Float64Array, wShape: Shape, b: Float64Array | null, padding: 'same' | 'valid'): { data: Float64Array; shape: Shape } {
  const [k, , , cin, cout] = wShape;
  const n = inputs[0].shape[0];
  const sz = [1, 2, 3].map((a) => Math.min(...inputs.map((t) => t.shape[a])));
  const pad = padding === 'same' ? (k - 1) / 2 : 0;
  const out = sz.map((s) => s + 2 * pad - k + 1);
  // The concatenated, cropped input as a function.
  const channelOf: { t: number; c: number }[] = [];
  inputs.forEach((t, ti) => {
    for (let c = 0; c < t.shape[4]; c++) channelOf.push({ t: ti, c });
  });
  if (channelOf.length !== cin) throw new Error('channel mismatch');
  const at = (b0: number, z: number, y: number, x: number, ci: number) => {
    if (z < 0 || y < 0 || x < 0 || z >= sz[0] || y >= sz[1] || x >= sz[2]) return 0;
    const { t, c } = channelOf[ci];
    const s = inputs[t].shape;
    const oz = Math.floor((s[1] - sz[0]) / 2);
    const oy = Math.floor((s[2] - sz[1]) / 2);
    const ox = Math.floor((s[3] - sz[2]) / 2);
    return inputs[t].data[((((b0 * s[1] + z + oz) * s[2] + y + oy) * s[3] + x + ox) * s[4]) + c];
  };
  const y = new Float64Array(n * out[0] * out[1] * out[2] * cout);
  for (let b0 = 0; b0 < n; b0++)
    for (let z = 0; z < out[0]; z++)
      for (let yy = 0; yy < out[1]; yy++)
        for (let x = 0; x < out[2]; x++)
          for (let co = 0; co < cout; co++) {
            let sum = b ? b[co] : 0;
            for (let dz = 0; dz < k; dz++)
              for (let dy = 0; dy < k; dy++)
                for (let dx = 0; dx < k; dx++)
                  for (let ci = 0; ci < cin; ci++) sum += at(b0, z + dz - pad, yy + dy - pad, x + dx - pad, ci) * w[(((dz * k + dy) * k + dx) * cin + ci) * cout + co];
            y[((((b0 * out[0] + z) * out[1] + yy) * out[2] + x) * cout) + co] = sum;
          }
  return { data: y, shape: [n, ...out, cout] };
}

/** y[n, 2z+a, 2y+b, 2x+c, co] = Σ_ci x[n, z, y, x, ci] · w[a, b, c, co, ci] (the transposed convolution, stride 2). */
export function upConvRef(x: Float64Array, xShape: Shape, w: Float64Array, cout: number): { data: Float64Array; shape: Shape } {
  const [n, d, h, wd, cin] = xShape;
  const shape = [n, 2 * d, 2 * h, 2 * wd, cout];
  const y = new Float64Array(size(shape));
  for (let b0 = 0; b0 < n; b0++)
    for (let z = 0; z < d; z++)
      for (let yy = 0; yy < h; yy++)
        for (let xx = 0; xx < wd; xx++)
          for (let t = 0; t < 8; t++) {
            const [a, bb, c] = [t >> 2, (t >> 1) & 1, t & 1];
            for (let co = 0; co < cout; co++) {
              let sum = 0;
              for (let ci = 0; ci < cin; ci++) sum += x[((((b0 * d + z) * h + yy) * wd + xx) * cin) + ci] * w[(t * cout + co) * cin + ci];
              y[((((b0 * 2 * d + 2 * z + a) * 2 * h + 2 * yy + bb) * 2 * wd + 2 * xx + c) * cout) + co] = sum;
            }
          }
  return { data: y, shape };
}

/** 2×2×2 max pooling, stride 2. */
export function maxPoolRef(x: Float64Array, [n, d, h, w, c]: Shape): { data: Float64Array; shape: Shape } {
  const shape = [n, d >> 1, h >> 1, w >> 1, c];
  const y = new Float64Array(size(shape)).fill(-Infinity);
  for (let b0 = 0; b0 < n; b0++)
    for (let z = 0; z < 2 * shape[1]; z++)
      for (let yy = 0; yy < 2 * shape[2]; yy++)
        for (let xx = 0; xx < 2 * shape[3]; xx++)
          for (let ch = 0; ch < c; ch++) {
            const o = ((((b0 * shape[1] + (z >> 1)) * shape[2] + (yy >> 1)) * shape[3] + (xx >> 1)) * c) + ch;
            y[o] = Math.max(y[o], x[((((b0 * d + z) * h + yy) * w + xx) * c) + ch]);
          }
  return { data: y, shape };
}

/** Training-mode batch norm (batch statistics, biased variance) followed by ReLU, over the last axis. */
export function batchNormReluRef(x: Float64Array, c: number, gamma: Float64Array, beta: Float64Array, eps: number): Float64Array {
  const v = x.length / c;
  const y = new Float64Array(x.length);
  for (let ch = 0; ch < c; ch++) {
    let mean = 0;
    for (let i = 0; i < v; i++) mean += x[i * c + ch];
    mean /= v;
    let variance = 0;
    for (let i = 0; i < v; i++) variance += (x[i * c + ch] - mean) ** 2;
    variance /= v;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < v; i++) y[i * c + ch] = Math.max(0, gamma[ch] * (x[i * c + ch] - mean) * inv + beta[ch]);
  }
  return y;
}

/** Mean over voxels of softmax cross-entropy: logits [v, k], one class index per voxel. */
export function softmaxCrossEntropyRef(logits: Float64Array, k: number, labels: number[]): number {
  const v = logits.length / k;
  let total = 0;
  for (let i = 0; i < v; i++) {
    const row = logits.subarray(i * k, i * k + k);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, l) => s + Math.exp(l - m), 0));
    total += lse - row[labels[i]];
  }
  return total / v;
}

/**
 * The gradient of L(args) = Σ f(args)·r with respect to args[which], by central differences in float64
 * (exact up to rounding for the linear kernels), at `indices` (default: every element; the others are 0).
 */
export function finiteDifferenceGrad(
  f: (args: Float64Array[]) => Float64Array,
  args: Float64Array[],
  which: number,
  r: Float64Array,
  h = 1e-4,
  indices?: number[],
): Float64Array {
  const target = args[which];
  const grad = new Float64Array(target.length);
  const loss = () => f(args).reduce((s, v, i) => s + v * r[i], 0);
  for (const i of indices ?? target.keys()) {
    const keep = target[i];
    target[i] = keep + h;
    const up = loss();
    target[i] = keep - h;
    const down = loss();
    target[i] = keep;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}

/** Largest absolute difference relative to the largest magnitude of the reference. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

/** Up to `count` indices spread over [0, length), always including the first and the last. */
export function sampleIndices(length: number, count: number): number[] {
  if (length <= count) return [...Array(length).keys()];
  return [...new Set(Array.from({ length: count }, (_, i) => Math.round((i * (length - 1)) / (count - 1) + ((i * 7919) % 5) - 2)).map((i) => Math.min(length - 1, Math.max(0, i))))];
}

/** relativeError restricted to `indices`. */
export function relativeErrorAt(actual: ArrayLike<number>, expected: ArrayLike<number>, indices: number[]): number {
  return relativeError(
    indices.map((i) => actual[i]),
    indices.map((i) => expected[i]),
  );
}

/**
 * The training's weighted sparse cross-entropy in float64: logits [v, k]; labels 0 = unlabeled,
 * c + 1 = class c; Σ w(c)·(log Σ exp l − l[c]) / Σ w(c) over the labeled voxels, 0 when none is.
 */
export function sparseWeightedCrossEntropyRef(logits: Float64Array, k: number, labels: readonly number[], weights: readonly number[]): number {
  let total = 0;
  let weightSum = 0;
  labels.forEach((label, i) => {
    if (label === 0) return;
    const row = logits.subarray(i * k, i * k + k);
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, l) => s + Math.exp(l - m), 0));
    total += weights[label - 1] * (lse - row[label - 1]);
    weightSum += weights[label - 1];
  });
  return weightSum > 0 ? total / weightSum : 0;
}

/**
 * Soft Dice as a loss in float64, over the labeled voxels only: −mean over the foreground classes
 * c ≥ 1 of (2·Σ p·y + ε) / (Σ p + Σ y + ε), p the softmax of the logits, y the one-hot label.
 */
export function sparseSoftDiceRef(logits: Float64Array, k: number, labels: readonly number[], epsilon = 1e-5): number {
  const intersection = new Float64Array(k);
  const sizes = new Float64Array(k);
  labels.forEach((label, i) => {
    if (label === 0) return;
    const row = logits.subarray(i * k, i * k + k);
    const m = Math.max(...row);
    const e = Array.from(row, (l) => Math.exp(l - m));
    const s = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < k; c++) {
      const p = e[c] / s;
      const y = label - 1 === c ? 1 : 0;
      intersection[c] += p * y;
      sizes[c] += p + y;
    }
  });
  let dice = 0;
  for (let c = 1; c < k; c++) dice += (2 * intersection[c] + epsilon) / (sizes[c] + epsilon);
  return -dice / (k - 1);
}
