/**
 * Voxel ↔ world geometry. Pure functions, no Node or VS Code imports (the webview uses them).
 *
 * World coordinates are RAS+ millimetres, as in NIfTI: +x toward the patient's Right,
 * +y Anterior, +z Superior.
 * Voxel indices are (i, j, k) along the volume's array axes x, y, z (x fastest in memory).
 */

/** A 4×4 matrix as rows: `m[row][col]`. */
export type Mat4 = number[][];
export type Vec3 = [number, number, number];

export function identity4(): Mat4 {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

export function multiply4(a: Mat4, b: Mat4): Mat4 {
  const out: Mat4 = [[], [], [], []];
  for (let r = 0; r < 4; r++) {
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r][k] * b[k][c];
      out[r][c] = s;
    }
  }
  return out;
}

/** Applies an affine to a point. */
export function applyAffine(m: Mat4, p: readonly number[]): Vec3 {
  return [
    m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2] + m[0][3],
    m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2] + m[1][3],
    m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2] + m[2][3],
  ];
}

/**
 * The smallest |determinant| of the 3×3 part, relative to the product of its column lengths
 * (1 for perpendicular voxel axes, 0 for parallel ones), that still counts as invertible.
 */
const MIN_RELATIVE_DETERMINANT = 1e-6;

/**
 * Why `m` cannot be a voxel-to-world matrix, or undefined when it can: every entry finite, every
 * voxel axis of non-zero length, and the axes not parallel (the matrix invertible, its inverse
 * finite). The readers never hand out an affine that fails this.
 */
export function affineProblem(m: Mat4): string | undefined {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      if (!Number.isFinite(m[r][c])) return `its entry in row ${r + 1}, column ${c + 1} is ${m[r][c]}`;
    }
  }
  const lengths = spacingOfAffine(m);
  for (let c = 0; c < 3; c++) {
    if (!(lengths[c] > 0) || !Number.isFinite(lengths[c])) return `voxel axis ${'ijk'[c]} has no length (a zero column)`;
  }
  const det = determinant3(m);
  if (!(Math.abs(det) >= MIN_RELATIVE_DETERMINANT * lengths[0] * lengths[1] * lengths[2])) {
    return 'two of its voxel axes are parallel (the matrix is singular)';
  }
  const inverse = invertAffine(m);
  if (inverse.some((row) => row.some((v) => !Number.isFinite(v)))) return 'its inverse is not finite';
  return undefined;
}

function determinant3(m: Mat4): number {
  return (
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
    m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
    m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
  );
}

/**
 * Inverse of an affine 4×4 (last row 0 0 0 1). Throws on a singular matrix (parallel or zero
 * voxel axes, judged relative to the axes' lengths so that microscopic voxels still invert).
 */
export function invertAffine(m: Mat4): Mat4 {
  const [a, b, c] = [m[0][0], m[0][1], m[0][2]];
  const [d, e, f] = [m[1][0], m[1][1], m[1][2]];
  const [g, h, i] = [m[2][0], m[2][1], m[2][2]];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  const [lx, ly, lz] = spacingOfAffine(m);
  if (!Number.isFinite(det) || !(Math.abs(det) >= MIN_RELATIVE_DETERMINANT * lx * ly * lz) || det === 0) {
    throw new Error('the voxel-to-world matrix is singular');
  }
  const inv = [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
  const t = [m[0][3], m[1][3], m[2][3]];
  const out: Mat4 = inv.map((row) => [...row, -(row[0] * t[0] + row[1] * t[1] + row[2] * t[2])]);
  out.push([0, 0, 0, 1]);
  return out;
}

/**
 * Completes one or two direction vectors (3D) to three: each added one is a unit vector
 * perpendicular to those before it (for two, their normalised cross product, so the axes stay
 * right-handed). A 2D or 1D image gets a slice normal that can never be parallel to its axes.
 * Returns undefined where the given vectors are zero or parallel (no normal exists).
 */
export function completeDirections(given: number[][]): number[][] | undefined {
  const out = given.map((v) => [v[0] ?? 0, v[1] ?? 0, v[2] ?? 0]);
  const unit = (v: number[]) => {
    const n = Math.hypot(v[0], v[1], v[2]);
    return n > 0 && Number.isFinite(n) ? v.map((x) => x / n) : undefined;
  };
  const cross = (p: number[], q: number[]) => [p[1] * q[2] - p[2] * q[1], p[2] * q[0] - p[0] * q[2], p[0] * q[1] - p[1] * q[0]];
  if (out.length === 1) {
    const u = unit(out[0]);
    if (!u) return undefined;
    // The standard axis least aligned with u, made perpendicular to it.
    const axis = [0, 1, 2].reduce((best, a) => (Math.abs(u[a]) < Math.abs(u[best]) ? a : best), 0);
    const e = [0, 0, 0];
    e[axis] = 1;
    const dot = u[axis];
    out.push(unit(e.map((x, k) => x - dot * u[k]))!);
  }
  if (out.length === 2) {
    const p = unit(out[0]);
    const q = unit(out[1]);
    const normal = p && q ? unit(cross(p, q)) : undefined;
    if (!normal || Math.hypot(...cross(p!, q!)) < MIN_RELATIVE_DETERMINANT) return undefined;
    out.push(normal);
  }
  return out;
}

/** Voxel index (may be fractional) → RAS millimetres. */
export function voxelToWorld(affine: Mat4, ijk: readonly number[]): Vec3 {
  return applyAffine(affine, ijk);
}

/** RAS millimetres → voxel index (fractional; round for the nearest voxel). */
export function worldToVoxel(affine: Mat4, xyz: readonly number[], inverse: Mat4 = invertAffine(affine)): Vec3 {
  return applyAffine(inverse, xyz);
}

/** Length of each column of the 3×3 part: the distance in mm between neighbouring voxels. */
export function spacingOfAffine(m: Mat4): Vec3 {
  const col = (c: number) => Math.hypot(m[0][c], m[1][c], m[2][c]);
  return [col(0), col(1), col(2)];
}

const POSITIVE = ['R', 'A', 'S'];
const NEGATIVE = ['L', 'P', 'I'];

/**
 * Orientation codes of the voxel axes, e.g. "LPS": the direction in which each voxel axis
 * points, nearest anatomical axis. Each world axis is used once (the strongest pairings
 * are taken first), so oblique and sheared matrices still give a valid code.
 */
export function axisCodes(m: Mat4): string {
  const cells: { v: number; w: number; value: number }[] = [];
  for (let v = 0; v < 3; v++) {
    const norm = Math.hypot(m[0][v], m[1][v], m[2][v]) || 1;
    for (let w = 0; w < 3; w++) cells.push({ v, w, value: m[w][v] / norm });
  }
  cells.sort((p, q) => Math.abs(q.value) - Math.abs(p.value));
  const code = ['?', '?', '?'];
  const usedV = new Set<number>();
  const usedW = new Set<number>();
  for (const cell of cells) {
    if (usedV.has(cell.v) || usedW.has(cell.w)) continue;
    code[cell.v] = cell.value < 0 ? NEGATIVE[cell.w] : POSITIVE[cell.w];
    usedV.add(cell.v);
    usedW.add(cell.w);
  }
  return code.join('');
}

/**
 * For each world axis (R, A, S), which voxel axis runs along it and in which direction:
 * `voxelAxisOfWorld[w] = { axis, flip }` where `flip` means the voxel index grows toward
 * L, P or I. Used to lay slices out in anatomical orientation.
 */
export function voxelAxesOfWorld(m: Mat4): { axis: 0 | 1 | 2; flip: boolean }[] {
  const codes = axisCodes(m);
  const out: { axis: 0 | 1 | 2; flip: boolean }[] = [];
  for (let w = 0; w < 3; w++) {
    for (let v = 0 as 0 | 1 | 2; v < 3; v = (v + 1) as 0 | 1 | 2) {
      if (codes[v] === POSITIVE[w] || codes[v] === NEGATIVE[w]) out[w] = { axis: v, flip: codes[v] === NEGATIVE[w] };
    }
  }
  return out;
}

/** The rotation (as rows) of a NIfTI quaternion (b, c, d), with a = sqrt(1 − b² − c² − d²). */
export function quaternionToRotation(b: number, c: number, d: number): number[][] {
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // nifti1_io: the quaternion is not unit length: normalise it, a = 0 (a 180° rotation).
    const s = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= s;
    c *= s;
    d *= s;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  return [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
}

/** NIfTI method 2: the qform affine from quaternion, offsets, voxel sizes and qfac. */
export function qformAffine(
  quatern: Vec3,
  offset: Vec3,
  pixdim: Vec3,
  qfac: number,
): Mat4 {
  const R = quaternionToRotation(quatern[0], quatern[1], quatern[2]);
  const scale = [pixdim[0], pixdim[1], qfac < 0 ? -pixdim[2] : pixdim[2]];
  return [
    [R[0][0] * scale[0], R[0][1] * scale[1], R[0][2] * scale[2], offset[0]],
    [R[1][0] * scale[0], R[1][1] * scale[1], R[1][2] * scale[2], offset[1]],
    [R[2][0] * scale[0], R[2][1] * scale[1], R[2][2] * scale[2], offset[2]],
    [0, 0, 0, 1],
  ];
}

/**
 * The affine of a NIfTI file with neither qform nor sform, as nibabel gives it (its "base
 * affine"): voxel sizes on the diagonal, x flipped (radiological storage), centred on the grid.
 */
export function baseAffine(dims: Vec3, pixdim: Vec3): Mat4 {
  return [
    [-pixdim[0], 0, 0, ((dims[0] - 1) / 2) * pixdim[0]],
    [0, pixdim[1], 0, -((dims[1] - 1) / 2) * pixdim[1]],
    [0, 0, pixdim[2], -((dims[2] - 1) / 2) * pixdim[2]],
    [0, 0, 0, 1],
  ];
}

/**
 * Decomposes an affine into a NIfTI quaternion, offsets, voxel sizes and qfac (the inverse
 * of `qformAffine`, as nifti1_io's `nifti_mat44_to_quatern`). Shear cannot be represented in a
 * qform: the nearest rotation is used (the sform keeps the exact matrix).
 */
export function affineToQuaternion(m: Mat4): {
  quatern: Vec3;
  offset: Vec3;
  pixdim: Vec3;
  qfac: number;
} {
  const cols = [0, 1, 2].map((c) => [m[0][c], m[1][c], m[2][c]]);
  const pixdim = cols.map((v) => Math.hypot(v[0], v[1], v[2]) || 1) as Vec3;
  let R = cols.map((v, c) => v.map((x) => x / pixdim[c])); // R[col][row]
  R = polarOrthogonalize(R);
  // Rows-major rotation from columns.
  let r = [
    [R[0][0], R[1][0], R[2][0]],
    [R[0][1], R[1][1], R[2][1]],
    [R[0][2], R[1][2], R[2][2]],
  ];
  const det =
    r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) -
    r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0]) +
    r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    r = r.map((row) => [row[0], row[1], -row[2]]);
  }
  // Quaternion from a rotation matrix (nifti1_io).
  let a = r[0][0] + r[1][1] + r[2][2] + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r[2][1] - r[1][2])) / a;
    c = (0.25 * (r[0][2] - r[2][0])) / a;
    d = (0.25 * (r[1][0] - r[0][1])) / a;
  } else {
    const xd = 1 + r[0][0] - (r[1][1] + r[2][2]);
    const yd = 1 + r[1][1] - (r[0][0] + r[2][2]);
    const zd = 1 + r[2][2] - (r[0][0] + r[1][1]);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r[0][1] + r[1][0])) / b;
      d = (0.25 * (r[0][2] + r[2][0])) / b;
      a = (0.25 * (r[2][1] - r[1][2])) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r[0][1] + r[1][0])) / c;
      d = (0.25 * (r[1][2] + r[2][1])) / c;
      a = (0.25 * (r[0][2] - r[2][0])) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r[0][2] + r[2][0])) / d;
      c = (0.25 * (r[1][2] + r[2][1])) / d;
      a = (0.25 * (r[1][0] - r[0][1])) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quatern: [b, c, d], offset: [m[0][3], m[1][3], m[2][3]], pixdim, qfac };
}

/** Nearest orthogonal matrix to the 3×3 `m` by Newton iteration of the polar decomposition. */
function polarOrthogonalize(m: number[][]): number[][] {
  let x = m.map((row) => [...row]);
  for (let iter = 0; iter < 100; iter++) {
    const inv = invert3(x);
    if (!inv) break;
    // X ← (X + X⁻ᵀ) / 2
    const next = x.map((row, i) => row.map((v, j) => 0.5 * (v + inv[j][i])));
    let delta = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) delta += Math.abs(next[i][j] - x[i][j]);
    x = next;
    if (delta < 1e-12) break;
  }
  return x;
}

function invert3(m: number[][]): number[][] | undefined {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-15) return undefined;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

/** True where two affines agree within `tolerance` (mm) on every entry. */
export function affinesClose(a: Mat4, b: Mat4, tolerance = 1e-3): boolean {
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) if (Math.abs(a[r][c] - b[r][c]) > tolerance) return false;
  return true;
}
