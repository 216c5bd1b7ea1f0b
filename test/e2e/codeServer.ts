/**
 * Starts and stops code-server (VS Code's server and web workbench) for tests and `npm start`.
 * Each server gets its own folders (user data, extensions, XDG config/data, TMPDIR), runs in its
 * own session and process group, and is stopped by killing that group: a file watcher child
 * outlives its parent otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Toolchain } from './toolchain';

/** Where a server keeps its state; every folder is created if missing. */
export interface ServerFolders {
  /** VS Code's user data (settings, storage, logs). */
  userDataDir: string;
  /** Installed extensions. */
  extensionsDir: string;
  /** XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME and TMPDIR live here. */
  homeDir: string;
  /** code-server's stdout and stderr are appended to this file. */
  logFile: string;
}

/** A keybinding as keybindings.json holds it. */
export interface Keybinding {
  key: string;
  command: string;
  args?: unknown;
  when?: string;
}

export interface ServerOptions extends ServerFolders {
  /** TCP port on 127.0.0.1; 0 lets the system pick a free one. */
  port: number;
  /** Lets the page drive tests inside the extension host (codeAutomationExit / codeAutomationLog). */
  smokeTestDriver?: boolean;
  /** Settings merged over the seeded defaults in User/settings.json. */
  settings?: Record<string, unknown>;
  /** User keybindings (User/keybindings.json): how a UI test runs a command with arguments from code. */
  keybindings?: readonly Keybinding[];
  /** Whether to reach the extension gallery (Open VSX); off by default, tests run offline. */
  gallery?: boolean;
  /**
   * Keep VS Code's workspace trust on. Off by default (`--disable-workspace-trust`, and the
   * seeded setting): every folder is trusted. On: a folder opens in Restricted Mode, without the
   * startup prompt, until trusted.
   */
  workspaceTrust?: boolean;
}

export interface CodeServer {
  /** Base URL, ending in '/'. */
  url: string;
  port: number;
  /** Process id, also the process group id. */
  pid: number;
  folders: ServerFolders;
  /** Settles when the server process has exited, for whatever reason. */
  exited: Promise<void>;
  /** Stops the whole process group (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Settings of a server with workspace trust kept on: untrusted folders open restricted, unasked. */
const TRUST_ON_SETTINGS: Record<string, unknown> = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.emptyWindow': false,
};

/** Settings that keep a test run quiet and deterministic. */
export const SEEDED_SETTINGS: Record<string, unknown> = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  // Editors such as Running Extensions open in a modal otherwise, which keeps the palette shut.
  'workbench.editor.useModal': 'off',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'git.enabled': false,
};

const running = new Set<number>();
// Whatever happens to the harness, no server outlives it.
process.on('exit', () => {
  for (const pid of running) killGroup(pid, 'SIGKILL');
});
// A signal ends Node without 'exit' handlers; turn it into an exit unless someone else handles it.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.on(signal, () => {
    if (process.listenerCount(signal) === 1) process.exit(code);
  });
}

export async function startCodeServer(tools: Toolchain, options: ServerOptions): Promise<CodeServer> {
  const { userDataDir, extensionsDir, homeDir, logFile } = options;
  for (const dir of [userDataDir, extensionsDir, homeDir, path.dirname(logFile)]) fs.mkdirSync(dir, { recursive: true });
  seedSettings(userDataDir, { ...(options.workspaceTrust ? TRUST_ON_SETTINGS : {}), ...options.settings });
  if (options.keybindings) fs.writeFileSync(path.join(userDataDir, 'User', 'keybindings.json'), JSON.stringify(options.keybindings, null, 2));
  // Our own config file, so that code-server writes no default one (with a password) elsewhere.
  const configFile = path.join(homeDir, 'code-server.yaml');
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');
  const args = [
    tools.codeServerEntry,
    '--bind-addr', `127.0.0.1:${options.port}`,
    '--auth', 'none',
    '--config', configFile,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    ...(options.workspaceTrust ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--ignore-last-opened',
    // Extension hosts otherwise linger for hours after the page closes.
    '--reconnection-grace-time', '5',
    ...(options.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
  ];
  const log = fs.openSync(logFile, 'a');
  // detached: the child calls setsid(), so it leads a new session and process group.
  const child = spawn(tools.node, args, { detached: true, stdio: ['ignore', 'pipe', log], env: serverEnv(tools, homeDir, options.gallery ?? false) });
  fs.closeSync(log);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start code-server (${tools.node} ${tools.codeServerEntry})`);
  running.add(pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = () => stopGroup(pid, exited);
  let port: number;
  try {
    port = await waitForListening(child, logFile, 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}/`, port, pid, folders: { userDataDir, extensionsDir, homeDir, logFile }, exited, stop };
}

/** Installs a .vsix into an extensions folder with code-server's CLI (no server is started). */
export function installExtension(tools: Toolchain, vsix: string, folders: ServerFolders): void {
  for (const dir of [folders.userDataDir, folders.extensionsDir, folders.homeDir]) fs.mkdirSync(dir, { recursive: true });
  const result = spawnSync(
    tools.node,
    [tools.codeServerEntry, '--user-data-dir', folders.userDataDir, '--extensions-dir', folders.extensionsDir, '--install-extension', vsix],
    { env: serverEnv(tools, folders.homeDir, false), encoding: 'utf8', timeout: 120_000 },
  );
  if (result.status !== 0) {
    throw new Error(`code-server --install-extension ${vsix} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
}

/** The server's environment: its own XDG folders and TMPDIR, nothing inherited from a VS Code terminal. */
function serverEnv(tools: Toolchain, homeDir: string, gallery: boolean): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('VSCODE_') && key !== 'ELECTRON_RUN_AS_NODE' && !key.startsWith('npm_')) env[key] = value;
  }
  const dirs = { XDG_CONFIG_HOME: 'config', XDG_DATA_HOME: 'data', XDG_CACHE_HOME: 'cache', TMPDIR: 'tmp' };
  for (const [key, name] of Object.entries(dirs)) {
    env[key] = path.join(homeDir, name);
    fs.mkdirSync(env[key]!, { recursive: true });
  }
  // An empty gallery configuration turns the extension gallery off: no queries, no errors.
  if (!gallery) env.EXTENSIONS_GALLERY = '{}';
  // Terminals and tasks inside this VS Code find the same Node 24 that runs it.
  env.PATH = `${path.dirname(tools.node)}${path.delimiter}${process.env.PATH ?? ''}`;
  return env;
}

function seedSettings(userDataDir: string, extra: Record<string, unknown> = {}): void {
  const file = path.join(userDataDir, 'User', 'settings.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const existing = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
  fs.writeFileSync(file, JSON.stringify({ ...SEEDED_SETTINGS, ...existing, ...extra }, null, 2));
}

/**
 * Resolves with the port once code-server says it listens; rejects if it exits first or takes
 * longer than `timeoutMs`.
 */
function waitForListening(child: ChildProcess, logFile: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`code-server ${why}; its log: ${logFile}\n${seen.slice(-2000)}`));
    };
    const timer = setTimeout(() => fail(`did not start listening within ${timeoutMs / 1000} s`), timeoutMs);
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before listening`));
    child.stdout!.on('data', (chunk: Buffer) => {
      fs.appendFileSync(logFile, chunk);
      if (seen.length < 100_000) seen += chunk.toString();
      const listening = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(seen);
      if (listening) {
        clearTimeout(timer);
        resolve(Number(listening[1]));
      }
    });
  });
}

async function stopGroup(pid: number, exited: Promise<void>): Promise<void> {
  if (!running.has(pid)) return;
  running.delete(pid);
  killGroup(pid, 'SIGTERM');
  const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), 5000);
  await exited;
  // The leader is gone; children that ignored SIGTERM (file watchers, extension hosts) are not.
  await new Promise((resolve) => setTimeout(resolve, 200));
  killGroup(pid, 'SIGKILL');
  clearTimeout(timer);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}
