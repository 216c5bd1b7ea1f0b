/**
 * What goes into the .vsix and what it holds: the packages the bundles load at run time and
 * their files (used by test/e2e/package.ts), and a .vsix read without unpacking it (used by the
 * packaging test).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import * as zlib from 'node:zlib';

/** Every file in a zip archive, by its path inside the archive. */
export function readZip(file: string): Map<string, Buffer> {
  const zip = fs.readFileSync(file);
  // The end-of-central-directory record sits at the end, before an optional comment.
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file} is not a zip archive`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    if (method !== 0 && method !== 8) throw new Error(`${file}: ${name} uses zip method ${method}`);
    if (!name.endsWith('/')) entries.set(name, method === 8 ? zlib.inflateRawSync(data) : data);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** The bare module specifiers a CommonJS bundle requires (`require("x/y")`), builtins left out. */
export function requiredModules(bundle: string): string[] {
  const builtins = new Set(builtinModules);
  const specs = new Set<string>();
  for (const match of bundle.matchAll(/\brequire\(\s*["']([^"'./][^"']*)["']\s*\)/g)) {
    const spec = match[1]!;
    if (!spec.startsWith('node:') && !builtins.has(spec)) specs.add(spec);
  }
  return [...specs].sort();
}

/** The package a specifier names: '@scope/name/sub/path' -> '@scope/name'; 'name/sub' -> 'name'. */
export function packageOf(spec: string): string {
  return spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
}

/** A package folder found the way Node's resolver finds it. */
export interface PackageDir {
  name: string;
  /** Folder relative to the root, e.g. 'node_modules/@tensorflow/tfjs-core'. */
  dir: string;
}

/** Reads a package folder's manifest: name, and the dependencies it needs at run time. */
export type ReadManifest = (dir: string) => { dependencies?: Record<string, string> } | undefined;

/**
 * The packages `roots` need at run time, found as Node finds them (node_modules of the requiring
 * package, then of each folder above it) and followed through their `dependencies`. `read`
 * returns a folder's package.json, or undefined where there is none. Type-only packages (@types/*)
 * are listed too: npm counts them as dependencies. Throws naming any package it cannot find.
 */
export function dependencyClosure(roots: readonly string[], read: ReadManifest): PackageDir[] {
  const found = new Map<string, PackageDir>();
  const missing: string[] = [];
  const visit = (name: string, fromDir: string) => {
    for (let dir = fromDir; ; dir = parentPackageRoot(dir)) {
      const candidate = path.posix.join(dir, 'node_modules', name);
      const manifest = read(candidate);
      if (manifest) {
        if (found.has(candidate)) return;
        found.set(candidate, { name, dir: candidate });
        for (const dep of Object.keys(manifest.dependencies ?? {})) visit(dep, candidate);
        return;
      }
      if (dir === '') {
        missing.push(`${name} (needed by ${fromDir || 'the extension'})`);
        return;
      }
    }
  };
  for (const root of roots) visit(root, '');
  if (missing.length > 0) throw new Error(`packages not found: ${missing.join(', ')}`);
  return [...found.values()].sort((a, b) => a.dir.localeCompare(b.dir));
}

/** 'node_modules/a/node_modules/@s/b' -> 'node_modules/a'; 'node_modules/a' -> ''. */
function parentPackageRoot(dir: string): string {
  const at = dir.lastIndexOf('node_modules/');
  return at <= 0 ? '' : dir.slice(0, at - 1);
}

/** The VS Code platform target (`vsce package --target`) of the machine this runs on, e.g. 'linux-x64'. */
export function hostTarget(): string {
  return `${process.platform}-${process.arch}`;
}

/** The VS Code platform targets the extension is packaged for: those npm `webgpu` has a binary for. */
export const VSIX_TARGETS = ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64', 'win32-arm64'] as const;

/** The folder of npm `webgpu`'s dist/ holding a VS Code target's dawn.node (macOS has one universal binary). */
export function dawnFolder(target: string): string {
  if (!(VSIX_TARGETS as readonly string[]).includes(target)) {
    throw new Error(`no WebGPU binary (npm webgpu) for the target "${target}"; targets: ${VSIX_TARGETS.join(', ')}`);
  }
  return target.startsWith('darwin-') ? 'darwin-universal' : target;
}

/**
 * Whether a file of a shipped npm package is needed at run time (path relative to the package
 * folder). Left out: type declarations, TypeScript sources, source maps, docs, tests, and the
 * browser builds of TensorFlow.js (minified, ES-module and mini-program bundles; Node loads the
 * `*.node.js` builds and the per-file modules), and npm `webgpu`'s binaries for other platforms
 * than `target`. Nested node_modules are packages of their own.
 */
export function isRuntimeFile(file: string, packageName: string, target: string = hostTarget()): boolean {
  if (file.startsWith('node_modules/')) return false;
  // Dawn's WebGPU binaries: only the target platform's folder (21–39 MB each, 132 MB for all).
  if (packageName === 'webgpu') return file === 'package.json' || /^licen[cs]e/i.test(file) || file.startsWith(`dist/${dawnFolder(target)}/`);
  if (file === 'package.json' || /^(licen[cs]e|notice)/i.test(path.posix.basename(file))) return true;
  if (packageName.startsWith('@types/')) return false;
  if (/\.(d\.ts|d\.mts|d\.cts|ts|tsx|map|md|markdown|html)$/i.test(file)) return false;
  // (src/ stays: some packages run from it, e.g. long's main is src/long.js.)
  if (/(^|\/)(test|tests|__tests__|example|examples|docs?|miniprogram)\//.test(file)) return false;
  if (/_test\.js$|\.(min|esm|fesm|es2017)\.js$/.test(file)) return false;
  // TensorFlow.js's browser bundles (dist/tf-core.js ...) beside the Node ones (dist/tf-core.node.js).
  if (packageName.startsWith('@tensorflow/') && /^dist\/tf[\w-]*\.js$/.test(file) && !file.endsWith('.node.js')) return false;
  return true;
}
