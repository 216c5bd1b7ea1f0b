/**
 * Headless Chromium (Debian's, driven by playwright-core) showing a code-server workbench.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { CodeServer } from './codeServer';
import type { Toolchain } from './toolchain';

/** Flags for a headless Chromium on a machine with a closed network (../shared/E2E.md). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export interface WorkbenchPageOptions {
  /** Fresh Chromium profile folder. */
  profileDir: string;
  /** Absolute path of the folder the workbench opens. */
  folder: string;
  /** Loads this extension folder as under development (no install needed). */
  extensionDevelopmentPath?: string;
  /** Runs this extension-host test module (needs a server started with smokeTestDriver). */
  extensionTestsPath?: string;
  /** Receives the tests' exit code (smoke-test driver). */
  onExit?: (code: number) => void;
  /** Receives log lines from the workbench and the extension host (smoke-test driver). */
  onLog?: (type: string, args: unknown[]) => void;
  /** Page size in CSS pixels; 1440×900 by default. */
  viewport?: { width: number; height: number };
}

export interface WorkbenchPage {
  context: BrowserContext;
  page: Page;
  /** Closes the browser (and with it the profile). */
  close(): Promise<void>;
}

/** The workbench URL for a folder, with an extension under development and tests when given. */
export function workbenchUrl(server: Pick<CodeServer, 'url' | 'port'>, options: Pick<WorkbenchPageOptions, 'folder' | 'extensionDevelopmentPath' | 'extensionTestsPath'>): string {
  const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
  const payload: [string, string][] = [];
  if (options.extensionDevelopmentPath) payload.push(['extensionDevelopmentPath', remote(options.extensionDevelopmentPath)]);
  if (options.extensionTestsPath) payload.push(['extensionTestsPath', remote(options.extensionTestsPath)]);
  const query = new URLSearchParams({ folder: options.folder });
  if (payload.length > 0) query.set('payload', JSON.stringify(payload));
  return `${server.url}?${query.toString()}`;
}

/** Launches Chromium and loads the workbench; resolves once the workbench's frame is drawn. */
export async function openWorkbenchPage(tools: Toolchain, server: CodeServer, options: WorkbenchPageOptions): Promise<WorkbenchPage> {
  fs.mkdirSync(options.profileDir, { recursive: true });
  const context = await chromium.launchPersistentContext(options.profileDir, {
    executablePath: tools.chromium,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1440, height: 900 },
    env: chromiumEnv(options.profileDir),
  });
  const close = () => context.close().catch(() => undefined);
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    // The workbench looks for these globals when the smoke-test driver is on.
    if (options.onExit) await page.exposeFunction('codeAutomationExit', (code: number) => options.onExit!(code));
    if (options.onLog) await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => options.onLog!(type, args));
    await page.goto(workbenchUrl(server, options));
    await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: 60_000 });
    return { context, page, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Chromium's environment: its crash reports and caches go into the profile, not ~/.config. */
function chromiumEnv(profileDir: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  env.XDG_CONFIG_HOME = path.join(profileDir, 'xdg-config');
  env.XDG_CACHE_HOME = path.join(profileDir, 'xdg-cache');
  return env;
}
