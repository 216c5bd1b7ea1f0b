/**
 * NIfTI-1 and NIfTI-2 reading (`.nii`, `.nii.gz`). The header is parsed by nifti-reader-js,
 * except the geometry (qform, sform, pixdim, vox_offset), which is read from the bytes and turned
 * into the affine as the NIfTI standard says (see `niftiAffine`). Sizes are checked against the
 * header before anything large is allocated; gzip data is inflated straight into the voxel
 * buffer.
 */
import { NIFTI1, NIFTI2, isNIFTI1, isNIFTI2, readHeader } from 'nifti-reader-js';
import { exactArrayBuffer } from './bytes';
import { BYTES_PER_VOXEL, adoptVoxels, voxelsOf, type DataType, type VoxelArray } from './datatypes';
import { VolumeError } from './errors';
import { affineProblem, baseAffine, qformAffine, type Mat4, type Vec3 } from './geometry';
import { MAX_INFLATE_RATIO, checkAllocation, gunzipInto, gunzipIntoAsync, gunzipPrefix, inflateTarget, isGzip, requireFilled } from './gzip';
import type { ReadOptions, Volume } from './volume';
import type { VolumeHeader } from './voxelStream';

/** NIfTI datatype codes (nifti1.h) and the scalar types we read. */
const SUPPORTED: Record<number, DataType> = {
  2: 'uint8',
  4: 'int16',
  8: 'int32',
  16: 'float32',
  64: 'float64',
  256: 'int8',
  512: 'uint16',
  768: 'uint32',
};

/** Names of every datatype code nifti1.h defines, for error messages. */
export const NIFTI_DATATYPE_NAMES: Record<number, string> = {
  0: 'UNKNOWN',
  1: 'BINARY',
  2: 'UINT8',
  4: 'INT16',
  8: 'INT32',
  16: 'FLOAT32',
  32: 'COMPLEX64',
  64: 'FLOAT64',
  128: 'RGB24',
  256: 'INT8',
  512: 'UINT16',
  768: 'UINT32',
  1024: 'INT64',
  1280: 'UINT64',
  1536: 'FLOAT128',
  1792: 'COMPLEX128',
  2048: 'COMPLEX256',
  2304: 'RGBA32',
};

/** nifti1.h datatype code of a scalar type (the writers use it). */
export function niftiDatatypeCode(datatype: DataType): number {
  const entry = Object.entries(SUPPORTED).find(([, t]) => t === datatype);
  return Number(entry![0]);
}

/** NIFTI_INTENT_LABEL: voxel values are label indices. */
export const NIFTI_INTENT_LABEL = 1002;

const NIFTI2_HEADER_SIZE = 540;
const NIFTI1_HEADER_SIZE = 348;
/** No image axis in a file we accept is longer than this; larger values are header garbage. */
const MAX_AXIS = 2 ** 31 - 1;

/** The header fields the reader acts on, after validation. */
export interface NiftiHeaderSummary {
  format: 'nifti1' | 'nifti2';
  dims: Vec3;
  frames: number;
  datatype: DataType;
  datatypeCode: number;
  littleEndian: boolean;
  voxOffset: number;
  /** Voxel sizes in mm (pixdim 1–3; a 0, negative or non-finite one replaced, with a warning). */
  pixdim: Vec3;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  /** Voxel index → RAS+ mm, always finite and invertible (see `niftiAffine`). */
  affine: Mat4;
  intentCode: number;
  /** What had to be worked around (an unusable sform, a zero pixdim), one sentence each. */
  warnings: string[];
}

/** The geometry fields of a NIfTI-1 or NIfTI-2 header, as stored (NIfTI-2 in double precision). */
export interface NiftiGeometryFields {
  qformCode: number;
  sformCode: number;
  /** pixdim[0..7]; pixdim[0] holds qfac. */
  pixdim: number[];
  quatern: Vec3;
  qoffset: Vec3;
  /** srow_x, srow_y, srow_z. */
  srow: number[][];
  voxOffset: number;
}

/** Reads the geometry fields from the header bytes (byte offsets of nifti1.h and nifti2.h). */
export function readGeometryFields(header: Uint8Array, nifti2: boolean, littleEndian: boolean): NiftiGeometryFields {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const real = nifti2 ? (at: number) => view.getFloat64(at, littleEndian) : (at: number) => view.getFloat32(at, littleEndian);
  const size = nifti2 ? 8 : 4;
  const o = nifti2
    ? { pixdim: 104, voxOffset: 168, qform: 344, sform: 348, quatern: 352, srow: 400 }
    : { pixdim: 76, voxOffset: 108, qform: 252, sform: 254, quatern: 256, srow: 280 };
  const code = (at: number) => (nifti2 ? view.getInt32(at, littleEndian) : view.getInt16(at, littleEndian));
  const reals = (at: number, n: number) => Array.from({ length: n }, (_, i) => real(at + i * size));
  return {
    qformCode: code(o.qform),
    sformCode: code(o.sform),
    pixdim: reals(o.pixdim, 8),
    quatern: reals(o.quatern, 3) as Vec3,
    qoffset: reals(o.quatern + 3 * size, 3) as Vec3,
    srow: [0, 1, 2].map((r) => reals(o.srow + 4 * r * size, 4)),
    voxOffset: nifti2 ? Number(view.getBigInt64(o.voxOffset, littleEndian)) : real(o.voxOffset),
  };
}

/** True where the (possibly gzipped) bytes start like a NIfTI-1 or NIfTI-2 file. */
export function looksLikeNifti(bytes: Uint8Array): boolean {
  try {
    const head = isGzip(bytes) ? gunzipPrefix(bytes, NIFTI2_HEADER_SIZE) : bytes.subarray(0, NIFTI2_HEADER_SIZE);
    const ab = exactArrayBuffer(head);
    return isNIFTI1(ab) || isNIFTI2(ab);
  } catch {
    return false;
  }
}

/** Reads and validates the header only (a few KB are inflated at most). */
export function readNiftiHeader(bytes: Uint8Array): NiftiHeaderSummary {
  const head = isGzip(bytes) ? gunzipPrefix(bytes, 64 * 1024) : bytes.subarray(0, Math.min(bytes.length, 64 * 1024));
  if (head.length < NIFTI1_HEADER_SIZE) {
    throw new VolumeError(
      'truncated',
      `the file is too short for a NIfTI header: ${head.length} bytes where at least ${NIFTI1_HEADER_SIZE} are needed`,
    );
  }
  const ab = exactArrayBuffer(head);
  const nifti2 = isNIFTI2(ab);
  if (!nifti2 && !isNIFTI1(ab)) {
    throw new VolumeError('bad-magic', 'not a NIfTI file: the NIfTI-1 ("n+1") or NIfTI-2 ("n+2") magic is missing');
  }
  if (nifti2 && head.length < NIFTI2_HEADER_SIZE) {
    throw new VolumeError('truncated', `the file is too short for a NIfTI-2 header: ${head.length} of ${NIFTI2_HEADER_SIZE} bytes`);
  }
  let header: NIFTI1 | NIFTI2;
  try {
    // The header alone: given more, nifti-reader-js walks the extensions up to vox_offset, and a
    // corrupt extension or a wild vox_offset makes it fail inside with a message that names
    // nothing of the file. Nothing here reads the extensions.
    header = readHeader(ab.slice(0, nifti2 ? NIFTI2_HEADER_SIZE : NIFTI1_HEADER_SIZE));
  } catch (error) {
    throw new VolumeError('bad-header', `the NIfTI header cannot be parsed (${(error as Error).message})`);
  }
  return summarizeHeader(header, nifti2, readGeometryFields(head, nifti2, header.littleEndian));
}

function summarizeHeader(h: NIFTI1 | NIFTI2, nifti2: boolean, g: NiftiGeometryFields): NiftiHeaderSummary {
  const ndim = h.dims[0];
  if (!Number.isInteger(ndim) || ndim < 1 || ndim > 7) {
    throw new VolumeError('bad-dimensions', `invalid NIfTI header: dim[0] is ${ndim}, it must be 1 to 7`);
  }
  const sizes: number[] = [];
  for (let d = 1; d <= 7; d++) sizes.push(d <= ndim ? h.dims[d] : 1);
  for (let d = 0; d < ndim; d++) {
    const n = sizes[d];
    if (!Number.isInteger(n) || n < 1 || n > MAX_AXIS) {
      throw new VolumeError('bad-dimensions', `invalid dimensions in the header: dim[${d + 1}] is ${n}`);
    }
  }
  const code = h.datatypeCode;
  const datatype = SUPPORTED[code];
  if (!datatype) {
    const name = NIFTI_DATATYPE_NAMES[code] ?? 'not defined by NIfTI';
    throw new VolumeError(
      'unsupported-datatype',
      `unsupported datatype ${code} (${name}): only scalar images (u)int8, (u)int16, (u)int32, float32 and float64 can be read`,
    );
  }
  const dims: Vec3 = [sizes[0], sizes[1], sizes[2]];
  const frames = sizes.slice(3).reduce((a, b) => a * b, 1);
  const warnings: string[] = [];
  const pixdim = [1, 2, 3].map((d) => {
    const v = Math.abs(g.pixdim[d]);
    if (Number.isFinite(v) && v > 0) return v;
    // An axis the image does not have (dim[0] < d) often has pixdim 0: nothing to say.
    if (d <= ndim) warnings.push(`pixdim[${d}] is ${g.pixdim[d]}, not a voxel size: 1 mm is used`);
    return 1;
  }) as Vec3;
  let sclSlope = h.scl_slope;
  let sclInter = h.scl_inter;
  // nifti1.h: scl_slope = 0 means "no scaling" (so does a non-finite value).
  if (!Number.isFinite(sclSlope) || sclSlope === 0) {
    sclSlope = 1;
    sclInter = 0;
  }
  if (!Number.isFinite(sclInter)) sclInter = 0;
  if (!Number.isFinite(g.voxOffset) || g.voxOffset < 0 || g.voxOffset > MAX_AXIS) {
    throw new VolumeError('bad-header', `invalid NIfTI header: vox_offset is ${g.voxOffset}; it must be a byte offset from 0 to ${MAX_AXIS}`);
  }
  // A vox_offset inside the header (0 is common in files written as a pair) means "right after it".
  const voxOffset = Math.floor(Math.max(g.voxOffset, nifti2 ? NIFTI2_HEADER_SIZE : NIFTI1_HEADER_SIZE));
  return {
    format: nifti2 ? 'nifti2' : 'nifti1',
    dims,
    frames,
    datatype,
    datatypeCode: code,
    littleEndian: h.littleEndian,
    voxOffset,
    pixdim,
    sclSlope,
    sclInter,
    qformCode: g.qformCode,
    sformCode: g.sformCode,
    affine: niftiAffine(g, dims, pixdim, warnings),
    intentCode: h.intent_code,
    warnings,
  };
}

/**
 * The affine as the NIfTI standard (and nibabel, ITK-SNAP, 3D Slicer) reads it: the sform where
 * sform_code > 0, else the qform (quaternion, offsets, pixdim and qfac) where qform_code > 0, else
 * the voxel sizes alone (nibabel's base affine). A matrix that is not finite and invertible is
 * never used: the next one in that order is, and a warning says why.
 */
export function niftiAffine(g: NiftiGeometryFields, dims: Vec3, pixdim: Vec3, warnings: string[]): Mat4 {
  const fallback = (failed: string, problem: string, next: 'qform' | 'pixdim') => {
    const instead = next === 'qform' ? `the qform (qform_code ${g.qformCode}) is used instead` : 'the voxel sizes (pixdim) are used instead, axis-aligned';
    warnings.push(`the ${failed} is not usable (${problem}): ${instead}`);
  };
  if (g.sformCode > 0) {
    const sform: Mat4 = [...g.srow.map((row) => [...row]), [0, 0, 0, 1]];
    const problem = affineProblem(sform);
    if (!problem) return sform;
    fallback(`sform (sform_code ${g.sformCode})`, problem, g.qformCode > 0 ? 'qform' : 'pixdim');
  }
  if (g.qformCode > 0) {
    const bad = [...g.quatern, ...g.qoffset].find((v) => !Number.isFinite(v));
    const qfac = g.pixdim[0] < 0 ? -1 : 1;
    const qform = qformAffine(g.quatern, g.qoffset, pixdim, qfac);
    const problem = bad !== undefined ? `its quaternion or offset holds ${bad}` : affineProblem(qform);
    if (!problem) return qform;
    fallback(`qform (qform_code ${g.qformCode})`, problem, 'pixdim');
  }
  return baseAffine(dims, pixdim);
}

/** What reading the voxels needs, from the header. */
interface NiftiPlan {
  header: NiftiHeaderSummary;
  /** Voxels to read (the first frame, or every frame with `allFrames`), and their bytes. */
  count: number;
  dataBytes: number;
}

function planNifti(bytes: Uint8Array, options: ReadOptions): NiftiPlan {
  const header = readNiftiHeader(bytes);
  const { dims, datatype } = header;
  const frameCount = dims[0] * dims[1] * dims[2];
  const count = options.allFrames ? frameCount * header.frames : frameCount;
  const dataBytes = count * BYTES_PER_VOXEL[datatype];
  checkAllocation(dataBytes, `a ${dims.join('×')} ${datatype} volume`, options.maxBytes);
  return { header, count, dataBytes };
}

/**
 * The voxels of an uncompressed file: copied from the caller's bytes (never changed), or viewed
 * in place where the bytes were read for the reader (`bytesOwned`), so a file costs its size once.
 */
function uncompressedVoxels(bytes: Uint8Array, { header, count, dataBytes }: NiftiPlan, bytesOwned: boolean): VoxelArray {
  const available = bytes.length - header.voxOffset;
  if (available < dataBytes) {
    throw new VolumeError(
      'truncated',
      `the image data is shorter than the header says: ${Math.max(0, available)} of ${dataBytes} bytes (${header.dims.join('×')} ${header.datatype})`,
    );
  }
  return voxelsOf(bytes, header.voxOffset, header.datatype, count, header.littleEndian, bytesOwned);
}

function niftiVolume({ header, count }: NiftiPlan, voxels: VoxelArray, options: ReadOptions): Volume {
  const frameCount = header.dims[0] * header.dims[1] * header.dims[2];
  return {
    format: header.format,
    dims: header.dims,
    spacing: header.pixdim,
    datatype: header.datatype,
    data: options.allFrames && count > frameCount ? voxels.subarray(0, frameCount) : voxels,
    ...(options.allFrames ? { allFrames: voxels } : {}),
    sclSlope: header.sclSlope,
    sclInter: header.sclInter,
    affine: header.affine,
    frames: header.frames,
    warnings: header.warnings,
    xformCodes: { qform: header.qformCode, sform: header.sformCode },
  };
}

/**
 * Reads a whole NIfTI file: the first frame of a 4D file, or every frame with `allFrames`.
 * `bytesOwned`: the bytes were read for this call, and the volume may view (and byte-swap) them
 * in place; otherwise they are never changed.
 */
export function readNifti(bytes: Uint8Array, options: ReadOptions = {}, bytesOwned = false): Volume {
  const plan = planNifti(bytes, options);
  if (!isGzip(bytes)) return niftiVolume(plan, uncompressedVoxels(bytes, plan, bytesOwned), options);
  const out = inflateTarget(bytes, plan.dataBytes, plan.header.voxOffset);
  requireFilled(gunzipInto(bytes, out, plan.header.voxOffset), plan.dataBytes);
  return niftiVolume(plan, adoptVoxels(out, 0, plan.header.datatype, plan.count, plan.header.littleEndian), options);
}

/** `readNifti`, with gzip inflated on Node's thread pool (the event loop keeps running). */
export async function readNiftiAsync(bytes: Uint8Array, options: ReadOptions = {}, bytesOwned = false): Promise<Volume> {
  const plan = planNifti(bytes, options);
  if (!isGzip(bytes)) return niftiVolume(plan, uncompressedVoxels(bytes, plan, bytesOwned), options);
  const out = inflateTarget(bytes, plan.dataBytes, plan.header.voxOffset);
  requireFilled(await gunzipIntoAsync(bytes, out, plan.header.voxOffset), plan.dataBytes);
  return niftiVolume(plan, adoptVoxels(out, 0, plan.header.datatype, plan.count, plan.header.littleEndian), options);
}

/**
 * What a NIfTI file holds, from its first bytes (`prefix`, of a file of `fileSize` bytes): the
 * grid, and where the first frame's voxels lie. A header whose data cannot fit the file is
 * refused here already.
 */
export function readNiftiHeaderOnly(prefix: Uint8Array, fileSize: number, options: ReadOptions = {}): VolumeHeader {
  const { header, dataBytes } = planNifti(prefix, { ...options, allFrames: false });
  const gzip = isGzip(prefix);
  if (!gzip && fileSize - header.voxOffset < dataBytes) {
    throw new VolumeError('truncated', `the image data is shorter than the header says: ${Math.max(0, fileSize - header.voxOffset)} of ${dataBytes} bytes (${header.dims.join('×')} ${header.datatype})`);
  }
  if (gzip && header.voxOffset + dataBytes > fileSize * MAX_INFLATE_RATIO) {
    throw new VolumeError('truncated', `the image data is shorter than the header says: ${fileSize} bytes of gzip cannot hold the ${dataBytes} bytes the header declares`);
  }
  return {
    format: header.format,
    dims: header.dims,
    spacing: header.pixdim,
    datatype: header.datatype,
    sclSlope: header.sclSlope,
    sclInter: header.sclInter,
    affine: header.affine,
    frames: header.frames,
    warnings: header.warnings,
    // Kept so that label maps written for this volume keep its qform/sform codes.
    xformCodes: { qform: header.qformCode, sform: header.sformCode },
    voxels: { fileOffset: 0, compression: gzip ? 'gzip' : 'none', skip: header.voxOffset, byteLength: dataBytes, littleEndian: header.littleEndian },
  };
}
