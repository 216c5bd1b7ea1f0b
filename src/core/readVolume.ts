/** Reading any supported volume file, by content (magic number), with the file name as a hint. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VolumeError } from './errors';
import { isGzip } from './gzip';
import { looksLikeNifti, readNifti } from './nifti';
import { readNrrd, type SiblingReader } from './nrrd';
import type { ReadOptions, Volume } from './volume';

/** File name patterns of the volumes we open. */
export const VOLUME_FILE_PATTERN = /\.(nii|nii\.gz|nrrd|nhdr)$/i;

function startsWithNrrdMagic(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x4e && bytes[1] === 0x52 && bytes[2] === 0x52 && bytes[3] === 0x44;
}

/** Reads a volume from its bytes. `readSibling` resolves a detached NRRD header's data file. */
export function readVolumeBytes(bytes: Uint8Array, fileName: string, readSibling?: SiblingReader, options: ReadOptions = {}): Volume {
  if (bytes.length === 0) throw new VolumeError('truncated', 'the file is empty');
  if (startsWithNrrdMagic(bytes)) return readNrrd(bytes, readSibling, options);
  if (isGzip(bytes) || looksLikeNifti(bytes) || /\.nii(\.gz)?$/i.test(fileName)) return readNifti(bytes, options);
  throw new VolumeError('unsupported-format', `${path.basename(fileName)} is neither NIfTI nor NRRD (unknown magic number)`);
}

/** Reads a volume file from disk (a `.nhdr` reads its data file from the same folder). */
export function readVolumeFile(file: string, options: ReadOptions = {}): Volume {
  const bytes = fs.readFileSync(file);
  const folder = path.dirname(file);
  return readVolumeBytes(bytes, file, (name) => fs.readFileSync(path.resolve(folder, name)), options);
}
