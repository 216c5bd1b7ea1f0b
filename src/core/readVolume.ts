/**
 * Reading any supported volume file, by content (magic number), with the file name as a hint.
 * Files are read by the rules of `regularFile.ts` (regular files only; a detached header's data
 * file inside `dataFileRoots` where given). The `…Async` readers inflate on Node's thread pool and
 * read files without blocking: the editor's extension host uses them.
 */
import * as path from 'node:path';
import { VolumeError } from './errors';
import { isGzip } from './gzip';
import { looksLikeNifti, readNifti, readNiftiAsync, readNiftiHeaderOnly } from './nifti';
import { nrrdHeaderEnd, readNrrd, readNrrdAsync, readNrrdHeaderOnly, type AsyncSiblingReader, type SiblingReader } from './nrrd';
import { openRegularFileAsync, readRegularFile, readRegularFileAsync, readRegularFilePrefixAsync, type FileRule } from './regularFile';
import type { ReadOptions, Volume } from './volume';
import type { VolumeHeader } from './voxelStream';

/** File name patterns of the volumes we open. */
export const VOLUME_FILE_PATTERN = /\.(nii|nii\.gz|nrrd|nhdr)$/i;

function startsWithNrrdMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x4e && bytes[1] === 0x52 && bytes[2] === 0x52 && bytes[3] === 0x44;
}

/** Which reader a file's bytes call for; throws when none does. */
function formatOf(bytes: Uint8Array, fileName: string): 'nrrd' | 'nifti' {
  if (bytes.length === 0) throw new VolumeError('truncated', 'the file is empty');
  if (startsWithNrrdMagic(bytes)) return 'nrrd';
  if (isGzip(bytes) || looksLikeNifti(bytes) || /\.nii(\.gz)?$/i.test(fileName)) return 'nifti';
  throw new VolumeError('unsupported-format', `${path.basename(fileName)} is neither NIfTI nor NRRD (unknown magic number)`);
}

/**
 * Reads a volume from its bytes. `readSibling` resolves a detached NRRD header's data file.
 * `bytesOwned`: the bytes were read for this call and the volume may view (and byte-swap) them
 * in place, so an uncompressed file costs its size once; otherwise they are never changed.
 */
export function readVolumeBytes(bytes: Uint8Array, fileName: string, readSibling?: SiblingReader, options: ReadOptions = {}, bytesOwned = false): Volume {
  return formatOf(bytes, fileName) === 'nrrd' ? readNrrd(bytes, readSibling, options, bytesOwned) : readNifti(bytes, options, bytesOwned);
}

/** `readVolumeBytes` without blocking the event loop on inflating or on a data file. */
export async function readVolumeBytesAsync(
  bytes: Uint8Array,
  fileName: string,
  readSibling?: AsyncSiblingReader,
  options: ReadOptions = {},
  bytesOwned = false,
): Promise<Volume> {
  return formatOf(bytes, fileName) === 'nrrd' ? readNrrdAsync(bytes, readSibling, options, bytesOwned) : readNiftiAsync(bytes, options, bytesOwned);
}

/** The rule a detached header's data file `name` is read by (beside `header`, inside `options.dataFileRoots`). */
function dataFileRule(header: string, name: string, options: ReadOptions): { file: string; rule: FileRule } {
  return {
    file: path.resolve(path.dirname(header), name),
    rule: {
      what: `the detached data file "${name}"`,
      roots: options.dataFileRoots,
      rootsRule: 'in a restricted (untrusted) workspace a detached header may only name data files inside the workspace folders',
    },
  };
}

/** Reads a volume file from disk (a `.nhdr` reads its data file from beside it). */
export function readVolumeFile(file: string, options: ReadOptions = {}): Volume {
  const bytes = readRegularFile(file, { what: path.basename(file) });
  const readSibling = (name: string) => {
    const { file: dataFile, rule } = dataFileRule(file, name, options);
    return readRegularFile(dataFile, rule);
  };
  return readVolumeBytes(bytes, file, readSibling, options, true);
}

/** `readVolumeFile` without blocking the event loop: files are read, and gzip inflated, asynchronously. */
export async function readVolumeFileAsync(file: string, options: ReadOptions = {}): Promise<Volume> {
  const bytes = await readRegularFileAsync(file, { what: path.basename(file) });
  const readSibling = (name: string) => {
    const { file: dataFile, rule } = dataFileRule(file, name, options);
    return readRegularFileAsync(dataFile, rule);
  };
  return readVolumeBytesAsync(bytes, file, readSibling, options, true);
}

/** Bytes read for a header: NIfTI needs 540 (inflated), a NRRD header ends at its first empty line (Slicer's can be long). */
const HEADER_PREFIX_BYTES = 4 * 1024 * 1024;
/**
 * What is read first: enough for a NIfTI header and its usual extensions, or an NRRD header, even
 * gzipped. Reading (and, in the editor, first touching) 4 MiB took 20–60 ms of every open.
 */
const FIRST_PREFIX_BYTES = 64 * 1024;

/**
 * The header from the file's first 64 KiB, or from its first 4 MiB where those were not enough:
 * an NRRD header whose empty line is not among them (a detached header would otherwise be read
 * cut), or a header that fails to parse from them (the error then is the longer read's).
 */
async function readHeaderOnly(file: string, options: ReadOptions): Promise<VolumeHeader> {
  const rule = { what: path.basename(file) };
  const first = await readRegularFilePrefixAsync(file, rule, FIRST_PREFIX_BYTES);
  const nrrd = formatOf(first.bytes, file) === 'nrrd';
  const parse = ({ bytes, size }: { bytes: Uint8Array; size: number }) => (nrrd ? readNrrdHeaderOnly(bytes, size, options) : readNiftiHeaderOnly(bytes, size, options));
  if (first.size <= first.bytes.length) return parse(first);
  const readLonger = async () => parse(await readRegularFilePrefixAsync(file, rule, HEADER_PREFIX_BYTES));
  if (nrrd && !nrrdHeaderEnd(first.bytes)) return readLonger();
  try {
    return parse(first);
  } catch {
    return readLonger();
  }
}

/** A volume's header read from a file, and the file that holds its voxels (itself, or a detached header's data file). */
export interface VolumeHeaderFile {
  header: VolumeHeader;
  /** Absolute path of the file the voxels are in, checked by the same rules as a read. */
  voxelFile: string;
}

/**
 * Reads a volume file's header only (its first few bytes; a detached header's data file is
 * checked by the rules but not read): the grid, and how the voxels can be streamed. The size
 * limit and every header check apply as when reading the whole file.
 */
export async function readVolumeHeaderFile(file: string, options: ReadOptions = {}): Promise<VolumeHeaderFile> {
  const header = await readHeaderOnly(file, options);
  const dataFile = 'unstreamable' in header.voxels ? undefined : header.voxels.dataFile;
  if (dataFile === undefined) return { header, voxelFile: path.resolve(file) };
  const { file: voxelFile, rule } = dataFileRule(file, dataFile, options);
  try {
    const { handle } = await openRegularFileAsync(voxelFile, rule);
    await handle.close();
  } catch (error) {
    if (error instanceof VolumeError) throw error;
    throw new VolumeError('missing-data-file', `the detached data file "${dataFile}" cannot be read (${(error as Error).message})`);
  }
  return { header, voxelFile };
}
