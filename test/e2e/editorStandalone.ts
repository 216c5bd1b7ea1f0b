/**
 * The editor webview (dist/webview.js) in a plain headless Chromium page, with a stand-in for
 * the extension host that serves a volume built in the page. For the benchmark only: the
 * editor's behaviour with the real host is tested in VS Code (test/e2e/ui/editor-*.test.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from '../helpers/data';
import { CHROMIUM_ARGS } from './browser';
import { toolchainPaths } from './toolchain';

/** The synthetic volume the stand-in host serves. */
export interface SyntheticVolume {
  dims: [number, number, number];
  spacing: [number, number, number];
}

/**
 * Runs in the page before the bundle: `acquireVsCodeApi` answers `ready` with the volume (int16
 * spheres with noise, made here), empty labels and no prediction, and acknowledges edits.
 */
function standInHost(volume: SyntheticVolume): void {
  const post = (body: unknown, transfer: Transferable[] = []) => window.postMessage({ id: 1, body }, '*', transfer);
  let nextId = 1000;
  const reply = (to: number, body: unknown) => window.postMessage({ id: nextId++, replyTo: to, body }, '*');
  const [nx, ny, nz] = volume.dims;
  const [sx, sy, sz] = volume.spacing;
  (window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
    getState: () => undefined,
    setState: () => undefined,
    postMessage(envelope: { id: number; body: { type: string } }) {
      const body = envelope.body;
      if (body.type === 'edit' || body.type === 'classEdit') reply(envelope.id, { type: 'editResult', ok: true });
      if (body.type !== 'ready') return;
      const affine = [
        [-sx, 0, 0, (nx * sx) / 2],
        [0, sy, 0, (-ny * sy) / 2],
        [0, 0, sz, (-nz * sz) / 2],
        [0, 0, 0, 1],
      ];
      post({
        type: 'init',
        volume: { fileName: 'synthetic.nii.gz', format: 'nifti1', dims: volume.dims, spacing: volume.spacing, affine, datatype: 'int16', sclSlope: 1, sclInter: 0, axisCodes: 'LAS', byteLength: nx * ny * nz * 2, frames: 1, warnings: [] },
        classes: [
          { value: 1, name: 'background', color: '#3b6fb6' },
          { value: 2, name: 'foreground', color: '#e6194b' },
        ],
        labelType: 'uint8',
        settings: { leftRight: 'radiological', labelOpacity: 0.5, predictionOpacity: 0.4 },
      });
      // Slabs of z so no single buffer is built twice.
      const slab = Math.max(1, Math.floor((16 * 1024 * 1024) / (nx * ny * 2)));
      let seed = 12345;
      for (let z0 = 0; z0 < nz; z0 += slab) {
        const z1 = Math.min(nz, z0 + slab);
        const data = new Int16Array(nx * ny * (z1 - z0));
        let o = 0;
        for (let z = z0; z < z1; z++) {
          for (let y = 0; y < ny; y++) {
            for (let x = 0; x < nx; x++) {
              const dx = x / nx - 0.5, dy = y / ny - 0.5, dz = z / nz - 0.5;
              const r = Math.sqrt(dx * dx + dy * dy + dz * dz);
              seed = (seed * 1103515245 + 12345) & 0x7fffffff;
              data[o++] = (r < 0.35 ? 800 : r < 0.45 ? 200 : -900) + ((seed >> 8) % 120) + Math.round(300 * Math.sin(x * 0.05) * Math.cos(y * 0.04));
            }
          }
        }
        post({ type: 'volumeChunk', byteOffset: z0 * nx * ny * 2, byteLength: data.byteLength, encoding: 'raw', bytes: data.buffer }, [data.buffer]);
      }
      post({ type: 'labels', runs: new Uint32Array(0).buffer, labelType: 'uint8', reason: 'open' });
      post({ type: 'prediction', name: null, runs: null, maxValue: 0 });
    },
  });
}

export interface StandaloneEditor {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

/** Opens the editor on a synthetic volume in headless Chromium; resolves once it has drawn. */
export async function openStandaloneEditor(volume: SyntheticVolume, viewport = { width: 1440, height: 900 }): Promise<StandaloneEditor> {
  const bundle = path.join(REPO_ROOT, 'dist', 'webview.js');
  if (!fs.existsSync(bundle)) throw new Error('dist/webview.js is missing: run `npm run build` first');
  const browser = await chromium.launch({ executablePath: toolchainPaths().chromium, headless: true, args: CHROMIUM_ARGS });
  const close = () => browser.close().catch(() => undefined);
  try {
    const page = await browser.newPage({ viewport });
    page.on('pageerror', (error) => console.error(`[page] ${error.stack ?? error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') console.error(`[page ${message.type()}] ${message.text()}`);
    });
    fs.mkdirSync(path.join(REPO_ROOT, '.test-work'), { recursive: true });
    const dir = fs.mkdtempSync(path.join(REPO_ROOT, '.test-work', 'standalone-'));
    const html = path.join(dir, 'editor.html');
    fs.writeFileSync(
      html,
      `<!DOCTYPE html><html><head><meta charset="UTF-8"><link rel="stylesheet" href="${pathToFileURL(path.join(REPO_ROOT, 'media', 'editor.css'))}"></head>` +
        `<body data-state="loading"><div id="app"></div><script src="${pathToFileURL(bundle)}"></script></body></html>`,
    );
    // As source text: a bundler may wrap named functions in a `__name` helper the page lacks.
    await page.addInitScript({ content: `globalThis.__name = (f) => f; (${standInHost.toString()})(${JSON.stringify(volume)});` });
    await page.goto(pathToFileURL(html).toString());
    await page.waitForSelector('body[data-state="ready"]', { timeout: 120_000 });
    fs.rmSync(dir, { recursive: true, force: true });
    return { browser, page, close };
  } catch (error) {
    await close();
    throw error;
  }
}
