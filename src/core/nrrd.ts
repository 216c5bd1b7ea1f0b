/**
 * NRRD reading (`.nrrd` with an attached header, `.nhdr` with a detached data file), our own
 * small parser: nrrd-js cannot gunzip, and nearly every real NRRD is gzip. Encodings raw,
 * gzip, ascii and hex; every scalar type; both byte orders; `space` with `space directions`
 * and `space origin` turned into the voxel-to-RAS affine; 3D Slicer `.seg.nrrd` segments.
 */
import { BYTES_PER_VOXEL, adoptVoxels, copyVoxels, typedArrayOf, type DataType, type VoxelArray } from './datatypes';
import { VolumeError } from './errors';
import type { Mat4, Vec3 } from './geometry';
import { checkAllocation, gunzipBounded, isGzip } from './gzip';
import type { ReadOptions, SegmentInfo, Volume } from './volume';

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

/** Reads the text header. `bytes` is the whole file. */
export function parseNrrdHeader(bytes: Uint8Array): NrrdHeader {
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (!/^NRRD000[1-5]$/.test(magic)) {
    throw new VolumeError('bad-magic', 'not a NRRD file: it does not start with "NRRD0001".."NRRD0005"');
  }
  // The header ends at the first empty line; a detached header may end with the file.
  const limit = Math.min(bytes.length, 4 * 1024 * 1024);
  let end = -1;
  let dataOffset = -1;
  for (let i = 0; i < limit; i++) {
    if (bytes[i] !== 0x0a) continue;
    if (bytes[i + 1] === 0x0a) {
      end = i;
      dataOffset = i + 2;
      break;
    }
    if (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a) {
      end = i;
      dataOffset = i + 3;
      break;
    }
  }
  if (end < 0) end = limit;
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

/** Reads the file a detached header names, relative to the header's folder. */
export type SiblingReader = (name: string) => Uint8Array;

/**
 * Reads a NRRD volume. `readSibling` supplies detached data files (`.nhdr`); it is not called
 * for attached headers.
 */
export function readNrrd(bytes: Uint8Array, readSibling?: SiblingReader, options: ReadOptions = {}): Volume {
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

  const dimension = Number(field('dimension'));
  if (!Number.isInteger(dimension) || dimension < 1 || dimension > 16) {
    throw new VolumeError('bad-dimensions', `invalid NRRD dimension ${field('dimension')}`);
  }
  const sizes = field('sizes').split(/\s+/).map(Number);
  if (sizes.length !== dimension || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1)) {
    throw new VolumeError('bad-dimensions', `invalid dimensions in the header: sizes "${field('sizes')}" for dimension ${dimension}`);
  }

  const layout = axisLayout(fields, sizes);
  const dims: Vec3 = [1, 1, 1];
  layout.spatial.forEach((axis, d) => (dims[d] = sizes[axis]));
  const total = sizes.reduce((a, b) => a * b, 1);
  const bytesPer = BYTES_PER_VOXEL[datatype];
  const dataBytes = total * bytesPer;
  checkAllocation(dataBytes, `a ${sizes.join('×')} ${datatype} NRRD`, options.maxBytes);

  const encoding = (fields.get('encoding') ?? 'raw').toLowerCase();
  const littleEndian = (fields.get('endian') ?? 'little').toLowerCase() !== 'big';
  const raw = readEncodedData(header, bytes, encoding, dataBytes, datatype, total, readSibling);
  const all =
    encoding === 'ascii' || encoding === 'text' || encoding === 'txt'
      ? (raw as VoxelArray)
      : (encoding === 'raw' ? copyVoxels : adoptVoxels)(raw as Uint8Array, 0, datatype, total, littleEndian);

  const affine = affineFromHeader(fields, layout.spatial, sizes.length);
  const spacing = [0, 1, 2].map((c) => Math.hypot(affine[0][c], affine[1][c], affine[2][c]) || 1) as Vec3;
  const volume: Volume = {
    format: 'nrrd',
    dims,
    spacing,
    datatype,
    data: all,
    sclSlope: 1,
    sclInter: 0,
    affine,
    frames: 1,
  };

  const count = dims[0] * dims[1] * dims[2];
  if (layout.list !== undefined) {
    // One non-spatial axis: fastest (interleaved components, e.g. Slicer's layers) or slowest (time).
    const n = sizes[layout.list];
    volume.frames = n;
    if (layout.list === 0) {
      volume.layers = deinterleave(all, n, count);
      volume.data = volume.layers[0];
    } else {
      volume.data = all.subarray(0, count);
    }
    if (options.allFrames) volume.allFrames = all;
  }
  const segments = slicerSegments(header.keyValues);
  if (segments.length) volume.segments = segments;
  return volume;
}

/** Which NRRD axes are spatial (up to 3, in order) and which one, if any, is not. */
function axisLayout(fields: Map<string, string>, sizes: number[]): { spatial: number[]; list?: number } {
  const kinds = fields.get('kinds')?.split(/\s+/).map((k) => k.toLowerCase());
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
  return text.match(/\([^)]*\)|none/g) ?? [];
}

function parseVector(text: string, what: string): number[] {
  const inner = text.trim().replace(/^\(|\)$/g, '');
  const values = inner.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isFinite(v))) throw new VolumeError('bad-header', `NRRD ${what} "${text}" is not a vector of numbers`);
  return values;
}

/** Voxel → RAS affine from `space`, `space directions`, `space origin` (or `spacings`). */
function affineFromHeader(fields: Map<string, string>, spatial: number[], axisCount: number): Mat4 {
  const spaceName = fields.get('space');
  let sign: Vec3 = [-1, -1, 1]; // ITK's reading of NRRDs without a space: LPS.
  if (spaceName !== undefined) {
    const known = SPACES[spaceName] ?? SPACES[spaceName.toLowerCase()];
    if (!known) throw new VolumeError('bad-header', `NRRD space "${spaceName}" is not one this reader knows`);
    sign = known;
  }
  const columns: number[][] = [];
  const directionsText = fields.get('space directions');
  if (directionsText) {
    const all = splitDirections(directionsText);
    if (all.length !== axisCount) {
      throw new VolumeError('bad-header', `NRRD space directions give ${all.length} vectors for ${axisCount} axes`);
    }
    for (const axis of spatial) columns.push(parseVector(all[axis], 'space direction'));
  } else {
    const spacings = (fields.get('spacings') ?? '').split(/\s+/).map(Number);
    spatial.forEach((axis, d) => {
      const s = spacings[axis];
      const column = [0, 0, 0];
      column[d] = Number.isFinite(s) && s !== 0 ? s : 1;
      columns.push(column);
    });
  }
  const origin = fields.get('space origin') ? parseVector(fields.get('space origin')!, 'space origin') : [0, 0, 0];
  while (columns.length < 3) {
    // A 2D image: the missing axis is the unit normal.
    const normal = [0, 0, 0];
    normal[columns.length] = 1;
    columns.push(normal);
  }
  const m: Mat4 = [0, 1, 2].map((r) => [
    sign[r] * (columns[0][r] ?? 0),
    sign[r] * (columns[1][r] ?? 0),
    sign[r] * (columns[2][r] ?? 0),
    sign[r] * (origin[r] ?? 0),
  ]);
  m.push([0, 0, 0, 1]);
  return m;
}

function readEncodedData(
  header: NrrdHeader,
  file: Uint8Array,
  encoding: string,
  dataBytes: number,
  datatype: DataType,
  total: number,
  readSibling?: SiblingReader,
): Uint8Array | VoxelArray {
  const { fields } = header;
  let source: Uint8Array;
  const dataFile = fields.get('data file');
  if (dataFile !== undefined) {
    if (/^LIST\b/.test(dataFile) || dataFile.includes('%')) {
      throw new VolumeError('unsupported-format', `NRRD "data file: ${dataFile}" (several data files) is not supported; use a single data file`);
    }
    if (!readSibling) throw new VolumeError('missing-data-file', `the detached data file "${dataFile}" cannot be read from here`);
    try {
      source = readSibling(dataFile);
    } catch (error) {
      throw new VolumeError('missing-data-file', `the detached data file "${dataFile}" cannot be read (${(error as Error).message})`);
    }
  } else {
    if (header.dataOffset < 0) {
      throw new VolumeError('truncated', 'the NRRD header never ends (no empty line) and names no data file: the data is missing');
    }
    source = file.subarray(header.dataOffset);
  }

  const lineSkip = Number(fields.get('line skip') ?? 0);
  for (let skipped = 0; skipped < lineSkip; skipped++) {
    const nl = source.indexOf(0x0a);
    if (nl < 0) throw new VolumeError('truncated', `the data ends before the ${lineSkip} lines the header says to skip`);
    source = source.subarray(nl + 1);
  }
  const byteSkip = Number(fields.get('byte skip') ?? 0);

  switch (encoding) {
    case 'raw': {
      const start = byteSkip === -1 ? source.length - dataBytes : byteSkip;
      if (start < 0 || source.length - start < dataBytes) {
        throw truncated(Math.max(0, source.length - Math.max(0, start)), dataBytes);
      }
      return source.subarray(start, start + dataBytes);
    }
    case 'gzip':
    case 'gz': {
      if (!isGzip(source)) throw new VolumeError('corrupt-gzip', 'the NRRD says its data is gzip, but the data does not start with the gzip magic number');
      const skip = Math.max(0, byteSkip);
      const out = gunzipBounded(source, skip + dataBytes);
      if (out.length < skip + dataBytes) throw truncated(Math.max(0, out.length - skip), dataBytes);
      return out.subarray(skip, skip + dataBytes);
    }
    case 'ascii':
    case 'text':
    case 'txt':
      return parseAscii(source.subarray(Math.max(0, byteSkip)), datatype, total);
    case 'hex':
      return parseHex(source.subarray(Math.max(0, byteSkip)), dataBytes);
    case 'bzip2':
    case 'bz2':
      throw new VolumeError('unsupported-encoding', 'NRRD encoding "bzip2" is not supported: save the volume with gzip or raw encoding');
    default:
      throw new VolumeError('unsupported-encoding', `NRRD encoding "${encoding}" is not supported (raw, gzip, ascii and hex are)`);
  }
}

function truncated(have: number, need: number): VolumeError {
  return new VolumeError('truncated', `the image data is shorter than the header says: ${have} of ${need} bytes`);
}

function parseAscii(bytes: Uint8Array, datatype: DataType, total: number): VoxelArray {
  const out = typedArrayOf(datatype, new ArrayBuffer(total * BYTES_PER_VOXEL[datatype]));
  let n = 0;
  let i = 0;
  const len = bytes.length;
  while (n < total && i < len) {
    while (i < len && (bytes[i] <= 0x20 || bytes[i] === 0x2c)) i++;
    const start = i;
    while (i < len && bytes[i] > 0x20 && bytes[i] !== 0x2c) i++;
    if (i === start) break;
    const value = Number(String.fromCharCode(...bytes.subarray(start, i)));
    if (Number.isNaN(value)) throw new VolumeError('bad-header', `the ascii data holds a value that is not a number at byte ${start}`);
    out[n++] = value;
  }
  if (n < total) throw new VolumeError('truncated', `the ascii data holds ${n} of the ${total} values the header says`);
  return out;
}

function parseHex(bytes: Uint8Array, dataBytes: number): Uint8Array {
  const out = new Uint8Array(dataBytes);
  let n = 0;
  let high = -1;
  for (let i = 0; i < bytes.length && n < dataBytes; i++) {
    const c = bytes[i];
    const v = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (v < 0) continue;
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
      const segment: SegmentInfo = {
        value: Number(f.get('LabelValue') ?? index + 1),
        name: f.get('Name') ?? `Segment ${index + 1}`,
        color: color.length === 3 && color.every(Number.isFinite) ? (color as [number, number, number]) : [0.5, 0.5, 0.5],
        layer: Number(f.get('Layer') ?? 0),
      };
      const id = f.get('ID');
      if (id !== undefined) segment.id = id;
      return segment;
    });
}
