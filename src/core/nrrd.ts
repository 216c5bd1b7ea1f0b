/**
 * NRRD reading (`.nrrd` with an attached header, `.nhdr` with a detached data file), our own
 * small parser: nrrd-js cannot gunzip, and nearly every real NRRD is gzip. Encodings raw,
 * gzip, ascii and hex; every scalar type; both byte orders; `space` with `space directions`
 * and `space origin` turned into the voxel-to-RAS affine; 3D Slicer `.seg.nrrd` segments.
 *
 * Every number the header gives is parsed strictly (`byte skip: abc` is an error, not 0); ascii
 * values must fit the type; a non-spatial axis holds at most MAX_LIST_AXIS layers or frames; the
 * affine is always finite and invertible (unusable directions fall back to axis-aligned voxels,
 * with a warning).
 */
import { BYTES_PER_VOXEL, adoptVoxels, typedArrayOf, voxelsOf, type DataType, type VoxelArray } from './datatypes';
import { VolumeError } from './errors';
import { affineProblem, completeDirections, type Mat4, type Vec3 } from './geometry';
import { checkAllocation, gunzipInto, gunzipIntoAsync, inflateTarget, isGzip, requireFilled } from './gzip';
import type { ReadOptions, SegmentInfo, Volume } from './volume';
import type { VolumeGrid, VolumeHeader } from './voxelStream';

/**
 * The most elements a non-spatial axis (Slicer's layers, components, time frames) may have:
 * each layer becomes an array of its own, and a header asking for millions would hang the
 * reader long before memory ran out.
 */
export const MAX_LIST_AXIS = 1024;

/** Every spelling of each scalar type the NRRD format allows. */
const TYPE_NAMES: Record<string, DataType> = {};
for (const [type, names] of Object.entries({
  int8: ['signed char', 'int8', 'int8_t'],
  uint8: ['uchar', 'unsigned char', 'uint8', 'uint8_t'],
  int16: ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t'],
  uint16: ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t'],
  int32: ['int', 'signed int', 'int32', 'int32_t'],
  uint32: ['uint', 'unsigned int', 'uint32', 'uint32_t'],
  float32: ['float'],
  float64: ['double'],
}) as [DataType, string[]][]) {
  for (const name of names) TYPE_NAMES[name] = type;
}
const UNSUPPORTED_TYPES = new Set([
  'longlong', 'long long', 'long long int', 'signed long long', 'signed long long int', 'int64', 'int64_t',
  'ulonglong', 'unsigned long long', 'unsigned long long int', 'uint64', 'uint64_t', 'block',
]);

/** Range of each integer type, for ascii values. */
const INTEGER_RANGE: Partial<Record<DataType, [number, number]>> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};
const FLOAT32_MAX = 3.4028234663852886e38;

/** World frames NRRD names, as the sign of each RAS axis: LPS = (−1, −1, +1). */
const SPACES: Record<string, Vec3> = {
  'right-anterior-superior': [1, 1, 1],
  'left-anterior-superior': [-1, 1, 1],
  'left-posterior-superior': [-1, -1, 1],
  'right-anterior-superior-time': [1, 1, 1],
  'left-anterior-superior-time': [-1, 1, 1],
  'left-posterior-superior-time': [-1, -1, 1],
  RAS: [1, 1, 1],
  LAS: [-1, 1, 1],
  LPS: [-1, -1, 1],
  RAST: [1, 1, 1],
  LAST: [-1, 1, 1],
  LPST: [-1, -1, 1],
  // Not anatomical: the coordinates are taken as they are.
  'scanner-xyz': [1, 1, 1],
  'scanner-xyz-time': [1, 1, 1],
  '3D-right-handed': [1, 1, 1],
  '3D-right-handed-time': [1, 1, 1],
  '3D-left-handed': [1, 1, 1],
  '3D-left-handed-time': [1, 1, 1],
};

/** A parsed NRRD header: the fields (lower-cased names) and key/value pairs. */
export interface NrrdHeader {
  fields: Map<string, string>;
  keyValues: Map<string, string>;
  /** Byte offset of the data in the file (attached header), or -1 for a detached header without data. */
  dataOffset: number;
}

/** Bytes an NRRD header may take: its empty line is looked for in these. */
const NRRD_HEADER_LIMIT = 4 * 1024 * 1024;

/**
 * Where the header ends: at its first empty line (LF LF, or LF CR LF), with the data after it;
 * undefined where the bytes (up to 4 MiB of them) hold none.
 */
export function nrrdHeaderEnd(bytes: Uint8Array): { end: number; dataOffset: number } | undefined {
  const limit = Math.min(bytes.length, NRRD_HEADER_LIMIT);
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== 0x0a) continue;
    if (bytes[i + 1] === 0x0a) return { end: i, dataOffset: i + 2 };
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) return { end: i, dataOffset: i + 3 };
  }
  return undefined;
}

/** Reads the text header. `bytes` is the whole file. */
export function parseNrrdHeader(bytes: Uint8Array): NrrdHeader {
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (!/^NRRD000[1-5]$/.test(magic)) {
    throw new VolumeError('bad-magic', 'not a NRRD file: it does not start with "NRRD0001".."NRRD0005"');
  }
  // The header ends at the first empty line; a detached header may end with the file.
  const found = nrrdHeaderEnd(bytes);
  const end = found?.end ?? Math.min(bytes.length, NRRD_HEADER_LIMIT);
  const dataOffset = found?.dataOffset ?? -1;
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, end));
  const fields = new Map<string, string>();
  const keyValues = new Map<string, string>();
  for (const rawLine of text.split(/\r?\n/).slice(1)) {
    const line = rawLine.replace(/\r$/, '');
    if (line === '' || line.startsWith('#')) continue;
    const kv = line.indexOf(':=');
    const field = line.indexOf(': ');
    if (kv >= 0 && (field < 0 || kv < field)) {
      keyValues.set(line.slice(0, kv), line.slice(kv + 2));
    } else if (field >= 0) {
      fields.set(normalizeFieldName(line.slice(0, field)), line.slice(field + 2).trim());
    } else if (/^[a-z ]+:$/i.test(line.trim())) {
      fields.set(normalizeFieldName(line.trim().slice(0, -1)), '');
    } else {
      throw new VolumeError('bad-header', `NRRD header line is not "field: value" nor "key:=value": "${line.slice(0, 80)}"`);
    }
  }
  return { fields, keyValues, dataOffset };
}

function normalizeFieldName(name: string): string {
  const lower = name.trim().toLowerCase();
  const aliases: Record<string, string> = {
    datafile: 'data file',
    lineskip: 'line skip',
    byteskip: 'byte skip',
    spacedimension: 'space dimension',
    spacedirections: 'space directions',
    spaceorigin: 'space origin',
    spaceunits: 'space units',
  };
  return aliases[lower.replace(/ /g, '')] ?? lower;
}

/**
 * Reads the file a detached header names (relative to the header's folder). The reader may view
 * and change the bytes it returns: return a fresh array.
 */
export type SiblingReader = (name: string) => Uint8Array;
/** `SiblingReader` that does not block. */
export type AsyncSiblingReader = (name: string) => Promise<Uint8Array>;

// ---------------------------------------------------------------- strict numbers

const REAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;
const INTEGER = /^[+-]?\d+$/;

/** A decimal number (`nan`, `inf` where `nonFinite`), or undefined where `text` is anything else. */
function strictReal(text: string, nonFinite: boolean): number | undefined {
  if (REAL.test(text)) return Number(text);
  if (nonFinite && NON_FINITE.test(text)) {
    const negative = text.startsWith('-');
    return /nan/i.test(text) ? NaN : negative ? -Infinity : Infinity;
  }
  return undefined;
}

/** The integer a header field holds, in [min, max]; anything else (`abc`, `1.5`, `0x10`, empty) is an error. */
function integerField(name: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = INTEGER.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    throw new VolumeError('bad-header', `NRRD field "${name}: ${text}" must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** A parenthesised vector "(x,y,z)" of numbers (nan and inf allowed; the affine check decides). */
function parseVector(text: string, what: string): number[] {
  const match = /^\((.*)\)$/.exec(text.trim());
  const values = match ? match[1].split(',').map((v) => strictReal(v.trim(), true)) : [undefined];
  if (values.some((v) => v === undefined)) throw new VolumeError('bad-header', `NRRD ${what} "${text}" is not a vector of numbers`);
  return values as number[];
}

// ---------------------------------------------------------------- the plan

/** What reading the data needs, all from the header. */
interface NrrdPlan {
  header: NrrdHeader;
  datatype: DataType;
  sizes: number[];
  layout: { spatial: number[]; list?: number };
  dims: Vec3;
  /** Values in the file (every axis), and their bytes. */
  total: number;
  dataBytes: number;
  encoding: 'raw' | 'gzip' | 'ascii' | 'hex';
  littleEndian: boolean;
  lineSkip: number;
  /** Bytes skipped before the data (after inflating, for gzip); −1: the data ends the file (raw only). */
  byteSkip: number;
  /** The detached data file the header names, if any. */
  dataFile?: string;
  affine: Mat4;
  warnings: string[];
}

function planNrrd(bytes: Uint8Array, options: ReadOptions): NrrdPlan {
  const header = parseNrrdHeader(bytes);
  const { fields } = header;
  const field = (name: string): string => {
    const value = fields.get(name);
    if (value === undefined) throw new VolumeError('bad-header', `NRRD header has no "${name}" field`);
    return value;
  };

  const typeName = field('type').toLowerCase().replace(/\s+/g, ' ');
  const datatype = TYPE_NAMES[typeName];
  if (!datatype) {
    if (UNSUPPORTED_TYPES.has(typeName)) {
      throw new VolumeError('unsupported-datatype', `unsupported datatype "${typeName}": only 8-, 16- and 32-bit integers, float and double can be read`);
    }
    throw new VolumeError('bad-header', `NRRD header has an unknown type "${typeName}"`);
  }

  const dimensionText = field('dimension');
  if (!INTEGER.test(dimensionText) || Number(dimensionText) < 1 || Number(dimensionText) > 16) {
    throw new VolumeError('bad-dimensions', `invalid NRRD dimension ${dimensionText}`);
  }
  const dimension = Number(dimensionText);
  const sizeTexts = field('sizes').split(/\s+/);
  const sizes = sizeTexts.map((t) => (INTEGER.test(t) ? Number(t) : NaN));
  if (sizes.length !== dimension || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1)) {
    throw new VolumeError('bad-dimensions', `invalid dimensions in the header: sizes "${field('sizes')}" for dimension ${dimension}`);
  }

  const layout = axisLayout(fields, sizes);
  if (layout.list !== undefined && sizes[layout.list] > MAX_LIST_AXIS) {
    throw new VolumeError(
      'too-large',
      `the NRRD's non-spatial axis ${layout.list} has ${sizes[layout.list]} elements: at most ${MAX_LIST_AXIS} layers or frames are read`,
    );
  }
  const dims: Vec3 = [1, 1, 1];
  layout.spatial.forEach((axis, d) => (dims[d] = sizes[axis]));
  const total = sizes.reduce((a, b) => a * b, 1);
  const dataBytes = total * BYTES_PER_VOXEL[datatype];
  checkAllocation(dataBytes, `a ${sizes.join('×')} ${datatype} NRRD`, options.maxBytes);

  const encodingName = (fields.get('encoding') ?? 'raw').toLowerCase();
  const encoding = ENCODINGS[encodingName];
  if (!encoding) {
    if (encodingName === 'bzip2' || encodingName === 'bz2') {
      throw new VolumeError('unsupported-encoding', 'NRRD encoding "bzip2" is not supported: save the volume with gzip or raw encoding');
    }
    throw new VolumeError('unsupported-encoding', `NRRD encoding "${encodingName}" is not supported (raw, gzip, ascii and hex are)`);
  }
  const endian = (fields.get('endian') ?? 'little').toLowerCase();
  if (endian !== 'little' && endian !== 'big') throw new VolumeError('bad-header', `NRRD field "endian: ${endian}" must be little or big`);
  const lineSkip = integerField('line skip', fields.get('line skip') ?? '0', 0);
  const byteSkip = integerField('byte skip', fields.get('byte skip') ?? '0', -1);
  if (byteSkip === -1 && encoding !== 'raw') {
    throw new VolumeError('bad-header', `NRRD "byte skip: -1" (the data ends the file) works only with raw encoding, not ${encodingName}`);
  }
  const dataFile = fields.get('data file');
  if (dataFile !== undefined && (/^LIST\b/.test(dataFile) || dataFile.includes('%'))) {
    throw new VolumeError('unsupported-format', `NRRD "data file: ${dataFile}" (several data files) is not supported; use a single data file`);
  }
  const warnings: string[] = [];
  const affine = affineFromHeader(fields, layout.spatial, sizes.length, warnings);
  return {
    header,
    datatype,
    sizes,
    layout,
    dims,
    total,
    dataBytes,
    encoding,
    littleEndian: endian === 'little',
    lineSkip,
    byteSkip,
    dataFile,
    affine,
    warnings,
  };
}

const ENCODINGS: Record<string, NrrdPlan['encoding']> = { raw: 'raw', gzip: 'gzip', gz: 'gzip', ascii: 'ascii', text: 'ascii', txt: 'ascii', hex: 'hex' };

// ---------------------------------------------------------------- reading

/**
 * Reads a NRRD volume. `readSibling` supplies detached data files (`.nhdr`); it is not called
 * for attached headers. `bytesOwned`: the bytes were read for this call, and the volume may view
 * them in place; otherwise they are never changed.
 */
export function readNrrd(bytes: Uint8Array, readSibling?: SiblingReader, options: ReadOptions = {}, bytesOwned = false): Volume {
  const plan = planNrrd(bytes, options);
  const source = plan.dataFile === undefined ? attachedData(plan, bytes, bytesOwned) : detachedData(plan.dataFile, readSibling);
  const data = skipLines(plan, source.bytes);
  const all = plan.encoding === 'gzip' ? inflated(plan, data, gunzipInto) : decodeData(plan, data, source.owned);
  return nrrdVolume(plan, all, options);
}

/** `readNrrd`, with the data file read and gzip inflated without blocking the event loop. */
export async function readNrrdAsync(bytes: Uint8Array, readSibling?: AsyncSiblingReader, options: ReadOptions = {}, bytesOwned = false): Promise<Volume> {
  const plan = planNrrd(bytes, options);
  const source = plan.dataFile === undefined ? attachedData(plan, bytes, bytesOwned) : await detachedDataAsync(plan.dataFile, readSibling);
  const data = skipLines(plan, source.bytes);
  const all = plan.encoding === 'gzip' ? await inflatedAsync(plan, data) : decodeData(plan, data, source.owned);
  return nrrdVolume(plan, all, options);
}

/** The data bytes and whether the reader owns them (may view them in place) or must copy. */
interface DataSource {
  bytes: Uint8Array;
  owned: boolean;
}

function attachedData(plan: NrrdPlan, file: Uint8Array, owned: boolean): DataSource {
  if (plan.header.dataOffset < 0) {
    throw new VolumeError('truncated', 'the NRRD header never ends (no empty line) and names no data file: the data is missing');
  }
  return { bytes: file.subarray(plan.header.dataOffset), owned };
}

function siblingFailure(name: string, error: unknown): VolumeError {
  // A refused file says which rule refused it; anything else is a data file that cannot be read.
  if (error instanceof VolumeError) return error;
  return new VolumeError('missing-data-file', `the detached data file "${name}" cannot be read (${(error as Error).message})`);
}

function detachedData(name: string, readSibling?: SiblingReader): DataSource {
  if (!readSibling) throw new VolumeError('missing-data-file', `the detached data file "${name}" cannot be read from here`);
  try {
    return { bytes: readSibling(name), owned: true };
  } catch (error) {
    throw siblingFailure(name, error);
  }
}

async function detachedDataAsync(name: string, readSibling?: AsyncSiblingReader): Promise<DataSource> {
  if (!readSibling) throw new VolumeError('missing-data-file', `the detached data file "${name}" cannot be read from here`);
  try {
    return { bytes: await readSibling(name), owned: true };
  } catch (error) {
    throw siblingFailure(name, error);
  }
}

function skipLines(plan: NrrdPlan, source: Uint8Array): Uint8Array {
  let data = source;
  for (let skipped = 0; skipped < plan.lineSkip; skipped++) {
    const nl = data.indexOf(0x0a);
    if (nl < 0) throw new VolumeError('truncated', `the data ends before the ${plan.lineSkip} lines the header says to skip`);
    data = data.subarray(nl + 1);
  }
  return data;
}

function checkGzip(data: Uint8Array): void {
  if (!isGzip(data)) throw new VolumeError('corrupt-gzip', 'the NRRD says its data is gzip, but the data does not start with the gzip magic number');
}

/** Gzip data inflated straight into a buffer of the declared size (after `byte skip` bytes). */
function inflated(plan: NrrdPlan, data: Uint8Array, gunzip: typeof gunzipInto): VoxelArray {
  checkGzip(data);
  const out = inflateTarget(data, plan.dataBytes, plan.byteSkip);
  requireFilled(gunzip(data, out, plan.byteSkip), plan.dataBytes);
  return adoptVoxels(out, 0, plan.datatype, plan.total, plan.littleEndian);
}

async function inflatedAsync(plan: NrrdPlan, data: Uint8Array): Promise<VoxelArray> {
  checkGzip(data);
  const out = inflateTarget(data, plan.dataBytes, plan.byteSkip);
  requireFilled(await gunzipIntoAsync(data, out, plan.byteSkip), plan.dataBytes);
  return adoptVoxels(out, 0, plan.datatype, plan.total, plan.littleEndian);
}

/** Raw, ascii and hex data. */
function decodeData(plan: NrrdPlan, data: Uint8Array, owned: boolean): VoxelArray {
  const { dataBytes, datatype, total, littleEndian, byteSkip } = plan;
  switch (plan.encoding) {
    case 'raw': {
      const start = byteSkip === -1 ? data.length - dataBytes : byteSkip;
      if (start < 0 || data.length - start < dataBytes) throw truncated(Math.max(0, data.length - Math.max(0, start)), dataBytes);
      // A data file read for us may be viewed in place; the caller's bytes are copied.
      return voxelsOf(data, start, datatype, total, littleEndian, owned);
    }
    case 'ascii':
      return parseAscii(data.subarray(byteSkip), datatype, total);
    case 'hex':
      return adoptVoxels(parseHex(data.subarray(byteSkip), dataBytes), 0, datatype, total, littleEndian);
    default:
      throw new Error(`${plan.encoding} data is inflated, not decoded here`);
  }
}

/** The grid a plan describes: everything but the voxels. */
function nrrdGrid(plan: NrrdPlan): VolumeGrid {
  const { affine, layout, sizes } = plan;
  const grid: VolumeGrid = {
    format: 'nrrd',
    dims: plan.dims,
    spacing: [0, 1, 2].map((c) => Math.hypot(affine[0][c], affine[1][c], affine[2][c])) as Vec3,
    datatype: plan.datatype,
    sclSlope: 1,
    sclInter: 0,
    affine,
    frames: layout.list !== undefined ? sizes[layout.list] : 1,
    warnings: plan.warnings,
  };
  const segments = slicerSegments(plan.header.keyValues);
  if (segments.length) grid.segments = segments;
  return grid;
}

function nrrdVolume(plan: NrrdPlan, all: VoxelArray, options: ReadOptions): Volume {
  const { dims, layout, sizes } = plan;
  const volume: Volume = { ...nrrdGrid(plan), data: all };
  const count = dims[0] * dims[1] * dims[2];
  if (layout.list !== undefined) {
    // One non-spatial axis: fastest (interleaved components, e.g. Slicer's layers) or slowest (time).
    const n = sizes[layout.list];
    if (layout.list === 0) {
      volume.layers = deinterleave(all, n, count);
      volume.data = volume.layers[0];
    } else {
      volume.data = all.subarray(0, count);
    }
    if (options.allFrames) volume.allFrames = all;
  }
  return volume;
}

/**
 * What a NRRD file holds, from its header (`prefix`: the file's first bytes, the whole header
 * among them; the file is `fileSize` bytes): the grid, and where the first frame's voxels lie
 * when they can be streamed (raw or gzip data of one spatial volume or of frames after one
 * another), or why not (ascii, hex, interleaved layers, skipped lines).
 */
export function readNrrdHeaderOnly(prefix: Uint8Array, fileSize: number, options: ReadOptions = {}): VolumeHeader {
  const plan = planNrrd(prefix, options);
  const grid = nrrdGrid(plan);
  const attached = plan.dataFile === undefined;
  if (attached && plan.header.dataOffset < 0) {
    throw new VolumeError('truncated', 'the NRRD header never ends (no empty line) and names no data file: the data is missing');
  }
  const count = plan.dims[0] * plan.dims[1] * plan.dims[2];
  const byteLength = count * BYTES_PER_VOXEL[plan.datatype];
  const unstreamable = (why: string): VolumeHeader => ({ ...grid, voxels: { unstreamable: why } });
  if (plan.encoding === 'ascii' || plan.encoding === 'hex') return unstreamable(`${plan.encoding} encoding is parsed, not streamed`);
  if (plan.layout.list === 0) return unstreamable('the layers are interleaved');
  if (plan.lineSkip > 0) return unstreamable('the header skips lines of the data');
  const fileOffset = attached ? plan.header.dataOffset : 0;
  if (plan.encoding === 'gzip') {
    return { ...grid, voxels: { dataFile: plan.dataFile, fileOffset, compression: 'gzip', skip: plan.byteSkip, byteLength, littleEndian: plan.littleEndian } };
  }
  if (plan.byteSkip === -1) {
    // The data ends the file; a detached file's size is not known here.
    if (!attached) return unstreamable('"byte skip: -1" needs the data file\'s size');
    const start = fileSize - plan.dataBytes;
    if (start < fileOffset) throw truncated(Math.max(0, fileSize - fileOffset), plan.dataBytes);
    return { ...grid, voxels: { fileOffset: start, compression: 'none', skip: 0, byteLength, littleEndian: plan.littleEndian } };
  }
  if (attached && fileSize - fileOffset - plan.byteSkip < plan.dataBytes) throw truncated(Math.max(0, fileSize - fileOffset - plan.byteSkip), plan.dataBytes);
  return { ...grid, voxels: { dataFile: plan.dataFile, fileOffset: fileOffset + plan.byteSkip, compression: 'none', skip: 0, byteLength, littleEndian: plan.littleEndian } };
}

/** Which NRRD axes are spatial (up to 3, in order) and which one, if any, is not. */
function axisLayout(fields: Map<string, string>, sizes: number[]): { spatial: number[]; list?: number } {
  const kinds = fields.get('kinds')?.split(/\s+/).map((k) => k.toLowerCase());
  if (kinds && kinds.length !== sizes.length) {
    throw new VolumeError('bad-header', `NRRD kinds "${fields.get('kinds')}" name ${kinds.length} axes, not ${sizes.length}`);
  }
  const directions = fields.get('space directions') ? splitDirections(fields.get('space directions')!) : undefined;
  const isSpatial = (axis: number): boolean => {
    if (directions) return directions[axis] !== 'none';
    if (kinds) return kinds[axis] === 'domain' || kinds[axis] === 'space';
    return true;
  };
  const spatial: number[] = [];
  const other: number[] = [];
  sizes.forEach((_, axis) => (isSpatial(axis) ? spatial : other).push(axis));
  if (spatial.length > 3 || spatial.length === 0) {
    throw new VolumeError('bad-dimensions', `a ${sizes.length}-dimensional NRRD with ${spatial.length} spatial axes cannot be read as a 3D volume`);
  }
  if (other.length > 1) {
    throw new VolumeError('bad-dimensions', `a NRRD with ${other.length} non-spatial axes cannot be read as a 3D volume`);
  }
  if (other.length === 1 && other[0] !== 0 && other[0] !== sizes.length - 1) {
    throw new VolumeError('bad-dimensions', 'the non-spatial axis of this NRRD sits between spatial axes; it cannot be read');
  }
  return other.length ? { spatial, list: other[0] } : { spatial };
}

function splitDirections(text: string): string[] {
  if (text.replace(/\([^)]*\)|none|\s/g, '') !== '') {
    throw new VolumeError('bad-header', `NRRD space directions "${text}" hold something other than vectors and "none"`);
  }
  return text.match(/\([^)]*\)|none/g) ?? [];
}

/** The number of coordinates the header's world space has: `space dimension`, else the `space` name's. */
function spaceDimension(fields: Map<string, string>): number | undefined {
  const given = fields.get('space dimension');
  if (given !== undefined) return integerField('space dimension', given, 1, 4);
  const space = fields.get('space');
  if (space === undefined) return undefined;
  return /-time$|^[A-Z]{3}T$/.test(space) ? 4 : 3;
}

/**
 * Voxel → RAS affine from `space`, `space directions`, `space origin` (or `spacings`). A 2D or
 * 1D image gets slice normals perpendicular to its axes. Directions that give no invertible
 * matrix (a zero vector, parallel ones, a NaN) are replaced by axis-aligned voxels of their
 * lengths, with a warning.
 */
function affineFromHeader(fields: Map<string, string>, spatial: number[], axisCount: number, warnings: string[]): Mat4 {
  const spaceName = fields.get('space');
  let sign: Vec3 = [-1, -1, 1]; // ITK's reading of NRRDs without a space: LPS.
  if (spaceName !== undefined) {
    const known = SPACES[spaceName] ?? SPACES[spaceName.toLowerCase()];
    if (!known) throw new VolumeError('bad-header', `NRRD space "${spaceName}" is not one this reader knows`);
    sign = known;
  }
  const coordinates = spaceDimension(fields);
  const checkLength = (vector: number[], what: string) => {
    if (coordinates !== undefined && vector.length !== coordinates) {
      throw new VolumeError('bad-header', `NRRD ${what} has ${vector.length} coordinates where the space has ${coordinates}`);
    }
  };
  let columns: number[][] = [];
  const directionsText = fields.get('space directions');
  if (directionsText) {
    const all = splitDirections(directionsText);
    if (all.length !== axisCount) {
      throw new VolumeError('bad-header', `NRRD space directions give ${all.length} vectors for ${axisCount} axes`);
    }
    for (const axis of spatial) {
      const vector = parseVector(all[axis], 'space direction');
      checkLength(vector, `space direction "${all[axis]}"`);
      columns.push([vector[0] ?? 0, vector[1] ?? 0, vector[2] ?? 0]);
    }
  } else {
    const spacingsText = fields.get('spacings');
    const spacings = spacingsText === undefined ? [] : spacingsText.split(/\s+/).map((t) => strictReal(t, true));
    if (spacingsText !== undefined && (spacings.length !== axisCount || spacings.some((v) => v === undefined))) {
      throw new VolumeError('bad-header', `NRRD spacings "${spacingsText}" must be ${axisCount} numbers (nan for a non-spatial axis)`);
    }
    spatial.forEach((axis, d) => {
      const s = spacings[axis];
      const column = [0, 0, 0];
      const usable = s !== undefined && Number.isFinite(s) && s !== 0;
      if (s !== undefined && !usable) warnings.push(`the NRRD spacing of axis ${axis} is ${s}, not a voxel size: 1 mm is used`);
      column[d] = usable ? s : 1;
      columns.push(column);
    });
  }
  let origin = [0, 0, 0];
  const originText = fields.get('space origin');
  if (originText) {
    const vector = parseVector(originText, 'space origin');
    checkLength(vector, 'space origin');
    origin = [vector[0] ?? 0, vector[1] ?? 0, vector[2] ?? 0];
    if (origin.some((v) => !Number.isFinite(v))) {
      warnings.push(`the NRRD space origin ${originText} is not a point: the origin is put at 0`);
      origin = [0, 0, 0];
    }
  }
  const build = (cols: number[][]): Mat4 => [
    ...[0, 1, 2].map((r) => [sign[r] * cols[0][r], sign[r] * cols[1][r], sign[r] * cols[2][r], sign[r] * origin[r]]),
    [0, 0, 0, 1],
  ];
  const complete = completeDirections(columns);
  const m = complete ? build(complete) : undefined;
  const problem = m ? affineProblem(m) : 'two of its voxel axes are parallel or have no length';
  if (!problem) return m!;
  // Axis-aligned voxels of the directions' lengths (1 mm where a length is unusable).
  columns = [0, 1, 2].map((d) => {
    const length = d < columns.length ? Math.hypot(columns[d][0], columns[d][1], columns[d][2]) : 1;
    const column = [0, 0, 0];
    column[d] = Number.isFinite(length) && length > 0 ? length : 1;
    return column;
  });
  warnings.push(`the NRRD space directions are not usable (${problem}): axis-aligned voxels of their lengths are used, so the orientation shown is not the file's`);
  return build(columns);
}

function truncated(have: number, need: number): VolumeError {
  return new VolumeError('truncated', `the image data is shorter than the header says: ${have} of ${need} bytes`);
}

/**
 * Parses ascii values: integers for integer types, within the type's range; decimal numbers
 * (and nan, inf) for float and double, within float's range for float. Anything else is an error.
 */
function parseAscii(bytes: Uint8Array, datatype: DataType, total: number): VoxelArray {
  // Each value takes a character and all but the last a separator: refuse what cannot hold them before allocating.
  if (bytes.length < 2 * total - 1) {
    throw new VolumeError('truncated', `the ascii data (${bytes.length} bytes) is too short for the ${total} values the header says`);
  }
  const out = typedArrayOf(datatype, new ArrayBuffer(total * BYTES_PER_VOXEL[datatype]));
  const range = INTEGER_RANGE[datatype];
  let n = 0;
  let i = 0;
  const len = bytes.length;
  while (n < total && i < len) {
    while (i < len && (bytes[i] <= 0x20 || bytes[i] === 0x2c)) i++;
    const start = i;
    while (i < len && bytes[i] > 0x20 && bytes[i] !== 0x2c) i++;
    if (i === start) break;
    const text = String.fromCharCode(...bytes.subarray(start, Math.min(i, start + 64)));
    const value = strictReal(text, !range);
    if (value === undefined || i - start > 64) {
      throw new VolumeError('bad-header', `the ascii data holds "${text.slice(0, 20)}" at byte ${start}, which is not a number`);
    }
    if (range ? !(Number.isInteger(value) && value >= range[0] && value <= range[1]) : datatype === 'float32' && Number.isFinite(value) && Math.abs(value) > FLOAT32_MAX) {
      throw new VolumeError('bad-header', `the ascii value ${text} at byte ${start} does not fit the type ${datatype}${range ? ` (integers ${range[0]} to ${range[1]})` : ''}`);
    }
    out[n++] = value;
  }
  if (n < total) throw new VolumeError('truncated', `the ascii data holds ${n} of the ${total} values the header says`);
  return out;
}

/** Parses hex data: pairs of hex digits, white space between them allowed, nothing else. */
function parseHex(bytes: Uint8Array, dataBytes: number): Uint8Array {
  if (bytes.length < 2 * dataBytes) throw truncated(Math.floor(bytes.length / 2), dataBytes);
  const out = new Uint8Array(dataBytes);
  let n = 0;
  let high = -1;
  for (let i = 0; i < bytes.length && n < dataBytes; i++) {
    const c = bytes[i];
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (v < 0) {
      if (c <= 0x20) continue;
      throw new VolumeError('bad-header', `the hex data holds "${String.fromCharCode(c)}" at byte ${i}, which is not a hex digit`);
    }
    if (high < 0) high = v;
    else {
      out[n++] = (high << 4) | v;
      high = -1;
    }
  }
  if (n < dataBytes) throw truncated(n, dataBytes);
  return out;
}

function deinterleave(all: VoxelArray, n: number, count: number): VoxelArray[] {
  const Ctor = all.constructor as new (length: number) => VoxelArray;
  const layers: VoxelArray[] = [];
  for (let l = 0; l < n; l++) {
    const layer = new Ctor(count);
    for (let v = 0, s = l; v < count; v++, s += n) layer[v] = all[s];
    layers.push(layer);
  }
  return layers;
}

/** 3D Slicer segment metadata from `Segment<i>_*` key/value pairs, by index. */
export function slicerSegments(keyValues: Map<string, string>): SegmentInfo[] {
  const byIndex = new Map<number, Map<string, string>>();
  for (const [key, value] of keyValues) {
    const m = /^Segment(\d+)_(\w+)$/.exec(key);
    if (!m) continue;
    const index = Number(m[1]);
    if (!byIndex.has(index)) byIndex.set(index, new Map());
    byIndex.get(index)!.set(m[2], value);
  }
  return [...byIndex.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([index, f]) => {
      const color = (f.get('Color') ?? '').split(/\s+/).map(Number);
      const labelValue = f.get('LabelValue');
      const layer = f.get('Layer');
      const segment: SegmentInfo = {
        value: labelValue === undefined ? index + 1 : integerField(`Segment${index}_LabelValue`, labelValue.trim(), 0, 65535),
        name: f.get('Name') ?? `Segment ${index + 1}`,
        color: color.length === 3 && color.every(Number.isFinite) ? (color as [number, number, number]) : [0.5, 0.5, 0.5],
        layer: layer === undefined ? 0 : integerField(`Segment${index}_Layer`, layer.trim(), 0, MAX_LIST_AXIS - 1),
      };
      const id = f.get('ID');
      if (id !== undefined) segment.id = id;
      return segment;
    });
}
