/**
 * The 2×2×2 transposed convolution, stride 2, no bias (tfjs's filter layout [2, 2, 2, Cout, Cin]),
 * and its gradients, as GEMMs (gemm.ts) over input voxels v and the eight offsets a = (az, ay, ax):
 *  - forward: y[2v + a, co] = Σ_ci x[v, ci] · w[a, co, ci]        (M voxels, N 8·Cout, K Cin; scattered store)
 *  - input:   dx[v, ci] = Σ_(a, co) dy[2v + a, co] · w[a, co, ci]  (M voxels, N Cin, K 8·Cout)
 *  - filter:  dw[a, co, ci] = Σ_v dy[2v + a, co] · x[v, ci]        (M 8·Cout, N Cin, K voxels; split-K)
 */
import { gemmKernel, splitsFor } from './gemm';
import type { KernelLaunch } from '../runner';

type Shape5 = readonly [number, number, number, number, number];

/** WGSL: the flat index in y [N, 2D, 2H, 2W, C] of input voxel v's offset a (0..7), channel co. */
function upIndex([, d, h, w]: Shape5, cout: number): string {
  return `fn upIndex(v: u32, a: u32, co: u32) -> u32 {
  let x = v % ${w}u;
  let y = (v / ${w}u) % ${h}u;
  let z = (v / ${w * h}u) % ${d}u;
  let b = v / ${w * h * d}u;
  return (((b * ${2 * d}u + 2u * z + (a >> 2u)) * ${2 * h}u + 2u * y + ((a >> 1u) & 1u)) * ${2 * w}u + 2u * x + (a & 1u)) * ${cout}u + co;
}`;
}

const voxelsOf = ([n, d, h, w]: Shape5) => n * d * h * w;

/** Bindings: 0 y [N, 2D, 2H, 2W, Cout]; 1 x [N, D, H, W, Cin]; 2 w [2, 2, 2, Cout, Cin]. */
export function upConvForwardKernel(x: Shape5, cout: number): KernelLaunch {
  const cin = x[4];
  return gemmKernel({
    label: `upconv ${cin}→${cout} fwd`,
    m: voxelsOf(x),
    n: 8 * cout,
    k: cin,
    aContiguous: 'k',
    bContiguous: 'k',
    declarations: `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${upIndex(x, cout)}
fn loadA(v: u32, ci: u32) -> f32 { return x[v * ${cin}u + ci]; }
fn loadB(ci: u32, j: u32) -> f32 { return w[j * ${cin}u + ci]; }
fn storeC(v: u32, j: u32, value: f32) { y[upIndex(v, j / ${cout}u, j % ${cout}u)] = value; }`,
  });
}

/** Bindings: 0 dx [N, D, H, W, Cin]; 1 dy [N, 2D, 2H, 2W, Cout]; 2 w. */
export function upConvInputGradKernel(x: Shape5, cout: number): KernelLaunch {
  const cin = x[4];
  return gemmKernel({
    label: `upconv ${cin}→${cout} dx`,
    m: voxelsOf(x),
    n: cin,
    k: 8 * cout,
    aContiguous: 'k',
    bContiguous: 'n',
    declarations: `@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
${upIndex(x, cout)}
fn loadA(v: u32, j: u32) -> f32 { return dy[upIndex(v, j / ${cout}u, j % ${cout}u)]; }
fn loadB(j: u32, ci: u32) -> f32 { return w[j * ${cin}u + ci]; }
fn storeC(v: u32, ci: u32, value: f32) { dx[v * ${cin}u + ci] = value; }`,
  });
}

/** Bindings: 0 partial [splits][8·Cout][Cin]; 1 dy; 2 x. Reduce with sumSlicesKernel into dw. */
export function upConvFilterGradKernel(x: Shape5, cout: number, splits: number): KernelLaunch {
  const cin = x[4];
  return gemmKernel({
    label: `upconv ${cin}→${cout} dw`,
    m: 8 * cout,
    n: cin,
    k: voxelsOf(x),
    splits,
    aContiguous: 'm',
    bContiguous: 'n',
    declarations: `@group(0) @binding(0) var<storage, read_write> partial: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
${upIndex(x, cout)}
fn loadA(j: u32, v: u32) -> f32 { return dy[upIndex(v, j / ${cout}u, j % ${cout}u)]; }
fn loadB(v: u32, ci: u32) -> f32 { return x[v * ${cin}u + ci]; }`,
  });
}

export function upConvFilterGradSplits(x: Shape5, cout: number, maxPartialBytes: number): number {
  return splitsFor(8 * cout, x[4], voxelsOf(x), maxPartialBytes / 4);
}
