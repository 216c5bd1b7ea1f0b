/**
 * A tiled matrix product C[M×N] = A[M×K] · B[K×N] in WGSL whose operands are never formed:
 * `loadA(m, k)`, `loadB(k, n)` and `storeC(m, n, v)` are WGSL functions supplied per use, which
 * compute addresses in the tensors themselves. A 3D convolution is such a product over
 * (output voxel) × (tap, input channel) × (output channel): an implicit GEMM, with no im2col
 * buffer. Its gradients and the transposed convolution are too (see conv.ts, upConv.ts).
 *
 * Design (the classic shared-memory tiling, as in cuBLAS-style SGEMM and jax-js's WebGPU matmul):
 * - 256 threads per workgroup compute a BM×BN tile of C, each thread a 4×4 block (registers), its
 *   rows and columns strided by the thread grid so that reads of the shared tiles are broadcast
 *   (A) or consecutive (B), free of bank conflicts;
 * - the K loop stages BM×BK of A and BK×BN of B in workgroup memory per step; the tile shape
 *   follows N (the output channels): 64×64×16, 128×32×8 or 256×16×4, so that narrow layers
 *   (16 channels) do not waste 3/4 of the work on padding;
 * - consecutive threads load consecutive elements along the operand's contiguous axis
 *   (`aContiguous`, `bContiguous`): coalesced global reads;
 * - split-K: with `splits` > 1 each workgroup sums one slice of K into its own partial C; a second
 *   kernel adds the slices (filter gradients reduce over all voxels, K ~ 10^6, into a small C).
 * Every size is a compile-time constant: divisions by them compile to multiplies and shifts.
 */
import { flatWorkgroupIndex, gridFor, type KernelLaunch } from '../runner';

/** The tile of C one workgroup computes and the K step, by the number of columns N. */
export interface GemmTile {
  bm: number;
  bn: number;
  bk: number;
}

const THREADS = 256;
const TM = 4;
const TN = 4;

let defaultStaging: 'workgroup' | 'registers' = 'workgroup';

/** How GEMMs stage their operands when a spec does not say (see GemmSpec.staging); returns the previous choice. */
export function setGemmStaging(staging: 'workgroup' | 'registers'): 'workgroup' | 'registers' {
  const previous = defaultStaging;
  defaultStaging = staging;
  return previous;
}

/** The tile for a product with N columns. */
export function gemmTile(n: number): GemmTile {
  if (n > 32) return { bm: 64, bn: 64, bk: 16 };
  if (n > 16) return { bm: 128, bn: 32, bk: 8 };
  return { bm: 256, bn: 16, bk: 4 };
}

export interface GemmSpec {
  label: string;
  m: number;
  n: number;
  k: number;
  /** WGSL declarations: the bindings (outputs first) and helper functions, incl. loadA, loadB, storeC. */
  declarations: string;
  /** Which index of A is contiguous in memory: 'k' (e.g. channels of an NDHWC input) or 'm'. */
  aContiguous: 'k' | 'm';
  /** Which index of B is contiguous in memory: 'n' or 'k'. */
  bContiguous: 'n' | 'k';
  /**
   * 'workgroup' (default): A and B tiles staged in workgroup memory, shared by the workgroup's
   * threads. 'registers': each thread reads its operands itself (no workgroup memory, no
   * barriers); for software adapters, whose shader compiler (llvmpipe) takes seconds per barrier.
   */
  staging?: 'workgroup' | 'registers';
  /**
   * Split K into this many slices (1 included); then storeC is not called: each slice's C goes to
   * binding 0, `partial`, at [slice][m][n] (reduce it with sumSlices).
   */
  splits?: number;
}

/** The WGSL and launch of a GEMM. */
export function gemmKernel(spec: GemmSpec): KernelLaunch {
  const { m, n, k } = spec;
  const { bm, bn, bk } = gemmTile(n);
  const splits = spec.splits ?? 1;
  const wm = bm / TM;
  const wn = bn / TN;
  if (wm * wn !== THREADS) throw new Error('internal: gemm tile does not match 256 threads');
  const tilesM = Math.ceil(m / bm);
  const tilesN = Math.ceil(n / bn);
  // K per split, a multiple of bk.
  const kChunk = Math.ceil(Math.ceil(k / splits) / bk) * bk;
  const count = tilesM * tilesN * splits;
  const aPerThread = (bm * bk) / THREADS;
  const bPerThread = Math.max(1, (bk * bn) / THREADS);
  const bActive = Math.min(THREADS, bk * bn);
  const aIndex =
    spec.aContiguous === 'k' ? { mm: `idx / ${bk}u`, kk: `idx % ${bk}u` } : { mm: `idx % ${bm}u`, kk: `idx / ${bm}u` };
  const bIndex =
    spec.bContiguous === 'n' ? { kk: `idx / ${bn}u`, nn: `idx % ${bn}u` } : { kk: `idx % ${bk}u`, nn: `idx / ${bk}u` };
  const store =
    spec.splits !== undefined
      ? `partial[(slice * ${m}u + row) * ${n}u + col] = acc[i * ${TN}u + j];`
      : `storeC(row, col, acc[i * ${TN}u + j]);`;
  if ((spec.staging ?? defaultStaging) === 'registers') return registerGemm(spec, { bm, bn, wm, wn, tilesM, tilesN, kChunk, count, store });
  const code = /* wgsl */ `
const M = ${m}u;
const N = ${n}u;
const K = ${k}u;
${spec.declarations}

var<workgroup> As: array<f32, ${bk * bm}>;
var<workgroup> Bs: array<f32, ${bk * bn}>;

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${flatWorkgroupIndex(count)}
  let slice = wg / ${tilesM * tilesN}u;
  let tile = wg % ${tilesM * tilesN}u;
  let m0 = (tile / ${tilesN}u) * ${bm}u;
  let n0 = (tile % ${tilesN}u) * ${bn}u;
  let kBegin = slice * ${kChunk}u;
  let kEnd = min(K, kBegin + ${kChunk}u);
  let tx = lid % ${wn}u;
  let ty = lid / ${wn}u;
  var acc: array<f32, ${TM * TN}>;
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${bk}u) {
    for (var i = 0u; i < ${aPerThread}u; i = i + 1u) {
      let idx = lid + i * ${THREADS}u;
      let mm = ${aIndex.mm};
      let kk = ${aIndex.kk};
      var v = 0.0;
      if (m0 + mm < M && k0 + kk < kEnd) { v = loadA(m0 + mm, k0 + kk); }
      As[kk * ${bm}u + mm] = v;
    }
    for (var i = 0u; i < ${bPerThread}u; i = i + 1u) {
      let idx = lid + i * ${THREADS}u;
      if (idx < ${bk * bn}u && lid < ${bActive}u) {
        let kk = ${bIndex.kk};
        let nn = ${bIndex.nn};
        var v = 0.0;
        if (n0 + nn < N && k0 + kk < kEnd) { v = loadB(k0 + kk, n0 + nn); }
        Bs[kk * ${bn}u + nn] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${bk}u; kk = kk + 1u) {
      var a: array<f32, ${TM}>;
      var b: array<f32, ${TN}>;
      for (var i = 0u; i < ${TM}u; i = i + 1u) { a[i] = As[kk * ${bm}u + ty + i * ${wm}u]; }
      for (var j = 0u; j < ${TN}u; j = j + 1u) { b[j] = Bs[kk * ${bn}u + tx + j * ${wn}u]; }
      for (var i = 0u; i < ${TM}u; i = i + 1u) {
        for (var j = 0u; j < ${TN}u; j = j + 1u) {
          acc[i * ${TN}u + j] = fma(a[i], b[j], acc[i * ${TN}u + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${TM}u; i = i + 1u) {
    let row = m0 + ty + i * ${wm}u;
    for (var j = 0u; j < ${TN}u; j = j + 1u) {
      let col = n0 + tx + j * ${wn}u;
      if (row < M && col < N) { ${store} }
    }
  }
}
`;
  return { code, workgroups: gridFor(count), label: spec.label };
}

/** The same product without workgroup memory: each thread loads the A and B values of its 4×4 block. */
function registerGemm(
  spec: GemmSpec,
  t: { bm: number; bn: number; wm: number; wn: number; tilesM: number; tilesN: number; kChunk: number; count: number; store: string },
): KernelLaunch {
  const code = /* wgsl */ `
const M = ${spec.m}u;
const N = ${spec.n}u;
const K = ${spec.k}u;
${spec.declarations}

@compute @workgroup_size(${THREADS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${flatWorkgroupIndex(t.count)}
  let slice = wg / ${t.tilesM * t.tilesN}u;
  let tile = wg % ${t.tilesM * t.tilesN}u;
  let m0 = (tile / ${t.tilesN}u) * ${t.bm}u + lid / ${t.wn}u;
  let n0 = (tile % ${t.tilesN}u) * ${t.bn}u + lid % ${t.wn}u;
  let kBegin = slice * ${t.kChunk}u;
  let kEnd = min(K, kBegin + ${t.kChunk}u);
  var acc: array<f32, ${TM * TN}>;
  for (var k = kBegin; k < kEnd; k = k + 1u) {
    var a: array<f32, ${TM}>;
    var b: array<f32, ${TN}>;
    for (var i = 0u; i < ${TM}u; i = i + 1u) {
      let row = m0 + i * ${t.wm}u;
      if (row < M) { a[i] = loadA(row, k); }
    }
    for (var j = 0u; j < ${TN}u; j = j + 1u) {
      let col = n0 + j * ${t.wn}u;
      if (col < N) { b[j] = loadB(k, col); }
    }
    for (var i = 0u; i < ${TM}u; i = i + 1u) {
      for (var j = 0u; j < ${TN}u; j = j + 1u) {
        acc[i * ${TN}u + j] = fma(a[i], b[j], acc[i * ${TN}u + j]);
      }
    }
  }
  for (var i = 0u; i < ${TM}u; i = i + 1u) {
    let row = m0 + i * ${t.wm}u;
    for (var j = 0u; j < ${TN}u; j = j + 1u) {
      let col = n0 + j * ${t.wn}u;
      if (row < M && col < N) { ${t.store} }
    }
  }
}
`;
  return { code, workgroups: gridFor(t.count), label: spec.label };
}

/** How many K slices a split-K product of a small C (m×n) over a long K needs to fill a GPU. */
export function splitsFor(m: number, n: number, k: number, maxPartialFloats: number): number {
  const { bm, bn, bk } = gemmTile(n);
  const tiles = Math.ceil(m / bm) * Math.ceil(n / bn);
  // Aim at about 2048 workgroups, each slice at least 64 K steps long, and the partials bounded.
  const wanted = Math.ceil(2048 / tiles);
  const byLength = Math.max(1, Math.floor(k / (64 * bk)));
  const byMemory = Math.max(1, Math.floor(maxPartialFloats / (m * n)));
  return Math.max(1, Math.min(wanted, byLength, byMemory, 4096));
}

/**
 * Sums `slices` partial results [slices][count] into out[count] (+ `addTo` when given: out = Σ).
 * One thread per element, reading the slices in order: deterministic.
 */
export function sumSlicesKernel(label: string, slices: number, count: number): KernelLaunch {
  const groups = Math.ceil(count / 256);
  const code = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read> partial: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${flatWorkgroupIndex(groups)}
  let i = wg * 256u + lid;
  if (i >= ${count}u) { return; }
  var s = 0.0;
  for (var t = 0u; t < ${slices}u; t = t + 1u) { s = s + partial[t * ${count}u + i]; }
  out[i] = s;
}
`;
  return { code, workgroups: gridFor(groups), label };
}
