/**
 * The training curves of a run as SVG markup: the (smoothed) loss and the validation IoU
 * against iterations, one chart above the other. Colours come from CSS classes the panel's
 * stylesheet maps to the theme. Pure: unit-tested.
 */
import type { RunRecord } from '../../protocol/run';

/** A loss sample. */
export interface LossPoint {
  iteration: number;
  loss: number;
}

/** A validation: IoU per class (index c = label value c + 1; null where absent) and the foreground mean. */
export interface IoUPoint {
  iteration: number;
  iou: (number | null)[];
  meanForegroundIoU: number | null;
}

export interface CurvesData {
  loss: LossPoint[];
  validation: IoUPoint[];
  /** Class names, background first. */
  classNames: string[];
  /** The iteration budget, if any (the x axis reaches it while running). */
  totalIterations?: number;
}

/** The two charts one above the other (a tall place), or side by side (a wide one, e.g. the panel). */
export type ChartArrangement = 'stacked' | 'side-by-side';

const WIDTH = 720;
const CHART_HEIGHT = 230;
const MARGIN = { left: 56, right: 150, top: 26, bottom: 34 };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 × 10^k steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The 1, 2 or 5 × 10^k step nearest to the raw one (in ratio).
  const step = [1, 2, 5, 10].map((m) => m * mag).reduce((a, b) => (Math.abs(Math.log(b / raw)) < Math.abs(Math.log(a / raw)) ? b : a));
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 10000) return `${+(v / 1000).toPrecision(3)}k`;
  if (a >= 1) return String(+v.toPrecision(4));
  return String(+v.toPrecision(2));
}

interface Series {
  name: string;
  cssClass: string;
  points: [number, number][];
  /** Draw a dot at each point (few points, e.g. validations). */
  dots: boolean;
}

function chart(title: string, series: Series[], xMax: number, yRange: [number, number], [left, top]: [number, number], emptyText: string): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = CHART_HEIGHT - MARGIN.top - MARGIN.bottom;
  const x0 = left + MARGIN.left;
  const y0 = top + MARGIN.top;
  const [yLo, yHi] = yRange;
  const sx = (x: number) => x0 + (xMax > 0 ? (x / xMax) * plotW : 0);
  const sy = (y: number) => y0 + plotH - ((y - yLo) / (yHi - yLo || 1)) * plotH;
  const parts: string[] = [];
  parts.push(`<text class="title" x="${x0}" y="${top + 16}">${escapeXml(title)}</text>`);
  for (const t of niceTicks(yLo, yHi, 4)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line class="grid" x1="${x0}" x2="${x0 + plotW}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text class="tick" x="${x0 - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${formatTick(t)}</text>`);
  }
  for (const t of niceTicks(0, Math.max(1, xMax), 6)) {
    const x = sx(t).toFixed(1);
    parts.push(`<text class="tick" x="${x}" y="${y0 + plotH + 16}" text-anchor="middle">${formatTick(t)}</text>`);
  }
  parts.push(`<rect class="frame" x="${x0}" y="${y0}" width="${plotW}" height="${plotH}"/>`);
  parts.push(`<text class="tick" x="${x0 + plotW / 2}" y="${y0 + plotH + 30}" text-anchor="middle">iteration</text>`);
  const drawn = series.filter((s) => s.points.length > 0);
  if (drawn.length === 0) {
    parts.push(`<text class="empty" x="${x0 + plotW / 2}" y="${y0 + plotH / 2}" text-anchor="middle">${escapeXml(emptyText)}</text>`);
  }
  drawn.forEach((s, i) => {
    const d = s.points.map(([x, y], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    parts.push(`<path class="line ${s.cssClass}" d="${d}"/>`);
    if (s.dots) for (const [x, y] of s.points) parts.push(`<circle class="dot ${s.cssClass}" cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5"/>`);
    const ly = y0 + 8 + i * 18;
    parts.push(`<line class="line ${s.cssClass}" x1="${x0 + plotW + 12}" x2="${x0 + plotW + 30}" y1="${ly}" y2="${ly}"/>`);
    parts.push(`<text class="legend" x="${x0 + plotW + 36}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  return parts.join('');
}

/** Both charts as one `<svg>` element (scales with its container's width). */
export function curvesSvg(data: CurvesData, arrangement: ChartArrangement = 'stacked'): string {
  const lastIteration = Math.max(0, ...data.loss.map((p) => p.iteration), ...data.validation.map((v) => v.iteration));
  const xMax = Math.max(lastIteration, data.totalIterations ?? 0, 1);
  const losses = data.loss.map((p) => p.loss).filter(Number.isFinite);
  const lossHi = losses.length ? Math.max(...losses) : 1;
  const lossLo = losses.length ? Math.min(0, Math.min(...losses)) : 0;
  const lossSeries: Series[] = [{ name: 'loss (smoothed)', cssClass: 's0', points: data.loss.map((p) => [p.iteration, p.loss]), dots: false }];
  const classes = Math.max(0, ...data.validation.map((v) => v.iou.length));
  // With one foreground class its line is the mean: drawn once.
  const iouSeries: Series[] =
    classes > 2
      ? [
          {
            name: 'mean foreground',
            cssClass: 'mean',
            points: data.validation.filter((v) => v.meanForegroundIoU !== null).map((v) => [v.iteration, v.meanForegroundIoU as number]),
            dots: true,
          },
        ]
      : [];
  for (let c = 0; c < classes; c++) {
    iouSeries.push({
      name: data.classNames[c] ?? (c === 0 ? 'background' : `class ${c}`),
      cssClass: `s${(c % 6) + 1}`,
      points: data.validation.filter((v) => v.iou[c] !== null && v.iou[c] !== undefined).map((v) => [v.iteration, v.iou[c] as number]),
      dots: true,
    });
  }
  const side = arrangement === 'side-by-side';
  const [width, height] = side ? [2 * WIDTH, CHART_HEIGHT] : [WIDTH, 2 * CHART_HEIGHT];
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="training curves">` +
    chart('Loss', lossSeries, xMax, [lossLo, lossHi > lossLo ? lossHi * 1.05 : lossLo + 1], [0, 0], 'no loss recorded yet') +
    chart('Validation IoU', iouSeries, xMax, [0, 1], side ? [WIDTH, 0] : [0, CHART_HEIGHT], 'no validation yet') +
    '</svg>'
  );
}

/** Merges run.json's curves with the fresher points of a live job (those after run.json's last). */
export function mergeCurves(record: RunRecord | undefined, live: Omit<CurvesData, 'classNames'> | undefined): Omit<CurvesData, 'classNames'> {
  const loss: LossPoint[] = record ? record.loss.map((l) => ({ iteration: l.iteration, loss: l.loss })) : [];
  const validation: IoUPoint[] = record ? [...record.validation] : [];
  if (live) {
    const lastLoss = loss[loss.length - 1]?.iteration ?? -1;
    loss.push(...live.loss.filter((p) => p.iteration > lastLoss));
    const lastValidation = validation[validation.length - 1]?.iteration ?? -1;
    validation.push(...live.validation.filter((v) => v.iteration > lastValidation));
  }
  return { loss, validation, totalIterations: live?.totalIterations ?? record?.settings.iterations };
}
