/**
 * Stand-ins for what cannot run on an offline machine: @tensorflow/tfjs-node(-gpu) packages that
 * do what the real ones do on load (require their own @tensorflow/tfjs, the union package, a copy
 * of tfjs-core separate from the one bundled into the worker, and register a backend named
 * "tensorflow" on it, here computing with the cpu kernels), one that throws as tfjs-node-gpu does
 * without CUDA, and an npm that "installs" them. Used by test/unit/native-tensorflow.test.ts and
 * the extension-host test of Install Native TensorFlow.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from './data';

/** tfjs-node's first lines, then a backend "tensorflow" (cpu kernels) on the union's tfjs-core. */
export const REGISTERS = `
const tf = require('@tensorflow/tfjs');
const { MathBackendCPU } = require('@tensorflow/tfjs-backend-cpu');
tf.registerBackend('tensorflow', () => new MathBackendCPU(), 3);
for (const kernel of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...kernel, backendName: 'tensorflow' });
module.exports = tf;
`;
/** A native addon whose CUDA libraries are missing, as tfjs-node-gpu fails on a machine without CUDA. */
export const THROWS = `
require('@tensorflow/tfjs');
throw new Error('libcudart.so.11.0: cannot open shared object file: No such file or directory (fake tfjs-node-gpu)');
`;

/** Writes a stand-in for `pkg` into FOLDER/node_modules, with the union @tensorflow/tfjs beside it (as npm installs it). */
export function writeNativePackage(folder: string, pkg: string, source: string, version = '4.22.0'): string {
  const dir = path.join(folder, 'node_modules', ...pkg.split('/'));
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: pkg, version, main: 'index.js' }));
  fs.writeFileSync(path.join(dir, 'index.js'), source);
  for (const dep of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-cpu']) {
    const link = path.join(folder, 'node_modules', ...dep.split('/'));
    if (!fs.existsSync(link)) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules', ...dep.split('/')), link, 'dir');
  }
  return dir;
}

/**
 * A fake npm (a script named npm in a folder put first on the PATH). It writes its arguments and
 * folder to $FAKE_NPM_LOG, then by $FAKE_NPM_MODE: `ok` installs the stand-in tfjs-node packages
 * it is asked for (from $FAKE_NPM_SOURCE) and records them in package.json as npm does; `offline`
 * and `libtensorflow` fail as npm does without the registry, and when tfjs-node's install script
 * cannot download libtensorflow; `hang` starts a child and waits (for the cancel test).
 */
const FAKE_NPM = `#!${process.execPath}
const fs = require('node:fs');
const path = require('node:path');
fs.writeFileSync(process.env.FAKE_NPM_LOG, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }));
const mode = process.env.FAKE_NPM_MODE;
if (mode === 'offline') {
  console.error('npm error code ENOTFOUND');
  console.error('npm error syscall getaddrinfo');
  console.error('npm error network request to https://registry.npmjs.org/@tensorflow%2ftfjs-node failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org');
  process.exit(1);
}
if (mode === 'libtensorflow') {
  console.log('> @tensorflow/tfjs-node@4.22.0 install');
  console.log('> node scripts/install.js');
  console.log('* Downloading libtensorflow https://storage.googleapis.com/tensorflow/libtensorflow/libtensorflow-cpu-linux-x86_64-2.9.1.tar.gz');
  console.error('Error: getaddrinfo ENOTFOUND storage.googleapis.com');
  console.error('npm error code 1');
  console.error('npm error command failed');
  process.exit(1);
}
if (mode === 'hang') {
  const child = require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
  fs.writeFileSync(process.env.FAKE_NPM_LOG + '.child', String(child.pid));
  console.log('> @tensorflow/tfjs-node@4.22.0 install');
  setTimeout(() => {}, 600000);
  return;
}
const manifest = JSON.parse(fs.readFileSync('package.json', 'utf8'));
for (const spec of process.argv.slice(3).filter((a) => !a.startsWith('-'))) {
  const at = spec.lastIndexOf('@');
  const [name, version] = [spec.slice(0, at), spec.slice(at + 1)];
  const dir = path.join('node_modules', ...name.split('/'));
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(process.env.FAKE_NPM_SOURCE, ...name.split('/')), dir, { recursive: true });
  manifest.dependencies = { ...manifest.dependencies, [name]: version };
  console.log('> ' + spec + ' install');
}
for (const dep of ['@tensorflow/tfjs', '@tensorflow/tfjs-backend-cpu']) {
  const link = path.join('node_modules', ...dep.split('/'));
  if (!fs.existsSync(link)) fs.symlinkSync(path.join(process.env.FAKE_NPM_REPO, 'node_modules', ...dep.split('/')), link, 'dir');
}
fs.writeFileSync('package.json', JSON.stringify(manifest, null, 2));
console.log('added 1 package in 1s');
`;

/** A fake npm in WORK/bin, the stand-ins it installs in WORK/registry, and the environment that puts it first on the PATH. */
export function fakeNpmEnv(work: string, mode: 'ok' | 'offline' | 'libtensorflow' | 'hang'): { env: NodeJS.ProcessEnv; log: string; bin: string } {
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.writeFileSync(path.join(bin, 'npm'), FAKE_NPM, { mode: 0o755 });
  // The packages the fake "downloads": stand-ins as the registry would give them.
  const source = path.join(work, 'registry');
  if (!fs.existsSync(source)) {
    for (const pkg of ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu']) {
      const dir = path.join(source, ...pkg.split('/'));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: pkg, version: '4.22.0', main: 'index.js' }));
      fs.writeFileSync(path.join(dir, 'index.js'), REGISTERS);
    }
  }
  const log = path.join(work, `npm-${mode}.json`);
  return { env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`, FAKE_NPM_MODE: mode, FAKE_NPM_LOG: log, FAKE_NPM_SOURCE: source, FAKE_NPM_REPO: REPO_ROOT }, log, bin };
}

