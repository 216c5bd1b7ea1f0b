/**
 * Reading a volume in the extension host without blocking it: the file (and a detached
 * header's data file) is read asynchronously and gzip is inflated on Node's thread pool straight
 * into the voxel buffer, so the host's event loop keeps serving every other extension while a
 * large volume opens. In an untrusted workspace a detached header may only name data files
 * inside the workspace folders.
 */
import * as vscode from 'vscode';
import { VolumeError, formatBytes } from '../../core/errors';
import { readVolumeBytesAsync, readVolumeFileAsync, readVolumeHeaderFile } from '../../core/readVolume';
import type { ReadOptions, Volume } from '../../core/volume';
import type { VolumeHeader } from '../../core/voxelStream';
import { siblingUri, uriFileName } from './labelFiles';

/**
 * The most voxel bytes one volume may hold: the webview keeps the voxels in one ArrayBuffer,
 * and Chromium's limit is about 2 GiB.
 */
export const MAX_WEBVIEW_VOLUME_BYTES = 2 ** 31 - 1;

/** Where a detached data file may lie: anywhere in a trusted workspace, inside its folders otherwise. */
export function dataFileRoots(): string[] | undefined {
  if (vscode.workspace.isTrusted) return undefined;
  return (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
}

/** Refuses, from the file's size alone, a volume whose voxels the webview could not hold. */
async function checkFileSize(uri: vscode.Uri, maxBytes: number): Promise<void> {
  const stat = await vscode.workspace.fs.stat(uri);
  if (stat.size > maxBytes + 64 * 1024 * 1024) {
    throw new VolumeError(
      'too-large',
      `${uriFileName(uri)} is ${formatBytes(stat.size)} on disk: the editor holds at most ${formatBytes(maxBytes)} of voxels (the webview's buffer limit). Crop or downsample it first.`,
    );
  }
}

/** A reader's "too large" said in the editor's terms. */
function editorTooLarge(error: unknown, name: string, maxBytes: number): unknown {
  if (error instanceof VolumeError && error.code === 'too-large') {
    return new VolumeError('too-large', `${name}: ${error.message}. The editor's webview holds at most ${formatBytes(maxBytes)} in one buffer: crop or downsample the volume first.`);
  }
  return error;
}

/**
 * Reads a volume file. The size is checked before the voxels are decompressed (from the file
 * size, then from the header), so a volume the webview cannot hold is refused with a message
 * saying so. A detached NRRD header's data file is read from the same folder.
 */
export async function readVolumeUri(uri: vscode.Uri, maxBytes = MAX_WEBVIEW_VOLUME_BYTES): Promise<Volume> {
  const name = uriFileName(uri);
  await checkFileSize(uri, maxBytes);
  const options: ReadOptions = { maxBytes, dataFileRoots: dataFileRoots() };
  try {
    if (uri.scheme === 'file') return await readVolumeFileAsync(uri.fsPath, options);
    return await readVolumeBytesAsync(await vscode.workspace.fs.readFile(uri), name, (file) => readSiblingThroughVsCode(uri, file), options, true);
  } catch (error) {
    throw editorTooLarge(error, name, maxBytes);
  }
}

/** A volume's header, and the file on disk its voxels can be streamed from (none: they are read whole, through `readVolumeUri`). */
export interface VolumeSource {
  header: VolumeHeader;
  /** Absolute path of the file holding the voxels, where they can be streamed from the local disk. */
  voxelFile?: string;
}

/**
 * Reads a volume's header only, by the same rules and limits as `readVolumeUri`: on the local
 * disk the voxels are not read at all (the webview streams them from the file); elsewhere the
 * file is read whole and its voxels dropped.
 */
export async function readVolumeSource(uri: vscode.Uri, maxBytes = MAX_WEBVIEW_VOLUME_BYTES): Promise<VolumeSource> {
  const name = uriFileName(uri);
  await checkFileSize(uri, maxBytes);
  try {
    if (uri.scheme === 'file') {
      const { header, voxelFile } = await readVolumeHeaderFile(uri.fsPath, { maxBytes, dataFileRoots: dataFileRoots() });
      return 'unstreamable' in header.voxels ? { header } : { header, voxelFile };
    }
  } catch (error) {
    throw editorTooLarge(error, name, maxBytes);
  }
  const { data: _voxels, allFrames: _frames, layers: _layers, ...grid } = await readVolumeUri(uri, maxBytes);
  return { header: { ...grid, voxels: { unstreamable: 'the file is not on the local disk' } } };
}

/** A data file beside a header on a file system other than the disk (VS Code's), by the same rules where they can be told. */
async function readSiblingThroughVsCode(header: vscode.Uri, name: string): Promise<Uint8Array> {
  const what = `the detached data file "${name}"`;
  if (!vscode.workspace.isTrusted) {
    throw new VolumeError('refused-file', `${what} is not on the local disk: in a restricted (untrusted) workspace a detached header may only name data files inside the workspace folders`);
  }
  const target = name.startsWith('/') ? header.with({ path: name }) : siblingUri(header, name);
  const stat = await vscode.workspace.fs.stat(target);
  if ((stat.type & vscode.FileType.File) === 0) throw new VolumeError('refused-file', `${what} is not a regular file: only regular files are read as volumes or data files`);
  return vscode.workspace.fs.readFile(target);
}
