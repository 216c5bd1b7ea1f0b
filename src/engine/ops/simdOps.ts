/**
 * The network's operations on the engine's WebAssembly SIMD kernels (assembly/kernels.ts), for the
 * wasm and cpu backends. Each is a tf.customGrad op: the forward pass and the gradients copy the
 * tensors into the kernels' shared memory, run the kernels on every core, and copy the results back.
 *
 * - conv: the inputs are cropped, zero-padded and concatenated in one copy; the input gradient is
 *   the convolution of the padded dy with the flipped, transposed filter (tfjs's wasm
 *   Conv3DBackpropInputV2 is wrong); the filter gradient is accumulated per thread. A 3×3×3
 *   convolution over a multiple of 4 input channels (every one of the network's but the first)
 *   runs as Winograd F(2×2×2, 3×3×3), its input gradient too, and its filter gradient as
 *   F(3×3×3, 2×2×2): 64 multiply-adds per tile where the direct kernels need 216.
 * - upConv: eight 1×1×1 convolutions writing every second voxel; its input gradient is a 2×2×2
 *   stride-2 convolution and its filter gradient one filter-gradient pass.
 * - batchNormRelu: statistics, normalization and ReLU fused; the gradient in two passes; with the
 *   moving statistics (inference) one pass.
 */
import { tf, type Tensor, type Tensor1D, type Tensor5D } from '../tf';
import { customOp } from './customOp';
import { simdRuntime, type SimdRuntime } from './simd/runtime';
import { putTensor, readFloats, tensorFromArena } from './simd/tensorIO';
import { BN_EPSILON, BN_MOMENTUM, type BatchNormParams, type ConvOptions, type NetworkOps } from './types';
import type { Padding } from '../../protocol/network';

const round4 = (n: number) => (n + 3) & ~3;
/** Floats per thread block, rounded up so every block starts 64-byte aligned. */
const alignFloats = (n: number) => Math.ceil(n / 16) * 16;

type Shape5 = [number, number, number, number, number];

/** The crop origin of an input of spatial size `shape` to `size` (centred, rounded down). */
function cropOrigin(shape: number[], size: number[]): [number, number, number] {
  return [(shape[1] - size[0]) >> 1, (shape[2] - size[1]) >> 1, (shape[3] - size[2]) >> 1];
}

/**
 * Copies `inputs` (each [N, d, h, w, c]) into one [N, D+2p, H+2p, W+2p, Σc] buffer: each centre-cropped
 * to [D, H, W], concatenated on channels, zero-padded by p.
 */
function packInputs(rt: SimdRuntime, inputs: Tensor5D[], size: number[], pad: number): number {
  const n = inputs[0].shape[0];
  const uncropped = (t: Tensor5D) => t.shape[1] === size[0] && t.shape[2] === size[1] && t.shape[3] === size[2];
  if (inputs.length === 1 && pad === 0 && uncropped(inputs[0])) return putTensor(rt, inputs[0]);
  const cin = inputs.reduce((s, t) => s + t.shape[4], 0);
  const [dp, hp, wp] = size.map((s) => s + 2 * pad);
  const sample = dp * hp * wp * cin;
  const xp = rt.alloc(n * sample);
  let channel = 0;
  for (const t of inputs) {
    const [, ds, hs, ws, cs] = t.shape;
    const src = putTensor(rt, t);
    const [oz, oy, ox] = cropOrigin(t.shape, size);
    for (let b = 0; b < n; b++) {
      const from = src + 4 * (b * ds * hs * ws * cs + ((oz * hs + oy) * ws + ox) * cs);
      rt.run('copyBox', [from, cs, ws * cs, hs * ws * cs, xp + 4 * b * sample, hp, wp, cin, channel, cs, pad, pad, pad, size[0], size[1], size[2]], dp);
    }
    channel += cs;
  }
  return xp;
}

/** Copies a [Z, H, W, c] block into a [Z+2p, H+2p, W+2p, cTo] one (zero-padded in space and channels). */
function repack(rt: SimdRuntime, src: number, [z, h, w]: number[], c: number, pad: number, cTo: number): number {
  const [zp, hp, wp] = [z + 2 * pad, h + 2 * pad, w + 2 * pad];
  const dst = rt.alloc(zp * hp * wp * cTo);
  rt.run('copyBox', [src, c, w * c, h * w * c, dst, hp, wp, cTo, 0, c, pad, pad, pad, z, h, w], zp);
  return dst;
}

/** Copies a [Z, H, W, cFrom] block's first c channels into a dense [Z, H, W, c] one. */
function compact(rt: SimdRuntime, src: number, [z, h, w]: number[], cFrom: number, c: number): number {
  if (cFrom === c) return src;
  const dst = rt.alloc(z * h * w * c);
  rt.run('copyBox', [src, cFrom, w * cFrom, h * w * cFrom, dst, h, w, c, 0, c, 0, 0, 0, z, h, w], z);
  return dst;
}

/** Puts a weight array in the arena with its last axis padded from c to cP. */
function putPadded(rt: SimdRuntime, values: Float32Array, rows: number, c: number, cP: number): number {
  if (c === cP) return rt.put(values);
  const ptr = rt.alloc(rows * cP);
  const f32 = rt.f32;
  const base = ptr >>> 2;
  f32.fill(0, base, base + rows * cP);
  for (let r = 0; r < rows; r++) f32.set(values.subarray(r * c, r * c + c), base + r * cP);
  return ptr;
}

/**
 * Whether 3×3×3 convolutions over a multiple of 4 input channels run as Winograd F(2×2×2, 3×3×3)
 * (the `winograd` kernel: 64 multiply-adds per 2×2×2 tile and channel pair instead of 216);
 * UNET3D_WINOGRAD=0 keeps the direct kernel everywhere.
 */
let winogradOn = process.env.UNET3D_WINOGRAD !== '0';

/** Turns the Winograd convolution on or off (benchmarks and tests compare the two). */
export function setWinograd(on: boolean): void {
  winogradOn = on;
}

/** Whether a k×k×k convolution over `cin` input channels runs as Winograd (its input gradient and filter gradient too). */
const usesWinograd = (k: number, cin: number) => winogradOn && k === 3 && cin % 4 === 0;

/** A filter in the arena, [k³][cin][coutP], and its Winograd transform [64][cin][coutP] where one is used (else 0). */
interface ArenaFilter {
  w: number;
  k: number;
  coutP: number;
  u: number;
}

/** Tiles along x that the Winograd kernel transforms and multiplies at a time (4 to 32 measured within 10 %). */
const WINOGRAD_BLOCK = 4;
/**
 * The same for the Winograd filter gradient, whose sums over the tiles are loaded and stored once
 * per block: 16 measured fastest (8: up to 1.3× slower, 32: 1.1×).
 */
const WINOGRAD_GRAD_BLOCK = 16;
/** The most memory the Winograd filter gradient's per-thread sums may take together. */
const WINOGRAD_GRAD_MAX_BYTES = 256 * 2 ** 20;

/**
 * Floats of scratch per thread for a block of `block` tiles in the winograd and
 * winogradFilterGrad kernels (past the latter's sums): 64 vectors, then the input's and the
 * other side's transformed blocks, 64 rows each of the tiles' channels plus one cache line.
 */
const blockScratchFloats = (block: number, cin: number, coutP: number) => 64 * 4 + 64 * (block * (cin + coutP) + 32);

/** Floats of scratch per thread for the filter transforms (36 + 48 vectors). */
const FILTER_SCRATCH = alignFloats(84 * 4);

/**
 * Runs a filter transform over its cin·coutP/4 channel vectors, each thread with its own scratch:
 * `winogradFilter` from a filter [27][cin][coutP] to [64][cin][coutP], `winogradFilterGradOut`
 * from the filter gradient's sums [64][cin][coutP] back to [27][cin][coutP].
 */
function transformFilter(rt: SimdRuntime, kernel: 'winogradFilter' | 'winogradFilterGradOut', from: number, to: number, cin: number, coutP: number): void {
  const vectors = (cin * coutP) / 4;
  const scratch = rt.alloc(FILTER_SCRATCH * rt.threads);
  rt.run(kernel, [from, to, vectors, scratch], vectors, { index: 3, stride: 4 * FILTER_SCRATCH }, 64);
}

function arenaFilter(rt: SimdRuntime, w: number, k: number, cin: number, coutP: number): ArenaFilter {
  if (!usesWinograd(k, cin)) return { w, k, coutP, u: 0 };
  const u = rt.alloc(64 * cin * coutP);
  transformFilter(rt, 'winogradFilter', w, u, cin, coutP);
  return { w, k, coutP, u };
}

/**
 * Convolves every sample: x is [N][Dp][Hp][Wp][cin] padded, y (allocated unless given)
 * [N][Do][Ho][Wo][coutP]; bias a pointer or 0.
 */
function convSamples(rt: SimdRuntime, x: number, [n, dp, hp, wp, cin]: Shape5, f: ArenaFilter, bias: number, [dOut, hOut, wOut]: number[], out?: number): number {
  const { k, coutP } = f;
  const y = out ?? rt.alloc(n * dOut * hOut * wOut * coutP);
  const row = wp * cin;
  const plane = hp * row;
  const block = Math.min(WINOGRAD_BLOCK, (wOut + 1) >> 1);
  const scratchFloats = alignFloats(blockScratchFloats(block, cin, coutP));
  const scratch = f.u ? rt.alloc(scratchFloats * rt.threads) : 0;
  for (let b = 0; b < n; b++) {
    const xb = x + 4 * b * dp * plane;
    const yb = y + 4 * b * dOut * hOut * wOut * coutP;
    if (f.u) {
      const range = ((dOut + 1) >> 1) * ((hOut + 1) >> 1);
      const args = [xb, row, plane, cin, wp, hp, dp, f.u, coutP, bias, yb, wOut * coutP, hOut * wOut * coutP, wOut, hOut, dOut, scratch, block];
      rt.run('winograd', args, range, { index: 16, stride: 4 * scratchFloats });
    } else {
      rt.run('conv', [xb, cin, row, plane, cin, row, plane, k, cin, f.w, coutP, bias, yb, coutP, wOut * coutP, hOut * wOut * coutP, wOut, hOut, 0], dOut);
    }
  }
  return y;
}

/**
 * The filter gradient dw [k³][cin][coutP] = Σ_o x[o + tap] · dy[o] over every sample: x padded
 * [N][Dp][Hp][Wp][cin], dy [N][Do][Ho][Wo][coutP]; Winograd F(3×3×3, 2×2×2) where the forward
 * convolution uses Winograd, each thread summing into its own buffer.
 */
function filterGradient(rt: SimdRuntime, x: number, [n, dp, hp, wp, cin]: Shape5, dy: number, coutP: number, k: number, [dOut, hOut, wOut]: number[]): number {
  const row = wp * cin;
  const plane = hp * row;
  const dySample = dOut * hOut * wOut * coutP;
  const accFloats = 64 * cin * coutP;
  // Each thread sums into its own 64 × cin × coutP floats: on many cores with the paper's widest
  // layers (512 × 512 channels: 64 MiB a thread) the direct gradient's 27 × cin × coutP are kept.
  if (usesWinograd(k, cin) && accFloats * 4 * rt.threads <= WINOGRAD_GRAD_MAX_BYTES) {
    const block = Math.min(WINOGRAD_GRAD_BLOCK, (wOut + 1) >> 1);
    const scratchFloats = alignFloats(accFloats + blockScratchFloats(block, cin, coutP));
    const scratch = rt.alloc(scratchFloats * rt.threads);
    for (let t = 0; t < rt.threads; t++) rt.zero(scratch + 4 * t * scratchFloats, accFloats);
    for (let s = 0; s < n; s++) {
      const args = [x + 4 * s * dp * plane, row, plane, cin, wp, hp, dp, dy + 4 * s * dySample, wOut * coutP, hOut * wOut * coutP, coutP, wOut, hOut, dOut, scratch, block];
      rt.run('winogradFilterGrad', args, ((dOut + 1) >> 1) * ((hOut + 1) >> 1), { index: 14, stride: 4 * scratchFloats });
    }
    reduceThreads(rt, scratch, accFloats, scratchFloats);
    const dw = rt.alloc(27 * cin * coutP);
    transformFilter(rt, 'winogradFilterGradOut', scratch, dw, cin, coutP);
    return dw;
  }
  const dwFloats = k * k * k * cin * coutP;
  const stride = alignFloats(dwFloats);
  const dw = rt.alloc(stride * rt.threads);
  rt.zero(dw, stride * rt.threads);
  for (let s = 0; s < n; s++) {
    rt.run(
      'convFilterGrad',
      [x + 4 * s * dp * plane, cin, row, plane, cin, row, plane, k, cin, dy + 4 * s * dySample, coutP, wOut * coutP, hOut * wOut * coutP, coutP, dw, wOut, hOut],
      dOut,
      { index: 14, stride: 4 * stride },
    );
  }
  reduceThreads(rt, dw, dwFloats, stride);
  return dw;
}

/** Sums the threads' partial results (each `floats` long, `stride` floats apart) into the first. */
function reduceThreads(rt: SimdRuntime, ptr: number, floats: number, stride: number): void {
  for (let t = 1; t < rt.threads; t++) rt.run('addInto', [ptr, ptr + 4 * t * stride], floats, undefined, 4096);
}

/** Voxels per chunk below which a per-voxel kernel is not split across threads. */
const VOXEL_GRAIN = 8192;

/**
 * Runs a per-voxel summing kernel whose argument `blockArg` is each thread's block (two float64
 * arrays of c, then scratch) and returns the two arrays summed over the threads.
 */
function threadSums(rt: SimdRuntime, kernel: 'channelMoments' | 'bnReluGradSums', args: number[], blockArg: number, voxels: number, c: number): [Float64Array, Float64Array] {
  const blockFloats = alignFloats(4 * c + 8);
  const blocks = rt.alloc(blockFloats * rt.threads);
  rt.zero(blocks, blockFloats * rt.threads);
  const withBlock = [...args];
  withBlock[blockArg] = blocks;
  rt.run(kernel, withBlock, voxels, { index: blockArg, stride: 4 * blockFloats }, VOXEL_GRAIN);
  const totals: [Float64Array, Float64Array] = [new Float64Array(c), new Float64Array(c)];
  for (let t = 0; t < rt.threads; t++) {
    totals.forEach((total, which) => {
      const part = rt.f64(blocks + 4 * t * blockFloats + which * c * 8, c);
      for (let ch = 0; ch < c; ch++) total[ch] += part[ch];
    });
  }
  return totals;
}

/** A tensor's values in the arena as [voxels][cP], its c channels zero-padded to cP. */
function putChannels(rt: SimdRuntime, t: Tensor, voxels: number, c: number, cP: number): number {
  const ptr = putTensor(rt, t);
  return cP === c ? ptr : repack(rt, ptr, [voxels, 1, 1], c, 0, cP);
}

function conv(inputs: Tensor5D[], filter: Tensor5D, bias: Tensor1D | null, padding: Padding, options: ConvOptions = {}): Tensor5D {
  const [k, , , cin, cout] = filter.shape;
  const cinTotal = inputs.reduce((s, t) => s + t.shape[4], 0);
  if (cinTotal !== cin) throw new Error(`conv: the inputs have ${cinTotal} channels, the filter takes ${cin}`);
  if (filter.shape[1] !== k || filter.shape[2] !== k) throw new Error('conv: the filter must be cubic');
  if (padding === 'same' && k % 2 === 0) throw new Error(`conv: 'same' padding needs an odd filter size, not ${k}`);
  const pad = padding === 'same' ? (k - 1) >> 1 : 0;
  const size = [1, 2, 3].map((axis) => Math.min(...inputs.map((t) => t.shape[axis])));
  const outSize = size.map((s) => s + 2 * pad - k + 1);
  if (outSize.some((s) => s < 1)) throw new Error(`conv: input [${size.join(', ')}] is smaller than the ${k}×${k}×${k} filter`);
  const n = inputs[0].shape[0];
  const coutP = round4(cout);
  const cinP = round4(cin);
  const taps = k * k * k;
  const m = inputs.length;
  const b = bias ?? tf.zeros([cout]);
  const op = customOp<Tensor5D>(m + 2, (args, save) => {
    const xs = args.slice(0, m) as Tensor5D[];
    const [w, bs] = [args[m] as Tensor5D, args[m + 1] as Tensor1D];
    save([...xs, w]);
    const rt = simdRuntime();
    rt.reset();
    const xp = packInputs(rt, xs, size, pad);
    const wp = putPadded(rt, readFloats(w), taps * cin, cout, coutP);
    const bp = putPadded(rt, readFloats(bs), 1, cout, coutP);
    const dims: Shape5 = [n, size[0] + 2 * pad, size[1] + 2 * pad, size[2] + 2 * pad, cin];
    const yp = convSamples(rt, xp, dims, arenaFilter(rt, wp, k, cin, coutP), bp, outSize);
    const value = tensorFromArena<Tensor5D>(rt, compact(rt, yp, [n * outSize[0], outSize[1], outSize[2]], coutP, cout), [n, ...outSize, cout]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const sx = saved.slice(0, m) as Tensor5D[];
        const sw = saved[m] as Tensor5D;
        rt.reset();
        const dyp = putTensor(rt, dy);
        // Filter gradient, each thread into its own buffer.
        const xp2 = packInputs(rt, sx, size, pad);
        const dyP = coutP === cout ? dyp : repack(rt, dyp, [n * outSize[0], outSize[1], outSize[2]], cout, 0, coutP);
        const [sums] = threadSums(rt, 'channelMoments', [dyP, coutP, 0, 0], 3, n * outSize[0] * outSize[1] * outSize[2], coutP);
        const db = tf.tensor1d(Float32Array.from(sums.subarray(0, cout)));
        const dwp = filterGradient(rt, xp2, dims, dyP, coutP, k, outSize);
        const dw = tensorFromArena<Tensor>(rt, compact(rt, dwp, [taps * cin, 1, 1], coutP, cout), sw.shape);
        // The network's input: nothing learns from its gradient, which would cost a convolution.
        if (options.inputGradient === false) return [...sx.map((t) => tf.zeros(t.shape)), dw, db];
        // Input gradient: the 'full' correlation of dy with the flipped filter, in and out swapped.
        const q = k - 1 - pad;
        const wv = readFloats(sw);
        const wt = rt.alloc(taps * cout * cinP);
        const f32 = rt.f32;
        const base = wt >>> 2;
        f32.fill(0, base, base + taps * cout * cinP);
        for (let t = 0; t < taps; t++) {
          const from = (taps - 1 - t) * cin * cout;
          for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) f32[base + (t * cout + co) * cinP + ci] = wv[from + ci * cout + co];
        }
        const dxp = rt.alloc(n * size[0] * size[1] * size[2] * cinP);
        const padded = [outSize[0] + 2 * q, outSize[1] + 2 * q, outSize[2] + 2 * q];
        const flipped = arenaFilter(rt, wt, k, cout, cinP);
        for (let s = 0; s < n; s++) {
          // Pad each sample's dy by q (samples are padded separately).
          const src = dyp + 4 * s * outSize[0] * outSize[1] * outSize[2] * cout;
          const dyq = repack(rt, src, outSize, cout, q, cout);
          convSamples(rt, dyq, [1, padded[0], padded[1], padded[2], cout], flipped, 0, size, dxp + 4 * s * size[0] * size[1] * size[2] * cinP);
        }
        // Split dx among the inputs, zero where an input was cropped away.
        let channel = 0;
        const dxs = sx.map((t) => {
          const [, ds, hs, ws, cs] = t.shape;
          const [oz, oy, ox] = cropOrigin(t.shape, size);
          const dst = rt.alloc(n * ds * hs * ws * cs);
          for (let s = 0; s < n; s++) {
            const from = dxp + 4 * (s * size[0] * size[1] * size[2] * cinP + channel);
            rt.run('copyBox', [from, cinP, size[2] * cinP, size[1] * size[2] * cinP, dst + 4 * s * ds * hs * ws * cs, hs, ws, cs, 0, cs, oz, oy, ox, size[0], size[1], size[2]], ds);
          }
          channel += cs;
          return tensorFromArena<Tensor>(rt, dst, t.shape);
        });
        return [...dxs, dw, db];
      },
    };
  });
  try {
    return op(...inputs, filter, b);
  } finally {
    if (!bias) b.dispose();
  }
}

function upConv(x: Tensor5D, filter: Tensor5D): Tensor5D {
  const [n, d, h, w, cin] = x.shape;
  const cout = filter.shape[3];
  if (filter.shape[4] !== cin || filter.shape.slice(0, 3).join() !== '2,2,2') {
    throw new Error(`upConv: filter [${filter.shape.join(', ')}] does not fit ${cin} input channels`);
  }
  const coutP = round4(cout);
  const cinP = round4(cin);
  const [D, H, W] = [2 * d, 2 * h, 2 * w];
  const op = customOp<Tensor5D>(2, ([xt, wt], save) => {
    save([xt, wt]);
    const rt = simdRuntime();
    rt.reset();
    const xp = putTensor(rt, xt);
    // [tap][cin][coutP] from tfjs's [tap][cout][cin].
    const wv = readFloats(wt);
    const wp = rt.alloc(8 * cin * coutP);
    const f32 = rt.f32;
    f32.fill(0, wp >>> 2, (wp >>> 2) + 8 * cin * coutP);
    for (let t = 0; t < 8; t++) for (let co = 0; co < cout; co++) for (let ci = 0; ci < cin; ci++) f32[(wp >>> 2) + (t * cin + ci) * coutP + co] = wv[(t * cout + co) * cin + ci];
    const yp = rt.alloc(n * D * H * W * coutP);
    for (let s = 0; s < n; s++) {
      const xb = xp + 4 * s * d * h * w * cin;
      const yb = yp + 4 * s * D * H * W * coutP;
      for (let t = 0; t < 8; t++) {
        const [a, bb, c] = [t >> 2, (t >> 1) & 1, t & 1];
        const y0 = yb + 4 * ((a * H + bb) * W + c) * coutP;
        rt.run('conv', [xb, cin, w * cin, h * w * cin, 0, 0, 0, 1, cin, wp + 4 * t * cin * coutP, coutP, 0, y0, 2 * coutP, 2 * W * coutP, 2 * H * W * coutP, w, h, 0], d);
      }
    }
    const value = tensorFromArena<Tensor5D>(rt, compact(rt, yp, [n * D, H, W], coutP, cout), [n, D, H, W, cout]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sx, sw] = saved as [Tensor5D, Tensor5D];
        rt.reset();
        const dyp = putTensor(rt, dy);
        const wv2 = readFloats(sw);
        // dx: a 2×2×2 stride-2 convolution of dy; weights [tap][cout][cinP] (tfjs's layout, padded).
        const wq = putPadded(rt, wv2, 8 * cout, cin, cinP);
        const dxp = rt.alloc(n * d * h * w * cinP);
        const row = W * cout;
        const plane = H * row;
        for (let s = 0; s < n; s++) {
          const from = dyp + 4 * s * D * H * W * cout;
          rt.run('conv', [from, 2 * cout, 2 * row, 2 * plane, cout, row, plane, 2, cout, wq, cinP, 0, dxp + 4 * s * d * h * w * cinP, cinP, w * cinP, h * w * cinP, w, h, 0], d);
        }
        const dx = tensorFromArena<Tensor>(rt, compact(rt, dxp, [n * d, h, w], cinP, cin), sx.shape);
        // dw[tap][co][ci] = Σ_v dy[2v + tap][co] · x[v][ci]: the filter-gradient kernel with dy as its input.
        const xs = cinP === cin ? putTensor(rt, sx) : repack(rt, putTensor(rt, sx), [n * d, h, w], cin, 0, cinP);
        const dwFloats = 8 * cout * cinP;
        const stride = alignFloats(dwFloats);
        const dwp = rt.alloc(stride * rt.threads);
        rt.zero(dwp, stride * rt.threads);
        for (let s = 0; s < n; s++) {
          const from = dyp + 4 * s * D * H * W * cout;
          const xb = xs + 4 * s * d * h * w * cinP;
          rt.run('convFilterGrad', [from, 2 * cout, 2 * row, 2 * plane, cout, row, plane, 2, cout, xb, cinP, w * cinP, h * w * cinP, cinP, dwp, w, h], d, {
            index: 14,
            stride: 4 * stride,
          });
        }
        reduceThreads(rt, dwp, dwFloats, stride);
        const dw = tensorFromArena<Tensor>(rt, compact(rt, dwp, [8 * cout, 1, 1], cinP, cin), sw.shape);
        return [dx, dw];
      },
    };
  });
  return op(x, filter);
}


function batchNormRelu(x: Tensor5D, p: BatchNormParams, training: boolean): Tensor5D {
  if (!training) return batchNormReluInference(x, p);
  const [n, d, h, w, c] = x.shape;
  const cP = round4(c);
  const voxels = n * d * h * w;
  const op = customOp<Tensor5D>(3, ([xt, gamma, beta], save) => {
    save([xt, gamma]);
    const rt = simdRuntime();
    rt.reset();
    const xp = putChannels(rt, xt, voxels, c, cP);
    // Two passes (the mean, then squares about it): float32 sums of raw squares would cancel.
    const mean = threadSums(rt, 'channelMoments', [xp, cP, 0, 0], 3, voxels, cP)[0].map((s) => s / voxels);
    const meanPtr = rt.put(Float32Array.from(mean));
    const variance = threadSums(rt, 'channelMoments', [xp, cP, meanPtr, 0], 3, voxels, cP)[1].map((s) => s / voxels);
    const g = readFloats(gamma);
    const be = readFloats(beta);
    const invStd = new Float32Array(cP);
    const scale = new Float32Array(cP);
    const shift = new Float32Array(cP);
    for (let ch = 0; ch < c; ch++) {
      invStd[ch] = 1 / Math.sqrt(variance[ch] + BN_EPSILON);
      scale[ch] = g[ch] * invStd[ch];
      shift[ch] = be[ch] - mean[ch] * scale[ch];
    }
    const scalePtr = rt.put(scale);
    const shiftPtr = rt.put(shift);
    const yp = rt.alloc(voxels * cP);
    rt.run('scaleShiftRelu', [xp, yp, cP, scalePtr, shiftPtr], voxels, undefined, VOXEL_GRAIN);
    const value = tensorFromArena<Tensor5D>(rt, compact(rt, yp, [voxels, 1, 1], cP, c), x.shape);
    updateMoving(p, mean.subarray(0, c), variance.subarray(0, c));
    const meanF = Float32Array.from(mean);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sx, sg] = saved;
        rt.reset();
        const xq = putChannels(rt, sx, voxels, c, cP);
        const dyq = putChannels(rt, dy, voxels, c, cP);
        const sc = rt.put(scale);
        const sh = rt.put(shift);
        const mp = rt.put(meanF);
        const isp = rt.put(invStd);
        const [sumG, sumGX] = threadSums(rt, 'bnReluGradSums', [xq, dyq, cP, sc, sh, mp, isp, 0], 7, voxels, cP);
        const gv = readFloats(sg);
        const k1 = new Float32Array(cP);
        for (let ch = 0; ch < c; ch++) k1[ch] = gv[ch] * invStd[ch];
        const dxp = rt.alloc(voxels * cP);
        rt.run(
          'bnReluGradInput',
          [xq, dyq, dxp, cP, sc, sh, mp, isp, rt.put(k1), rt.put(Float32Array.from(sumG, (v) => v / voxels)), rt.put(Float32Array.from(sumGX, (v) => v / voxels))],
          voxels,
          undefined,
          VOXEL_GRAIN,
        );
        const dx = tensorFromArena<Tensor>(rt, compact(rt, dxp, [voxels, 1, 1], cP, c), sx.shape);
        return [dx, tf.tensor1d(Float32Array.from(sumGX.subarray(0, c))), tf.tensor1d(Float32Array.from(sumG.subarray(0, c)))];
      },
    };
  });
  return op(x, p.gamma, p.beta);
}

/** With the moving statistics: y = max(0, x·scale + shift) per channel, in one pass. */
function batchNormReluInference(x: Tensor5D, p: BatchNormParams): Tensor5D {
  const [n, d, h, w, c] = x.shape;
  const cP = round4(c);
  const voxels = n * d * h * w;
  const op = customOp<Tensor5D>(5, ([xt, gamma, beta, mean, variance], save) => {
    const g = readFloats(gamma);
    const b = readFloats(beta);
    const m = readFloats(mean);
    const v = readFloats(variance);
    const scale = new Float32Array(cP);
    const shift = new Float32Array(cP);
    for (let ch = 0; ch < c; ch++) {
      scale[ch] = g[ch] / Math.sqrt(v[ch] + BN_EPSILON);
      shift[ch] = b[ch] - m[ch] * scale[ch];
    }
    const rt = simdRuntime();
    rt.reset();
    const xp = putChannels(rt, xt, voxels, c, cP);
    const yp = rt.alloc(voxels * cP);
    rt.run('scaleShiftRelu', [xp, yp, cP, rt.put(scale), rt.put(shift)], voxels, undefined, VOXEL_GRAIN);
    const value = tensorFromArena<Tensor5D>(rt, compact(rt, yp, [voxels, 1, 1], cP, c), x.shape);
    save([xt, gamma, mean, variance, value]);
    return {
      value,
      // Rarely needed (fine-tuning in inference mode): plain tfjs ops.
      gradFunc: (dy, saved) => {
        const [sx, sg, sm, sv, sy] = saved;
        const invStd = tf.rsqrt(tf.add(sv, BN_EPSILON));
        const g2 = tf.mul(dy, tf.step(sy));
        const xHat = tf.mul(tf.sub(sx, sm), invStd);
        const dGamma = tf.sum(tf.mul(g2, xHat), [0, 1, 2, 3]);
        const dBeta = tf.sum(g2, [0, 1, 2, 3]);
        const dx = tf.mul(g2, tf.mul(sg, invStd));
        const dMean = tf.neg(tf.mul(dBeta, tf.mul(sg, invStd)));
        const dVar = tf.mul(tf.mul(dGamma, sg), tf.mul(tf.pow(invStd, 2), -0.5));
        return [dx, dGamma, dBeta, dMean, dVar];
      },
    };
  });
  return op(x, p.gamma, p.beta, p.movingMean, p.movingVariance);
}

function updateMoving(p: BatchNormParams, mean: Float64Array, variance: Float64Array): void {
  const m = BN_MOMENTUM;
  const mm = readFloats(p.movingMean);
  const mv = readFloats(p.movingVariance);
  const nextMean = Float32Array.from(mean, (v, i) => m * mm[i] + (1 - m) * v);
  const nextVar = Float32Array.from(variance, (v, i) => m * mv[i] + (1 - m) * v);
  tf.tidy(() => {
    p.movingMean.assign(tf.tensor1d(nextMean));
    p.movingVariance.assign(tf.tensor1d(nextVar));
  });
}

function maxPool(x: Tensor5D): Tensor5D {
  const [n, d, h, w, c] = x.shape;
  const cP = round4(c);
  const [dO, hO, wO] = [d >> 1, h >> 1, w >> 1];
  if (dO < 1 || hO < 1 || wO < 1) throw new Error(`maxPool: input [${d}, ${h}, ${w}] is smaller than 2×2×2`);
  const load = (rt: SimdRuntime, t: Tensor, [z, y, x]: number[]) => putChannels(rt, t, z * y * x, c, cP);
  const op = customOp<Tensor5D>(1, ([xt], save) => {
    const rt = simdRuntime();
    rt.reset();
    const xp = load(rt, xt, [n * d, h, w]);
    const yp = rt.alloc(n * dO * hO * wO * cP);
    for (let s = 0; s < n; s++) rt.run('maxPool2', [xp + 4 * s * d * h * w * cP, h, w, cP, yp + 4 * s * dO * hO * wO * cP], dO);
    const value = tensorFromArena<Tensor5D>(rt, compact(rt, yp, [n * dO, hO, wO], cP, c), [n, dO, hO, wO, c]);
    save([xt, value]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sx, sy] = saved;
        rt.reset();
        const xq = load(rt, sx, [n * d, h, w]);
        const yq = load(rt, sy, [n * dO, hO, wO]);
        const dyq = load(rt, dy, [n * dO, hO, wO]);
        const dxp = rt.alloc(n * d * h * w * cP);
        rt.zero(dxp, n * d * h * w * cP);
        for (let s = 0; s < n; s++) {
          const o = 4 * s * dO * hO * wO * cP;
          rt.run('maxPool2Grad', [xq + 4 * s * d * h * w * cP, h, w, cP, yq + o, dyq + o, dxp + 4 * s * d * h * w * cP], dO);
        }
        return [tensorFromArena<Tensor>(rt, compact(rt, dxp, [n * d, h, w], cP, c), sx.shape)];
      },
    };
  });
  return op(x);
}

/** Channels `[first, first + count)` in one loop (tfjs's column slice on the wasm backend costs ~40 ms on a 135,000-voxel patch). */
function channels(x: Tensor5D, first: number, count: number): Tensor5D {
  const c = x.shape[4];
  if (!(first >= 0 && count >= 1 && first + count <= c)) throw new Error(`channels: [${first}, ${first + count}) is not within ${c} channels`);
  const voxels = x.size / c;
  const op = customOp<Tensor5D>(1, ([xt]) => {
    const from = readFloats(xt);
    const out = new Float32Array(voxels * count);
    for (let v = 0; v < voxels; v++) for (let k = 0; k < count; k++) out[v * count + k] = from[v * c + first + k];
    return {
      value: tf.tensor5d(out, [x.shape[0], x.shape[1], x.shape[2], x.shape[3], count]),
      gradFunc: (dy) => {
        const g = readFloats(dy);
        const dx = new Float32Array(voxels * c);
        for (let v = 0; v < voxels; v++) for (let k = 0; k < count; k++) dx[v * c + first + k] = g[v * count + k];
        return [tf.tensor(dx, x.shape)];
      },
    };
  });
  return op(x);
}

export const simdOps: NetworkOps = {
  conv,
  batchNormRelu,
  relu: (x) => tf.relu(x),
  maxPool,
  upConv,
  channels,
};
