/**
 * What goes into the .vsix and what it holds: each file with the reason it ships (VSIX_FILES,
 * used by test/e2e/package.ts and checked by test/unit/vsix-contents.test.ts), the limits on its
 * size, a .vsix read without unpacking it, and the npm packages a bundle loads at run time with
 * their files (the GPU benchmark's pack, test/bench/gpu.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinModules } from 'node:module';
import * as zlib from 'node:zlib';

/** One entry of a zip archive's central directory. */
interface ZipEntry {
  name: string;
  /** 0: stored, 8: deflated. */
  method: number;
  compressedSize: number;
  size: number;
  /** Offset of the entry's local header. */
  localHeader: number;
}

/** The entries of a zip archive's central directory, folders included. */
function* centralDirectory(zip: Buffer, file: string): Generator<ZipEntry> {
  // The end-of-central-directory record sits at the end, before an optional comment.
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error(`${file} is not a zip archive`);
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`${file}: bad central directory entry ${i}`);
    const nameLength = zip.readUInt16LE(at + 28);
    yield {
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      size: zip.readUInt32LE(at + 24),
      localHeader: zip.readUInt32LE(at + 42),
    };
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
}

/** Every file in a zip archive, by its path inside the archive. */
export function readZip(file: string): Map<string, Buffer> {
  const zip = fs.readFileSync(file);
  const entries = new Map<string, Buffer>();
  for (const e of centralDirectory(zip, file)) {
    if (e.name.endsWith('/')) continue;
    const dataStart = e.localHeader + 30 + zip.readUInt16LE(e.localHeader + 26) + zip.readUInt16LE(e.localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + e.compressedSize);
    if (e.method !== 0 && e.method !== 8) throw new Error(`${file}: ${e.name} uses zip method ${e.method}`);
    entries.set(e.name, e.method === 8 ? zlib.inflateRawSync(data) : data);
  }
  return entries;
}

/** A pattern of paths inside the .vsix and why files matching it ship: what loads or shows them. */
export interface VsixFileRule {
  pattern: RegExp;
  reason: string;
  /** At least one file must match (the extension does not work without it). */
  required?: boolean;
}

/**
 * Every file the .vsix may hold (paths inside the archive) and why: something loads or shows each
 * one. A file matching none is one nothing loads, and fails the packaging test. `target`: the
 * VS Code platform target, whose Dawn binary alone ships.
 */
export function vsixFileRules(target: string): VsixFileRule[] {
  const dawn = dawnFolder(target).replace(/[-]/g, '\\-');
  return [
    { pattern: /^\[Content_Types\]\.xml$|^extension\.vsixmanifest$/, reason: "the VSIX container's own metadata, written by vsce", required: true },
    { pattern: /^extension\/package\.json$/, reason: 'the manifest: commands, settings, views, the entry point', required: true },
    { pattern: /^extension\/readme\.md$/, reason: "the extension's Details page", required: true },
    { pattern: /^extension\/changelog\.md$/, reason: 'the Changelog tab', required: true },
    { pattern: /^extension\/LICENSE\.txt$/, reason: 'the license, shown by the Marketplace and required by vsce', required: true },
    { pattern: /^extension\/dist\/extension\.js$/, reason: 'the extension host bundle (main)', required: true },
    { pattern: /^extension\/dist\/worker\.js$/, reason: 'the engine worker, forked for each training and segmentation (TensorFlow.js bundled in)', required: true },
    { pattern: /^extension\/dist\/webview\.js$/, reason: "the volume editor's webview script", required: true },
    { pattern: /^extension\/dist\/view3d\.js$/, reason: "the 3D view (three.js), run by the webview once every voxel is in", required: true },
    { pattern: /^extension\/dist\/meshWorker\.js$/, reason: "the 3D view's mesh worker, fetched by the webview", required: true },
    { pattern: /^extension\/dist\/suggestThread\.js$/, reason: "Suggest Next Slice's reading and scoring, on a worker thread of the extension host", required: true },
    { pattern: /^extension\/dist\/planesThread\.js$/, reason: "the editor's first planes, streamed from the volume's file on a worker thread of the extension host", required: true },
    { pattern: /^extension\/dist\/tfjs-backend-wasm(-simd)?\.wasm$/, reason: 'the wasm backend: the SIMD build, and the plain one for WebAssembly without SIMD (read by the worker)', required: true },
    { pattern: new RegExp(`^extension/dist/dawn/${dawn}/dawn\\.node$`), reason: `Dawn (npm webgpu) for ${target}: the webgpu backend's native binding`, required: true },
    { pattern: /^extension\/dist\/dawn\/LICENSE\.md$/, reason: "npm webgpu's license, shipped with its binary", required: true },
    { pattern: /^extension\/media\/unet3d\.svg$/, reason: 'the activity bar and panel icon', required: true },
    { pattern: /^extension\/media\/icon\.png$/, reason: "the extension's icon", required: true },
    { pattern: /^extension\/media\/editor\.css$/, reason: "the volume editor's style sheet", required: true },
    { pattern: /^extension\/media\/walkthrough\/[\w-]+\.md$/, reason: "the walkthrough's Markdown steps" },
    { pattern: /^extension\/docs\/screenshots\/(editor|editor-3d|loop|curves|runs-view)\.png$/, reason: 'the pictures the README and the walkthrough show' },
  ];
}

/** What a .vsix may weigh and hold per platform, before its GPU binary (dawn.node): issue 15's goal. */
export const VSIX_LIMITS = { files: 300, bytesWithoutGpuBinary: 5 * 2 ** 20 } as const;

/** The GPU binaries (Dawn) of a .vsix, left out of VSIX_LIMITS.bytesWithoutGpuBinary. */
export const isGpuBinary = (file: string): boolean => /^extension\/dist\/dawn\/[^/]+\/dawn\.node$/.test(file);

/** What a .vsix holds: every file with its size in the archive (compressed) and unpacked. */
export interface VsixEntry {
  path: string;
  compressed: number;
  size: number;
}

/** The problems of a .vsix's contents against vsixFileRules and VSIX_LIMITS (none: an empty list). */
export function vsixContentProblems(entries: readonly VsixEntry[], target: string): string[] {
  const rules = vsixFileRules(target);
  const problems: string[] = [];
  const unexplained = entries.filter((e) => !rules.some((r) => r.pattern.test(e.path)));
  if (unexplained.length > 0) problems.push(`nothing loads ${unexplained.length} file(s): ${unexplained.slice(0, 20).map((e) => e.path).join(', ')}`);
  for (const rule of rules) if (rule.required && !entries.some((e) => rule.pattern.test(e.path))) problems.push(`missing: ${rule.pattern.source} (${rule.reason})`);
  if (entries.length >= VSIX_LIMITS.files) problems.push(`${entries.length} files, the limit is under ${VSIX_LIMITS.files}`);
  const { packed, unpacked } = vsixBytes(entries, false);
  const biggest = Math.max(packed, unpacked);
  if (biggest >= VSIX_LIMITS.bytesWithoutGpuBinary) problems.push(`${biggest} bytes without the GPU binary, the limit is under ${VSIX_LIMITS.bytesWithoutGpuBinary}`);
  return problems;
}

/** Bytes of a .vsix's files, compressed (about the .vsix's size) and unpacked (on disk once installed); with or without the GPU binary. */
export function vsixBytes(entries: readonly VsixEntry[], withGpuBinary: boolean): { packed: number; unpacked: number } {
  const counted = entries.filter((e) => withGpuBinary || !isGpuBinary(e.path));
  return { packed: counted.reduce((n, e) => n + e.compressed, 0), unpacked: counted.reduce((n, e) => n + e.size, 0) };
}

/** A .vsix's entries (files, not folders) with their sizes, from its central directory. */
export function listZip(file: string): VsixEntry[] {
  return [...centralDirectory(fs.readFileSync(file), file)].filter((e) => !e.name.endsWith('/')).map((e) => ({ path: e.name, compressed: e.compressedSize, size: e.size }));
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
