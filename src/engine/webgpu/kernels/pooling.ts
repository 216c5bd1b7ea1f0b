/**
 * 2×2×2 max pooling, stride 2 (odd sizes floored), NDHWC, and its gradient: one thread per
 * output element; the gradient goes to the window's first maximum (as the forward pass takes it),
 * and a thread writes all 8 inputs of its window, so no input is written twice. Inputs beyond the
 * last whole window (odd sizes) get zero from a fill kernel first.
 */
import type { KernelLaunch } from '../runner';
import { elementwiseKernel } from './channels';

type Shape5 = readonly [number, number, number, number, number];

/** WGSL: the 8 flat input indices of output element i's window, in (dz, dy, dx) order. */
function windowSnippet([, d, h, w, c]: Shape5): string {
  const [dO, hO, wO] = [d >> 1, h >> 1, w >> 1];
  return `let o = i / ${c}u;
  let ox = o % ${wO}u;
  let oy = (o / ${wO}u) % ${hO}u;
  let oz = (o / ${wO * hO}u) % ${dO}u;
  let b = o / ${wO * hO * dO}u;
  let base = (((b * ${d}u + 2u * oz) * ${h}u + 2u * oy) * ${w}u + 2u * ox) * ${c}u + c;
  var at: array<u32, 8>;
  for (var t = 0u; t < 8u; t = t + 1u) {
    at[t] = base + (((t >> 2u) * ${h}u + ((t >> 1u) & 1u)) * ${w}u + (t & 1u)) * ${c}u;
  }
  var best = 0u;
  for (var t = 1u; t < 8u; t = t + 1u) { if (x[at[t]] > x[at[best]]) { best = t; } }`;
}

function outputCount([n, d, h, w, c]: Shape5): number {
  return n * (d >> 1) * (h >> 1) * (w >> 1) * c;
}

/** y = the window maxima. Bindings: 0 y [N, D/2, H/2, W/2, C]; 1 x. */
export function maxPoolKernel(shape: Shape5): KernelLaunch {
  return elementwiseKernel(
    `maxpool ${shape.join('x')}`,
    outputCount(shape),
    shape[4],
    `@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;`,
    `${windowSnippet(shape)}
  y[i] = x[at[best]];`,
  );
}

/** dx: dy at each window's first maximum, 0 at its other inputs. Bindings: 0 dx; 1 x; 2 dy. */
export function maxPoolGradKernel(shape: Shape5): KernelLaunch {
  return elementwiseKernel(
    `maxpool grad ${shape.join('x')}`,
    outputCount(shape),
    shape[4],
    `@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;`,
    `${windowSnippet(shape)}
  for (var t = 0u; t < 8u; t = t + 1u) { dx[at[t]] = select(0.0, dy[i], t == best); }`,
  );
}

/** out = 0. Bindings: 0 out. */
export function zeroKernel(count: number): KernelLaunch {
  return elementwiseKernel(`zero ${count}`, count, 1, `@group(0) @binding(0) var<storage, read_write> out: array<f32>;`, `out[i] = 0.0;`);
}
