/**
 * npm as the extension runs it to install a package into a folder of its own (3D U-Net: Install
 * Native TensorFlow): found on the PATH, run with its output passed on line by line, stopped on
 * request (its whole process tree), and its failures told in words a user can act on. Node only,
 * no vscode: unit-tested with a fake npm on the PATH.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomicWrite';
import { makeFolders } from '../core/folders';

/** The npm executable on the PATH of `env`, or undefined. On Windows npm is npm.cmd. */
export function findNpm(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string | undefined {
  // Windows spells it Path; an environment copied into an object keeps the spelling.
  const pathKey = Object.keys(env).find((k) => k.toUpperCase() === 'PATH');
  const dirs = (pathKey ? env[pathKey] ?? '' : '').split(platform === 'win32' ? ';' : ':').filter(Boolean);
  const names = platform === 'win32' ? ['npm.cmd', 'npm.exe'] : ['npm'];
  for (const dir of dirs) {
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        if (!fs.statSync(file).isFile()) continue;
        if (platform !== 'win32') fs.accessSync(file, fs.constants.X_OK);
        return file;
      } catch {
        // not there, or not executable: the next one
      }
    }
  }
  return undefined;
}

/** The arguments of `npm install` for `packages` (name@version each), with install scripts shown as they run. */
export function npmInstallArgs(packages: readonly string[]): string[] {
  // --foreground-scripts: the install script's output (tfjs-node downloads libtensorflow) reaches
  // the log instead of being held back; --save-exact records what was installed.
  return ['install', '--save-exact', '--no-audit', '--no-fund', '--foreground-scripts', ...packages];
}

/**
 * Makes `folder` an npm project of its own (a package.json, once), so that `npm install` puts the
 * packages into folder/node_modules and nowhere else. `allowScripts` names the packages whose
 * install scripts must run (npm ≥ 11 asks for that approval; older npm ignores the field).
 */
export function prepareInstallFolder(folder: string, description: string, allowScripts: readonly string[]): void {
  makeFolders(folder);
  const file = path.join(folder, 'package.json');
  let manifest: Record<string, unknown> = {};
  if (fs.existsSync(file)) {
    try {
      manifest = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch {
      // a broken manifest is replaced: the folder is the extension's own
    }
  }
  const allowed = typeof manifest.allowScripts === 'object' && manifest.allowScripts !== null ? (manifest.allowScripts as Record<string, unknown>) : {};
  const next = { name: 'unet3d-native-tensorflow', private: true, description, ...manifest, allowScripts: { ...allowed, ...Object.fromEntries(allowScripts.map((p) => [p, true])) } };
  writeFileAtomic(file, JSON.stringify(next, null, 2) + '\n');
}

/** What `npm install` did. */
export type NpmInstallOutcome = { ok: true } | { ok: false; cancelled: boolean; exitCode: number | null; reason: string; fix?: string };

export interface NpmInstallRequest {
  /** The npm executable (findNpm). */
  npm: string;
  /** The folder to install into (prepareInstallFolder first). */
  folder: string;
  /** name@version of each package. */
  packages: readonly string[];
  /** npm's environment; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Each line npm prints, as it prints it. */
  onLine?(line: string): void;
  /** Aborting stops npm and what it started (an install script's download). */
  signal?: AbortSignal;
}

/** Runs `npm install` in the folder; resolves (never rejects) with what happened. */
export function runNpmInstall(request: NpmInstallRequest): Promise<NpmInstallOutcome> {
  return new Promise((resolve) => {
    if (request.signal?.aborted) {
      resolve({ ok: false, cancelled: true, exitCode: null, reason: 'the installation was cancelled before it started' });
      return;
    }
    const windows = process.platform === 'win32';
    // npm.cmd is a batch file: Windows runs it only through a shell.
    const child = spawn(request.npm, npmInstallArgs(request.packages), {
      cwd: request.folder,
      env: request.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: windows && /\.cmd$/i.test(request.npm),
      detached: !windows, // its own process group, stopped as a whole
      windowsHide: true,
    });
    const tail: string[] = [];
    const take = (stream: NodeJS.ReadableStream) => {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) emit(line);
      });
      stream.on('end', () => {
        if (pending) emit(pending);
      });
    };
    const emit = (line: string) => {
      tail.push(line);
      if (tail.length > 400) tail.shift();
      request.onLine?.(line);
    };
    take(child.stdout!);
    take(child.stderr!);
    let cancelled = false;
    const stop = () => {
      cancelled = true;
      stopProcessTree(child.pid, windows);
    };
    request.signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (error) => {
      request.signal?.removeEventListener('abort', stop);
      resolve({ ok: false, cancelled: false, exitCode: null, reason: `npm could not be started (${request.npm}): ${error.message}`, fix: 'check that Node.js and npm are installed and work in a terminal' });
    });
    child.on('close', (code) => {
      request.signal?.removeEventListener('abort', stop);
      if (cancelled) resolve({ ok: false, cancelled: true, exitCode: code, reason: 'the installation was cancelled' });
      else if (code === 0) resolve({ ok: true });
      else resolve({ ok: false, cancelled: false, exitCode: code, ...explainNpmFailure(tail.join('\n'), code) });
    });
  });
}

function stopProcessTree(pid: number | undefined, windows: boolean): void {
  if (pid === undefined) return;
  try {
    if (windows) spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true });
    else process.kill(-pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/** Why `npm install` failed, from its output: offline, a blocked download, no permission, or its own last error lines. */
export function explainNpmFailure(output: string, exitCode: number | null): { reason: string; fix?: string } {
  // tfjs-node's install script fetches libtensorflow from Google's storage, not from the registry.
  if (/storage\.googleapis\.com/i.test(output) && /(ENOTFOUND|ETIMEDOUT|ECONNREFUSED|ECONNRESET|EAI_AGAIN|socket hang up|certificate|403|404|fail)/i.test(output)) {
    return {
      reason: "the package's install script could not download libtensorflow from storage.googleapis.com",
      fix: 'allow this machine to reach storage.googleapis.com (a proxy: set HTTPS_PROXY before starting VS Code), then install again',
    };
  }
  const offline = /\b(ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|ENETUNREACH)\b[^\n]*/.exec(output);
  if (offline) {
    return {
      reason: `npm could not reach the package registry (${offline[0].trim().slice(0, 160)}): this machine seems to be offline`,
      fix: 'connect to the internet (or set the proxy npm should use: npm config set proxy …), then install again',
    };
  }
  if (/\b(EACCES|EPERM)\b/.test(output)) {
    return { reason: 'npm was not allowed to write where it installs (EACCES/EPERM)', fix: 'check the permissions of the folder named in the log' };
  }
  if (/\bENOSPC\b/.test(output)) return { reason: 'the disk is full (ENOSPC)', fix: 'free some space (TensorFlow needs about 1 GB), then install again' };
  const errors = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^npm (ERR!|error)/.test(l))
    .map((l) => l.replace(/^npm (ERR!|error)\s*/, ''))
    .filter(Boolean);
  const last = errors.slice(0, 3).join(' · ') || output.trim().split('\n').slice(-3).join(' · ');
  return { reason: `npm install failed (exit code ${exitCode ?? 'none'})${last ? `: ${last.slice(0, 400)}` : ''}`, fix: 'the whole output is in the 3D U-Net log' };
}
