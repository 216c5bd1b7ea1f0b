/** The extension inside a real VS Code: present, activates, declares what it contributes. */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { REPO_ROOT, SKIP_WITHOUT_DATA } from '../../helpers/data';

const EXTENSION_ID = 'unet3d.unet3d-vscode';

interface Contributes {
  commands?: { command: string; title: string; category?: string }[];
  customEditors?: { viewType: string; selector: { filenamePattern: string }[] }[];
  viewsContainers?: { activitybar?: { id: string; title: string }[] };
  views?: Record<string, { id: string; name: string }[]>;
}

function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not among the loaded extensions`);
  return ext;
}

describe('the 3D U-Net extension', () => {
  it('is loaded from the folder under development', () => {
    assert.equal(extension().extensionPath, REPO_ROOT);
  });

  it('activates', async () => {
    await extension().activate();
    assert.equal(extension().isActive, true);
  });

  it('declares its commands under the "3D U-Net" category', () => {
    const commands = (extension().packageJSON.contributes as Contributes).commands ?? [];
    const ids = commands.map((c) => c.command);
    for (const id of ['unet3d.train', 'unet3d.segment', 'unet3d.evaluate', 'unet3d.showBackend']) {
      assert.ok(ids.includes(id), `command ${id} is not declared (declared: ${ids.join(', ')})`);
    }
    for (const c of commands) {
      assert.match(c.command, /^unet3d\./);
      assert.ok(c.title.length > 0, `${c.command} has no title`);
      assert.equal(c.category, '3D U-Net', `${c.command} is not in the 3D U-Net category`);
    }
  });

  it('registers every command it declares, as VS Code reports them', async () => {
    await extension().activate();
    const registered = new Set(await vscode.commands.getCommands(true));
    const declared = ((extension().packageJSON.contributes as Contributes).commands ?? []).map((c) => c.command);
    assert.ok(declared.length >= 30, `${declared.length} commands declared`);
    const missing = declared.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `declared but not registered: ${missing.join(', ')}`);
    // And the ones tests and scripts call that the manifest does not list.
    for (const id of ['unet3d.runs.rows']) assert.ok(registered.has(id), `${id} is not registered`);
  });

  it('declares the volume editor for NIfTI and NRRD files', () => {
    const editors = (extension().packageJSON.contributes as Contributes).customEditors ?? [];
    const volume = editors.find((e) => e.viewType === 'unet3d.volume');
    assert.ok(volume, 'custom editor unet3d.volume is not declared');
    assert.deepEqual(volume.selector.map((s) => s.filenamePattern).sort(), ['*.nhdr', '*.nii', '*.nii.gz', '*.nrrd']);
  });

  it('declares the Runs view in the "3D U-Net" activity-bar container', () => {
    const contributes = extension().packageJSON.contributes as Contributes;
    assert.ok(contributes.viewsContainers?.activitybar?.some((c) => c.id === 'unet3d' && c.title === '3D U-Net'));
    assert.ok(contributes.views?.unet3d?.some((v) => v.id === 'unet3d.runs' && v.name === 'Runs'));
  });

  it('sees the sample volumes in the workspace', async function () {
    if (SKIP_WITHOUT_DATA) this.skip();
    const volumes = await vscode.workspace.findFiles('**/*.{nii,nii.gz,nrrd,nhdr}');
    assert.ok(volumes.length > 0, `no volumes found in ${vscode.workspace.workspaceFolders?.[0]?.uri.fsPath}`);
  });
});

describe('opening a volume', () => {
  it('opens a .nii.gz in the unet3d.volume custom editor', async function () {
    if (SKIP_WITHOUT_DATA) this.skip();
    const [volume] = await vscode.workspace.findFiles('**/t2.nii.gz');
    assert.ok(volume, 'no t2.nii.gz in the workspace');
    // Not awaited: until the editor's provider is registered, opening never completes.
    void vscode.commands.executeCommand('vscode.open', volume);
    const tab = await waitFor(() => vscode.window.tabGroups.activeTabGroup.activeTab, (t) => t?.label === 't2.nii.gz', 30_000);
    assert.ok(tab.input instanceof vscode.TabInputCustom, `the volume opened in ${tab.input?.constructor.name}, not a custom editor`);
    assert.equal(tab.input.viewType, 'unet3d.volume');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});

/** Polls `read` every 100 ms until `ok` holds for its value; fails after `timeoutMs`. */
async function waitFor<T>(read: () => T, ok: (value: T) => boolean, timeoutMs: number): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (ok(value) && value != null) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms (last value: ${String(value)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
