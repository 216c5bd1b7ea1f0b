/**
 * A stand-in for the VS Code executable, given to @vscode/test-electron's runTests() as
 * `vscodeExecutablePath`. It takes the arguments runTests passes (a folder,
 * --extensionDevelopmentPath=, --extensionTestsPath=, --user-data-dir=, --extensions-dir=),
 * starts code-server with the smoke-test driver, opens the workbench in headless Chromium with
 * the extension under development and the test module, prints the tests' log, and exits with
 * their exit code. Bundled to .test-work/e2e/launcher.js by test/e2e/run.ts.
 */
import * as path from 'node:path';
import { format } from 'node:util';
import { openWorkbenchPage } from './browser';
import { startCodeServer } from './codeServer';
import { TESTS_START_MARKER } from './host/marker';
import { toolchainPaths, toolchainReady } from './toolchain';

/** How long the tests may run before the launcher gives up ($UNET3D_E2E_TIMEOUT_S, default 600 s). */
const TIMEOUT_MS = Number(process.env.UNET3D_E2E_TIMEOUT_S ?? 600) * 1000;

interface LaunchArgs {
  folder: string;
  extensionDevelopmentPath: string;
  extensionTestsPath: string;
  userDataDir: string;
  extensionsDir: string;
}

function parseArgs(argv: string[]): LaunchArgs {
  const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const required = (name: string) => {
    const v = value(name);
    if (!v) throw new Error(`launcher: missing --${name}= (got ${argv.join(' ')})`);
    return path.resolve(v);
  };
  const folder = argv.find((a) => !a.startsWith('-'));
  if (!folder) throw new Error('launcher: give the workspace folder as a launch argument');
  return {
    folder: path.resolve(folder),
    extensionDevelopmentPath: required('extensionDevelopmentPath'),
    extensionTestsPath: required('extensionTestsPath'),
    userDataDir: required('user-data-dir'),
    extensionsDir: required('extensions-dir'),
  };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const tools = toolchainPaths();
  if (!toolchainReady(tools)) throw new Error('launcher: the e2e toolchain is not installed (run `npm run setup:e2e`)');
  const stateDir = path.dirname(args.userDataDir);
  const server = await startCodeServer(tools, {
    port: 0,
    userDataDir: args.userDataDir,
    extensionsDir: args.extensionsDir,
    homeDir: path.join(stateDir, 'server-home'),
    logFile: path.join(stateDir, 'code-server.log'),
    smokeTestDriver: true,
  });
  let exitCode: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (exitCode = resolve));
  const timer = setTimeout(() => {
    console.error(`launcher: the tests did not finish within ${TIMEOUT_MS / 1000} s`);
    exitCode(1);
  }, TIMEOUT_MS);
  let workbench: Awaited<ReturnType<typeof openWorkbenchPage>> | undefined;
  try {
    workbench = await openWorkbenchPage(tools, server, {
      profileDir: path.join(stateDir, 'chromium-profile'),
      folder: args.folder,
      extensionDevelopmentPath: args.extensionDevelopmentPath,
      extensionTestsPath: args.extensionTestsPath,
      onExit: (code) => exitCode(code),
      onLog: (type, logArgs) => printLog(type, logArgs),
    });
    workbench.page.on('crash', () => {
      console.error('launcher: the workbench page crashed');
      exitCode(1);
    });
    const code = await finished;
    if (!testsStarted) console.error(`launcher: the test module did not start; the workbench said:\n${heldLines.join('\n')}`);
    return code;
  } finally {
    clearTimeout(timer);
    await workbench?.close();
    await server.stop();
  }
}

/**
 * The workbench's own start-up lines (connections, service worker) are held back; from the test
 * module's start marker on, every line is printed. If the tests never start, the held lines are
 * printed to say why.
 */
let testsStarted = false;
const heldLines: string[] = [];
/** Workbench chatter that also comes during the tests, says nothing about them, and is left out. */
const WORKBENCH_CHATTER = [/^Ignoring fetching additional builtin extensions/, /^Updating additional builtin extensions cache/, /^\[AccountPolicyGate\]/];
function printLog(type: string, args: unknown[]): void {
  const text = format(...args);
  if (!testsStarted) {
    heldLines.push(`[${type}] ${text}`);
    testsStarted = text.includes(TESTS_START_MARKER);
    return;
  }
  if (WORKBENCH_CHATTER.some((pattern) => pattern.test(text))) return;
  if (type === 'error') console.error(text);
  else console.log(text);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exit(1);
  },
);
