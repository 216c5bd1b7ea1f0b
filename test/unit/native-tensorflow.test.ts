/**
 * Native TensorFlow outside the extension's folder: the engine worker loads @tensorflow/tfjs-node
 * (-gpu) from the folders its host names (WorkerStartOptions, as the extension passes the setting
 * unet3d.nativeTensorFlowPath and the install folder), registers it into the bundled TensorFlow.js
 * and trains on it; a package that throws is reported with where it was; the report says where the
 * worker looked. And "3D U-Net: Install Native TensorFlow"'s npm: found on the PATH, run with the
 * right arguments in the install folder, its output streamed, offline and blocked downloads told
 * apart, cancellation stopping its whole process tree: all with a fake npm on the PATH (the real
 * install downloads libtensorflow from storage.googleapis.com).
 * The stand-ins (test/helpers/nativeStandIns.ts) load their own copy of tfjs-core, as the real
 * packages do.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { WorkerClient } from '../../src/engine/workerClient';
import { findNpm, npmInstallArgs, prepareInstallFolder, runNpmInstall } from '../../src/extension/npmInstall';
import { NATIVE_TENSORFLOW_PATH_ENV, readWorkerStartOptions, workerStartEnvironment } from '../../src/protocol/worker';
import type { TrainEvent } from '../../src/protocol/training';
import { REPO_ROOT, tempDir } from '../helpers/data';
import { tinyTrainSettings, writeBallVolume } from '../helpers/engineData';
import { fakeNpmEnv, REGISTERS, THROWS, writeNativePackage } from '../helpers/nativeStandIns';

const work = tempDir('native-tensorflow');
after(() => fs.rmSync(work, { recursive: true, force: true }));
/** The worker bundle test/run-unit.mjs builds beside the tests, as esbuild.mjs builds dist/worker.js. */
const workerPath = path.join(__dirname, 'worker.js');

/** True when the checkout itself has the package (an optional dependency whose install worked): the fallback finds it then. */
const inCheckout = (pkg: string) => fs.existsSync(path.join(REPO_ROOT, 'node_modules', ...pkg.split('/'), 'package.json'));

test('the worker start options travel in the environment, joined by the path delimiter', () => {
  const env = workerStartEnvironment({ nativeTensorFlowFolders: ['/opt/tf', '/home/u/store/native-tensorflow'] }, ':');
  assert.deepEqual(env, { [NATIVE_TENSORFLOW_PATH_ENV]: '/opt/tf:/home/u/store/native-tensorflow' });
  assert.deepEqual(readWorkerStartOptions(env, ':'), { nativeTensorFlowFolders: ['/opt/tf', '/home/u/store/native-tensorflow'] });
  assert.deepEqual(readWorkerStartOptions({}, ':'), { nativeTensorFlowFolders: [] });
  // A user's CLI environment: blanks and repeats are dropped.
  assert.deepEqual(readWorkerStartOptions({ [NATIVE_TENSORFLOW_PATH_ENV]: ' C:\\tf ;; C:\\tf;D:\\x' }, ';'), { nativeTensorFlowFolders: ['C:\\tf', 'D:\\x'] });
  assert.throws(() => workerStartEnvironment({ nativeTensorFlowFolders: ['/a:b'] }, ':'), /cannot be empty or hold ':'/);
});

test('the worker loads tfjs-node from the folder it is given, into its bundled TensorFlow.js, and trains on it; a tfjs-node-gpu that throws is reported with where it is', async () => {
  const folder = path.join(work, 'install');
  const cpuDir = writeNativePackage(folder, '@tensorflow/tfjs-node', REGISTERS);
  const gpuDir = writeNativePackage(folder, '@tensorflow/tfjs-node-gpu', THROWS);
  const empty = path.join(work, 'empty');
  fs.mkdirSync(empty, { recursive: true });
  const client = await WorkerClient.start({ workerPath, nativeTensorFlowFolders: [empty, folder] });
  try {
    const report = await client.probe();
    const byName = Object.fromEntries(report.statuses.map((s) => [s.name, s]));
    assert.equal(report.active, 'tensorflow', JSON.stringify(report.statuses, null, 1));
    const cpu = byName.tensorflow!;
    assert.equal(cpu.available, true);
    assert.equal(cpu.location, cpuDir);
    assert.match(cpu.detail ?? '', new RegExp(`@tensorflow/tfjs-node from ${cpuDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    // The empty folder was looked in first, in the order given.
    assert.deepEqual(cpu.searched, [path.join(empty, 'node_modules', '@tensorflow', 'tfjs-node'), cpuDir]);
    const gpu = byName['tensorflow-gpu']!;
    assert.equal(gpu.available, false);
    assert.equal(gpu.location, gpuDir);
    assert.match(gpu.reason ?? '', /the CUDA library libcudart\.so\.11\.0 was not found/);
    assert.match(gpu.fix ?? '', /CUDA 11\.2 and cuDNN 8\.1/);

    // A run on the backend the stand-in registered: the engine's training runs on it.
    const ball = writeBallVolume(work, 'native');
    const settings = tinyTrainSettings(ball, path.join(work, 'run-native'), { backend: 'tensorflow', iterations: 4, validateEvery: 2 });
    const events: TrainEvent[] = [];
    const summary = await client.train(settings, (e) => events.push(e)).done;
    assert.equal(summary.status, 'succeeded');
    const started = events.find((e) => e.type === 'started');
    assert.ok(started && started.type === 'started');
    assert.equal(started.backend.active, 'tensorflow');
    assert.ok(events.filter((e) => e.type === 'progress').every((e) => e.type === 'progress' && e.backend === 'tensorflow' && Number.isFinite(e.loss)));
  } finally {
    await client.dispose();
  }
});

test('without an install the report says where the worker looked, and how to install', { skip: inCheckout('@tensorflow/tfjs-node') ? 'tfjs-node is installed in the checkout, which the worker falls back to' : false }, async () => {
  const nowhere = path.join(work, 'nowhere');
  const client = await WorkerClient.start({ workerPath, nativeTensorFlowFolders: [nowhere] });
  try {
    const cpu = (await client.probe()).statuses.find((s) => s.name === 'tensorflow')!;
    assert.equal(cpu.available, false);
    assert.equal(cpu.reason, '@tensorflow/tfjs-node is not installed');
    assert.match(cpu.fix ?? '', /3D U-Net: Install Native TensorFlow.*unet3d\.nativeTensorFlowPath.*UNET3D_NATIVE_TENSORFLOW_PATH.*npm install @tensorflow\/tfjs-node@4\.22\.0/);
    assert.equal(cpu.searched?.[0], path.join(nowhere, 'node_modules', '@tensorflow', 'tfjs-node'));
    assert.match(cpu.searched?.[1] ?? '', /^@tensorflow\/tfjs-node beside the engine/);
    assert.equal(cpu.searched?.length, 2);
  } finally {
    await client.dispose();
  }
});

// ---- the install command's npm ----

test('npm is found on the PATH (an executable file named npm), and not where it is absent or not executable', () => {
  const { env } = fakeNpmEnv(work, 'ok');
  assert.equal(findNpm(env, 'linux'), path.join(work, 'bin', 'npm'));
  const plain = path.join(work, 'plain');
  fs.mkdirSync(plain, { recursive: true });
  fs.writeFileSync(path.join(plain, 'npm'), 'not executable', { mode: 0o644 });
  assert.equal(findNpm({ PATH: [path.join(work, 'nothing'), plain].join(':') }, 'linux'), undefined);
  assert.equal(findNpm({}, 'linux'), undefined);
  // Windows: npm.cmd, on Path however it is spelled.
  const win = path.join(work, 'win');
  fs.mkdirSync(win, { recursive: true });
  fs.writeFileSync(path.join(win, 'npm.cmd'), '@echo off');
  assert.equal(findNpm({ Path: `${plain};${win}` }, 'win32'), path.join(win, 'npm.cmd'));
});

test('the install runs npm install with the package at the engine\'s version in the install folder, streams its output, and the engine then loads it from there', async () => {
  const { env, log } = fakeNpmEnv(work, 'ok');
  const folder = path.join(work, 'globalStorage', 'native-tensorflow');
  prepareInstallFolder(folder, 'Native TensorFlow for the 3D U-Net extension', ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']);
  const manifest = JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(manifest.private, true);
  // npm ≥ 11 runs an install script only when the project allows it: tfjs-node's downloads libtensorflow.
  assert.deepEqual(manifest.allowScripts, { '@tensorflow/tfjs-node': true, '@tensorflow/tfjs-node-gpu': true });

  const lines: string[] = [];
  const outcome = await runNpmInstall({ npm: findNpm(env, process.platform)!, folder, packages: ['@tensorflow/tfjs-node@4.22.0'], env, onLine: (l) => lines.push(l) });
  assert.deepEqual(outcome, { ok: true });
  const call = JSON.parse(fs.readFileSync(log, 'utf8')) as { argv: string[]; cwd: string };
  assert.deepEqual(call.argv, npmInstallArgs(['@tensorflow/tfjs-node@4.22.0']));
  assert.deepEqual(call.argv, ['install', '--save-exact', '--no-audit', '--no-fund', '--foreground-scripts', '@tensorflow/tfjs-node@4.22.0']);
  assert.equal(fs.realpathSync(call.cwd), fs.realpathSync(folder));
  assert.deepEqual(lines, ['> @tensorflow/tfjs-node@4.22.0 install', 'added 1 package in 1s']);
  // A second install keeps what the first recorded.
  prepareInstallFolder(folder, 'again', ['@tensorflow/tfjs-node']);
  assert.deepEqual((JSON.parse(fs.readFileSync(path.join(folder, 'package.json'), 'utf8')) as { dependencies: unknown }).dependencies, { '@tensorflow/tfjs-node': '4.22.0' });

  const client = await WorkerClient.start({ workerPath, nativeTensorFlowFolders: [folder] });
  try {
    const report = await client.probe();
    const cpu = report.statuses.find((s) => s.name === 'tensorflow')!;
    assert.equal(cpu.available, true, JSON.stringify(cpu));
    assert.equal(cpu.location, path.join(folder, 'node_modules', '@tensorflow', 'tfjs-node'));
  } finally {
    await client.dispose();
  }
});

test('npm failures say what went wrong: offline, or the libtensorflow download blocked', async () => {
  const folder = path.join(work, 'failing');
  prepareInstallFolder(folder, 'x', ['@tensorflow/tfjs-node']);
  const offline = fakeNpmEnv(work, 'offline');
  const noRegistry = await runNpmInstall({ npm: findNpm(offline.env, process.platform)!, folder, packages: ['@tensorflow/tfjs-node@4.22.0'], env: offline.env });
  assert.equal(noRegistry.ok, false);
  assert.ok(!noRegistry.ok);
  assert.equal(noRegistry.cancelled, false);
  assert.equal(noRegistry.exitCode, 1);
  assert.match(noRegistry.reason, /npm could not reach the package registry \(ENOTFOUND.*\): this machine seems to be offline/);
  assert.match(noRegistry.fix ?? '', /connect to the internet/);

  const blocked = fakeNpmEnv(work, 'libtensorflow');
  const noDownload = await runNpmInstall({ npm: findNpm(blocked.env, process.platform)!, folder, packages: ['@tensorflow/tfjs-node@4.22.0'], env: blocked.env });
  assert.ok(!noDownload.ok);
  assert.match(noDownload.reason, /could not download libtensorflow from storage\.googleapis\.com/);
  assert.match(noDownload.fix ?? '', /HTTPS_PROXY/);

  const missing = await runNpmInstall({ npm: path.join(work, 'no-such-npm'), folder, packages: ['x@1'], env: offline.env });
  assert.ok(!missing.ok);
  assert.match(missing.reason, /npm could not be started/);
});

test('cancelling the install stops npm and what it started', { skip: process.platform === 'win32' ? 'process groups: POSIX' : false }, async () => {
  const { env, log } = fakeNpmEnv(work, 'hang');
  const folder = path.join(work, 'cancelled');
  prepareInstallFolder(folder, 'x', ['@tensorflow/tfjs-node']);
  const abort = new AbortController();
  const lines: string[] = [];
  const running = runNpmInstall({ npm: findNpm(env, process.platform)!, folder, packages: ['@tensorflow/tfjs-node@4.22.0'], env, signal: abort.signal, onLine: (l) => lines.push(l) });
  // Cancel once npm has started its child (an install script's download).
  for (let i = 0; i < 200 && !(fs.existsSync(`${log}.child`) && lines.length > 0); i++) await new Promise((r) => setTimeout(r, 50));
  const child = Number(fs.readFileSync(`${log}.child`, 'utf8'));
  abort.abort();
  const outcome = await running;
  assert.ok(!outcome.ok);
  assert.equal(outcome.cancelled, true);
  const alive = (pid: number) => spawnSync('kill', ['-0', String(pid)]).status === 0;
  for (let i = 0; i < 100 && alive(child); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(alive(child), false, 'the child npm started outlived the cancel');
});
