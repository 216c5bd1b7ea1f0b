/**
 * Per-channel work on [voxels, C] tensors (NDHWC flattened): sums over the voxels (batch-norm
 * statistics, their gradients, a bias gradient) and the element-wise batch norm + ReLU.
 *
 * Sums run in two kernels: `channelSumsKernel` gives each workgroup a run of voxels and writes
 * one partial sum per channel (threads laid out [lanes × channels] so that consecutive threads
 * read consecutive channels: coalesced), then `sumSlicesKernel` (gemm.ts) adds the partials in a
 * fixed order: deterministic, and no float atomics (WGSL has none).
 *
 * Batch norm in training (fused with ReLU; statistics in two passes, as the CPU kernels do,
 * since float32 sums of raw squares cancel):
 *   1. Σx per channel → mean;  2. Σ(x − mean)² → variance → stats [5][C] = mean, variance,
 *   1/σ, scale = γ/σ, shift = β − mean·scale;  3. y = max(0, x·scale + shift).
 * Its gradient: g = dy·[x·scale + shift > 0], x̂ = (x − mean)/σ;  Σg and Σg·x̂ per channel;
 *   dx = (γ/σ)·(g − Σg/V − x̂·Σg·x̂/V),  dγ = Σg·x̂,  dβ = Σg.
 */
import { flatWorkgroupIndex, gridFor, type KernelLaunch } from '../runner';

/** How voxels and channels map onto a workgroup of 256 threads, and the voxels per workgroup. */
export function channelLayout(voxels: number, c: number): { block: number; lanes: number; chunk: number; slices: number } {
  const block = Math.min(c, 256);
  const lanes = Math.floor(256 / block);
  // About 64 voxels per thread, at most 4096 workgroups.
  let chunk = lanes * 64;
  if (Math.ceil(voxels / chunk) > 4096) chunk = Math.ceil(voxels / 4096 / lanes) * lanes;
  return { block, lanes, chunk, slices: Math.ceil(voxels / chunk) };
}

/**
 * Partial sums over voxels of `q` quantities per channel. `body` is WGSL that, given `v` (voxel)
 * and `c` (channel), assigns `out0` .. `out{q-1}` (f32). Binding 0 is the partials
 * [slices][q][C]; `declarations` binds the rest from 1.
 */
export function channelSumsKernel(label: string, voxels: number, c: number, q: number, declarations: string, body: string): KernelLaunch {
  const { block, lanes, chunk, slices } = channelLayout(voxels, c);
  const blocks = Math.ceil(c / block);
  const outs = Array.from({ length: q }, (_, i) => `out${i}`);
  const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
${declarations}
var<workgroup> red: array<f32, ${lanes * block * q}>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${flatWorkgroupIndex(slices)}
  let lane = lid / ${block}u;
  let cb = lid % ${block}u;
  let v0 = wg * ${chunk}u;
  let v1 = min(${voxels}u, v0 + ${chunk}u);
  for (var b = 0u; b < ${blocks}u; b = b + 1u) {
    let c = b * ${block}u + cb;
    ${outs.map((o) => `var s${o} = 0.0;`).join(' ')}
    if (lane < ${lanes}u && c < ${c}u) {
      for (var v = v0 + lane; v < v1; v = v + ${lanes}u) {
        ${outs.map((o) => `var ${o} = 0.0;`).join(' ')}
        ${body}
        ${outs.map((o) => `s${o} = s${o} + ${o};`).join(' ')}
      }
    }
    if (lane < ${lanes}u) {
      ${outs.map((o, i) => `red[(lane * ${block}u + cb) * ${q}u + ${i}u] = s${o};`).join('\n      ')}
    }
    workgroupBarrier();
    if (lane == 0u && c < ${c}u) {
      for (var i = 0u; i < ${q}u; i = i + 1u) {
        var t = 0.0;
        for (var l = 0u; l < ${lanes}u; l = l + 1u) { t = t + red[(l * ${block}u + cb) * ${q}u + i]; }
        partial[(wg * ${q}u + i) * ${c}u + c] = t;
      }
    }
    workgroupBarrier();
  }
}
`;
  return { code, workgroups: gridFor(slices), label };
}

/** WGSL bindings shared by the batch-norm kernels: x [V, C] at `at`. */
const xBinding = (at: number) => `@group(0) @binding(${at}) var<storage, read> x: array<f32>;`;

/** Partials of Σx. Bindings: 0 partial; 1 x. */
export function sumKernel(voxels: number, c: number): KernelLaunch {
  return channelSumsKernel(`Σx ${c}`, voxels, c, 1, xBinding(1), `out0 = x[v * ${c}u + c];`);
}

/** Partials of Σ(x − mean)². Bindings: 0 partial; 1 x; 2 mean [C]. */
export function squaredDeviationKernel(voxels: number, c: number): KernelLaunch {
  return channelSumsKernel(
    `Σ(x-m)² ${c}`,
    voxels,
    c,
    1,
    `${xBinding(1)}\n@group(0) @binding(2) var<storage, read> mean: array<f32>;`,
    `let d = x[v * ${c}u + c] - mean[c]; out0 = d * d;`,
  );
}

/** mean[C] = Σ_slices partial / voxels. Bindings: 0 mean; 1 partial [slices][C]. */
export function meanKernel(voxels: number, c: number, slices: number): KernelLaunch {
  return smallKernel(
    `mean ${c}`,
    c,
    `@group(0) @binding(0) var<storage, read_write> mean: array<f32>;
@group(0) @binding(1) var<storage, read> partial: array<f32>;`,
    `var s = 0.0;
  for (var t = 0u; t < ${slices}u; t = t + 1u) { s = s + partial[t * ${c}u + c]; }
  mean[c] = s / ${voxels}.0;`,
  );
}

/**
 * stats [5][C] = mean, variance, 1/σ, scale, shift from the squared-deviation partials.
 * Bindings: 0 stats; 1 partial [slices][C]; 2 mean; 3 gamma; 4 beta.
 */
export function batchStatsKernel(voxels: number, c: number, slices: number, epsilon: number): KernelLaunch {
  return smallKernel(
    `bn stats ${c}`,
    c,
    `@group(0) @binding(0) var<storage, read_write> stats: array<f32>;
@group(0) @binding(1) var<storage, read> partial: array<f32>;
@group(0) @binding(2) var<storage, read> mean: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;`,
    `var s = 0.0;
  for (var t = 0u; t < ${slices}u; t = t + 1u) { s = s + partial[t * ${c}u + c]; }
  let variance = s / ${voxels}.0;
  let inv = 1.0 / sqrt(variance + ${epsilon});
  let scale = gamma[c] * inv;
  stats[c] = mean[c];
  stats[${c}u + c] = variance;
  stats[${2 * c}u + c] = inv;
  stats[${3 * c}u + c] = scale;
  stats[${4 * c}u + c] = beta[c] - mean[c] * scale;`,
  );
}

/** One thread per channel, in one or a few workgroups. */
function smallKernel(label: string, c: number, declarations: string, body: string): KernelLaunch {
  const groups = Math.ceil(c / 64);
  const code = /* wgsl */ `
${declarations}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x * 64u + lid;
  if (c >= ${c}u) { return; }
  ${body}
}
`;
  return { code, workgroups: [groups, 1, 1], label };
}

/** One thread per element of a [V, C] tensor: `body` sees `i` (flat index) and `c` (channel). */
export function elementwiseKernel(label: string, count: number, c: number, declarations: string, body: string): KernelLaunch {
  const groups = Math.ceil(count / 256);
  const code = /* wgsl */ `
${declarations}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${flatWorkgroupIndex(groups)}
  let i = wg * 256u + lid;
  if (i >= ${count}u) { return; }
  let c = i % ${c}u;
  ${body}
}
`;
  return { code, workgroups: gridFor(groups), label };
}

/** y = max(0, x·scale + shift). Bindings: 0 y; 1 x; 2 stats [5][C]. */
export function scaleShiftReluKernel(count: number, c: number): KernelLaunch {
  return elementwiseKernel(
    `bn+relu ${c}`,
    count,
    c,
    `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
${xBinding(1)}
@group(0) @binding(2) var<storage, read> stats: array<f32>;`,
    `y[i] = max(0.0, x[i] * stats[${3 * c}u + c] + stats[${4 * c}u + c]);`,
  );
}

/** WGSL bindings of a batch norm's parameters γ, β, moving mean, moving variance ([C] each) from `at`. */
export function bnParamBindings(at: number): string {
  return ['gamma', 'beta', 'movingMean', 'movingVariance'].map((name, i) => `@group(0) @binding(${at + i}) var<storage, read> ${name}: array<f32>;`).join('\n');
}

/** WGSL: max(0, (value − moving mean)·γ/√(moving variance + ε) + β) for channel `c`. */
export function movingBnRelu(value: string, c: string, epsilon: number): string {
  return `max(0.0, (${value} - movingMean[${c}]) * (gamma[${c}] / sqrt(movingVariance[${c}] + ${epsilon})) + beta[${c}])`;
}

/**
 * Folds a bias and batch norm with the moving statistics into one affine map per channel:
 * fold [2][C] = scale γ/√(v + ε), shift β + (bias − m)·scale. Bindings: 0 fold; 1 bias; 2–5 γ, β,
 * moving mean, moving variance.
 */
export function foldBatchNormKernel(c: number, epsilon: number): KernelLaunch {
  return smallKernel(
    `fold bn ${c}`,
    c,
    `@group(0) @binding(0) var<storage, read_write> fold: array<f32>;
@group(0) @binding(1) var<storage, read> bias: array<f32>;
${bnParamBindings(2)}`,
    `let scale = gamma[c] / sqrt(movingVariance[c] + ${epsilon});
  fold[c] = scale;
  fold[${c}u + c] = beta[c] + (bias[c] - movingMean[c]) * scale;`,
  );
}

/** Batch norm with the moving statistics, then ReLU. Bindings: 0 y; 1 x; 2–5 γ, β, moving mean, moving variance. */
export function inferenceBatchNormReluKernel(count: number, c: number, epsilon: number): KernelLaunch {
  return elementwiseKernel(
    `bn+relu (moving) ${c}`,
    count,
    c,
    `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
${xBinding(1)}
${bnParamBindings(2)}`,
    `y[i] = ${movingBnRelu('x[i]', 'c', epsilon)};`,
  );
}

/** The ReLU-masked gradient and the normalized input, as WGSL over x, dy and stats. */
const maskedGrad = (c: number) => `let xv = x[v * ${c}u + c];
  let g = select(0.0, dy[v * ${c}u + c], xv * stats[${3 * c}u + c] + stats[${4 * c}u + c] > 0.0);
  let xh = (xv - stats[c]) * stats[${2 * c}u + c];`;

const gradBindings = () => `${xBinding(1)}
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;`;

/** Partials of Σg and Σg·x̂. Bindings: 0 partial [slices][2][C]; 1 x; 2 dy; 3 stats. */
export function batchNormGradSumsKernel(voxels: number, c: number): KernelLaunch {
  return channelSumsKernel(`bn grad Σ ${c}`, voxels, c, 2, gradBindings(), `${maskedGrad(c)}\n        out0 = g; out1 = g * xh;`);
}

/**
 * dx = (γ/σ)·(g − Σg/V − x̂·Σg·x̂/V). Bindings: 0 dx; 1 x; 2 dy; 3 stats; 4 sums [2][C] (Σg, Σg·x̂); 5 gamma.
 */
export function batchNormGradInputKernel(voxels: number, c: number): KernelLaunch {
  return elementwiseKernel(
    `bn grad dx ${c}`,
    voxels * c,
    c,
    `@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
${gradBindings()}
@group(0) @binding(4) var<storage, read> sums: array<f32>;
@group(0) @binding(5) var<storage, read> gamma: array<f32>;`,
    `let v = i / ${c}u;
  ${maskedGrad(c)}
  dx[i] = gamma[c] * stats[${2 * c}u + c] * (g - sums[c] / ${voxels}.0 - xh * sums[${c}u + c] / ${voxels}.0);`,
  );
}

/** Partials of Σdy (a bias gradient). Bindings: 0 partial; 1 dy. */
export function biasGradKernel(voxels: number, c: number): KernelLaunch {
  return channelSumsKernel(`Σdy ${c}`, voxels, c, 1, `@group(0) @binding(1) var<storage, read> dy: array<f32>;`, `out0 = dy[v * ${c}u + c];`);
}
