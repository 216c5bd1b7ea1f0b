/**
 * Playwright helpers for UI tests in a real VS Code (code-server in headless Chromium).
 *
 *   const wb = await useWorkbench(t, { name: 'paint' });
 *   await quickOpen(wb.page, 'semi/spinalcord/t2.nii.gz');
 *   const view = webview(wb.page);
 *   await drawOnCanvas(wb.page, view.locator('canvas').first(), [[0.4, 0.5], [0.6, 0.5]]);
 *   await runCommand(wb.page, '3D U-Net: Train');
 *   await wb.screenshot('after-training');
 *
 * Every workbench gets a fresh user-data folder, extensions folder, Chromium profile and a copy
 * of the sample workspace, all under .test-work/e2e/runs/, removed on close().
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TestContext } from 'node:test';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/data';
import { openWorkbenchPage } from './browser';
import { installExtension, startCodeServer, type CodeServer, type Keybinding } from './codeServer';
import { reportSymptom, WEBVIEW_NEVER_LOADED } from './rerunPolicy';
import { ensureToolchain } from './toolchain';
import { prepareWorkspace, SAMPLE_FILES } from './workspace';

/** Where screenshots go: $UNET3D_SCREENSHOTS, else docs/screenshots (the README shows them). */
export const SCREENSHOT_DIR: string = process.env.UNET3D_SCREENSHOTS ?? path.join(REPO_ROOT, 'docs', 'screenshots');
/** Per-test state (removed on close unless $UNET3D_E2E_KEEP is set) and kept server logs. */
export const E2E_WORK_DIR: string = path.join(REPO_ROOT, '.test-work', 'e2e');

export interface WorkbenchOptions {
  /** Short name used for folders and logs, e.g. 'paint-labels'. */
  name: string;
  /** Files or folders of the shared data folder copied into the workspace (default: SAMPLE_FILES). */
  files?: readonly string[];
  /**
   * How the extension is loaded: 'development' (default) loads this checkout as an extension
   * under development; `{ vsix }` installs that package into the fresh extensions folder first.
   */
  extension?: 'development' | { vsix: string } | { developmentPath: string };
  /** User settings merged over the seeded ones. */
  settings?: Record<string, unknown>;
  /** User keybindings, from the workspace's path: a key that runs a command with arguments from code (absolute paths). */
  keybindings?: (workspace: string) => readonly Keybinding[];
  /** Keep workspace trust on: the workspace opens in Restricted Mode (see ServerOptions.workspaceTrust). */
  workspaceTrust?: boolean;
}

export interface Workbench {
  page: Page;
  server: CodeServer;
  /** Absolute path of the workspace folder (a copy; tests may write to it). */
  workspace: string;
  /** Saves a PNG of the whole page as SCREENSHOT_DIR/<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
  /** Closes the browser, stops the server's process group and removes the state folder. */
  close(): Promise<void>;
}

export async function launchWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  const tools = ensureToolchain(() => undefined);
  const stamp = `${options.name}-${process.pid}-${Date.now().toString(36)}`;
  const stateDir = path.join(E2E_WORK_DIR, 'runs', stamp);
  const workspace = prepareWorkspace(path.join(stateDir, 'workspace'), options.files ?? SAMPLE_FILES);
  const folders = {
    userDataDir: path.join(stateDir, 'user-data'),
    extensionsDir: path.join(stateDir, 'extensions'),
    homeDir: path.join(stateDir, 'home'),
    logFile: path.join(E2E_WORK_DIR, 'logs', `${stamp}.log`),
  };
  const extension = options.extension ?? 'development';
  if (typeof extension === 'object' && 'vsix' in extension) installExtension(tools, extension.vsix, folders);
  // The smoke-test driver makes the workbench honour the URL's extensionDevelopmentPath (a built
  // workbench ignores it otherwise); it also hides notification toasts: read notifications().
  const server = await startCodeServer(tools, { ...folders, port: 0, smokeTestDriver: true, settings: options.settings, keybindings: options.keybindings?.(workspace), workspaceTrust: options.workspaceTrust });
  let browser: Awaited<ReturnType<typeof openWorkbenchPage>>;
  try {
    browser = await openWorkbenchPage(tools, server, {
      profileDir: path.join(stateDir, 'chromium-profile'),
      folder: workspace,
      ...(extension === 'development' ? { extensionDevelopmentPath: REPO_ROOT } : 'developmentPath' in extension ? { extensionDevelopmentPath: extension.developmentPath } : {}),
    });
  } catch (error) {
    await server.stop();
    throw error;
  }
  const page = browser.page;
  try {
    // The workbench shows its activity bar before it has the extension's contributions: a volume
    // opened before them opens in the text editor ("binary"), not ours (seen once on CI). The
    // extension's activity-bar item comes with them.
    await page.locator('.part.activitybar').getByRole('tab', { name: '3D U-Net' }).waitFor({ state: 'visible', timeout: 60_000 });
  } catch (error) {
    await browser.close();
    await server.stop();
    throw error;
  }
  return {
    page,
    server,
    workspace,
    screenshot: (name) => saveScreenshot(page, name),
    async close() {
      await browser.close();
      await server.stop();
      if (!process.env.UNET3D_E2E_KEEP) fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** launchWorkbench() whose close() runs when the test `t` ends, passed or failed. */
export async function useWorkbench(t: TestContext, options: WorkbenchOptions): Promise<Workbench> {
  const wb = await launchWorkbench(options);
  t.after(async () => {
    // The harness's known symptom, told to the runner (it reruns a failed file only for this).
    if (await webviewNeverLoaded(wb.page).catch(() => false)) reportSymptom(WEBVIEW_NEVER_LOADED, options.name);
    // A picture of the last state helps to read a failure; it goes beside the logs.
    await wb.page.screenshot({ path: path.join(E2E_WORK_DIR, 'logs', `${options.name}-last.png`) }).catch(() => undefined);
    await wb.close();
  });
  return wb;
}

/**
 * True when a visible webview iframe is still not loaded (VS Code's outer `iframe.webview` without
 * its `ready` class) after `graceMs`: code-server's webview that never loads on a loaded machine.
 */
export async function webviewNeverLoaded(page: Page, graceMs = 5000): Promise<boolean> {
  const pending = page.locator('iframe.webview:not(.ready) >> visible=true');
  const deadline = Date.now() + graceMs;
  while ((await pending.count()) > 0) {
    if (Date.now() > deadline) return true;
    await page.waitForTimeout(250);
  }
  return false;
}

export async function saveScreenshot(page: Page, name: string): Promise<string> {
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  fs.mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: file });
  return file;
}

/** The quick input box (quick open, command palette) while it is shown, not one fading out after a pick. */
export const OPEN_QUICK_INPUT = '.quick-input-widget:not(.quick-input-widget-closing)';

/**
 * Opens the quick input with `key` (F1: the palette; Control+P: quick open) and types `query`.
 * Tries again, up to three times, when the box does not open or closes before the text is in: a
 * key pressed while the focus moves (out of a webview, or while a quick input closes) can be lost
 * on a busy machine, and a box that loses the focus (a webview or a notification taking it) closes.
 * F1 leaves an open palette open, and the query replaces whatever it held.
 */
export async function openQuickInput(page: Page, key: 'F1' | 'Control+P', query: string): Promise<void> {
  const input = page.locator(`${OPEN_QUICK_INPUT} input`);
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press(key);
    try {
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill(query, { timeout: 10_000 });
      return;
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/**
 * Opens the quick input with `key`, types `query` and picks the entry whose label holds `text`.
 * When the box closes before the entry is clicked, it is opened again (up to three times); once
 * clicked, the pick is not repeated.
 */
async function pickInQuickInput(page: Page, key: 'F1' | 'Control+P', query: string, text: string): Promise<void> {
  const row = page.locator(`${OPEN_QUICK_INPUT} .monaco-list-row`, { hasText: text }).first();
  for (let attempt = 1; ; attempt++) {
    await openQuickInput(page, key, query);
    try {
      await row.waitFor({ state: 'visible', timeout: 30_000 });
      await row.click({ timeout: 10_000 });
      break;
    } catch (error) {
      const stillOpen = await page.locator(OPEN_QUICK_INPUT).isVisible();
      if (attempt === 3 || stillOpen) throw error;
    }
  }
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/**
 * Opens a workspace file through quick open (Ctrl+P), which picks the file's default editor
 * (for a volume, the 3D U-Net editor). `relativePath` is relative to the workspace folder.
 */
export async function quickOpen(page: Page, relativePath: string): Promise<void> {
  await pickInQuickInput(page, 'Control+P', relativePath, path.basename(relativePath));
}

/** Runs a command from the palette by its full title, e.g. '3D U-Net: Train'. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await pickInQuickInput(page, 'F1', `>${title}`, title);
}

/** The editor group that has focus: its tabs and the editor it shows. */
export function activeGroup(page: Page): Locator {
  return page.locator('.editor-group-container.active');
}

/** Waits until the active tab shows the file named `fileName` (no folders), e.g. 't2.nii.gz'. */
export async function waitForActiveTab(page: Page, fileName: string): Promise<void> {
  await activeGroup(page).locator(`.tab.active[data-resource-name="${fileName}"]`).waitFor({ state: 'visible', timeout: 60_000 });
}

/**
 * The content of the visible webview (a custom editor's page or a webview view): reach its
 * elements with `.locator(...)`. Waits for nothing; Playwright's locators wait when used.
 */
export function webview(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready >> visible=true').frameLocator('#active-frame');
}

/**
 * Draws one stroke with the mouse on a canvas (also one inside a webview): presses at the
 * first point, moves through the rest, releases. Points are fractions of the canvas's width
 * and height, [0, 0] top left.
 */
export async function drawOnCanvas(page: Page, canvas: Locator, points: readonly [number, number][], steps = 8): Promise<void> {
  const box = await canvas.boundingBox();
  if (!box) throw new Error('drawOnCanvas: the canvas is not visible');
  const at = ([fx, fy]: [number, number]) => [box.x + fx * box.width, box.y + fy * box.height] as const;
  const [first, ...rest] = points;
  if (!first) throw new Error('drawOnCanvas: no points');
  await page.mouse.move(...at(first));
  await page.mouse.down();
  for (const point of rest) await page.mouse.move(...at(point), { steps });
  await page.mouse.up();
}

/** Shows an activity-bar container by its title, e.g. '3D U-Net'. */
export async function openViewContainer(page: Page, title: string): Promise<void> {
  const item = page.locator('.part.activitybar').getByRole('tab', { name: title });
  await item.waitFor({ state: 'visible', timeout: 60_000 });
  if ((await item.getAttribute('aria-selected')) !== 'true') await item.click();
}

/** A view's pane (header and body) in the side bar, by the view's name, e.g. 'Runs'. */
export function viewPane(page: Page, name: string): Locator {
  return page.locator('.part.sidebar .pane').filter({ has: page.locator('.pane-header', { hasText: name }) });
}

/** The labels of the rows a tree view shows now (expanded rows included), top to bottom. */
export async function treeItems(page: Page, viewName: string): Promise<string[]> {
  const rows = viewPane(page, viewName).locator('.monaco-list-row');
  return (await rows.allInnerTexts()).map((text) => text.replace(/\s+/g, ' ').trim());
}

/** Waits until a tree view shows at least `count` rows, then returns their labels. */
export async function waitForTreeItems(page: Page, viewName: string, count: number, timeoutMs = 60_000): Promise<string[]> {
  await viewPane(page, viewName).locator('.monaco-list-row').nth(count - 1).waitFor({ state: 'visible', timeout: timeoutMs });
  return treeItems(page, viewName);
}

/** The messages in the Notifications Center (opened for reading; toasts may be hidden). */
export async function notifications(page: Page): Promise<string[]> {
  await runCommand(page, 'Notifications: Show Notifications');
  const center = page.locator('.notifications-center');
  await center.waitFor({ state: 'visible' });
  return center.locator('.notification-list-item-message').allInnerTexts();
}

/**
 * Reads the Notifications Center (closing it each time) until a message holds `text`; returns
 * every message then. On timeout, throws with the messages it last saw.
 */
export async function waitForNotification(page: Page, text: string, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await notifications(page);
    await page.keyboard.press('Escape');
    if (messages.some((m) => m.includes(text))) return messages;
    if (Date.now() > deadline) throw new Error(`no notification holds "${text}"; the notifications: ${JSON.stringify(messages)}`);
    await page.waitForTimeout(100);
  }
}
