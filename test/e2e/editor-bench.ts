/**
 * The editor's drawing speed in headless Chromium, on a synthetic 512³ int16 volume:
 * - redraw: composing and drawing all three panes (every pane's slice image rebuilt), per frame;
 * - brush: from a pointer event of a brush stroke to the end of the frame that drew it.
 * Run: `npm run build && npx tsx test/e2e/editor-bench.ts [size]` (size 512 by default).
 */
import { openStandaloneEditor } from './editorStandalone';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 512);
  const started = Date.now();
  const editor = await openStandaloneEditor({ dims: [n, n, n], spacing: [0.5, 0.5, 0.8] });
  const { page } = editor;
  try {
    console.log(`opened a ${n}³ int16 volume in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Redraws while moving through the volume (each pane shows a new slice every frame).
    type Timing = { total: number; panes: Record<string, number> };
    const redraws = (await page.evaluate((size) => {
      const editor = (window as unknown as { unet3dEditor: { setCrosshair(v: number[]): void; redrawAllTimed(): Timing } }).unet3dEditor;
      const times: Timing[] = [];
      for (let i = 0; i < 60; i++) {
        const s = Math.floor(size / 4 + (i * size) / 120);
        editor.setCrosshair([s, size - 1 - s, s]);
        times.push(editor.redrawAllTimed());
      }
      return times;
    }, n)) as Timing[];
    const totals = redraws.map((r) => r.total);
    const perPane = ['axial', 'coronal', 'sagittal'].map((p) => `${p} ${median(redraws.map((r) => r.panes[p])).toFixed(1)}`).join(', ');
    console.log(`redraw of three panes: median ${median(totals).toFixed(1)} ms, p95 ${percentile(totals, 95).toFixed(1)} ms (${totals.length} frames; per pane ms: ${perPane})`);

    // A brush stroke across the axial pane with real mouse events.
    await page.locator('vscode-button[data-tool="brush"]').click();
    const canvas = page.locator('.pane[data-plane="axial"] canvas');
    const box = (await canvas.boundingBox())!;
    await page.evaluate(() => (window as unknown as { unet3dEditor: { takeInputLatencies(): number[] } }).unet3dEditor.takeInputLatencies());
    const y = box.y + box.height * 0.5;
    await page.mouse.move(box.x + box.width * 0.2, y);
    await page.mouse.down();
    for (let i = 1; i <= 80; i++) {
      await page.mouse.move(box.x + box.width * (0.2 + (0.6 * i) / 80), y + Math.sin(i / 8) * box.height * 0.1);
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    }
    await page.mouse.up();
    const latencies = (await page.evaluate(() => (window as unknown as { unet3dEditor: { takeInputLatencies(): number[] } }).unet3dEditor.takeInputLatencies())) as number[];
    console.log(`brush event → pixels drawn: median ${median(latencies).toFixed(1)} ms, p95 ${percentile(latencies, 95).toFixed(1)} ms (${latencies.length} events)`);
    if (process.env.UNET3D_BENCH_SCREENSHOT) await page.screenshot({ path: process.env.UNET3D_BENCH_SCREENSHOT });
  } finally {
    await editor.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
