/**
 * Reading and writing a volume's files through `vscode.workspace.fs` (so remote workspaces
 * work): its label map and class list, the Slicer export, the prediction. The volume itself is
 * read by `volumeFile.ts`.
 */
import * as vscode from 'vscode';
import { labelFileNames, parseLabelsFile, type LabelClass } from '../../core/labels';
import type { LabelArray } from '../../core/editDeltas';
import type { Volume } from '../../core/volume';
import { encodeLabelFilesAsync, writeFileSet, type FileSetIO } from '../../core/volumeFiles';

/** The last path segment of a URI. */
export function uriFileName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}

/** A file in the same folder as `uri`. */
export function siblingUri(uri: vscode.Uri, name: string): vscode.Uri {
  return vscode.Uri.joinPath(uri, '..', name);
}

/** The file's bytes, or undefined when it does not exist. */
export async function readIfExists(uri: vscode.Uri): Promise<Uint8Array | undefined> {
  try {
    return await vscode.workspace.fs.readFile(uri);
  } catch (error) {
    if (error instanceof vscode.FileSystemError && error.code === 'FileNotFound') return undefined;
    throw error;
  }
}

export async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a file atomically: to a temporary file in the same folder, then renamed over the
 * target, so a crash or a full disk leaves the old file or the new one, never half of one.
 */
export async function writeFileAtomic(uri: vscode.Uri, bytes: Uint8Array): Promise<void> {
  const tmp = siblingUri(uri, `.${uriFileName(uri)}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`);
  try {
    await vscode.workspace.fs.writeFile(tmp, bytes);
    await vscode.workspace.fs.rename(tmp, uri, { overwrite: true });
  } catch (error) {
    await vscode.workspace.fs.delete(tmp).then(undefined, () => undefined);
    throw error;
  }
}

/** Reads `NAME.labels.json` beside the volume, or undefined when absent; throws with the reason when unusable. */
export async function readClassesFile(volumeUri: vscode.Uri): Promise<LabelClass[] | undefined> {
  const names = labelFileNames(uriFileName(volumeUri));
  const bytes = await readIfExists(siblingUri(volumeUri, names.classes));
  if (!bytes) return undefined;
  try {
    return parseLabelsFile(new TextDecoder().decode(bytes)).classes;
  } catch (error) {
    throw new Error(`${names.classes}: ${(error as Error).message}`);
  }
}

/** The files a save writes, for messages. */
export function savedFileNames(volumeUri: vscode.Uri, format: Volume['format']): string[] {
  const names = labelFileNames(uriFileName(volumeUri));
  return format === 'nrrd' ? [names.labelMap, names.classes, names.segNrrd] : [names.labelMap, names.classes];
}

/** `vscode.workspace.fs` as the file operations of a set (see writeFileSet). */
export const WORKSPACE_FILE_SET_IO: FileSetIO<vscode.Uri> = {
  sibling: siblingUri,
  baseName: uriFileName,
  exists,
  writeFile: async (uri, bytes) => vscode.workspace.fs.writeFile(uri, bytes),
  copy: async (from, to) => vscode.workspace.fs.copy(from, to, { overwrite: true }),
  rename: async (from, to) => vscode.workspace.fs.rename(from, to, { overwrite: true }),
  remove: async (uri) => vscode.workspace.fs.delete(uri),
};

/**
 * Writes the labels beside `volumeUri`: `NAME.labels.nii.gz`, `NAME.labels.json` and, for NRRD
 * volumes, `NAME.labels.seg.nrrd` for 3D Slicer, as one set: a reader sees all the old files or
 * all the new ones, and a failed save leaves the old ones. Compressed off the extension host's
 * thread; `labels` must not change until the returned promise settles (pass a copy). Returns the
 * bytes written.
 */
export async function writeLabelFiles(volumeUri: vscode.Uri, volume: Pick<Volume, 'dims' | 'affine' | 'format' | 'xformCodes'>, labels: LabelArray, classes: readonly LabelClass[]): Promise<number> {
  const files = await encodeLabelFilesAsync(uriFileName(volumeUri), volume, labels, classes);
  await writeFileSet(
    WORKSPACE_FILE_SET_IO,
    files.map((f) => ({ target: siblingUri(volumeUri, f.name), bytes: f.bytes })),
  );
  return files.reduce((n, f) => n + f.bytes.length, 0);
}

/** The label map's modification time and size (`mtime:size`), or undefined when there is none. */
export async function labelMapStamp(volumeUri: vscode.Uri): Promise<string | undefined> {
  try {
    const stat = await vscode.workspace.fs.stat(siblingUri(volumeUri, labelFileNames(uriFileName(volumeUri)).labelMap));
    return `${stat.mtime}:${stat.size}`;
  } catch {
    return undefined;
  }
}

