/**
 * The 3D convolution (stride 1, cubic filter, 'same' or 'valid') and its two gradients as
 * implicit GEMMs (gemm.ts). Tensors are NDHWC float32.
 *
 * The convolution reads the channel-wise concatenation of several inputs, each centre-cropped to
 * the smallest spatial size among them (a U-Net's skip connection and up-convolution), straight
 * from the inputs: neither the concatenation nor the crop is ever copied.
 *  - forward:   y[v, co]  = Σ_(t, ci) x̃[v + t − p, ci] · w[t, ci, co]          (M voxels, K taps·Cin, N Cout)
 *  - input:     dx[q, ci] = Σ_(t, co) dy[q − t + p, co] · w[t, ci, co]          (per input, zero where cropped away)
 *  - filter:    dw[(t, ci), co] = Σ_v x̃[v + t − p, ci] · dy[v, co]             (split-K over the voxels)
 * where x̃ is the cropped concatenation and t runs over the k³ taps.
 */
import { foldBatchNormKernel } from './channels';
import { gemmKernel, splitsFor, sumSlicesKernel } from './gemm';
import type { KernelLaunch } from '../runner';

/** One input of a convolution: its shape [N, D, H, W, C] (the crop follows from the conv's size). */
export type Shape5 = readonly [number, number, number, number, number];

/** The geometry of a convolution. */
export interface ConvGeometry {
  inputs: Shape5[];
  /** Filter edge k (the filter is k×k×k). */
  k: number;
  /** Zero padding per side: (k − 1)/2 for 'same', 0 for 'valid'. */
  pad: number;
  cout: number;
}

/** Spatial sizes: the common cropped input size and the output size, [D, H, W]. */
export function convSizes(g: ConvGeometry): { size: [number, number, number]; out: [number, number, number]; cin: number; batch: number } {
  const size = [1, 2, 3].map((a) => Math.min(...g.inputs.map((s) => s[a]))) as [number, number, number];
  const out = size.map((s) => s + 2 * g.pad - g.k + 1) as [number, number, number];
  return { size, out, cin: g.inputs.reduce((s, x) => s + x[4], 0), batch: g.inputs[0][0] };
}

const cropOf = (shape: Shape5, size: readonly number[]) => [1, 2, 3].map((a, i) => (shape[a] - size[i]) >> 1);

/** WGSL: decode a flat voxel index v of a [B, D, H, W] grid into vec4<i32>(b, z, y, x). */
function decodeVoxel(name: string, [d, h, w]: readonly number[]): string {
  return `fn ${name}(v: u32) -> vec4<i32> {
  return vec4<i32>(i32(v / ${d * h * w}u), i32((v / ${h * w}u) % ${d}u), i32((v / ${w}u) % ${h}u), i32(v % ${w}u));
}`;
}

/**
 * WGSL `im2col(v, kk)`: the cropped, concatenated, zero-padded input at output voxel v and
 * column kk = tap·Cin + ci. Bindings of the inputs start at `firstBinding`.
 */
function im2col(g: ConvGeometry, firstBinding: number): string {
  const { size, out, cin } = convSizes(g);
  const k = g.k;
  const bindings = g.inputs.map((_, i) => `@group(0) @binding(${firstBinding + i}) var<storage, read> x${i}: array<f32>;`).join('\n');
  let channel = 0;
  const parts = g.inputs.map((shape, i) => {
    const [, d, h, w, c] = shape;
    const [oz, oy, ox] = cropOf(shape, size);
    const from = channel;
    channel += c;
    const index = `(((u32(p.x) * ${d}u + u32(z + ${oz})) * ${h}u + u32(y + ${oy})) * ${w}u + u32(xx + ${ox})) * ${c}u + (ci - ${from}u)`;
    return i === g.inputs.length - 1 ? `return x${i}[${index}];` : `if (ci < ${channel}u) { return x${i}[${index}]; }`;
  });
  return `${bindings}
${decodeVoxel('outVoxel', out)}
fn im2col(v: u32, kk: u32) -> f32 {
  let ci = kk % ${cin}u;
  let tap = kk / ${cin}u;
  let p = outVoxel(v);
  let z = p.y + i32(tap / ${k * k}u) - ${g.pad};
  let y = p.z + i32((tap / ${k}u) % ${k}u) - ${g.pad};
  let xx = p.w + i32(tap % ${k}u) - ${g.pad};
  if (z < 0 || z >= ${size[0]} || y < 0 || y >= ${size[1]} || xx < 0 || xx >= ${size[2]}) { return 0.0; }
  ${parts.join('\n  ')}
}`;
}

/**
 * Output epilogue of the forward convolution: the bias, or (`foldedBnRelu`) batch norm with the
 * moving statistics and ReLU, folded with the bias into a per-channel scale and shift
 * (foldBatchNormKernel) so that each output costs one fma and a max.
 */
export interface ConvEpilogue {
  foldedBnRelu?: boolean;
}

export { foldBatchNormKernel };

/**
 * The forward convolution. Bindings: 0 y [N, Do, Ho, Wo, Cout]; then the inputs; then w
 * [k, k, k, Cin, Cout]; then bias [Cout], or with foldedBnRelu the fold [2][Cout] instead.
 */
export function convForwardKernel(g: ConvGeometry, epilogue: ConvEpilogue = {}): KernelLaunch {
  const { out, cin, batch } = convSizes(g);
  const m = batch * out[0] * out[1] * out[2];
  const taps = g.k ** 3;
  const nIn = g.inputs.length;
  const wb = 1 + nIn;
  const value = epilogue.foldedBnRelu ? `max(0.0, fma(v, bias[n], bias[${g.cout}u + n]))` : 'v + bias[n]';
  return gemmKernel({
    label: `conv${g.k} ${cin}→${g.cout} fwd${epilogue.foldedBnRelu ? '+bn+relu' : ''}`,
    m,
    n: g.cout,
    k: taps * cin,
    aContiguous: 'k',
    bContiguous: 'n',
    declarations: `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
${im2col(g, 1)}
@group(0) @binding(${wb}) var<storage, read> w: array<f32>;
@group(0) @binding(${wb + 1}) var<storage, read> bias: array<f32>;
fn loadA(m: u32, k: u32) -> f32 { return im2col(m, k); }
fn loadB(k: u32, n: u32) -> f32 { return w[k * ${g.cout}u + n]; }
fn storeC(m: u32, n: u32, v: f32) { y[m * ${g.cout}u + n] = ${value}; }`,
  });
}

/**
 * The gradient for input `which`: dx [its shape]. Bindings: 0 dx; 1 dy [N, Do, Ho, Wo, Cout];
 * 2 w [k, k, k, Cin, Cout].
 */
export function convInputGradKernel(g: ConvGeometry, which: number): KernelLaunch {
  const { size, out, cin } = convSizes(g);
  const shape = g.inputs[which];
  const [n, d, h, w, c] = shape;
  const [oz, oy, ox] = cropOf(shape, size);
  const offset = g.inputs.slice(0, which).reduce((s, x) => s + x[4], 0);
  const k = g.k;
  return gemmKernel({
    label: `conv${k} ${cin}→${g.cout} dx${which}`,
    m: n * d * h * w,
    n: c,
    k: k ** 3 * g.cout,
    aContiguous: 'k',
    bContiguous: 'k',
    declarations: `@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${decodeVoxel('inVoxel', [d, h, w])}
fn loadA(m: u32, kk: u32) -> f32 {
  let co = kk % ${g.cout}u;
  let tap = kk / ${g.cout}u;
  let p = inVoxel(m);
  // Cropped coordinates: outside the crop this input never reached the output.
  let qz = p.y - ${oz};
  let qy = p.z - ${oy};
  let qx = p.w - ${ox};
  if (qz < 0 || qz >= ${size[0]} || qy < 0 || qy >= ${size[1]} || qx < 0 || qx >= ${size[2]}) { return 0.0; }
  let z = qz - i32(tap / ${k * k}u) + ${g.pad};
  let y = qy - i32((tap / ${k}u) % ${k}u) + ${g.pad};
  let x = qx - i32(tap % ${k}u) + ${g.pad};
  if (z < 0 || z >= ${out[0]} || y < 0 || y >= ${out[1]} || x < 0 || x >= ${out[2]}) { return 0.0; }
  return dy[(((u32(p.x) * ${out[0]}u + u32(z)) * ${out[1]}u + u32(y)) * ${out[2]}u + u32(x)) * ${g.cout}u + co];
}
fn loadB(kk: u32, ci: u32) -> f32 {
  return w[((kk / ${g.cout}u) * ${cin}u + ${offset}u + ci) * ${g.cout}u + kk % ${g.cout}u];
}
fn storeC(m: u32, ci: u32, v: f32) { dx[m * ${c}u + ci] = v; }`,
  });
}

/**
 * The filter gradient in `splits` slices. Bindings: 0 partial [splits][taps·Cin][Cout]; 1.. the
 * inputs; then dy. Reduce with `sumSlicesKernel` into dw [k, k, k, Cin, Cout].
 */
export function convFilterGradKernel(g: ConvGeometry, splits: number): KernelLaunch {
  const { out, cin, batch } = convSizes(g);
  const voxels = batch * out[0] * out[1] * out[2];
  const dyBinding = 1 + g.inputs.length;
  return gemmKernel({
    label: `conv${g.k} ${cin}→${g.cout} dw`,
    m: g.k ** 3 * cin,
    n: g.cout,
    k: voxels,
    splits,
    aContiguous: 'm',
    bContiguous: 'n',
    declarations: `@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
${im2col(g, 1)}
@group(0) @binding(${dyBinding}) var<storage, read> dy: array<f32>;
fn loadA(kk: u32, v: u32) -> f32 { return im2col(v, kk); }
fn loadB(v: u32, co: u32) -> f32 { return dy[v * ${g.cout}u + co]; }`,
  });
}

/** The split count for a filter gradient (partials at most `maxPartialBytes`). */
export function convFilterGradSplits(g: ConvGeometry, maxPartialBytes: number): number {
  const { out, cin, batch } = convSizes(g);
  return splitsFor(g.k ** 3 * cin, g.cout, batch * out[0] * out[1] * out[2], maxPartialBytes / 4);
}

export { sumSlicesKernel };
