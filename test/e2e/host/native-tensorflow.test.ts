/**
 * Native TensorFlow inside a real VS Code (extension-host tests): "3D U-Net: Install Native
 * TensorFlow" runs the npm on the PATH in the extension's global storage and then finds that the
 * engine loads what it installed; the setting unet3d.nativeTensorFlowPath is looked at first, and
 * Show Compute Backend says where it looked. npm and the packages are stand-ins
 * (test/helpers/nativeStandIns.ts): the real install downloads libtensorflow, offline here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { InstallNativeResult } from '../../../src/extension/commands/installNativeTensorFlow';
import type { BackendReport } from '../../../src/protocol/backends';
import { tempDir } from '../../helpers/data';
import { fakeNpmEnv, THROWS, writeNativePackage } from '../../helpers/nativeStandIns';

describe('native TensorFlow', function () {
  this.timeout(180_000);
  const work = tempDir('host-native');
  const saved = { ...process.env };

  before(() => {
    // The extension host's environment is what the command and its npm see.
    const { env } = fakeNpmEnv(work, 'ok');
    Object.assign(process.env, env);
  });

  after(async () => {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await vscode.workspace.getConfiguration('unet3d').update('nativeTensorFlowPath', undefined, vscode.ConfigurationTarget.Global);
    fs.rmSync(work, { recursive: true, force: true });
  });

  let installed: InstallNativeResult | undefined;

  it('Install Native TensorFlow installs with npm into the global storage, and the engine loads it from there', async () => {
    installed = await vscode.commands.executeCommand<InstallNativeResult>('unet3d.installNativeTensorFlow', { variant: 'cpu' });
    assert.ok(installed, 'the command did not run');
    assert.equal(installed.error, undefined);
    assert.equal(installed.installed, true);
    assert.equal(installed.package, '@tensorflow/tfjs-node');
    assert.match(installed.folder, /native-tensorflow$/);
    assert.ok(fs.existsSync(path.join(installed.folder, 'node_modules', '@tensorflow', 'tfjs-node', 'package.json')));
    const manifest = JSON.parse(fs.readFileSync(path.join(installed.folder, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    assert.deepEqual(manifest.dependencies, { '@tensorflow/tfjs-node': '4.22.0' });
    assert.equal(installed.status?.available, true, JSON.stringify(installed.status));
    assert.equal(installed.status?.location, path.join(installed.folder, 'node_modules', '@tensorflow', 'tfjs-node'));
  });

  it('the setting unet3d.nativeTensorFlowPath is looked at first, and Show Compute Backend says where it looked', async () => {
    assert.ok(installed, 'the install above did not run');
    const own = path.join(work, 'own-install');
    const broken = writeNativePackage(own, '@tensorflow/tfjs-node', THROWS);
    await vscode.workspace.getConfiguration('unet3d').update('nativeTensorFlowPath', own, vscode.ConfigurationTarget.Global);
    const report = await vscode.commands.executeCommand<BackendReport>('unet3d.showBackend');
    assert.ok(report, 'Show Compute Backend did not report');
    const cpu = report.statuses.find((s) => s.name === 'tensorflow')!;
    assert.equal(cpu.available, false);
    assert.equal(cpu.location, broken);
    assert.match(cpu.reason ?? '', /libcudart\.so\.11\.0/);
    assert.deepEqual(cpu.searched, [broken]);
    // The report names the places, in order.
    const gpu = report.statuses.find((s) => s.name === 'tensorflow-gpu')!;
    assert.deepEqual(gpu.searched?.slice(0, 2), [path.join(own, 'node_modules', '@tensorflow', 'tfjs-node-gpu'), path.join(installed.folder, 'node_modules', '@tensorflow', 'tfjs-node-gpu')]);
    // A report shown before (the loop tests show one) is an open document that VS Code refreshes
    // after the provider says it changed: wait for this report's text.
    const shown = await vscode.workspace.openTextDocument(vscode.Uri.from({ scheme: 'unet3d-info', path: '/Compute Backend.md' }));
    for (let waited = 0; !shown.getText().includes('own-install') && waited < 10_000; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.match(shown.getText(), /- Found in: `[^`]*own-install[^`]*tfjs-node`/);
    assert.match(shown.getText(), /- Looked in, in this order: `[^`]*own-install[^`]*tfjs-node-gpu`, `[^`]*native-tensorflow[^`]*tfjs-node-gpu`/);

    // Without the setting the install is used again.
    await vscode.workspace.getConfiguration('unet3d').update('nativeTensorFlowPath', undefined, vscode.ConfigurationTarget.Global);
    const again = await vscode.commands.executeCommand<BackendReport>('unet3d.showBackend');
    assert.equal(again?.active, 'tensorflow');
    assert.equal(again?.statuses.find((s) => s.name === 'tensorflow')?.location, installed.status?.location);
  });
});
