/** What the UI tests need to know about the volume editor while it is being written. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { REPO_ROOT } from '../../helpers/data';
import { activeGroup, webview } from '../workbench';

/**
 * Whether the built extension registers the `unet3d.volume` editor provider. package.json
 * declares the editor already; until the provider is registered, VS Code shows the editor's tab
 * with an endless progress bar and no webview.
 */
export function volumeEditorRegistered(): boolean {
  const bundle = path.join(REPO_ROOT, 'dist', 'extension.js');
  return fs.existsSync(bundle) && fs.readFileSync(bundle, 'utf8').includes('registerCustomEditorProvider');
}

/**
 * Checks that the active editor is the volume editor rather than the text editor: no text
 * editor in the active group, and, once the provider is registered, a webview with a canvas.
 */
export async function expectVolumeEditor(page: Page): Promise<void> {
  if (volumeEditorRegistered()) {
    await webview(page).locator('canvas').first().waitFor({ state: 'visible', timeout: 60_000 });
  }
  const textEditors = await activeGroup(page).locator('.monaco-editor').count();
  if (textEditors > 0) throw new Error('the volume opened in a text editor, not in the 3D U-Net volume editor');
}
