/** The extension manifest is a real VS Code manifest, and activation stays light. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { BACKEND_DESCRIPTIONS, BACKEND_ORDER, NATIVE_PACKAGES, TFJS_VERSION, type BackendChoice } from '../../src/protocol/backends';
import { PRESET_DESCRIPTIONS, PRESET_NAMES } from '../../src/protocol/network';
import { TRAIN_DEFAULTS } from '../../src/protocol/settings';
import { foldersHoldingVolumes } from '../../src/extension/commands/folderSet';
import { REPO_ROOT } from '../helpers/data';

const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));

test('the manifest declares the editor, commands, view, settings and trust limits', () => {
  // postMessage transfers ArrayBuffers since VS Code 1.57.
  const [major, minor] = manifest.engines.vscode.replace(/^\D*/, '').split('.').map(Number);
  assert.ok(major > 1 || minor >= 57, manifest.engines.vscode);
  assert.deepEqual(manifest.extensionKind, ['workspace']);
  const editor = manifest.contributes.customEditors.find((e: { viewType: string }) => e.viewType === 'unet3d.volume');
  assert.deepEqual(
    editor.selector.map((s: { filenamePattern: string }) => s.filenamePattern).sort(),
    ['*.nhdr', '*.nii', '*.nii.gz', '*.nrrd'],
  );
  const commands = new Map(manifest.contributes.commands.map((c: { command: string; title: string; category: string }) => [c.command, c]));
  for (const [id, title] of [
    ['unet3d.train', 'Train'],
    ['unet3d.segment', 'Segment'],
    ['unet3d.evaluate', 'Evaluate'],
    ['unet3d.showBackend', 'Show Compute Backend'],
    ['unet3d.installNativeTensorFlow', 'Install Native TensorFlow'],
  ]) {
    const command = commands.get(id) as { title: string; category: string } | undefined;
    assert.ok(command, id);
    assert.equal(command.title, title);
    assert.equal(command.category, '3D U-Net');
  }
  assert.ok(manifest.contributes.viewsContainers.activitybar.some((c: { id: string; title: string }) => c.id === 'unet3d' && c.title === '3D U-Net'));
  assert.deepEqual(manifest.contributes.views.unet3d.find((v: { id: string }) => v.id === 'unet3d.runs'), { id: 'unet3d.runs', name: 'Runs' });
  for (const key of Object.keys(manifest.contributes.configuration.properties)) assert.match(key, /^unet3d\./);
  assert.equal(manifest.capabilities.untrustedWorkspaces.supported, 'limited');
  assert.deepEqual(manifest.bin, { unet3d: 'dist/cli.js' });
  assert.ok(!(manifest.activationEvents ?? []).includes('*'), 'never activates on *');
  for (const dep of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm', 'nifti-reader-js', '@vscode-elements/elements']) assert.ok(manifest.dependencies[dep], dep);
  for (const dep of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) assert.ok(manifest.optionalDependencies[dep], dep);
  // The native packages the engine loads, and installs, are of the version it is built with.
  for (const dep of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-webgpu']) assert.equal(manifest.dependencies[dep], TFJS_VERSION, dep);
  for (const dep of Object.values(NATIVE_PACKAGES)) assert.equal(manifest.optionalDependencies[dep], TFJS_VERSION, dep);
  // A folder of this machine: no workspace may point the engine at code to load.
  assert.equal(manifest.contributes.configuration.properties['unet3d.nativeTensorFlowPath'].scope, 'machine');
});

test('the extension bundle never loads TensorFlow.js; the CLI starts with a shebang', { skip: !fs.existsSync(path.join(REPO_ROOT, 'dist', 'extension.js')) && 'not built' }, () => {
  const extension = fs.readFileSync(path.join(REPO_ROOT, 'dist', 'extension.js'), 'utf8');
  // It names the native packages (Install Native TensorFlow) but requires none, and holds no tfjs code.
  assert.doesNotMatch(extension, /require\(["'][^"']*(@tensorflow|tfjs)/);
  assert.doesNotMatch(extension, /tfjs-core|tfjs-backend|registerKernel/);
  const cli = fs.readFileSync(path.join(REPO_ROOT, 'dist', 'cli.js'), 'utf8');
  assert.ok(cli.startsWith('#!/usr/bin/env node'));
});

test("the settings' defaults and choices in package.json are the contract's", () => {
  const props = manifest.contributes.configuration.properties;
  assert.deepEqual(props['unet3d.backend'].enum, ['auto', ...BACKEND_ORDER]);
  assert.deepEqual(props['unet3d.backend'].enumDescriptions, props['unet3d.backend'].enum.map((b: BackendChoice) => BACKEND_DESCRIPTIONS[b]));
  assert.equal(props['unet3d.backend'].default, 'auto');
  assert.deepEqual(props['unet3d.training.preset'].enum, PRESET_NAMES);
  assert.deepEqual(props['unet3d.training.preset'].enumDescriptions, PRESET_NAMES.map((p) => PRESET_DESCRIPTIONS[p]));
  assert.equal(props['unet3d.training.preset'].default, TRAIN_DEFAULTS.preset);
  assert.equal(props['unet3d.training.iterations'].default, TRAIN_DEFAULTS.iterations);
  assert.equal(props['unet3d.training.minutes'].default, TRAIN_DEFAULTS.minutes);
  assert.equal(props['unet3d.training.validationFraction'].default, TRAIN_DEFAULTS.validationFraction);
});

test('the walkthrough: every step runs a command that exists, and its pictures ship', () => {
  const declared = new Set(manifest.contributes.commands.map((c: { command: string }) => c.command));
  const [walkthrough] = manifest.contributes.walkthroughs;
  assert.ok(walkthrough && walkthrough.steps.length >= 5);
  const ids = walkthrough.steps.map((s: { id: string }) => s.id);
  assert.deepEqual(ids, ['open', 'paint', 'train', 'segment', 'runs', 'correct']);
  const shipped = fs.readFileSync(path.join(REPO_ROOT, '.vscodeignore'), 'utf8');
  for (const step of walkthrough.steps as { description: string; media: { image?: string; markdown?: string } }[]) {
    const commands = [...step.description.matchAll(/\(command:([\w.]+)\)/g)].map((m) => m[1]);
    assert.ok(commands.length > 0, `${step.description} runs no command`);
    for (const c of commands) assert.ok(declared.has(c) || /^workbench\./.test(c), `${c} is not a command of the extension`);
    const media = step.media.image ?? step.media.markdown!;
    assert.ok(fs.existsSync(path.join(REPO_ROOT, media)), `${media} is missing`);
    assert.ok(shipped.includes(`!${media}`) || shipped.includes(`!${media.split('/')[0]}/**`), `${media} is not in the package (.vscodeignore)`);
  }
});

test('Train, Segment and Evaluate in the explorer: on volume files and on folders that hold some, never on label or prediction files', () => {
  for (const item of manifest.contributes.menus['explorer/context'] as { command: string; when: string }[]) {
    assert.match(item.when, /explorerResourceIsFolder && resourcePath in unet3d\.volumeFolders/);
    const regex = /resourceFilename =~ \/(.*)\/ \|\|/.exec(item.when)![1];
    const volume = new RegExp(regex);
    for (const name of ['ct.nii', 'ct.nii.gz', 'ct.nrrd', 'ct.nhdr', 'a.b.nii.gz']) assert.ok(volume.test(name), `${item.command} on ${name}`);
    for (const name of ['ct.labels.nii.gz', 'ct.seg.nii.gz', 'ct.labels.seg.nrrd', 'ct.seg.nrrd', 'ct.prob.nii.gz', 'ct.raw', 'notes.txt', 'ct.labels.json']) assert.ok(!volume.test(name), `${item.command} not on ${name}`);
  }
  assert.deepEqual(
    foldersHoldingVolumes(['/w/a/b/ct.nii.gz', '/w/a/mr.nrrd', '/x/c.nii'], ['/w']).sort(),
    ['/w', '/w/a', '/w/a/b'],
  );
});
