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
// Winograd convolution F(2×2×2, 3×3×3) (Lavin & Gray, 2016): a 3×3×3 correlation with stride 1,
// computed on 2×2×2 output tiles. Per tile and 4 channels the 4×4×4 input block is transformed
// (Bᵀ along each axis: additions only); the 64 transformed positions are 64 small matrix
// products with the transformed filter u [64][cin][coutP] (winogradFilter); the products are
// transformed back (Aᵀ along each axis: additions) into the 8 outputs. 64 multiply-adds per tile
// and channel pair where the direct convolution needs 216. cin and coutP are multiples of 4.
//
// x: the padded input, channels-last, rows of xsy floats, planes of xsz floats; a voxel at or
// beyond (inW, inH, inD) reads as 0 (a tile over an odd output edge). y: [z][y][x][coutP], rows of
// ysy floats, planes of ysz floats, written inside (outW, outH, outD) only. The range is over rows
// of tiles, tz · tilesY + ty. scratch (each thread its own): 64 vectors, then V [64][T·cin + 16],
// then M [64][T·coutP + 16], for T = blockTiles tiles along x at a time.

export function winograd(
  x: usize, xsy: u32, xsz: u32, cin: u32, inW: u32, inH: u32, inD: u32,
  u: usize, coutP: u32, bias: usize,
  y: usize, ysy: u32, ysz: u32, outW: u32, outH: u32, outD: u32,
  scratch: usize, blockTiles: u32,
  r0: u32, r1: u32,
): void {
  const tilesX = (outW + 1) >> 1, tilesY = (outH + 1) >> 1;
  const T = blockTiles;
  const s1 = scratch;
  // Rows of V and M one cache line longer than their T tiles: 64 rows a power of two apart
  // would share the L1 cache's sets (T = 32 measured 3× slower before the padding).
  const vPos: usize = <usize>T * cin + 16, mPosF: usize = <usize>T * coutP + 16;
  const vBase = scratch + 1024;
  const mBase = vBase + ((64 * vPos) << 2);
  const sx: usize = <usize>cin << 2, sy: usize = <usize>xsy << 2, sz: usize = <usize>xsz << 2;
  const zero = f32x4.splat(0);
  for (let r = r0; r < r1; r++) {
    const z0 = (r / tilesY) * 2, y0 = (r % tilesY) * 2;
    for (let tx0: u32 = 0; tx0 < tilesX; tx0 += T) {
      const nt = min(T, tilesX - tx0);
      // 1. Input transform: V[pos][t][c..c+3].
      for (let t: u32 = 0; t < nt; t++) {
        const x0 = (tx0 + t) * 2;
        const inside = z0 + 4 <= inD && y0 + 4 <= inH && x0 + 4 <= inW;
        const base = x + ((<usize>z0 * xsz + <usize>y0 * xsy + <usize>x0 * cin) << 2);
        for (let c: u32 = 0; c < cin; c += 4) {
          transformInputBlock(base + (<usize>c << 2), sx, sy, sz, inside, z0, y0, x0, inW, inH, inD, s1, vBase + ((<usize>t * cin + c) << 2), vPos << 2);
        }
      }
      // 2. The 64 products M[pos] = V[pos] · u[pos].
      const vRow: usize = <usize>cin << 2;
      const mRow: usize = <usize>coutP << 2;
      for (let pos: u32 = 0; pos < 64; pos++) {
        const vp = vBase + ((<usize>pos * vPos) << 2);
        const up = u + ((<usize>pos * cin * coutP) << 2);
        const mp = mBase + ((<usize>pos * mPosF) << 2);
        let co: u32 = 0;
        for (; co + 16 <= coutP; co += 16) {
          let t: u32 = 0;
          for (; t + 2 <= nt; t += 2) {
            conv16x2(vp + <usize>t * vRow, vRow, 0, 0, 0, 1, cin, up + (<usize>co << 2), 0, mRow, 0, mp + <usize>t * mRow + (<usize>co << 2), mRow, 0);
          }
          if (t < nt) conv4xN(vp + <usize>t * vRow, 0, 0, 0, 1, cin, up + (<usize>co << 2), 0, mRow, 0, mp + <usize>t * mRow + (<usize>co << 2), 4, 0);
        }
        for (; co < coutP; co += 4) {
          for (let t: u32 = 0; t < nt; t++) {
            conv4xN(vp + <usize>t * vRow, 0, 0, 0, 1, cin, up + (<usize>co << 2), 0, mRow, 0, mp + <usize>t * mRow + (<usize>co << 2), 1, 0);
          }
        }
      }
      // 3. Output transform: the 8 outputs of each tile.
      const mPos: usize = mPosF << 2; // from pos to pos + 1
      for (let t: u32 = 0; t < nt; t++) {
        const x0 = (tx0 + t) * 2;
        for (let co: u32 = 0; co < coutP; co += 4) {
          const m = mBase + ((<usize>t * coutP + co) << 2);
          // Along x and y, one z slice at a time, in registers: s1[a][j][i].
          for (let a: u32 = 0; a < 4; a++) {
            const q = m + <usize>(a * 16) * mPos;
            transformOut2d(
              v128.load(q), v128.load(q + mPos), v128.load(q + 2 * mPos), v128.load(q + 3 * mPos),
              v128.load(q + 4 * mPos), v128.load(q + 5 * mPos), v128.load(q + 6 * mPos), v128.load(q + 7 * mPos),
              v128.load(q + 8 * mPos), v128.load(q + 9 * mPos), v128.load(q + 10 * mPos), v128.load(q + 11 * mPos),
              v128.load(q + 12 * mPos), v128.load(q + 13 * mPos), v128.load(q + 14 * mPos), v128.load(q + 15 * mPos),
              s1 + ((<usize>(a * 4)) << 4),
            );
          }
          // Along z, plus the bias, into y.
          const bv = bias ? v128.load(bias + (<usize>co << 2)) : zero;
          for (let j: u32 = 0; j < 2; j++) {
            if (y0 + j >= outH) continue;
            for (let i: u32 = 0; i < 2; i++) {
              if (x0 + i >= outW) continue;
              const q = s1 + ((<usize>(j * 2 + i)) << 4);
              const m0 = v128.load(q), m1 = v128.load(q, 64), m2 = v128.load(q, 128), m3 = v128.load(q, 192);
              const py = y + ((<usize>z0 * ysz + <usize>(y0 + j) * ysy + <usize>(x0 + i) * coutP + co) << 2);
              v128.store(py, f32x4.add(bv, f32x4.add(f32x4.add(m0, m1), m2)));
              if (z0 + 1 < outD) v128.store(py + ((<usize>ysz) << 2), f32x4.add(bv, f32x4.sub(f32x4.sub(m1, m2), m3)));
            }
          }
        }
      }
    }
  }
}

// The filter gradient the same way, F(3×3×3, 2×2×2): dw[tap] = Σ_o x[o + tap] · dy[o] per 2×2×2 tile
// of dy is the same trilinear form with the roles of the filter and the output swapped, so
// dw = (Gᵀ ⊗ Gᵀ ⊗ Gᵀ) Σ_tiles (Bᵀ⊗Bᵀ⊗Bᵀ x_tile) ⊙ (A⊗A⊗A dy_tile): per tile the input block is
// transformed as above, dy's 2×2×2 tile with A = [[1, 0], [1, 1], [1, −1], [0, −1]], the 64
// positions multiplied and summed over the tiles into acc [64][cin][coutP], and the sums
// transformed back once (winogradFilterGradOut). 64 multiply-adds per tile where the direct
// gradient needs 216.
//
// x as in winograd; dy: [z][y][x][coutP], rows of dsy floats, planes of dsz floats, read inside
// (outW, outH, outD) (0 beyond). Range: rows of tiles. scratch (each thread its own, zeroed by the
// caller): acc [64][cin][coutP], then 64 vectors, then V [64][T·cin + 16], then D [64][T·coutP + 16].

export function winogradFilterGrad(
  x: usize, xsy: u32, xsz: u32, cin: u32, inW: u32, inH: u32, inD: u32,
  dy: usize, dsy: u32, dsz: u32, coutP: u32, outW: u32, outH: u32, outD: u32,
  scratch: usize, blockTiles: u32,
  r0: u32, r1: u32,
): void {
  const tilesX = (outW + 1) >> 1, tilesY = (outH + 1) >> 1;
  const T = blockTiles;
  const acc = scratch;
  const s1 = acc + ((<usize>64 * cin * coutP) << 2);
  const vPos: usize = <usize>T * cin + 16, dPos: usize = <usize>T * coutP + 16; // padded rows, as in winograd
  const vBase = s1 + 1024;
  const dBase = vBase + ((64 * vPos) << 2);
  const sx: usize = <usize>cin << 2, sy: usize = <usize>xsy << 2, sz: usize = <usize>xsz << 2;
  const ex: usize = <usize>coutP << 2, ey: usize = <usize>dsy << 2, ez: usize = <usize>dsz << 2;
  for (let r = r0; r < r1; r++) {
    const z0 = (r / tilesY) * 2, y0 = (r % tilesY) * 2;
    for (let tx0: u32 = 0; tx0 < tilesX; tx0 += T) {
      const nt = min(T, tilesX - tx0);
      const dStride: usize = (16 * dPos) << 2;
      for (let t: u32 = 0; t < nt; t++) {
        const x0 = (tx0 + t) * 2;
        // The input block, as in winograd: V[pos][t][c..c+3].
        const inside = z0 + 4 <= inD && y0 + 4 <= inH && x0 + 4 <= inW;
        const base = x + ((<usize>z0 * xsz + <usize>y0 * xsy + <usize>x0 * cin) << 2);
        for (let c: u32 = 0; c < cin; c += 4) {
          transformInputBlock(base + (<usize>c << 2), sx, sy, sz, inside, z0, y0, x0, inW, inH, inD, s1, vBase + ((<usize>t * cin + c) << 2), vPos << 2);
        }
        // dy's tile: D[pos][t][co..co+3].
        const yk0 = y0 < outH, yk1 = y0 + 1 < outH, zk1 = z0 + 1 < outD, xk1 = x0 + 1 < outW;
        const e = dy + ((<usize>z0 * dsz + <usize>y0 * dsy + <usize>x0 * coutP) << 2);
        for (let co: u32 = 0; co < coutP; co += 4) {
          const p = e + (<usize>co << 2);
          // z0 < outD always (a tile starts inside); along x and y per z slice into s1[z][b][c].
          transformA2d(loadIf(p, yk0), loadIf(p + ex, yk0 && xk1), loadIf(p + ey, yk1), loadIf(p + ey + ex, yk1 && xk1), s1);
          const p1 = p + ez;
          transformA2d(loadIf(p1, zk1 && yk0), loadIf(p1 + ex, zk1 && yk0 && xk1), loadIf(p1 + ey, zk1 && yk1), loadIf(p1 + ey + ex, zk1 && yk1 && xk1), s1 + 256);
          for (let bc: u32 = 0; bc < 16; bc++) {
            const q = s1 + (<usize>bc << 4);
            const out = dBase + ((<usize>bc * dPos + <usize>t * coutP + co) << 2);
            transformA(v128.load(q), v128.load(q, 256), out, dStride);
          }
        }
      }
      // acc[pos] += V[pos]ᵀ · D[pos], summed over the block's tiles.
      const vRow: usize = <usize>cin << 2;
      const dRow: usize = <usize>coutP << 2;
      for (let pos: u32 = 0; pos < 64; pos++) {
        const vp = vBase + ((<usize>pos * vPos) << 2);
        const dp = dBase + ((<usize>pos * dPos) << 2);
        const ap = acc + ((<usize>pos * cin * coutP) << 2);
        let ci: u32 = 0;
        for (; ci + 2 <= cin; ci += 2) {
          const pv = vp + (<usize>ci << 2);
          const pa = ap + <usize>ci * dRow;
          let co: u32 = 0;
          for (; co + 16 <= coutP; co += 16) filterGrad2x16(pv, vRow, dp + (<usize>co << 2), dRow, pa + (<usize>co << 2), dRow, nt);
          for (; co < coutP; co += 4) {
            filterGrad1x4(pv, vRow, dp + (<usize>co << 2), dRow, pa + (<usize>co << 2), nt);
            filterGrad1x4(pv + 4, vRow, dp + (<usize>co << 2), dRow, pa + dRow + (<usize>co << 2), nt);
          }
        }
      }
    }
  }
}

/** A·(e0, e1) = (e0, e0 + e1, e0 − e1, −e1), stored `stride` bytes apart. */
@inline function transformA(e0: v128, e1: v128, out: usize, stride: usize): void {
  v128.store(out, e0);
  v128.store(out + stride, f32x4.add(e0, e1));
  v128.store(out + 2 * stride, f32x4.sub(e0, e1));
  v128.store(out + 3 * stride, f32x4.neg(e1));
}

/** A·e·Aᵀ for a 2×2 block e[row][col] (rows along y): out[b][c], 16 vectors. */
@inline function transformA2d(e00: v128, e01: v128, e10: v128, e11: v128, out: usize): void {
  // Along y: rows b = 0..3 of (e0·, e0· + e1·, e0· − e1·, −e1·); then along x.
  transformA(e00, e01, out, 16);
  transformA(f32x4.add(e00, e10), f32x4.add(e01, e11), out + 64, 16);
  transformA(f32x4.sub(e00, e10), f32x4.sub(e01, e11), out + 128, 16);
  transformA(f32x4.neg(e10), f32x4.neg(e11), out + 192, 16);
}

/**
 * dw[tap][j] = (Gᵀ ⊗ Gᵀ ⊗ Gᵀ)·acc[pos][j] for every vector j in [r0, r1) of a position (cin · coutP
 * / 4 of them); Gᵀ·M = (M0 + (M1 + M2)/2, (M1 − M2)/2, (M1 + M2)/2 + M3) along each axis.
 * scratch: each thread's 48 + 36 vectors.
 */
export function winogradFilterGradOut(acc: usize, dw: usize, vectors: u32, scratch: usize, r0: u32, r1: u32): void {
  const stride: usize = <usize>vectors << 4; // bytes from one position (or tap) to the next
  const s0 = scratch, s1 = scratch + 48 * 16;
  for (let j = r0; j < r1; j++) {
    const pa = acc + (<usize>j << 4);
    // Along x: s0[a][b][k].
    for (let ab: u32 = 0; ab < 16; ab++) {
      const q = pa + <usize>(ab * 4) * stride;
      gradLine(v128.load(q), v128.load(q + stride), v128.load(q + 2 * stride), v128.load(q + 3 * stride), s0 + ((<usize>ab * 3) << 4), 16);
    }
    // Along y: s1[a][j][k].
    for (let a: u32 = 0; a < 4; a++) {
      for (let k: u32 = 0; k < 3; k++) {
        const q = s0 + ((<usize>(a * 12 + k)) << 4);
        gradLine(v128.load(q), v128.load(q, 48), v128.load(q, 96), v128.load(q, 144), s1 + ((<usize>(a * 9 + k)) << 4), 48);
      }
    }
    // Along z, into dw[(dz·3 + dy)·3 + dx].
    for (let jk: u32 = 0; jk < 9; jk++) {
      const q = s1 + (<usize>jk << 4);
      gradLine(v128.load(q), v128.load(q, 144), v128.load(q, 288), v128.load(q, 432), dw + <usize>jk * stride + (<usize>j << 4), 9 * stride);
    }
  }
}

/** Gᵀ·M for one line of 4 vectors, 3 results stored `stride` bytes apart. */
@inline function gradLine(m0: v128, m1: v128, m2: v128, m3: v128, out: usize, stride: usize): void {
  const half = f32x4.splat(0.5);
  const s = f32x4.mul(f32x4.add(m1, m2), half);
  v128.store(out, f32x4.add(m0, s));
  v128.store(out + stride, f32x4.mul(f32x4.sub(m1, m2), half));
  v128.store(out + 2 * stride, f32x4.add(s, m3));
}

/**
 * (Bᵀ ⊗ Bᵀ ⊗ Bᵀ)·d for the 4×4×4 block of 4 channels at p (voxels sx, rows sy, planes sz bytes
 * apart; a voxel at or beyond (inW, inH, inD) from (x0, y0, z0) reads as 0 unless `inside`): the
 * 64 results at out + pos · posBytes. Along x and y one z slice at a time in registers, into s1
 * (16 vectors per slice), then along z.
 */
@inline function transformInputBlock(
  p: usize, sx: usize, sy: usize, sz: usize, inside: bool, z0: u32, y0: u32, x0: u32, inW: u32, inH: u32, inD: u32,
  s1: usize, out: usize, posBytes: usize,
): void {
  for (let a: u32 = 0; a < 4; a++) {
    const q = p + <usize>a * sz;
    const slice = s1 + ((<usize>(a * 16)) << 4);
    if (inside) {
      transformIn2d(
        v128.load(q), v128.load(q + sx), v128.load(q + 2 * sx), v128.load(q + 3 * sx),
        v128.load(q + sy), v128.load(q + sy + sx), v128.load(q + sy + 2 * sx), v128.load(q + sy + 3 * sx),
        v128.load(q + 2 * sy), v128.load(q + 2 * sy + sx), v128.load(q + 2 * sy + 2 * sx), v128.load(q + 2 * sy + 3 * sx),
        v128.load(q + 3 * sy), v128.load(q + 3 * sy + sx), v128.load(q + 3 * sy + 2 * sx), v128.load(q + 3 * sy + 3 * sx),
        slice,
      );
    } else {
      const za = z0 + a < inD;
      const r0k = za && y0 < inH, r1k = za && y0 + 1 < inH, r2k = za && y0 + 2 < inH, r3k = za && y0 + 3 < inH;
      const c0k = x0 < inW, c1k = x0 + 1 < inW, c2k = x0 + 2 < inW, c3k = x0 + 3 < inW;
      transformIn2d(
        loadIf(q, r0k && c0k), loadIf(q + sx, r0k && c1k), loadIf(q + 2 * sx, r0k && c2k), loadIf(q + 3 * sx, r0k && c3k),
        loadIf(q + sy, r1k && c0k), loadIf(q + sy + sx, r1k && c1k), loadIf(q + sy + 2 * sx, r1k && c2k), loadIf(q + sy + 3 * sx, r1k && c3k),
        loadIf(q + 2 * sy, r2k && c0k), loadIf(q + 2 * sy + sx, r2k && c1k), loadIf(q + 2 * sy + 2 * sx, r2k && c2k), loadIf(q + 2 * sy + 3 * sx, r2k && c3k),
        loadIf(q + 3 * sy, r3k && c0k), loadIf(q + 3 * sy + sx, r3k && c1k), loadIf(q + 3 * sy + 2 * sx, r3k && c2k), loadIf(q + 3 * sy + 3 * sx, r3k && c3k),
        slice,
      );
    }
  }
  const zStride: usize = 16 * posBytes; // from pos to pos + 16
  for (let bc: u32 = 0; bc < 16; bc++) {
    const q = s1 + (<usize>bc << 4);
    transformIn(v128.load(q), v128.load(q, 256), v128.load(q, 512), v128.load(q, 768), out + <usize>bc * posBytes, zStride);
  }
}

/** The vector at q, or 0 where `ok` is false (a voxel beyond the input). */
@inline function loadIf(q: usize, ok: bool): v128 {
  return ok ? v128.load(q) : f32x4.splat(0);
}

/** Bᵀ·d·B for a 4×4 block of vectors d[row][col] (rows along y, columns along x), stored as out[row][col]. */
@inline function transformIn2d(
  d00: v128, d01: v128, d02: v128, d03: v128, d10: v128, d11: v128, d12: v128, d13: v128,
  d20: v128, d21: v128, d22: v128, d23: v128, d30: v128, d31: v128, d32: v128, d33: v128, out: usize,
): void {
  // Along y first (columns), then along x (rows).
  const e00 = f32x4.sub(d00, d20), e01 = f32x4.sub(d01, d21), e02 = f32x4.sub(d02, d22), e03 = f32x4.sub(d03, d23);
  transformIn(e00, e01, e02, e03, out, 16);
  const e10 = f32x4.add(d10, d20), e11 = f32x4.add(d11, d21), e12 = f32x4.add(d12, d22), e13 = f32x4.add(d13, d23);
  transformIn(e10, e11, e12, e13, out + 64, 16);
  const e20 = f32x4.sub(d20, d10), e21 = f32x4.sub(d21, d11), e22 = f32x4.sub(d22, d12), e23 = f32x4.sub(d23, d13);
  transformIn(e20, e21, e22, e23, out + 128, 16);
  const e30 = f32x4.sub(d10, d30), e31 = f32x4.sub(d11, d31), e32 = f32x4.sub(d12, d32), e33 = f32x4.sub(d13, d33);
  transformIn(e30, e31, e32, e33, out + 192, 16);
}

/** Aᵀ·m·A for a 4×4 block m[b][c] (b along y, c along x): the 2×2 result out[j][i]. */
@inline function transformOut2d(
  m00: v128, m01: v128, m02: v128, m03: v128, m10: v128, m11: v128, m12: v128, m13: v128,
  m20: v128, m21: v128, m22: v128, m23: v128, m30: v128, m31: v128, m32: v128, m33: v128, out: usize,
): void {
  // Along y: rows 0 and 1 of the result, per column.
  const a0 = f32x4.add(f32x4.add(m00, m10), m20), a1 = f32x4.add(f32x4.add(m01, m11), m21);
  const a2 = f32x4.add(f32x4.add(m02, m12), m22), a3 = f32x4.add(f32x4.add(m03, m13), m23);
  v128.store(out, f32x4.add(f32x4.add(a0, a1), a2));
  v128.store(out, f32x4.sub(f32x4.sub(a1, a2), a3), 16);
  const b0 = f32x4.sub(f32x4.sub(m10, m20), m30), b1 = f32x4.sub(f32x4.sub(m11, m21), m31);
  const b2 = f32x4.sub(f32x4.sub(m12, m22), m32), b3 = f32x4.sub(f32x4.sub(m13, m23), m33);
  v128.store(out, f32x4.add(f32x4.add(b0, b1), b2), 32);
  v128.store(out, f32x4.sub(f32x4.sub(b1, b2), b3), 48);
}

/** Bᵀ·d for one line of 4 vectors: (d0 − d2, d1 + d2, d2 − d1, d1 − d3), stored `stride` bytes apart. */
@inline function transformIn(d0: v128, d1: v128, d2: v128, d3: v128, out: usize, stride: usize): void {
  v128.store(out, f32x4.sub(d0, d2));
  v128.store(out + stride, f32x4.add(d1, d2));
  v128.store(out + 2 * stride, f32x4.sub(d2, d1));
  v128.store(out + 3 * stride, f32x4.sub(d1, d3));
}

/** Aᵀ·m for one line of 4 vectors: (m0 + m1 + m2, m1 − m2 − m3), stored `stride` bytes apart. */
@inline function transformOut(m0: v128, m1: v128, m2: v128, m3: v128, out: usize, stride: usize): void {
  v128.store(out, f32x4.add(f32x4.add(m0, m1), m2));
  v128.store(out + stride, f32x4.sub(f32x4.sub(m1, m2), m3));
}

/**
 * The transformed filter: u[pos][j] = (G ⊗ G ⊗ G)·w[tap][j] for every vector j in [r0, r1) of a
 * tap (cin · coutP / 4 of them), G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]] along each axis.
 * w is [27][cin][coutP] (tap = (dz·3 + dy)·3 + dx), u [64][cin][coutP] (pos = (a·4 + b)·4 + c).
 * scratch: each thread's 36 + 48 vectors.
 */
export function winogradFilter(w: usize, u: usize, vectors: u32, scratch: usize, r0: u32, r1: u32): void {
  const tap: usize = <usize>vectors << 4;
  const s0 = scratch, s1 = scratch + 36 * 16;
  for (let j = r0; j < r1; j++) {
    const pw = w + (<usize>j << 4);
    // Along x: [dz][dy][c].
    for (let l: u32 = 0; l < 9; l++) {
      const q = pw + <usize>(l * 3) * tap;
      filterLine(v128.load(q), v128.load(q + tap), v128.load(q + 2 * tap), s0 + ((<usize>l * 4) << 4), 16);
    }
    // Along y: [dz][b][c].
    for (let dz: u32 = 0; dz < 3; dz++) {
      for (let c: u32 = 0; c < 4; c++) {
        const q = s0 + ((<usize>(dz * 12 + c)) << 4);
        filterLine(v128.load(q), v128.load(q, 64), v128.load(q, 128), s1 + ((<usize>(dz * 16 + c)) << 4), 64);
      }
    }
    // Along z, into u.
    for (let bc: u32 = 0; bc < 16; bc++) {
      const q = s1 + (<usize>bc << 4);
      filterLine(v128.load(q), v128.load(q, 256), v128.load(q, 512), u + (<usize>bc) * tap + (<usize>j << 4), 16 * tap);
    }
  }
}

/** G·g for one line of 3 vectors: (g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2), stored `stride` bytes apart. */
@inline function filterLine(g0: v128, g1: v128, g2: v128, out: usize, stride: usize): void {
  const half = f32x4.splat(0.5);
  const e = f32x4.add(g0, g2);
  v128.store(out, g0);
  v128.store(out + stride, f32x4.mul(f32x4.add(e, g1), half));
  v128.store(out + 2 * stride, f32x4.mul(f32x4.sub(e, g1), half));
  v128.store(out + 3 * stride, g2);
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
