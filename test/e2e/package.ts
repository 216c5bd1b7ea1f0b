/**
 * `npm run package [-- --target T] [--out FILE.vsix]`: the .vsix for one VS Code platform target
 * (default this machine's); `npm run package:all`: one for every target in VSIX_TARGETS. Made
 * by @vscode/vsce in a staging folder that holds only what runs:
 *  - the production bundles, built into the staging folder (dist/ of the checkout is left alone):
 *    the extension host, the engine worker with TensorFlow.js bundled in, the webview and its mesh
 *    worker, and the wasm backend's binaries (esbuild.mjs, esbuild.node.mjs);
 *  - the extension's other files that .vscodeignore keeps (`vsce ls --no-dependencies`);
 *  - Dawn's binary for the target, from npm `webgpu`, as dist/dawn/<platform>/dawn.node (where
 *    src/engine/webgpu/device.ts looks first), with that package's license.
 * No node_modules ship: nothing is loaded from there. Every file of the result must have a reason
 * to ship (vsixFileRules) and the whole stay within VSIX_LIMITS; packaging fails otherwise.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/data';
import { dawnFolder, hostTarget, isGpuBinary, listZip, VSIX_TARGETS, vsixBytes, vsixContentProblems } from './vsix';

interface Manifest {
  name: string;
  version: string;
}

const VSCE = path.join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');

function vsce(args: string[], cwd: string, capture = false): string {
  const result = spawnSync(process.execPath, [VSCE, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`vsce ${args.join(' ')} failed (${result.status ?? result.signal})`);
  return result.stdout ?? '';
}

function copy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

/** The folder of npm `webgpu` in the checkout. */
function webgpuPackage(): string {
  const dir = path.join(REPO_ROOT, 'node_modules', 'webgpu');
  if (!fs.existsSync(path.join(dir, 'package.json'))) throw new Error('npm webgpu is not installed (npm ci)');
  return dir;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;

/** One line on what a .vsix holds: files, and bytes packed and unpacked, with and without Dawn. */
function describeVsix(file: string): string {
  const entries = listZip(file);
  const all = vsixBytes(entries, true);
  const lean = vsixBytes(entries, false);
  const gpu = entries.filter((e) => isGpuBinary(e.path)).length;
  return (
    `${entries.length} files (${entries.length - gpu} without dawn.node); ${mib(fs.statSync(file).size)} .vsix; ` +
    `packed ${mib(all.packed)} with dawn.node, ${mib(lean.packed)} without; unpacked ${mib(all.unpacked)} with, ${mib(lean.unpacked)} without`
  );
}

/** Stages and packages the .vsix of each target; returns the files written. */
function packageTargets(targets: readonly string[], out?: string): string[] {
  for (const target of targets) dawnFolder(target); // refuses a target without a WebGPU binary
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;
  const staging = path.join(REPO_ROOT, '.test-work', `package-${process.pid}-${Date.now().toString(36)}`);
  fs.rmSync(staging, { recursive: true, force: true });
  const written: string[] = [];
  try {
    // The extension's own files but its bundles, as .vscodeignore selects them.
    const ownFiles = vsce(['ls', '--no-dependencies'], REPO_ROOT, true)
      .split('\n')
      .map((l) => l.trim())
      .filter((f) => f && !f.startsWith('dist/'));
    for (const file of [...ownFiles, '.vscodeignore']) copy(path.join(REPO_ROOT, file), path.join(staging, file));
    const build = spawnSync(process.execPath, ['esbuild.mjs', '--production', '--outdir', path.join(staging, 'dist')], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    if (build.status !== 0) throw new Error(`the production build failed (${build.status ?? build.signal})`);
    const webgpu = webgpuPackage();
    for (const target of targets) {
      const folder = dawnFolder(target);
      fs.rmSync(path.join(staging, 'dist', 'dawn'), { recursive: true, force: true });
      copy(path.join(webgpu, 'LICENSE.md'), path.join(staging, 'dist', 'dawn', 'LICENSE.md'));
      copy(path.join(webgpu, 'dist', folder, 'dawn.node'), path.join(staging, 'dist', 'dawn', folder, 'dawn.node'));
      const file = out && targets.length === 1 ? path.resolve(out) : path.join(REPO_ROOT, `${manifest.name}-${target}-${manifest.version}.vsix`);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      // The repository field is not there yet; README images stay relative (they ship).
      vsce(['package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '--target', target, '--out', file], staging);
      const problems = vsixContentProblems(listZip(file), target);
      if (problems.length > 0) throw new Error(`${path.basename(file)} is not lean:\n- ${problems.join('\n- ')}`);
      console.log(`[package] ${target}: ${describeVsix(file)}`);
      written.push(file);
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  return written;
}

function main(): void {
  const args = process.argv.slice(2);
  const valueOf = (...names: string[]) => {
    const at = args.findIndex((a) => names.includes(a));
    return at >= 0 ? args[at + 1] : undefined;
  };
  const targets = args.includes('--all-targets') ? [...VSIX_TARGETS] : [valueOf('--target') ?? hostTarget()];
  packageTargets(targets, valueOf('--out', '-o'));
}

try {
  main();
} catch (error) {
  console.error(`[package] ${(error as Error).message}`);
  process.exit(1);
}
