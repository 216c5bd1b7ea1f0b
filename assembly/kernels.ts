// The engine's WebAssembly SIMD kernels (AssemblyScript), for the wasm and cpu backends:
// 3D convolution and its filter gradient (the input gradient is a convolution too), batch norm
// with ReLU and its gradient, 2×2×2 max pooling and its gradient, and strided copies.
//
// Build: `npm run build:kernels` (writes src/engine/ops/simd/kernelsWasm.ts; a unit test checks it is current).
// Conventions: every tensor is channels-last float32 in one shared linear memory; pointers are
// byte offsets; strides are in floats. Each kernel's last two parameters are the range [r0, r1)
// of its outermost loop (output z planes, or voxels), so that threads can split the work.

// ---------------------------------------------------------------------------------------------
// Convolution: y[o] (+)= bias + Σ_{tap, ci} x[o·step + tap·tapStride + ci] · w[tap][ci][co]
// o runs over nx × ny × [z0, z1) output positions; the kernel is k×k×k taps (k = 1 or 3, ...);
// w is [k³][cin][coutP] with coutP a multiple of 4. With accumulate ≠ 0, y is added to.

@inline function fma(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

export function conv(
  x: usize, xsx: u32, xsy: u32, xsz: u32,
  tx: u32, ty: u32, tz: u32, k: u32, cin: u32,
  w: usize, coutP: u32, bias: usize,
  y: usize, ysx: u32, ysy: u32, ysz: u32,
  nx: u32, ny: u32, accumulate: u32,
  z0: u32, z1: u32,
): void {
  const wTap: usize = (<usize>cin * coutP) << 2; // bytes per tap of w
  const wCi: usize = <usize>coutP << 2;
  for (let z = z0; z < z1; z++) {
    for (let j: u32 = 0; j < ny; j++) {
      const xRow = x + ((<usize>z * xsz + <usize>j * xsy) << 2);
      const yRow = y + ((<usize>z * ysz + <usize>j * ysy) << 2);
      let co: u32 = 0;
      for (; co + 16 <= coutP; co += 16) {
        let i: u32 = 0;
        for (; i + 2 <= nx; i += 2) {
          const px = xRow + ((<usize>i * xsx) << 2);
          const py = yRow + ((<usize>i * ysx) << 2);
          conv16x2(px, (<usize>xsx) << 2, tx, ty, tz, k, cin, w + (<usize>co << 2), wTap, wCi, bias == 0 ? 0 : bias + (<usize>co << 2), py + (<usize>co << 2), (<usize>ysx) << 2, accumulate);
        }
        for (; i < nx; i++) {
          const px = xRow + ((<usize>i * xsx) << 2);
          const py = yRow + ((<usize>i * ysx) << 2);
          conv4xN(px, tx, ty, tz, k, cin, w + (<usize>co << 2), wTap, wCi, bias == 0 ? 0 : bias + (<usize>co << 2), py + (<usize>co << 2), 4, accumulate);
        }
      }
      for (; co < coutP; co += 4) {
        for (let i: u32 = 0; i < nx; i++) {
          const px = xRow + ((<usize>i * xsx) << 2);
          const py = yRow + ((<usize>i * ysx) << 2);
          conv4xN(px, tx, ty, tz, k, cin, w + (<usize>co << 2), wTap, wCi, bias == 0 ? 0 : bias + (<usize>co << 2), py + (<usize>co << 2), 1, accumulate);
        }
      }
    }
  }
}

// 16 output channels at two output positions (px, px + dxBytes): 8 accumulators in registers.
@inline function conv16x2(
  px: usize, dxBytes: usize, tx: u32, ty: u32, tz: u32, k: u32, cin: u32,
  w: usize, wTap: usize, wCi: usize, bias: usize, py: usize, dyBytes: usize, accumulate: u32,
): void {
  let a0: v128, a1: v128, a2: v128, a3: v128, b0: v128, b1: v128, b2: v128, b3: v128;
  if (accumulate) {
    a0 = v128.load(py, 0); a1 = v128.load(py, 16); a2 = v128.load(py, 32); a3 = v128.load(py, 48);
    const q = py + dyBytes;
    b0 = v128.load(q, 0); b1 = v128.load(q, 16); b2 = v128.load(q, 32); b3 = v128.load(q, 48);
  } else if (bias) {
    a0 = v128.load(bias, 0); a1 = v128.load(bias, 16); a2 = v128.load(bias, 32); a3 = v128.load(bias, 48);
    b0 = a0; b1 = a1; b2 = a2; b3 = a3;
  } else {
    a0 = f32x4.splat(0); a1 = a0; a2 = a0; a3 = a0; b0 = a0; b1 = a0; b2 = a0; b3 = a0;
  }
  let pw = w;
  for (let dz: u32 = 0; dz < k; dz++) {
    for (let dy: u32 = 0; dy < k; dy++) {
      for (let dx: u32 = 0; dx < k; dx++) {
        let p0 = px + ((<usize>dz * tz + <usize>dy * ty + <usize>dx * tx) << 2);
        let p1 = p0 + dxBytes;
        let q = pw;
        for (let ci: u32 = 0; ci < cin; ci++) {
          const w0 = v128.load(q, 0);
          const w1 = v128.load(q, 16);
          const w2 = v128.load(q, 32);
          const w3 = v128.load(q, 48);
          const s = v128.load32_splat(p0);
          const t = v128.load32_splat(p1);
          a0 = fma(a0, w0, s); a1 = fma(a1, w1, s); a2 = fma(a2, w2, s); a3 = fma(a3, w3, s);
          b0 = fma(b0, w0, t); b1 = fma(b1, w1, t); b2 = fma(b2, w2, t); b3 = fma(b3, w3, t);
          p0 += 4;
          p1 += 4;
          q += wCi;
        }
        pw += wTap;
      }
    }
  }
  v128.store(py, a0, 0); v128.store(py, a1, 16); v128.store(py, a2, 32); v128.store(py, a3, 48);
  const q = py + dyBytes;
  v128.store(q, b0, 0); v128.store(q, b1, 16); v128.store(q, b2, 32); v128.store(q, b3, 48);
}

// `groups` × 4 output channels at one output position (remainders: odd nx, coutP not a multiple of 16).
@inline function conv4xN(
  px: usize, tx: u32, ty: u32, tz: u32, k: u32, cin: u32,
  w: usize, wTap: usize, wCi: usize, bias: usize, py: usize, groups: u32, accumulate: u32,
): void {
  for (let g: u32 = 0; g < groups; g++) {
    const off: usize = <usize>g << 4;
    let a: v128 = accumulate ? v128.load(py + off) : bias ? v128.load(bias + off) : f32x4.splat(0);
    let pw = w + off;
    for (let dz: u32 = 0; dz < k; dz++) {
      for (let dy: u32 = 0; dy < k; dy++) {
        for (let dx: u32 = 0; dx < k; dx++) {
          let p0 = px + ((<usize>dz * tz + <usize>dy * ty + <usize>dx * tx) << 2);
          let q = pw;
          for (let ci: u32 = 0; ci < cin; ci++) {
            a = fma(a, v128.load(q), v128.load32_splat(p0));
            p0 += 4;
            q += wCi;
          }
          pw += wTap;
        }
      }
    }
    v128.store(py + off, a);
  }
}

// ---------------------------------------------------------------------------------------------
// Filter gradient: dw[tap][ci][co] += Σ_o x[o·step + tap·tapStride + ci] · dy[o·dyStep + co]
// over nx × ny × [z0, z1) positions o. dw is [k³][cin][coutP], coutP a multiple of 4.

export function convFilterGrad(
  x: usize, xsx: u32, xsy: u32, xsz: u32,
  tx: u32, ty: u32, tz: u32, k: u32, cin: u32,
  dy: usize, dsx: u32, dsy: u32, dsz: u32, coutP: u32,
  dw: usize, nx: u32, ny: u32,
  z0: u32, z1: u32,
): void {
  const xStep: usize = (<usize>xsx) << 2;
  const dStep: usize = (<usize>dsx) << 2;
  const wCi: usize = <usize>coutP << 2;
  for (let z = z0; z < z1; z++) {
    for (let j: u32 = 0; j < ny; j++) {
      const xRow = x + ((<usize>z * xsz + <usize>j * xsy) << 2);
      const dRow = dy + ((<usize>z * dsz + <usize>j * dsy) << 2);
      let pw = dw;
      for (let dz: u32 = 0; dz < k; dz++) {
        for (let dyy: u32 = 0; dyy < k; dyy++) {
          for (let dx: u32 = 0; dx < k; dx++) {
            const xTap = xRow + ((<usize>dz * tz + <usize>dyy * ty + <usize>dx * tx) << 2);
            let ci: u32 = 0;
            for (; ci + 2 <= cin; ci += 2) {
              const pxc = xTap + (<usize>ci << 2);
              const pwc = pw + <usize>ci * wCi;
              let co: u32 = 0;
              for (; co + 16 <= coutP; co += 16) {
                filterGrad2x16(pxc, xStep, dRow + (<usize>co << 2), dStep, pwc + (<usize>co << 2), wCi, nx);
              }
              for (; co < coutP; co += 4) {
                filterGrad1x4(pxc, xStep, dRow + (<usize>co << 2), dStep, pwc + (<usize>co << 2), nx);
                filterGrad1x4(pxc + 4, xStep, dRow + (<usize>co << 2), dStep, pwc + wCi + (<usize>co << 2), nx);
              }
            }
            if (ci < cin) {
              const pxc = xTap + (<usize>ci << 2);
              const pwc = pw + <usize>ci * wCi;
              for (let co: u32 = 0; co < coutP; co += 4) {
                filterGrad1x4(pxc, xStep, dRow + (<usize>co << 2), dStep, pwc + (<usize>co << 2), nx);
              }
            }
            pw += <usize>cin * wCi;
          }
        }
      }
    }
  }
}

// Two input channels (px, px + 4) × 16 output channels, over a row of nx positions.
@inline function filterGrad2x16(px: usize, xStep: usize, pd: usize, dStep: usize, pw: usize, wCi: usize, nx: u32): void {
  const pw1 = pw + wCi;
  let a0 = v128.load(pw, 0), a1 = v128.load(pw, 16), a2 = v128.load(pw, 32), a3 = v128.load(pw, 48);
  let b0 = v128.load(pw1, 0), b1 = v128.load(pw1, 16), b2 = v128.load(pw1, 32), b3 = v128.load(pw1, 48);
  for (let i: u32 = 0; i < nx; i++) {
    const d0 = v128.load(pd, 0);
    const d1 = v128.load(pd, 16);
    const d2 = v128.load(pd, 32);
    const d3 = v128.load(pd, 48);
    const s = v128.load32_splat(px);
    const t = v128.load32_splat(px, 4);
    a0 = fma(a0, d0, s); a1 = fma(a1, d1, s); a2 = fma(a2, d2, s); a3 = fma(a3, d3, s);
    b0 = fma(b0, d0, t); b1 = fma(b1, d1, t); b2 = fma(b2, d2, t); b3 = fma(b3, d3, t);
    px += xStep;
    pd += dStep;
  }
  v128.store(pw, a0, 0); v128.store(pw, a1, 16); v128.store(pw, a2, 32); v128.store(pw, a3, 48);
  v128.store(pw1, b0, 0); v128.store(pw1, b1, 16); v128.store(pw1, b2, 32); v128.store(pw1, b3, 48);
}

@inline function filterGrad1x4(px: usize, xStep: usize, pd: usize, dStep: usize, pw: usize, nx: u32): void {
  let a = v128.load(pw);
  for (let i: u32 = 0; i < nx; i++) {
    a = fma(a, v128.load(pd), v128.load32_splat(px));
    px += xStep;
    pd += dStep;
  }
  v128.store(pw, a);
}

// ---------------------------------------------------------------------------------------------
// Strided box copy: dst is a [D][H][W][dstC] block; for every dst voxel in planes [z0, z1) its
// channels [dstOff, dstOff + nc) get src[(voxel − box origin) + srcOrigin][srcOff + ...] inside the
// box (oz, oy, ox, bz, by, bx) and 0 outside. Packs padded/cropped/concatenated conv inputs, and
// splits input gradients back.

export function copyBox(
  src: usize, ssx: u32, ssy: u32, ssz: u32,
  dst: usize, dh: u32, dwd: u32, dstC: u32, dstOff: u32, nc: u32,
  oz: u32, oy: u32, ox: u32, bz: u32, by: u32, bx: u32,
  z0: u32, z1: u32,
): void {
  const zero = f32x4.splat(0);
  for (let z = z0; z < z1; z++) {
    const inZ = z >= oz && z < oz + bz;
    for (let j: u32 = 0; j < dh; j++) {
      const inRow = inZ && j >= oy && j < oy + by;
      let pd = dst + ((((<usize>z * dh + j) * dwd) * dstC + dstOff) << 2);
      const dStep: usize = <usize>dstC << 2;
      if (!inRow) {
        if (nc == dstC) {
          memory.fill(pd, 0, (<usize>dwd * dstC) << 2);
          continue;
        }
        for (let i: u32 = 0; i < dwd; i++) {
          fillZero(pd, nc, zero);
          pd += dStep;
        }
        continue;
      }
      let ps = src + ((<usize>(z - oz) * ssz + <usize>(j - oy) * ssy) << 2);
      if (nc == dstC && ssx == nc) {
        // Whole voxels, contiguous on both sides: zeros, one block copy, zeros.
        const before: usize = (<usize>ox * dstC) << 2;
        const inside: usize = (<usize>bx * dstC) << 2;
        const rowBytes: usize = (<usize>dwd * dstC) << 2;
        memory.fill(pd, 0, before);
        memory.copy(pd + before, ps, inside);
        memory.fill(pd + before + inside, 0, rowBytes - before - inside);
        continue;
      }
      const sStep: usize = <usize>ssx << 2;
      for (let i: u32 = 0; i < dwd; i++) {
        if (i >= ox && i < ox + bx) {
          copyFloats(ps, pd, nc);
          ps += sStep;
        } else {
          fillZero(pd, nc, zero);
        }
        pd += dStep;
      }
    }
  }
}

@inline function copyFloats(src: usize, dst: usize, n: u32): void {
  let c: u32 = 0;
  for (; c + 4 <= n; c += 4) v128.store(dst + (<usize>c << 2), v128.load(src + (<usize>c << 2)));
  for (; c < n; c++) store<f32>(dst + (<usize>c << 2), load<f32>(src + (<usize>c << 2)));
}

@inline function fillZero(dst: usize, n: u32, zero: v128): void {
  let c: u32 = 0;
  for (; c + 4 <= n; c += 4) v128.store(dst + (<usize>c << 2), zero);
  for (; c < n; c++) store<f32>(dst + (<usize>c << 2), 0);
}

/** dst[i] += src[i] for i in [r0, r1) (floats): sums the threads' partial filter gradients. */
export function addInto(dst: usize, src: usize, r0: u32, r1: u32): void {
  let i = r0;
  for (; i + 4 <= r1; i += 4) {
    const o: usize = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), v128.load(src + o)));
  }
  for (; i < r1; i++) {
    const o: usize = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + load<f32>(src + o));
  }
}

// ---------------------------------------------------------------------------------------------
// Batch norm + ReLU over [voxels][c] (c a multiple of 4). Each thread sums into its own block:
// two float64 arrays of c, then 8 floats of scratch.

/**
 * block's sums[ch] += Σ_v x[v][ch] and sq[ch] += Σ_v (x[v][ch] − mean[ch])² for v in [v0, v1)
 * (mean 0: no centring).
 */
export function channelMoments(x: usize, c: u32, mean: usize, block: usize, v0: u32, v1: u32): void {
  const sums = block, sq = block + (<usize>c << 3), scratch = block + (<usize>c << 4);
  // Blocks of up to 256 voxels in float32, then into the float64 totals (float32 alone drifts).
  const cb: usize = <usize>c << 2;
  for (let b = v0; b < v1; b += 256) {
    const e = min(b + 256, v1);
    for (let ch: u32 = 0; ch < c; ch += 4) {
      const m = mean ? v128.load(mean + (<usize>ch << 2)) : f32x4.splat(0);
      let s = f32x4.splat(0);
      let q = f32x4.splat(0);
      let p = x + <usize>b * cb + (<usize>ch << 2);
      for (let v = b; v < e; v++) {
        const val = v128.load(p);
        s = f32x4.add(s, val);
        const d = f32x4.sub(val, m);
        q = fma(q, d, d);
        p += cb;
      }
      flushSums(scratch, s, q, sums, sq, ch);
    }
  }
}

/** Adds the lanes of two float32 partial sums into float64 totals a[ch..ch+3] and b[ch..ch+3]. */
@inline function flushSums(scratch: usize, sa: v128, sb: v128, a: usize, b: usize, ch: u32): void {
  v128.store(scratch, sa);
  v128.store(scratch, sb, 16);
  for (let l: u32 = 0; l < 4; l++) {
    const o: usize = <usize>(ch + l) << 3;
    store<f64>(a + o, load<f64>(a + o) + <f64>load<f32>(scratch + (<usize>l << 2)));
    store<f64>(b + o, load<f64>(b + o) + <f64>load<f32>(scratch + 16 + (<usize>l << 2)));
  }
}

/** y[v][ch] = max(0, x[v][ch]·scale[ch] + shift[ch]) for v in [v0, v1) (y may be x). */
export function scaleShiftRelu(x: usize, y: usize, c: u32, scale: usize, shift: usize, v0: u32, v1: u32): void {
  const zero = f32x4.splat(0);
  const cb: usize = <usize>c << 2;
  for (let v = v0; v < v1; v++) {
    const px = x + <usize>v * cb;
    const py = y + <usize>v * cb;
    for (let ch: u32 = 0; ch < c; ch += 4) {
      const o: usize = <usize>ch << 2;
      const t = fma(v128.load(shift + o), v128.load(px + o), v128.load(scale + o));
      v128.store(py + o, f32x4.max(t, zero));
    }
  }
}

/**
 * The batch-norm + ReLU gradient's sums: with g = dy·[x·scale + shift > 0] and x̂ = (x − mean)·invStd,
 * block's sumG[ch] += Σ g and sumGX[ch] += Σ g·x̂ over v in [v0, v1).
 */
export function bnReluGradSums(
  x: usize, dy: usize, c: u32, scale: usize, shift: usize, mean: usize, invStd: usize, block: usize, v0: u32, v1: u32,
): void {
  const sumG = block, sumGX = block + (<usize>c << 3), scratch = block + (<usize>c << 4);
  const zero = f32x4.splat(0);
  const cb: usize = <usize>c << 2;
  for (let b = v0; b < v1; b += 256) {
    const e = min(b + 256, v1);
    for (let ch: u32 = 0; ch < c; ch += 4) {
      const o: usize = <usize>ch << 2;
      const sc = v128.load(scale + o), sh = v128.load(shift + o), m = v128.load(mean + o), is = v128.load(invStd + o);
      let sg = f32x4.splat(0);
      let sgx = f32x4.splat(0);
      let px = x + <usize>b * cb + o;
      let pd = dy + <usize>b * cb + o;
      for (let v = b; v < e; v++) {
        const xv = v128.load(px);
        const mask = f32x4.gt(fma(sh, xv, sc), zero);
        const g = v128.and(v128.load(pd), mask);
        sg = f32x4.add(sg, g);
        sgx = fma(sgx, g, f32x4.mul(f32x4.sub(xv, m), is));
        px += cb;
        pd += cb;
      }
      flushSums(scratch, sg, sgx, sumG, sumGX, ch);
    }
  }
}

/**
 * dx = k1·(g − meanG − x̂·meanGX), with g and x̂ as in bnReluGradSums and k1 = gamma·invStd.
 */
export function bnReluGradInput(
  x: usize, dy: usize, dx: usize, c: u32, scale: usize, shift: usize, mean: usize, invStd: usize,
  k1: usize, meanG: usize, meanGX: usize, v0: u32, v1: u32,
): void {
  const zero = f32x4.splat(0);
  const cb: usize = <usize>c << 2;
  for (let v = v0; v < v1; v++) {
    const px = x + <usize>v * cb;
    const pd = dy + <usize>v * cb;
    const po = dx + <usize>v * cb;
    for (let ch: u32 = 0; ch < c; ch += 4) {
      const o: usize = <usize>ch << 2;
      const xv = v128.load(px + o);
      const mask = f32x4.gt(fma(v128.load(shift + o), xv, v128.load(scale + o)), zero);
      const g = v128.and(v128.load(pd + o), mask);
      const xh = f32x4.mul(f32x4.sub(xv, v128.load(mean + o)), v128.load(invStd + o));
      const r = f32x4.sub(f32x4.sub(g, v128.load(meanG + o)), f32x4.mul(xh, v128.load(meanGX + o)));
      v128.store(po + o, f32x4.mul(r, v128.load(k1 + o)));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// 2×2×2 max pooling, stride 2, over x [D][H][W][c] (c a multiple of 4); y is [D/2][H/2][W/2][c].

export function maxPool2(x: usize, h: u32, w: u32, c: u32, y: usize, z0: u32, z1: u32): void {
  const ho = h >> 1, wo = w >> 1;
  const cb: usize = <usize>c << 2;
  const rowB: usize = <usize>w * cb;
  const planeB: usize = <usize>h * rowB;
  for (let z = z0; z < z1; z++) {
    for (let j: u32 = 0; j < ho; j++) {
      let py = y + ((<usize>z * ho + j) * wo) * cb;
      let p = x + <usize>(2 * z) * planeB + <usize>(2 * j) * rowB;
      for (let i: u32 = 0; i < wo; i++) {
        for (let ch: usize = 0; ch < cb; ch += 16) {
          const q = p + ch;
          let m = f32x4.max(v128.load(q), v128.load(q + cb));
          m = f32x4.max(m, f32x4.max(v128.load(q + rowB), v128.load(q + rowB + cb)));
          const r = q + planeB;
          m = f32x4.max(m, f32x4.max(v128.load(r), v128.load(r + cb)));
          m = f32x4.max(m, f32x4.max(v128.load(r + rowB), v128.load(r + rowB + cb)));
          v128.store(py + ch, m);
        }
        p += cb << 1;
        py += cb;
      }
    }
  }
}

/** dx (zeroed by the caller) gets dy at the first of the 8 inputs equal to the maximum y. */
export function maxPool2Grad(x: usize, h: u32, w: u32, c: u32, y: usize, dy: usize, dx: usize, z0: u32, z1: u32): void {
  const ho = h >> 1, wo = w >> 1;
  const cb: usize = <usize>c << 2;
  const rowB: usize = <usize>w * cb;
  const planeB: usize = <usize>h * rowB;
  for (let z = z0; z < z1; z++) {
    for (let j: u32 = 0; j < ho; j++) {
      const o = ((<usize>z * ho + j) * wo) * cb;
      const base = <usize>(2 * z) * planeB + <usize>(2 * j) * rowB;
      for (let i: u32 = 0; i < wo; i++) {
        for (let ch: usize = 0; ch < cb; ch += 16) {
          const yo = o + <usize>i * cb + ch;
          const m = v128.load(y + yo);
          const g = v128.load(dy + yo);
          let taken = f32x4.splat(0);
          const b = base + (<usize>(2 * i)) * cb + ch;
          taken = routeMax(x, dx, b, m, g, taken);
          taken = routeMax(x, dx, b + cb, m, g, taken);
          taken = routeMax(x, dx, b + rowB, m, g, taken);
          taken = routeMax(x, dx, b + rowB + cb, m, g, taken);
          taken = routeMax(x, dx, b + planeB, m, g, taken);
          taken = routeMax(x, dx, b + planeB + cb, m, g, taken);
          taken = routeMax(x, dx, b + planeB + rowB, m, g, taken);
          routeMax(x, dx, b + planeB + rowB + cb, m, g, taken);
        }
      }
    }
  }
}

@inline function routeMax(x: usize, dx: usize, off: usize, m: v128, g: v128, taken: v128): v128 {
  const hit = v128.andnot(f32x4.eq(v128.load(x + off), m), taken);
  v128.store(dx + off, v128.and(g, hit));
  return v128.or(taken, hit);
}
