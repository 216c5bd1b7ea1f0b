// The unit tests' WebGPU: Dawn (npm `webgpu`) reaches a GPU through Vulkan, and on a machine
// without one Mesa's lavapipe serves as a software adapter, but only Mesa ≥ 25 (Debian 12's
// 22.3 is refused by Dawn). When no adapter is found and this runs as root on Debian, it installs
// the Vulkan loader (libvulkan1) and Mesa's Vulkan drivers, on Debian 12 from bookworm-backports,
// as test/e2e/toolchain.ts installs Chromium. Elsewhere it says what to install; the webgpu tests
// then skip with that reason. UNET3D_SKIP_VULKAN_SETUP=1 leaves the system alone.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const BACKPORTS_LIST = '/etc/apt/sources.list.d/bookworm-backports.list';
const log = (message) => console.log(`[vulkan-setup] ${message}`);

/** Whether Dawn finds an adapter here (in a child process: Dawn's state stays out of this one). */
export function probeAdapter(root) {
  const script = `
const path = require('node:path');
let file;
try {
  const dir = path.dirname(require.resolve('webgpu/package.json'));
  file = path.join(dir, 'dist', process.platform + '-' + (process.platform === 'darwin' ? 'universal' : process.arch), 'dawn.node');
} catch (e) { console.log(JSON.stringify({ error: 'the npm package webgpu is not installed' })); process.exit(0); }
const { create } = require(file);
create([]).requestAdapter().then((a) => console.log(JSON.stringify(a ? { description: a.info.description } : { error: 'no adapter' })));
`;
  const result = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  const line = (result.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line);
  } catch {
    return { error: `the probe failed: ${(result.stderr ?? '').trim().split('\n').pop() ?? result.status}` };
  }
}

function debianCodename() {
  try {
    return /^VERSION_CODENAME=(\w+)/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

function apt(args, logFile) {
  const out = fs.openSync(logFile, 'a');
  try {
    const result = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', ...args], {
      stdio: ['ignore', out, out],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (see ${logFile})`);
  } finally {
    fs.closeSync(out);
  }
}

/**
 * Makes sure a WebGPU adapter exists, installing Vulkan when it can. Returns the adapter's
 * description, or throws when it installed and still none is found; returns undefined (with a
 * warning) when it may not install.
 */
export function ensureVulkan(root) {
  if (process.env.UNET3D_SKIP_VULKAN_SETUP === '1' || process.platform !== 'linux') return undefined;
  const before = probeAdapter(root);
  if (before.description) return before.description;
  const canInstall = process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get');
  const codename = debianCodename();
  const command = codename === 'bookworm'
    ? `echo 'deb http://deb.debian.org/debian bookworm-backports main' > ${BACKPORTS_LIST} && apt-get update && apt-get install -y libvulkan1 && apt-get install -y -t bookworm-backports mesa-vulkan-drivers`
    : 'apt-get install -y libvulkan1 mesa-vulkan-drivers';
  if (!canInstall) {
    log(`no WebGPU adapter (${before.error}); the webgpu tests will be skipped. To run them, as root: ${command}`);
    return undefined;
  }
  const logFile = path.join(root, '.test-work', 'vulkan-apt.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  log(`no WebGPU adapter (${before.error}): installing libvulkan1 and mesa-vulkan-drivers${codename === 'bookworm' ? ' (Mesa ≥ 25 from bookworm-backports)' : ''}; log: ${logFile}`);
  const started = Date.now();
  if (codename === 'bookworm' && !fs.existsSync(BACKPORTS_LIST)) {
    fs.writeFileSync(BACKPORTS_LIST, 'deb http://deb.debian.org/debian bookworm-backports main\n');
  }
  apt(['update'], logFile);
  apt(['install', '-y', 'libvulkan1'], logFile);
  apt(['install', '-y', ...(codename === 'bookworm' ? ['-t', 'bookworm-backports'] : []), 'mesa-vulkan-drivers'], logFile);
  const after = probeAdapter(root);
  if (!after.description) throw new Error(`Vulkan was installed but Dawn still finds no adapter (${after.error}); see ${logFile}`);
  log(`WebGPU adapter: ${after.description} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  return after.description;
}
