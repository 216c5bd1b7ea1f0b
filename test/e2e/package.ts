/**
 * `npm run package [-- vsce options, e.g. --out file.vsix --target linux-x64]`: the .vsix, made by
 * @vscode/vsce in a staging folder that holds only what runs. The npm script builds the
 * production bundles first. One .vsix per platform (`--target`, default this machine's): it
 * carries that platform's Dawn binary (npm `webgpu`, the webgpu backend) and no other;
 * `npm run package:all` makes one for every target in VSIX_TARGETS.
 *  - The extension's own files are those .vscodeignore keeps (`vsce ls --no-dependencies`).
 *  - esbuild.mjs keeps every @tensorflow/* package out of the bundles, so the worker loads them
 *    from node_modules: the dependencies the bundles name, and theirs, ship too, less what Node
 *    never loads (isRuntimeFile: types, sources, maps, tests, browser builds).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/data';
import { dawnFolder, dependencyClosure, hostTarget, isRuntimeFile } from './vsix';

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}

const VSCE = path.join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');

function vsce(args: string[], cwd: string, capture = false): string {
  const result = spawnSync(process.execPath, [VSCE, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
  if (result.status !== 0) throw new Error(`vsce ${args.join(' ')} failed (${result.status ?? result.signal})`);
  return result.stdout ?? '';
}

/**
 * The dependencies the bundles load at run time: those whose name appears as a string in a
 * bundle (a `require("name")`, or a name in a list of backends to try). Bundled packages leave
 * no such string in a minified bundle. Optional (native) dependencies cannot ship.
 */
function runtimeDependencies(manifest: Manifest, bundles: string[]): string[] {
  const text = bundles.map((b) => fs.readFileSync(path.join(REPO_ROOT, b), 'utf8')).join('\n');
  return Object.keys(manifest.dependencies ?? {}).filter((name) => {
    const quoted = new RegExp(`["'\`]${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}["'\`/]`);
    return !(name in (manifest.optionalDependencies ?? {})) && quoted.test(text);
  });
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? listFiles(dir, rel) : [rel];
  });
}

function main(): void {
  const userArgs = process.argv.slice(2);
  const targetAt = userArgs.indexOf('--target');
  const target = targetAt >= 0 ? userArgs[targetAt + 1] ?? '' : hostTarget();
  dawnFolder(target); // refuses a target without a WebGPU binary
  if (targetAt < 0) userArgs.push('--target', target);
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as Manifest;
  const ownFiles = vsce(['ls', '--no-dependencies'], REPO_ROOT, true).split('\n').map((l) => l.trim()).filter(Boolean);
  const bundles = ownFiles.filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
  const roots = runtimeDependencies(manifest, bundles);
  const packages = dependencyClosure(roots, (dir) => {
    const file = path.join(REPO_ROOT, dir, 'package.json');
    return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest) : undefined;
  });

  const staging = path.join(REPO_ROOT, '.test-work', `package-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  try {
    for (const file of ownFiles) copy(file, file);
    let shipped = 0;
    for (const pkg of packages) {
      for (const file of listFiles(path.join(REPO_ROOT, pkg.dir)).filter((f) => isRuntimeFile(f, pkg.name, target))) {
        copy(path.posix.join(pkg.dir, file), path.posix.join(pkg.dir, file));
        shipped++;
      }
    }
    // vsce asks npm which packages to include; it lists the manifest's dependencies, so the staged
    // manifest names only those that ship. (VS Code never installs an extension's dependencies.)
    const staged: Manifest = { ...manifest, dependencies: Object.fromEntries(roots.map((r) => [r, manifest.dependencies![r]!])) };
    fs.writeFileSync(path.join(staging, 'package.json'), JSON.stringify(staged, null, 2));
    // Everything staged ships; the file only tells vsce that the selection was made.
    fs.writeFileSync(path.join(staging, '.vscodeignore'), '# staged by test/e2e/package.ts: everything here ships\n');
    console.log(`[package] ${target}: ${ownFiles.length} files of the extension; ${packages.length} npm packages (${roots.join(', ') || 'none'} and their dependencies), ${shipped} files`);

    const outAt = userArgs.findIndex((a) => a === '--out' || a === '-o');
    if (outAt >= 0 && userArgs[outAt + 1]) userArgs[outAt + 1] = path.resolve(userArgs[outAt + 1]!);
    const out = outAt >= 0 ? [] : ['--out', path.join(REPO_ROOT, `${manifest.name}-${target}-${manifest.version}.vsix`)];
    // The repository field and a LICENSE file are not there yet; README images stay relative.
    vsce(['package', '--allow-missing-repository', '--no-rewrite-relative-links', ...out, ...userArgs], staging);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }

  function copy(from: string, to: string): void {
    const target = path.join(staging, to);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, from), target);
  }
}

main();
