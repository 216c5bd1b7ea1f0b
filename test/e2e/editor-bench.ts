/**
 * `npm run bench:editor [-- --json] [--sizes 256,512] [--formats nii.gz,nii] [--extension FOLDER] [--transport chunks] [--no-draw] [--profile FOLDER]`: the volume
 * editor inside code-server (a real VS Code in headless Chromium), where users wait longest.
 * - open: for each size, an int16 `.nii.gz` cube made from the spleen CT of the shared data
 *   (resampled, with CT-like noise so it compresses like a scan) opened through quick open in a
 *   fresh workbench: seconds from the pick to the first three planes drawn and to every voxel in
 *   the webview, the voxel bytes the webview holds, how much the extension host's resident
 *   memory grew (it keeps the label layer only), and what the ArrayBuffers of the webview's
 *   renderer hold after a garbage collection (one copy of the voxels, the labels, the workbench's);
 *   `--formats nii.gz,nii` also opens the same voxels as an uncompressed `.nii`;
 * - draw (on the largest): composing and drawing all three panes, and a brush stroke's pointer
 *   event to the frame that drew it.
 * `--extension FOLDER` measures another build of the extension (e.g. an older commit, built) for
 * a before/after comparison; `--transport chunks` has the host send the voxels over the message
 * channel instead of the webview fetching the file. `--profile FOLDER` writes a CPU profile of the
 * workbench's renderer (the webview shares it) over each open, `open-SIZE.cpuprofile`, for Chrome's
 * DevTools or `node test/e2e/profileSummary.mjs FILE FROM TO` (seconds after the pick), and with
 * `UNET3D_BENCH_TRACE=1` a Chrome trace beside it (`open-SIZE.trace.json`: layout, paint, tasks). `--json` prints `{ "open": [ { "size", "format", "firstPlanesSeconds",
 * "wholeVolumeSeconds", "webviewBytes", "host", "webviewArrayBuffers" } ] }` (host: bytes the
 * extension host's resident memory grew by; webviewArrayBuffers: bytes the ArrayBuffers of the
 * webview's renderer hold after a garbage collection). Method: docs/benchmarks.md.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import type { Frame, Page } from 'playwright-core';
import { writeBenchVolume } from '../../src/cli/bench/benchVolume';
import { ROUTE_NAMES, type FetchRoute } from '../../webview/voxelLoading';
import { REPO_ROOT, dataPath } from '../helpers/data';
import { E2E_WORK_DIR, launchWorkbench, OPEN_QUICK_INPUT, runCommand, webview, type Workbench } from './workbench';

/** One open, as `--json` prints it. */
interface OpenFigures {
  size: number;
  /** The file's format: `nii.gz` (the default) or `nii` (the same voxels, uncompressed). */
  format: VolumeFormat;
  firstPlanesSeconds: number;
  wholeVolumeSeconds: number;
  /** Bytes of voxels the webview holds once every voxel is in. */
  webviewBytes: number;
  /** Bytes the extension host's resident memory grew by, from before the open to after it. */
  host: number;
  /**
   * Bytes the ArrayBuffers of the webview's renderer hold after a full garbage collection: its
   * voxels and labels, and the workbench's own buffers where both share the renderer (code-server
   * serves the webview from the workbench's origin); absent where the browser does not report it.
   */
  webviewArrayBuffers?: number;
}

type VolumeFormat = 'nii.gz' | 'nii';

interface Options {
  json: boolean;
  sizes: number[];
  /** The files opened at each size: gzip NIfTI, and the same voxels uncompressed where asked. */
  formats: VolumeFormat[];
  extension?: string;
  draw: boolean;
  /** How the voxels travel: the webview fetches the file (the default), or the host sends them in chunks. */
  transport: 'fetch' | 'chunks';
  /** Where to write a CPU profile of each open (the renderer's), when asked for. */
  profile?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { json: false, sizes: [256, 512], formats: ['nii.gz'], draw: true, transport: 'fetch' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--json') options.json = true;
    else if (a === '--no-draw') options.draw = false;
    else if (a === '--sizes') options.sizes = argv[++i].split(',').map(Number);
    else if (a === '--formats') options.formats = argv[++i].split(',') as VolumeFormat[];
    else if (a === '--extension') options.extension = path.resolve(argv[++i]);
    else if (a === '--transport') options.transport = argv[++i] === 'chunks' ? 'chunks' : 'fetch';
    else if (a === '--profile') options.profile = path.resolve(argv[++i]);
    else throw new Error(`unknown argument ${a}`);
  }
  if (options.sizes.some((n) => !Number.isInteger(n) || n < 8 || n > 1024)) throw new Error('--sizes: edges from 8 to 1024');
  if (!options.formats.length || options.formats.some((f) => f !== 'nii.gz' && f !== 'nii')) throw new Error('--formats: nii.gz, nii or both');
  return options;
}

const VOLUME_DIR = path.join(REPO_ROOT, '.test-work', 'bench-volumes');

/** The benchmark's volume of edge `size`, made once and kept (making a 512³ one takes about a minute); `nii`: the same file inflated. */
function benchVolume(size: number, format: VolumeFormat = 'nii.gz'): string {
  const gzipped = path.join(VOLUME_DIR, `ct_${size}.nii.gz`);
  if (!fs.existsSync(gzipped)) {
    fs.mkdirSync(VOLUME_DIR, { recursive: true });
    writeBenchVolume(dataPath('semi', 'spleen', 'sub-spleen2_ct.nii.gz'), size, 'bench', { noise: 20, dir: VOLUME_DIR });
  }
  if (format === 'nii.gz') return gzipped;
  const plain = path.join(VOLUME_DIR, `ct_${size}.nii`);
  if (!fs.existsSync(plain)) {
    fs.writeFileSync(`${plain}.tmp`, zlib.gunzipSync(fs.readFileSync(gzipped)));
    fs.renameSync(`${plain}.tmp`, plain);
  }
  return plain;
}

/** Resident memory of the extension host under the server's process group, bytes (0 when not found). */
function extensionHostRss(serverPid: number): number {
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgid !== serverPid) continue;
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('extensionHost')) continue;
      const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${entry}/status`, 'utf8'));
      return rss ? Number(rss[1]) * 1024 : 0;
    } catch {
      // a process that ended meanwhile
    }
  }
  return 0;
}

/** The webview's JavaScript memory after a full garbage collection: its heap and the ArrayBuffers' backing stores (voxels, labels), bytes. */
interface WebviewHeap {
  heap: number;
  arrayBuffers: number;
}

/**
 * Collects garbage in the webview's renderer and reads its heap usage (Chrome DevTools Protocol,
 * on the webview's own frame where it runs in a process of its own). Undefined where the browser
 * does not report the backing stores.
 */
async function webviewHeap(page: Page): Promise<WebviewHeap | undefined> {
  let frame: Frame | undefined;
  for (const f of page.frames()) {
    if (await f.evaluate(() => 'unet3dEditor' in window).catch(() => false)) frame = f;
  }
  if (!frame) return undefined;
  const session = await page.context().newCDPSession(frame).catch(() => page.context().newCDPSession(page));
  try {
    await session.send('HeapProfiler.collectGarbage');
    const usage = (await session.send('Runtime.getHeapUsage')) as { usedSize: number; backingStorageSize?: number };
    return usage.backingStorageSize === undefined ? undefined : { heap: usage.usedSize, arrayBuffers: usage.backingStorageSize };
  } finally {
    await session.detach().catch(() => undefined);
  }
}

interface LoadingState {
  /** When the webview's page started (epoch ms). */
  startedAt?: number;
  firstPlanesAt?: number;
  wholeVolumeAt?: number;
  transport?: string;
  /** Where a fetch took the voxels from: 'copy' (the host's raw copy, over the server's own route), 'server' (the file, over that route) or 'resource' (the webview resource URI). */
  route?: string;
  voxelBytes?: number;
  /** What happened when in the webview (epoch ms). */
  milestones?: { what: string; at: number }[];
}

/** What the webview says of its loading now: its timings where it has them (this build), or whether it is ready (older builds). */
async function loadingState(page: Page): Promise<{ ready: boolean; loading?: LoadingState }> {
  try {
    return await webview(page)
      .locator('body')
      .evaluate(
        (body) => {
          const handle = (window as unknown as { unet3dEditor?: { loading?: () => LoadingState } }).unet3dEditor;
          return { ready: body.dataset.state === 'ready', loading: handle?.loading?.() };
        },
        undefined,
        { timeout: 1000 },
      );
  } catch {
    return { ready: false };
  }
}

/**
 * Opens `relativePath` through quick open; returns the time (epoch ms) of the pick. A file that
 * quick open does not list yet (on a loaded machine its search can miss a file just added) is
 * asked for again, up to three times; a picture of the last try goes beside the e2e logs.
 */
async function pickInQuickOpen(page: Page, relativePath: string): Promise<number> {
  const widget = page.locator(OPEN_QUICK_INPUT);
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press('Control+P');
    await widget.locator('input').fill(relativePath);
    const row = widget.locator('.monaco-list-row', { hasText: path.basename(relativePath) }).first();
    try {
      await row.waitFor({ state: 'visible', timeout: 20_000 });
      break;
    } catch (error) {
      if (attempt === 3) {
        await page.screenshot({ path: path.join(E2E_WORK_DIR, 'logs', 'editor-bench-quick-open.png') }).catch(() => undefined);
        throw error;
      }
      await page.keyboard.press('Escape');
      await page.waitForTimeout(2000);
    }
  }
  const at = Date.now();
  await page.keyboard.press('Enter');
  return at;
}

/** Opens a small volume once, so that the extension is active and the editor's code loaded before anything is timed. */
async function warmUp(wb: Workbench): Promise<void> {
  const file = benchVolume(16);
  fs.copyFileSync(file, path.join(wb.workspace, 'warm_up.nii.gz'));
  await wb.page.waitForTimeout(1000);
  await pickInQuickOpen(wb.page, 'warm_up.nii.gz');
  await webview(wb.page).locator('body[data-state="ready"]').waitFor({ state: 'attached', timeout: 120_000 });
  await runCommand(wb.page, 'View: Close All Editors');
  await wb.page.waitForTimeout(2000);
}

async function measureOpen(wb: Workbench, size: number, format: VolumeFormat, profile?: string): Promise<OpenFigures & { transport: string; compressedBytes: number; pageSeconds?: number; heap?: WebviewHeap; timeline: string[]; hostLog: string[] }> {
  const source = benchVolume(size, format);
  const name = `ct_${size}.${format}`;
  const target = path.join(wb.workspace, name);
  try {
    fs.linkSync(source, target);
  } catch {
    fs.copyFileSync(source, target);
  }
  await wb.page.waitForTimeout(1500); // the file watcher and search index see the file
  const hostBefore = extensionHostRss(wb.server.pid);
  const profiler = profile ? await startProfile(wb.page) : undefined;
  const started = await pickInQuickOpen(wb.page, name);
  let firstSeen: number | undefined;
  let state: Awaited<ReturnType<typeof loadingState>> = { ready: false };
  const deadline = started + 300_000;
  for (;;) {
    state = await loadingState(wb.page);
    if (state.ready && firstSeen === undefined) firstSeen = Date.now();
    if (state.loading ? state.loading.wholeVolumeAt !== undefined : state.ready) break;
    if (Date.now() > deadline) throw new Error(`the ${size}³ volume did not open within 5 minutes`);
    await wb.page.waitForTimeout(250);
  }
  if (profiler && profile) await profiler.stop(path.join(profile, `open-${size}${format === 'nii' ? '-nii' : ''}.cpuprofile`), started);
  await wb.page.waitForTimeout(2000); // what the host let go of is given back
  const hostAfter = extensionHostRss(wb.server.pid);
  const heap = await webviewHeap(wb.page); // last: its garbage collection would change what the host's figure reads
  const loading = state.loading;
  const firstAt = loading?.firstPlanesAt ?? firstSeen!;
  const wholeAt = loading?.wholeVolumeAt ?? firstSeen!;
  return {
    size,
    format,
    firstPlanesSeconds: (firstAt - started) / 1000,
    wholeVolumeSeconds: (wholeAt - started) / 1000,
    // Builds without the loading report hold the voxels in one buffer of their stored type too.
    webviewBytes: loading?.voxelBytes ?? size ** 3 * 2,
    host: hostAfter - hostBefore,
    webviewArrayBuffers: heap?.arrayBuffers,
    transport: loading ? `${loading.transport}${loading.route ? ` from ${ROUTE_NAMES[loading.route as FetchRoute] ?? loading.route}` : ''}` : 'chunks (before the loading report)',
    compressedBytes: fs.statSync(source).size,
    pageSeconds: loading?.startedAt !== undefined ? (loading.startedAt - started) / 1000 : undefined,
    timeline: (loading?.milestones ?? []).map((m) => `${((m.at - started) / 1000).toFixed(2)} s ${m.what}`),
    hostLog: hostLogLines(wb, name).map((l) => `${((l.at - started) / 1000).toFixed(2)} s ${l.text}`),
    heap,
  };
}

/**
 * Starts V8's sampling profiler in the workbench's renderer (the webview's page runs there too);
 * `stop` writes the profile with the wall-clock times (epoch ms) of its start and of the pick
 * beside it, as `startedAt` and `pickedAt`.
 */
async function startProfile(page: Page): Promise<{ stop(file: string, pickedAt: number): Promise<void> }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 250 });
  await cdp.send('Profiler.start');
  const tracing = process.env.UNET3D_BENCH_TRACE === '1';
  if (tracing) await cdp.send('Tracing.start', { categories: 'devtools.timeline,blink.user_timing,v8.execute,disabled-by-default-devtools.timeline,toplevel', transferMode: 'ReturnAsStream' });
  // The profile's clock starts (its startTime, in µs) about when this returns: the wall clock then.
  const startedAt = Date.now();
  return {
    async stop(file, pickedAt) {
      const { profile } = await cdp.send('Profiler.stop');
      if (tracing) {
        const done = new Promise<string>((resolve) => cdp.once('Tracing.tracingComplete', (e: { stream?: string }) => resolve(e.stream!)));
        await cdp.send('Tracing.end');
        const stream = await done;
        let text = '';
        for (;;) {
          const chunk = await cdp.send('IO.read', { handle: stream });
          text += chunk.data;
          if (chunk.eof) break;
        }
        await cdp.send('IO.close', { handle: stream });
        fs.writeFileSync(file.replace(/\.cpuprofile$/, '.trace.json'), text);
      }
      await cdp.detach();
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, JSON.stringify({ ...profile, pickedAt, startedAt }));
    },
  };
}

/** The lines of the extension's log (its output channel's file in the workbench's user data) that name `fileName`, with their time (epoch ms). */
function hostLogLines(wb: Workbench, fileName: string): { at: number; text: string }[] {
  const logs = path.join(path.dirname(wb.workspace), 'user-data', 'logs');
  const files = fs.existsSync(logs) ? (fs.readdirSync(logs, { recursive: true }) as string[]).filter((f) => f.endsWith('U-Net.log')) : [];
  const lines: { at: number; text: string }[] = [];
  for (const file of files) {
    for (const line of fs.readFileSync(path.join(logs, file), 'utf8').split('\n')) {
      const match = /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) \[\w+\] (.*)$/.exec(line);
      if (match && match[2].includes(fileName)) lines.push({ at: new Date(match[1].replace(' ', 'T')).getTime(), text: match[2] });
    }
  }
  return lines;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

interface Timing {
  total: number;
  panes: Record<string, number>;
}
interface BenchHandle {
  setCrosshair(v: number[]): void;
  redrawAllTimed(): Timing;
  takeInputLatencies(): number[];
}

/** Redraws while moving through the volume, and a brush stroke with real mouse events. */
async function measureDrawing(page: Page, size: number): Promise<string[]> {
  const body = webview(page).locator('body');
  const redraws = (await body.evaluate((_b, n) => {
    const editor = (window as unknown as { unet3dEditor: BenchHandle }).unet3dEditor;
    const times: Timing[] = [];
    for (let i = 0; i < 60; i++) {
      const s = Math.floor(n / 4 + (i * n) / 120);
      editor.setCrosshair([s, n - 1 - s, s]);
      times.push(editor.redrawAllTimed());
    }
    editor.setCrosshair([n >> 1, n >> 1, n >> 1]);
    return times;
  }, size)) as Timing[];
  const totals = redraws.map((r) => r.total);
  const perPane = ['axial', 'coronal', 'sagittal'].map((p) => `${p} ${median(redraws.map((r) => r.panes[p])).toFixed(1)}`).join(', ');
  await webview(page).locator('vscode-button[data-tool="brush"]').click();
  const canvas = webview(page).locator('.pane[data-plane="axial"] canvas');
  const box = (await canvas.boundingBox())!;
  await body.evaluate(() => (window as unknown as { unet3dEditor: BenchHandle }).unet3dEditor.takeInputLatencies());
  const y = box.y + box.height * 0.5;
  await page.mouse.move(box.x + box.width * 0.2, y);
  await page.mouse.down();
  for (let i = 1; i <= 80; i++) {
    await page.mouse.move(box.x + box.width * (0.2 + (0.6 * i) / 80), y + Math.sin(i / 8) * box.height * 0.1);
    await page.waitForTimeout(16);
  }
  await page.mouse.up();
  const latencies = (await body.evaluate(() => (window as unknown as { unet3dEditor: BenchHandle }).unet3dEditor.takeInputLatencies())) as number[];
  return [
    `redraw of three panes (${size}³): median ${median(totals).toFixed(1)} ms, p95 ${percentile(totals, 95).toFixed(1)} ms (${totals.length} frames; per pane ms: ${perPane})`,
    `brush event → pixels drawn: median ${median(latencies).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms (${latencies.length} events)`,
  ];
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const say = (line: string) => (options.json ? process.stderr : process.stdout).write(line + '\n');
  if (!fs.existsSync(path.join(options.extension ?? REPO_ROOT, 'dist', 'webview.js'))) throw new Error('dist/webview.js is missing: run `npm run build` first');
  for (const size of options.sizes) for (const format of options.formats) benchVolume(size, format);
  // The extension host inherits the server's environment (see session.ts).
  if (options.transport === 'chunks') process.env.UNET3D_EDITOR_VOXELS = 'chunks';
  const load = os.loadavg();
  say(`editor benchmark in code-server${options.extension ? ` (extension: ${options.extension})` : ''}; ${os.cpus().length} cores, load average ${load.map((l) => l.toFixed(1)).join(' ')}`);
  const open: OpenFigures[] = [];
  const extension = options.extension ? { developmentPath: options.extension } : ('development' as const);
  const opens = options.sizes.flatMap((size) => options.formats.map((format) => ({ size, format })));
  for (const [i, { size, format }] of opens.entries()) {
    // A fresh workbench for each open: nothing of the last one lingers in the host's memory.
    const wb = await launchWorkbench({ name: `editor-bench-${size}`, files: [], extension, settings: { 'files.autoSave': 'off' } });
    try {
      await warmUp(wb);
      const figures = await measureOpen(wb, size, format, options.profile);
      const { transport, compressedBytes, pageSeconds, heap, timeline, hostLog, ...shown } = figures;
      open.push(shown);
      say(
        `${size}³ int16 .${format} (${mib(compressedBytes)} on disk, ${mib(size ** 3 * 2)} of voxels): first planes ${figures.firstPlanesSeconds.toFixed(2)} s, ` +
          `whole volume ${figures.wholeVolumeSeconds.toFixed(2)} s (${transport}${pageSeconds !== undefined ? `; the webview's page started ${pageSeconds.toFixed(2)} s after the pick` : ''}); ` +
          `webview holds ${mib(figures.webviewBytes)} of voxels; extension host grew ${mib(figures.host)}` +
          (heap ? `; after a garbage collection the ArrayBuffers of the webview's renderer hold ${mib(heap.arrayBuffers)}, its heap ${mib(heap.heap)}` : ''),
      );
      say(`  in the webview, from the pick: ${timeline.join('; ')}`);
      for (const line of hostLog) say(`  the extension's log, from the pick: ${line}`);
      if (options.draw && i === opens.length - 1) for (const line of await measureDrawing(wb.page, size)) say(line);
    } finally {
      await wb.close();
    }
  }
  say(`load average after: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  if (options.json) process.stdout.write(JSON.stringify({ open }) + '\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
