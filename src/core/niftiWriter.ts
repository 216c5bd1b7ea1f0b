/** Writing label maps (and other scalar volumes) as NIfTI-1, gzip-compressed. */
import * as zlib from 'node:zlib';
import { BYTES_PER_VOXEL, dataTypeOf, type VoxelArray } from './datatypes';
import { affineToQuaternion, type Mat4, type Vec3 } from './geometry';
import { NIFTI_INTENT_LABEL, niftiDatatypeCode } from './nifti';
import type { XformCodes } from './volume';

export interface NiftiWriteOptions {
  dims: Vec3;
  /** Voxel → RAS mm. Written exactly as the sform and, as nearly as a qform can, as the qform. */
  affine: Mat4;
  data: VoxelArray;
  /** Extra frames along the 4th dimension (e.g. per-class probabilities), each dims-sized, after `data`. */
  frames?: number;
  /** NIFTI_INTENT_LABEL for label maps (the default), 0 for plain images. */
  intentCode?: number;
  description?: string;
  sclSlope?: number;
  sclInter?: number;
  /** gzip level 1–9; 6 by default. */
  level?: number;
  /**
   * The qform_code and sform_code of the volume this file lies on (see writtenXformCodes): a label
   * map or prediction says its affine maps to the same space as its image's. Default: aligned (2).
   */
  xformCodes?: XformCodes;
}

/**
 * The codes to write for a file on the grid of a volume with `source` codes: the source's, and
 * where it gave only one of the two (both matrices are written), that one for both. A source with
 * neither keeps neither, so every reader falls back to the voxel sizes as it did for the source.
 */
export function writtenXformCodes(source: XformCodes | undefined): XformCodes {
  if (!source) return { qform: XFORM_ALIGNED_ANAT, sform: XFORM_ALIGNED_ANAT };
  const qform = source.qform > 0 ? source.qform : source.sform;
  const sform = source.sform > 0 ? source.sform : source.qform;
  return { qform: Math.max(0, qform), sform: Math.max(0, sform) };
}

const HEADER_BYTES = 348;
const VOX_OFFSET = 352;
/** NIFTI_XFORM_ALIGNED_ANAT: the sform and qform map to a frame aligned with the source scan. */
const XFORM_ALIGNED_ANAT = 2;

/** Encodes a NIfTI-1 single file (`n+1`), header and voxels, little-endian, uncompressed. */
export function encodeNifti1(options: NiftiWriteOptions): Uint8Array {
  const header = niftiHeader(options);
  const out = new Uint8Array(VOX_OFFSET + options.data.byteLength);
  out.set(header);
  out.set(voxelBytes(options.data), VOX_OFFSET);
  return out;
}

function voxelBytes(data: VoxelArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The header of a NIfTI-1 single file, up to where its voxels start (VOX_OFFSET bytes). */
function niftiHeader(options: NiftiWriteOptions): Uint8Array {
  const { dims, affine, data } = options;
  const frames = options.frames ?? 1;
  const datatype = dataTypeOf(data);
  const bpv = BYTES_PER_VOXEL[datatype];
  const count = dims[0] * dims[1] * dims[2] * frames;
  if (data.length !== count) throw new RangeError(`voxel array has ${data.length} values, the dimensions need ${count}`);
  if ([...dims, frames].some((n) => n > 32767)) throw new RangeError(`NIfTI-1 holds at most 32767 voxels per axis, not ${dims.join('×')}`);
  const out = new Uint8Array(VOX_OFFSET);
  const view = new DataView(out.buffer);
  const q = affineToQuaternion(affine);
  view.setInt32(0, HEADER_BYTES, true);
  // dim
  view.setInt16(40, frames > 1 ? 4 : 3, true);
  [dims[0], dims[1], dims[2], frames, 1, 1, 1].forEach((n, i) => view.setInt16(40 + 2 * (i + 1), n, true));
  view.setInt16(68, options.intentCode ?? NIFTI_INTENT_LABEL, true);
  view.setInt16(70, niftiDatatypeCode(datatype), true);
  view.setInt16(72, bpv * 8, true);
  // pixdim: qfac, then voxel sizes
  [q.qfac, q.pixdim[0], q.pixdim[1], q.pixdim[2], 1, 1, 1, 1].forEach((v, i) => view.setFloat32(76 + 4 * i, v, true));
  view.setFloat32(108, VOX_OFFSET, true);
  view.setFloat32(112, options.sclSlope ?? 1, true);
  view.setFloat32(116, options.sclInter ?? 0, true);
  out[123] = 10; // xyzt_units: mm and seconds
  writeAscii(out, 148, 80, options.description ?? '3D U-Net for VS Code');
  const codes = writtenXformCodes(options.xformCodes);
  view.setInt16(252, codes.qform, true); // qform_code
  view.setInt16(254, codes.sform, true); // sform_code
  view.setFloat32(256, q.quatern[0], true);
  view.setFloat32(260, q.quatern[1], true);
  view.setFloat32(264, q.quatern[2], true);
  view.setFloat32(268, q.offset[0], true);
  view.setFloat32(272, q.offset[1], true);
  view.setFloat32(276, q.offset[2], true);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) view.setFloat32(280 + 16 * r + 4 * c, affine[r][c], true);
  if (options.intentCode === undefined || options.intentCode === NIFTI_INTENT_LABEL) writeAscii(out, 328, 16, 'labels');
  writeAscii(out, 344, 4, 'n+1');
  // bytes 348..351: no extensions
  return out;
}

/** Encodes a gzip-compressed NIfTI-1 file (`.nii.gz`). */
export function encodeNiftiGz(options: NiftiWriteOptions): Uint8Array {
  return zlib.gzipSync(encodeNifti1(options), { level: options.level ?? 6 });
}

/**
 * encodeNiftiGz with the compression on Node's thread pool, streaming the header and then the
 * voxels in place (no uncompressed copy of the file): the calling thread (the extension host)
 * stays free. `options.data` must not change until the promise settles.
 */
export async function encodeNiftiGzAsync(options: NiftiWriteOptions): Promise<Uint8Array> {
  const header = niftiHeader(options);
  const gzip = zlib.createGzip({ level: options.level ?? 6 });
  const chunks: Buffer[] = [];
  gzip.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    gzip.on('end', resolve);
    gzip.on('error', reject);
  });
  gzip.write(header);
  gzip.end(voxelBytes(options.data));
  await done;
  return Buffer.concat(chunks);
}

function writeAscii(out: Uint8Array, offset: number, max: number, text: string): void {
  for (let i = 0; i < Math.min(text.length, max - 1); i++) out[offset + i] = text.charCodeAt(i) & 0x7f;
}
