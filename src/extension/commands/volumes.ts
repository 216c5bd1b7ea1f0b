/**
 * Finding the volumes a command works on: the one open in the volume editor, the ones selected
 * in the explorer (files or folders), every volume of the workspace that has a label file, and
 * their label files beside them (NAME.labels.nii.gz, see src/core/labels.ts).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultClasses, isLabelOrPredictionFile, labelFileNames, parseLabelsFile, volumeBaseName } from '../../core/labels';
import { allRunsFolders } from '../settings';
import { exists } from '../volumeEditor/labelFiles';

/** The volume editor's view type (src/extension/volumeEditor/provider.ts). */
export const VOLUME_VIEW_TYPE = 'unet3d.volume';
const VOLUME_SUFFIXES = ['.nii.gz', '.nii', '.nrrd', '.nhdr'];
const VOLUME_GLOB = '**/*.{nii,nii.gz,nrrd,nhdr}';
/** Probability maps written by Segment (they are volumes, but nothing to train on or segment). */
const PROBABILITY_SUFFIX = /\.prob\.(nii\.gz|nii)$/i;

export function fileName(uri: vscode.Uri): string {
  return path.posix.basename(uri.path);
}

/** True for an image to label, train on or segment: a volume file that is not one of our outputs. */
export function isVolumeFile(name: string): boolean {
  const lower = name.toLowerCase();
  return VOLUME_SUFFIXES.some((s) => lower.endsWith(s)) && !isLabelOrPredictionFile(name) && !PROBABILITY_SUFFIX.test(name);
}

/** The label map beside a volume. */
export function labelsUriOf(volume: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(volume, '..', labelFileNames(fileName(volume)).labelMap);
}

/** The class list beside a volume. */
export function classesUriOf(volume: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(volume, '..', labelFileNames(fileName(volume)).classes);
}

/** The prediction beside a volume (NAME.seg.nii.gz). */
export function predictionUriOf(volume: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(volume, '..', labelFileNames(fileName(volume)).prediction);
}

export { exists } from '../volumeEditor/labelFiles';

/** The volume in the active editor group's active tab, if it is open in the volume editor. */
export function activeVolume(): vscode.Uri | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom && input.viewType === VOLUME_VIEW_TYPE ? input.uri : undefined;
}

/** Every volume open in the volume editor, in any group. */
export function openVolumes(): vscode.Uri[] {
  const seen = new Map<string, vscode.Uri>();
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      if (tab.input instanceof vscode.TabInputCustom && tab.input.viewType === VOLUME_VIEW_TYPE) seen.set(tab.input.uri.toString(), tab.input.uri);
    }
  }
  return [...seen.values()];
}

/** The volumes among `uris` whose editor has unsaved changes. */
export function dirtyVolumes(uris: readonly vscode.Uri[]): vscode.Uri[] {
  const wanted = new Set(uris.map((u) => u.toString()));
  const dirty = new Map<string, vscode.Uri>();
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      if (tab.isDirty && tab.input instanceof vscode.TabInputCustom && wanted.has(tab.input.uri.toString())) dirty.set(tab.input.uri.toString(), tab.input.uri);
    }
  }
  return [...dirty.values()];
}

/** Folders never searched for volumes: the runs folders, dependencies, VCS data. */
function excludeGlob(): string {
  const names = new Set(['node_modules', '.git']);
  for (const folder of allRunsFolders()) {
    const ws = vscode.workspace.getWorkspaceFolder(folder);
    if (ws) names.add(path.posix.relative(ws.uri.path, folder.path).split('/')[0]);
  }
  return `**/{${[...names].filter(Boolean).join(',')}}/**`;
}

/** The volume a label file belongs to (same folder, same base name), if it exists. */
async function volumeOfLabels(labels: vscode.Uri): Promise<vscode.Uri | undefined> {
  const base = fileName(labels).replace(/\.labels\.nii\.gz$/i, '');
  for (const suffix of VOLUME_SUFFIXES) {
    const candidate = vscode.Uri.joinPath(labels, '..', base + suffix);
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

/** Every volume of the workspace that has a label file beside it (the fully-automated case). */
export async function labeledVolumes(): Promise<vscode.Uri[]> {
  const labels = await vscode.workspace.findFiles('**/*.labels.nii.gz', excludeGlob());
  const volumes = await Promise.all(labels.map(volumeOfLabels));
  return volumes.filter((v): v is vscode.Uri => v !== undefined).sort((a, b) => a.path.localeCompare(b.path));
}

/** Every volume of the workspace, or under `folder`. */
export async function workspaceVolumes(folder?: vscode.Uri): Promise<vscode.Uri[]> {
  const include = folder ? new vscode.RelativePattern(folder, VOLUME_GLOB) : VOLUME_GLOB;
  const found = await vscode.workspace.findFiles(include, excludeGlob());
  return found.filter((u) => isVolumeFile(fileName(u))).sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The volumes that explorer selections stand for: volume files as they are, folders searched
 * (with `labeledOnly`, a folder gives only the volumes that have a label file).
 */
export async function volumesOfSelection(uris: readonly vscode.Uri[], labeledOnly = false): Promise<vscode.Uri[]> {
  const out = new Map<string, vscode.Uri>();
  for (const uri of uris) {
    let isFolder = false;
    try {
      isFolder = (await vscode.workspace.fs.stat(uri)).type === vscode.FileType.Directory;
    } catch {
      continue;
    }
    if (isFolder) {
      for (const v of await workspaceVolumes(uri)) if (!labeledOnly || (await exists(labelsUriOf(v)))) out.set(v.toString(), v);
    }
    else if (isVolumeFile(fileName(uri))) out.set(uri.toString(), uri);
  }
  return [...out.values()];
}

/** A short name for a set of volumes: "t2", "t2 + 2 more". */
export function volumesTitle(volumes: readonly vscode.Uri[]): string {
  if (volumes.length === 0) return 'no volumes';
  const first = volumeBaseName(fileName(volumes[0]));
  return volumes.length === 1 ? first : `${first} + ${volumes.length - 1} more`;
}

/** The path shown for a volume: relative to its workspace folder. */
export function displayPath(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}

/** A URI for a path (absolute, or relative to the process's folder) or a URI. */
export function toUri(v: vscode.Uri | string): vscode.Uri {
  return typeof v === 'string' ? vscode.Uri.file(path.resolve(v)) : v;
}

/** Throws naming the volumes that have no label file beside them. */
export async function requireLabelFiles(volumes: readonly vscode.Uri[]): Promise<void> {
  const missing: string[] = [];
  for (const v of volumes) if (!(await exists(labelsUriOf(v)))) missing.push(fileName(v));
  if (missing.length) throw new Error(`no label file beside ${missing.join(', ')}: paint a few slices in the volume editor and save them first`);
}

/** Saves unsaved labels of `volumes` (or, when asked and the user says so, leaves them). Returns false when the user cancels. */
export async function saveUnsavedLabels(volumes: readonly vscode.Uri[], mode: 'save' | 'ignore' | 'ask', what: string): Promise<boolean> {
  const dirty = dirtyVolumes(volumes);
  if (dirty.length === 0 || mode === 'ignore') return true;
  if (mode === 'ask') {
    const save = 'Save and Continue';
    const skip = 'Use the Saved Labels';
    const answer = await vscode.window.showWarningMessage(
      `${dirty.map(fileName).join(', ')} ${dirty.length === 1 ? 'has' : 'have'} unsaved labels.`,
      { modal: true, detail: `${what} reads the label files on disk.` },
      save,
      skip,
    );
    if (answer === undefined) return false;
    if (answer === skip) return true;
  }
  for (const uri of dirty) await vscode.workspace.save(uri);
  return true;
}

/**
 * The names the volume editor shows for a volume's classes when its labels have no class list
 * (NAME.labels.json) beside them — its defaults — else undefined: the engine reads the list itself.
 */
export async function editorDefaultClassNames(volume: vscode.Uri): Promise<string[] | undefined> {
  return (await exists(classesUriOf(volume))) ? undefined : defaultClasses().map((c) => c.name);
}

/** The class names of a volume's labels (NAME.labels.json), else those the volume editor starts with. */
export async function classNamesOf(volume: vscode.Uri): Promise<string[]> {
  let classes = defaultClasses();
  try {
    classes = parseLabelsFile(new TextDecoder().decode(await vscode.workspace.fs.readFile(classesUriOf(volume)))).classes;
  } catch {
    // no class list saved yet (or unreadable): the editor's defaults name what it shows
  }
  return classes
    .slice()
    .sort((a, b) => a.value - b.value)
    .map((c) => c.name);
}

