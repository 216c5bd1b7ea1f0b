/**
 * `npm start [-- FOLDER] [--port N]`: the extension in a real VS Code in your browser.
 * Starts code-server on 127.0.0.1 with this checkout installed as an extension and a folder of
 * volumes open, prints the URL and waits; Ctrl-C stops it. Opens no browser itself.
 *
 * FOLDER defaults to a writable copy of ../shared/data kept in the toolchain cache (made once;
 * your labels and runs stay there between starts). Settings and UI state are kept too.
 * `--prepare-only` makes that copy and exits (F5's pre-launch task opens the same folder).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { DATA_DIR, HAVE_DATA, REPO_ROOT } from '../helpers/data';
import { startCodeServer } from './codeServer';
import { CACHE_DIR, ensureToolchain, isProcessAlive } from './toolchain';
import { prepareWorkspace } from './workspace';

const DEFAULT_PORT = 8080;
const STATE_DIR = path.join(CACHE_DIR, 'start');
const SAMPLE_WORKSPACE = path.join(CACHE_DIR, 'sample-workspace');
/** Says which process serves from STATE_DIR, and where: one `npm start` at a time uses it. */
const RUNNING_FILE = path.join(STATE_DIR, 'running.json');

interface Running {
  pid: number;
  url: string;
}

/** Fails when another `npm start` is serving (its user-data folder cannot be shared). */
function checkNotRunning(): void {
  if (!fs.existsSync(RUNNING_FILE)) return;
  const running = JSON.parse(fs.readFileSync(RUNNING_FILE, 'utf8')) as Running;
  if (running.pid !== process.pid && isProcessAlive(running.pid)) {
    throw new Error(`npm start is already running (process ${running.pid}): ${running.url}`);
  }
}

function parseArgs(argv: string[]): { folder: string | undefined; port: number; prepareOnly: boolean } {
  let folder: string | undefined;
  let port = DEFAULT_PORT;
  let prepareOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--prepare-only') prepareOnly = true;
    else if (arg === '--port') port = Number(argv[++i]);
    else if (arg.startsWith('--port=')) port = Number(arg.slice('--port='.length));
    else if (arg.startsWith('-')) throw new Error(`unknown option ${arg} (usage: npm start -- [FOLDER] [--port N])`);
    else folder = path.resolve(arg);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port takes a TCP port number, not ${port}`);
  return { folder, port, prepareOnly };
}

/** The folder to open: the one given, else the sample workspace (copied from ../shared/data once). */
function workspaceFolder(given: string | undefined): string {
  if (given) {
    if (!fs.statSync(given, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`${given} is not a folder`);
    return given;
  }
  if (fs.existsSync(SAMPLE_WORKSPACE)) return SAMPLE_WORKSPACE;
  if (!HAVE_DATA) {
    throw new Error(`no sample volumes at ${DATA_DIR}. Open a folder of your own volumes (.nii, .nii.gz, .nrrd, .nhdr): npm start -- /path/to/volumes`);
  }
  console.log(`[start] copying the sample volumes from ${DATA_DIR} to ${SAMPLE_WORKSPACE}`);
  const scratch = `${SAMPLE_WORKSPACE}.partial-${process.pid}`;
  prepareWorkspace(scratch, fs.readdirSync(DATA_DIR));
  fs.renameSync(scratch, SAMPLE_WORKSPACE);
  return SAMPLE_WORKSPACE;
}

/**
 * A fresh extensions folder holding a link to this checkout: VS Code registers the extensions it
 * finds there on first start, and the link makes a rebuild (`npm run watch`) take effect on
 * "Developer: Reload Window".
 */
function linkExtension(extensionsDir: string): void {
  fs.rmSync(extensionsDir, { recursive: true, force: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
  fs.symlinkSync(REPO_ROOT, path.join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`), 'dir');
}

/** `preferred` when nothing listens there, else 0 (code-server then takes any free port). */
async function choosePort(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const probe = net.createServer().once('error', () => resolve(false));
    probe.listen(preferred, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
  if (!free) console.log(`[start] port ${preferred} is taken; taking a free one`);
  return free ? preferred : 0;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.prepareOnly) {
    console.log(`[start] workspace: ${workspaceFolder(args.folder)}`);
    return;
  }
  checkNotRunning();
  const tools = ensureToolchain((message) => console.log(`[start] ${message}`));
  const folder = workspaceFolder(args.folder);
  const extensionsDir = path.join(STATE_DIR, 'extensions');
  linkExtension(extensionsDir);
  const logFile = path.join(STATE_DIR, 'code-server.log');
  fs.rmSync(logFile, { force: true });
  const server = await startCodeServer(tools, {
    port: await choosePort(args.port),
    userDataDir: path.join(STATE_DIR, 'user-data'),
    extensionsDir,
    homeDir: path.join(STATE_DIR, 'home'),
    logFile,
    gallery: true,
  });
  const url = `${server.url}?folder=${encodeURIComponent(folder)}`;
  fs.writeFileSync(RUNNING_FILE, JSON.stringify({ pid: process.pid, url } satisfies Running));
  console.log(`\n  3D U-Net in VS Code: ${url}\n`);
  console.log(`  folder: ${folder}`);
  console.log(`  server log: ${logFile}`);
  console.log('  Open the URL in a browser on this machine (or forward the port). Ctrl-C stops the server.\n');
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\n[start] stopping code-server');
    await server.stop();
    fs.rmSync(RUNNING_FILE, { force: true });
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0));
  void server.exited.then(() => {
    if (stopping) return;
    console.error(`[start] code-server stopped on its own; see ${logFile}`);
    fs.rmSync(RUNNING_FILE, { force: true });
    process.exit(1);
  });
}

main().catch((error: unknown) => {
  console.error(`[start] ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
