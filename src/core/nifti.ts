/**
 * NIfTI-1 and NIfTI-2 reading (`.nii`, `.nii.gz`). The header is parsed by nifti-reader-js;
 * decompression is Node's zlib; sizes are checked against the header before anything large is
 * allocated.
 */
import { NIFTI1, NIFTI2, isNIFTI1, isNIFTI2, readHeader } from 'nifti-reader-js';
import { BYTES_PER_VOXEL, adoptVoxels, copyVoxels, type DataType } from './datatypes';
import { VolumeError } from './errors';
import { baseAffine, qformAffine, type Mat4, type Vec3 } from './geometry';
import { checkAllocation, gunzipBounded, gunzipPrefix, isGzip } from './gzip';
import type { ReadOptions, Volume } from './volume';

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
  pixdim: Vec3;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  affine: Mat4;
  intentCode: number;
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
    header = readHeader(ab);
  } catch (error) {
    throw new VolumeError('bad-header', `the NIfTI header cannot be parsed (${(error as Error).message})`);
  }
  return summarizeHeader(header, nifti2);
}

function summarizeHeader(h: NIFTI1 | NIFTI2, nifti2: boolean): NiftiHeaderSummary {
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
  const pixdim: Vec3 = [1, 2, 3].map((d) => {
    const v = Math.abs(h.pixDims[d]);
    return Number.isFinite(v) && v > 0 ? v : 1;
  }) as Vec3;
  let sclSlope = h.scl_slope;
  let sclInter = h.scl_inter;
  // nifti1.h: scl_slope = 0 means "no scaling" (so does a non-finite value).
  if (!Number.isFinite(sclSlope) || sclSlope === 0) {
    sclSlope = 1;
    sclInter = 0;
  }
  if (!Number.isFinite(sclInter)) sclInter = 0;
  const voxOffset = Math.max(h.vox_offset, nifti2 ? NIFTI2_HEADER_SIZE : NIFTI1_HEADER_SIZE);
  if (!Number.isFinite(voxOffset) || voxOffset > MAX_AXIS) {
    throw new VolumeError('bad-header', `invalid NIfTI header: vox_offset is ${h.vox_offset}`);
  }
  return {
    format: nifti2 ? 'nifti2' : 'nifti1',
    dims,
    frames,
    datatype,
    datatypeCode: code,
    littleEndian: h.littleEndian,
    voxOffset: Math.floor(voxOffset),
    pixdim,
    sclSlope,
    sclInter,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    affine: chooseAffine(h, dims, pixdim),
    intentCode: h.intent_code,
  };
}

/** The affine as NIfTI specifies: sform where sform_code > 0, else the qform, else pixdim. */
function chooseAffine(h: NIFTI1 | NIFTI2, dims: Vec3, pixdim: Vec3): Mat4 {
  if (h.sform_code > 0 && h.affine && h.affine.length >= 3) {
    return [...h.affine.slice(0, 3).map((row) => row.slice(0, 4).map(Number)), [0, 0, 0, 1]];
  }
  if (h.qform_code > 0) {
    const qfac = h.pixDims[0] < 0 ? -1 : 1;
    return qformAffine([h.quatern_b, h.quatern_c, h.quatern_d], [h.qoffset_x, h.qoffset_y, h.qoffset_z], pixdim, qfac);
  }
  return baseAffine(dims, pixdim);
}

/** Reads a whole NIfTI file: the first frame of a 4D file, or every frame with `allFrames`. */
export function readNifti(bytes: Uint8Array, options: ReadOptions = {}): Volume {
  const header = readNiftiHeader(bytes);
  const { dims, datatype, voxOffset } = header;
  const frameCount = dims[0] * dims[1] * dims[2];
  const count = options.allFrames ? frameCount * header.frames : frameCount;
  const dataBytes = count * BYTES_PER_VOXEL[datatype];
  checkAllocation(dataBytes, `a ${dims.join('×')} ${datatype} volume`, options.maxBytes);
  const needed = voxOffset + dataBytes;
  const compressed = isGzip(bytes);
  const raw = compressed ? gunzipBounded(bytes, needed) : bytes;
  if (raw.length < needed) {
    throw new VolumeError(
      'truncated',
      `the image data is shorter than the header says: ${Math.max(0, raw.length - voxOffset)} of ${dataBytes} bytes (${dims.join('×')} ${datatype})`,
    );
  }
  // Inflated bytes are ours: view them in place. The caller's bytes are copied, never changed.
  const voxels = (compressed ? adoptVoxels : copyVoxels)(raw, voxOffset, datatype, count, header.littleEndian);
  return {
    format: header.format,
    dims,
    spacing: header.pixdim,
    datatype,
    data: options.allFrames ? voxels.subarray(0, frameCount) : voxels,
    ...(options.allFrames ? { allFrames: voxels } : {}),
    sclSlope: header.sclSlope,
    sclInter: header.sclInter,
    affine: header.affine,
    frames: header.frames,
  };
}

/** An ArrayBuffer holding exactly these bytes (nifti-reader-js wants one). */
function exactArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}
