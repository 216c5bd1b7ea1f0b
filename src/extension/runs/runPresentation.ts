/**
 * What the Runs view shows for an entry: label, description, tooltip, context value and
 * children, as plain data (the tree provider turns it into TreeItems). Pure: unit-tested.
 *
 * Context values are colon-separated tokens that package.json's menus match with regular
 * expressions, e.g. `unet3d:run:model:curves:deletable:renamable`:
 *   run | evaluation | broken | file | detail   the kind of row
 *   running      a training or evaluation in progress in this window (Cancel)
 *   model        it has a checkpoint to segment with (Segment with this run)
 *   curves       it has training curves (Show training curves)
 *   deletable    it may be deleted / renamed now (not while running)
 *   renamable
 *   reveal       it has a folder or file to reveal in the explorer
 */
import * as path from 'node:path';
import { RUN_FILE, type ParentComparison, type RefitRecord, type RunRecord } from '../../protocol/run';
import { plural } from '../../core/words';
import { describeStop, type ValidationResult } from '../../protocol/training';
import { EVALUATION_FILE, type BrokenEntry, type Entry, type EvaluationEntry, type RunEntry, type SegmentationRecord } from './runEntry';

/** What a training in progress in this window last reported (fresher than run.json). */
export interface LiveProgress {
  iteration: number;
  totalIterations?: number;
  smoothedLoss: number;
  etaSeconds: number;
  /** Best mean foreground IoU so far, if validated. */
  bestIoU?: number | null;
  /** For an evaluation: the fold being trained (1-based) and the count. */
  fold?: number;
  folds?: number;
}

/** How an entry is shown: its status ('interrupted' also for a run still 'running' whose process is gone), and 'broken'. */
export type DisplayStatus = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted' | 'broken';

export interface PresentOptions {
  /** Now, ms since 1970. */
  now: number;
  /** True when a job of this window runs it (it may not have reported progress yet). */
  active?: boolean;
  /** The latest progress of that job. */
  live?: LiveProgress;
  /** A 'running' run that no job of this window owns and whose record is older than this is shown as interrupted. */
  staleAfterMs?: number;
}

/**
 * One row of the view. `children` are shown when it is expanded. A run's row leads with what
 * matters (its IoU, or its iteration while it trains) and names it in the description, short
 * time first: the full name (20261206-033429-sub-spleen2_ct) would fill the row at the side
 * bar's default width.
 */
export interface RowData {
  /** Stable id among its siblings (for the tree's identity). */
  id: string;
  label: string;
  /** For a run, evaluation or broken entry: its folder's name (in the tooltip, not the label). */
  name?: string;
  description?: string;
  /** Markdown. */
  tooltip?: string;
  contextValue: string;
  /** Codicon name. */
  icon?: string;
  /** Theme color id for the icon. */
  iconColor?: string;
  /** A file or folder this row stands for (opened on click when `open` is set). */
  resource?: string;
  open?: boolean;
  children?: RowData[];
  /** For a run or evaluation row: its folder (the key of its live progress). */
  runDir?: string;
}

const DEFAULT_STALE_MS = 10 * 60_000;

export function formatIoU(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : v.toFixed(3);
}

/** "14:02" on the day of `now`, "6 Dec 14:02" in its year, "6 Dec 2025" before (local time). */
export function formatShortTime(iso: string, now: number): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '–';
  const today = new Date(now);
  const p = (n: number) => String(n).padStart(2, '0');
  const time = `${p(date.getHours())}:${p(date.getMinutes())}`;
  if (date.toDateString() === today.toDateString()) return time;
  const day = `${date.getDate()} ${MONTHS[date.getMonth()]}`;
  return date.getFullYear() === today.getFullYear() ? `${day} ${time}` : `${day} ${date.getFullYear()}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * A run's name without the date and time Train puts in front of it ("20261206-033429-t2" →
 * "t2"; "eval-t2" for an evaluation); a name given by the user stays as it is.
 */
export function shortRunName(name: string): string {
  return /^\d{8}-\d{6}-(.+)$/.exec(name)?.[1] ?? name;
}

/** "42 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.round(seconds - 60 * m)).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m - 60 * h).padStart(2, '0')} min`;
}

/** The best validation of a run: the summary's, else the best so far. */
export function bestValidation(record: RunRecord): ValidationResult | undefined {
  if (record.summary?.best) return record.summary.best;
  let best: ValidationResult | undefined;
  for (const v of record.validation) {
    if (v.meanForegroundIoU === null) continue;
    if (!best || (best.meanForegroundIoU ?? -1) < v.meanForegroundIoU) best = v;
  }
  return best;
}

/** Seconds from start to end (or to now while running). */
export function runSeconds(record: { createdAt: string; finishedAt?: string; updatedAt: string; status: string }, now: number): number {
  const start = Date.parse(record.createdAt);
  const end = record.finishedAt ? Date.parse(record.finishedAt) : record.status === 'running' ? now : Date.parse(record.updatedAt);
  return Math.max(0, (end - start) / 1000);
}

/** The status to show, telling a run that nothing updates any more from one in progress. */
export function displayStatus(entry: Entry, options: PresentOptions): DisplayStatus {
  if (entry.kind === 'broken') return 'broken';
  const record = entry.kind === 'run' ? entry.record : entry.evaluation;
  if (record.status !== 'running' || options.active || options.live) return record.status;
  // The lock names the training process: gone means interrupted at once, alive means running.
  if (entry.kind === 'run' && entry.worker === 'gone') return 'interrupted';
  if (entry.kind === 'run' && entry.worker === 'alive') return 'running';
  const updated = Date.parse(record.updatedAt);
  return options.now - updated > (options.staleAfterMs ?? DEFAULT_STALE_MS) ? 'interrupted' : 'running';
}

const STATUS_ICON: Record<DisplayStatus, [string, string | undefined]> = {
  running: ['sync~spin', undefined],
  succeeded: ['pass', 'testing.iconPassed'],
  failed: ['error', 'testing.iconFailed'],
  cancelled: ['circle-slash', 'disabledForeground'],
  interrupted: ['debug-disconnect', 'list.warningForeground'],
  broken: ['warning', 'list.warningForeground'],
};

function className(record: Pick<RunRecord, 'classes'>, index: number, names?: string[]): string {
  const value = index + 1;
  return record.classes?.find((c) => c.value === value)?.name ?? names?.[index] ?? (value === 1 ? 'background' : `class ${value - 1}`);
}

function tokens(...list: (string | false | undefined)[]): string {
  return ['unet3d', ...list.filter((t): t is string => typeof t === 'string')].join(':');
}

function networkText(record: RunRecord): string {
  const preset = record.settings.network?.preset ?? '?';
  const net = record.network;
  if (!net) return preset;
  return `${preset} (${net.levels} levels, base ${net.baseFilters}, ${net.padding} padding${net.batchNorm ? ', BN' : ''})`;
}

function budgetText(record: RunRecord): string {
  const { iterations, minutes } = record.settings;
  const parts = [iterations !== undefined ? `${iterations} iterations` : undefined, minutes !== undefined ? `${minutes} min` : undefined].filter(Boolean);
  return parts.join(' or ') || '–';
}

function validationText(record: RunRecord): string {
  const v = record.settings.validation as { fraction?: number; fold?: number; folds?: number } | undefined;
  if (!v) return '–';
  const refit = typeof record.settings.refit === 'number' && record.settings.refit > 0 ? `, then ${Math.round(record.settings.refit * 100)} % of the budget on every slice` : '';
  if (typeof v.folds === 'number') return `fold ${(v.fold ?? 0) + 1} of ${v.folds} held out${refit}`;
  if (typeof v.fraction === 'number') return v.fraction > 0 ? `${Math.round(v.fraction * 100)} % of the annotated slices held out${refit}` : 'none';
  return '–';
}

function iterationsDone(record: RunRecord): number | undefined {
  return record.summary?.iterations ?? record.loss[record.loss.length - 1]?.iteration;
}

/** The row's lead (its label) and the line after it (its description): status, IoU, when, which run. */
function describeRun(entry: RunEntry, status: DisplayStatus, options: PresentOptions): { label: string; description: string; tooltip: string } {
  const r = entry.record;
  const live = options.live;
  const best = bestValidation(r);
  const iou = live?.bestIoU ?? best?.meanForegroundIoU ?? null;
  let label: string;
  if (status === 'running') {
    const done = live?.iteration ?? iterationsDone(r);
    const total = live?.totalIterations ?? r.settings.iterations;
    label = done === undefined || done === 0 ? 'starting…' : `iteration ${done}${total ? `/${total}` : ''}${iou !== null ? ` · IoU ${formatIoU(iou)}` : ''}`;
  } else if (status === 'failed') {
    label = 'failed';
  } else {
    label = `${status === 'succeeded' ? '' : `${status} · `}IoU ${formatIoU(iou)}`;
  }
  const seconds = runSeconds(r, options.now);
  // The label stays short (it must not be cut off); what the IoU is of follows the name.
  const description = [formatShortTime(r.createdAt, options.now), shortRunName(entry.name), iouQualifier(r), status === 'failed' ? r.error : undefined].filter(Boolean).join(' · ');
  const lines = [
    `**${entry.name}** — ${status}`,
    '',
    `- Mean foreground IoU: ${formatIoU(iou)}${best ? ` (validation at iteration ${best.iteration})` : ''}`,
    `- Backend: ${r.backend ?? r.settings.backend ?? '–'}`,
    `- Preset: ${networkText(r)}${r.parameters ? `, ${r.parameters.toLocaleString('en-US')} parameters` : ''}`,
    `- Duration: ${formatDuration(seconds)}${iterationsDone(r) !== undefined ? `, ${plural(iterationsDone(r)!, 'iteration')}` : ''}`,
    `- Volumes: ${r.settings.volumes.map((v) => path.basename(String(v.image))).join(', ') || '–'}`,
    `- Started: ${new Date(r.createdAt).toLocaleString()}`,
  ];
  if (status === 'interrupted' && r.status === 'running') lines.push(`- No update since ${new Date(r.updatedAt).toLocaleString()}: VS Code or the worker stopped while it trained.`);
  if (r.error) lines.push(`- ${r.status === 'interrupted' ? 'Why' : 'Error'}: ${r.error}`);
  if (r.refit?.done) lines.push(`- ${refitText(r.refit)}`);
  if (r.parent?.heldOutSeen) lines.push('- Its held-out slices were learned by the run it continued: the IoU is not independent of them.');
  if (r.parent) lines.push(`- Continued from: ${path.basename(r.parent.runDir)} (iteration ${r.parent.iteration})`);
  if (r.parent?.comparison) lines.push(`- ${comparisonText(r.parent.comparison)}`);
  if (live && status === 'running' && Number.isFinite(live.smoothedLoss)) lines.push(`- Loss ${live.smoothedLoss.toFixed(4)}, about ${formatDuration(live.etaSeconds)} to go`);
  return { label, description, tooltip: lines.join('\n') };
}

const comparisonLabel = (c: ParentComparison) => (c.kept === 'parent' ? "kept the parent's weights" : 'no worse than its parent');
const comparisonDescription = (c: ParentComparison) => `IoU ${formatIoU(c.trainedIoU)} trained, ${formatIoU(c.parentIoU)} parent, on ${plural(c.checks, 'annotated slice')}`;

/** What the check against the parent found, and which network the run left. */
function comparisonText(c: ParentComparison): string {
  const scores = `On ${plural(c.checks, 'annotated slice')} (${c.voxels.toLocaleString('en-US')} voxels, the new ones included) the trained network scored IoU ${formatIoU(c.trainedIoU)}, the parent's ${formatIoU(c.parentIoU)}`;
  return c.kept === 'parent' ? `${scores}: the run kept the parent's weights (its model is the parent's network, iteration 0).` : `${scores}: the run's model is the trained network.`;
}

/** What the run's IoU is of: held-out slices (before a refit), or slices its parent had learned. */
function iouQualifier(r: RunRecord): string | undefined {
  const parts = [
    r.parent?.heldOutSeen ? 'IoU on slices its parent learned' : undefined,
    r.refit?.done ? `refit on all ${r.refit.slices} slices` : undefined,
    // The IoU was measured on the network the run trained; its model is the parent's.
    r.parent?.comparison?.kept === 'parent' ? "kept its parent's weights: the IoU is of the network set aside" : undefined,
  ];
  return parts.filter(Boolean).join(' · ') || undefined;
}

/** What a refit did, and what the run's IoU then means. */
function refitText(refit: RefitRecord): string {
  return `Refit: then trained ${refit.iterations} iterations on all ${refit.slices} annotated slices, the ${refit.heldOutSlices} held out included; the IoU is the network's before it saw them, and the refit network is the run's model.`;
}

function fileRow(id: string, file: string, description: string, tooltip?: string): RowData {
  return { id, label: path.basename(file), description, tooltip: tooltip ?? file, contextValue: tokens('file', 'reveal'), icon: 'file', resource: file, open: true };
}

function segmentationRows(list: readonly SegmentationRecord[]): RowData[] {
  return [...list]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .map((s, i) => fileRow(`seg-${i}-${s.output}`, s.output, `${path.basename(s.volume)} · ${new Date(s.createdAt).toLocaleString()}`, `${s.output}\n\nfrom ${s.volume}`));
}

function detail(id: string, label: string, description: string, icon = 'symbol-property'): RowData {
  return { id, label, description, contextValue: tokens('detail'), icon };
}

function settingsRows(r: RunRecord): RowData[] {
  const s = r.settings;
  const rows = [
    detail('preset', 'network', networkText(r) + (r.parameters ? ` · ${r.parameters.toLocaleString('en-US')} parameters` : '')),
    detail('budget', 'budget', budgetText(r)),
    detail('validation', 'validation', validationText(r)),
  ];
  if (r.geometry) rows.push(detail('patch', 'patch', `${r.geometry.input.join('×')} → ${r.geometry.output.join('×')} voxels`));
  if (s.optimizer) rows.push(detail('optimizer', 'optimizer', `${s.optimizer.kind}, learning rate ${s.schedule?.initial ?? '–'} (${s.schedule?.kind ?? '–'})`));
  if (s.batchSize) rows.push(detail('batch', 'batch size', String(s.batchSize)));
  if (s.classWeighting !== undefined) {
    const weighting = Array.isArray(s.classWeighting) ? s.classWeighting.join(', ') : String(s.classWeighting);
    const fraction = typeof s.logitAdjustment === 'number' && r.classWeights?.some((w) => w !== r.classWeights?.[0]) ? s.logitAdjustment : 0;
    rows.push(detail('weights', 'class weighting', fraction > 0 ? `${weighting} · ${Math.round(fraction * 100)} % of its shift taken back at prediction` : weighting));
  }
  if (s.loss !== undefined) rows.push(detail('loss', 'loss', s.loss === 'ce+dice' ? 'cross-entropy + Dice' : s.loss === 'ce' ? 'cross-entropy' : s.loss));
  // Classes whose annotations the run's segmentations follow more than its trust map (calibrateDecision).
  const followed = (r.annotationOffsets ?? []).flatMap((o, c) => (o > 0 ? [`${className(r, c)} +${o}`] : []));
  const annotations = followed.length > 0 ? `annotations (followed more when segmenting: ${followed.join(', ')})` : 'annotations';
  const inputs = [s.annotationChannels === true ? annotations : '', s.coordinateChannels === true ? 'coordinates' : ''].filter(Boolean);
  if (s.annotationChannels !== undefined || s.coordinateChannels !== undefined) rows.push(detail('inputs', 'extra inputs', inputs.length ? inputs.join(', ') : 'none'));
  if (s.augmentation) {
    const on = Object.entries(s.augmentation)
      .filter(([, v]) => typeof v === 'object' && v !== null && (v as { enabled?: unknown }).enabled === true)
      .map(([k]) => k);
    rows.push(detail('augmentation', 'augmentation', on.length ? on.join(', ') : 'none'));
  }
  if (s.seed !== undefined) rows.push(detail('seed', 'seed', String(s.seed)));
  rows.push(detail('backend', 'backend', `${r.backend ?? '–'} (asked: ${s.backend ?? 'auto'})`));
  if (r.summary) rows.push(detail('stop', 'stopped', describeStop(r.summary)));
  return rows;
}

function classRows(record: Pick<RunRecord, 'classes'>, iou: readonly (number | null)[], prefix: string, names?: string[]): RowData[] {
  return iou.map((v, c) => ({
    id: `${prefix}-${c}`,
    label: className(record, c, names),
    description: `IoU ${formatIoU(v)}`,
    contextValue: tokens('detail'),
    icon: c === 0 ? 'circle-outline' : 'circle-filled',
  }));
}

function runChildren(entry: RunEntry): RowData[] {
  const r = entry.record;
  const rows: RowData[] = [];
  if (r.error) rows.push({ id: 'error', label: 'error', description: r.error, tooltip: r.error, contextValue: tokens('detail'), icon: 'error' });
  if (r.parent) {
    // The lineage: which run this one continued, at which checkpoint; clicking reveals its folder.
    const p = r.parent;
    const added = p.classesAdded ? `, ${p.classesAdded} class${p.classesAdded === 1 ? '' : 'es'} added` : '';
    rows.push({
      id: 'parent',
      label: 'continued from',
      description: `${path.basename(p.runDir)} · iteration ${p.iteration} · IoU ${formatIoU(p.meanForegroundIoU)}${added}`,
      tooltip: `Warm start: this run began from the ${p.checkpoint} checkpoint of ${p.runDir}`,
      contextValue: tokens('detail'),
      icon: 'history',
      resource: p.runDir,
    });
    if (p.comparison) rows.push({ ...detail('parent-comparison', comparisonLabel(p.comparison), comparisonDescription(p.comparison), p.comparison.kept === 'parent' ? 'discard' : 'pass'), tooltip: comparisonText(p.comparison) });
  } else if (r.warmStartSkipped) {
    rows.push(detail('parent', 'from scratch', r.warmStartSkipped, 'circle-large-outline'));
  }
  const best = bestValidation(r);
  if (r.refit?.done) rows.push({ ...detail('refit', 'refit on all slices', `${r.refit.iterations} iterations, ${r.refit.heldOutSlices} held-out slices added; IoU below: held out, before the refit`, 'refresh'), tooltip: refitText(r.refit) });
  if (best) rows.push(...classRows(r, best.iou, 'iou'));
  else rows.push(detail('iou', 'IoU', r.status === 'running' ? 'after the first validation' : 'no validation (no slices held out)', 'info'));
  const volumes = r.settings.volumes.map((v, i) =>
    fileRow(`volume-${i}`, String(v.image), `labels: ${path.basename(String(v.labels))}${r.volumes[i]?.labelsConvention === 'mask' ? ' (a mask: 0 = background)' : ''}`),
  );
  rows.push({ id: 'volumes', label: 'volumes', description: String(volumes.length), contextValue: tokens('detail'), icon: 'files', children: volumes });
  rows.push({ id: 'settings', label: 'settings', contextValue: tokens('detail'), icon: 'settings-gear', children: settingsRows(r) });
  const segs = segmentationRows(entry.segmentations);
  rows.push({ id: 'segmentations', label: 'segmentations', description: String(segs.length), contextValue: tokens('detail'), icon: 'layers', children: segs });
  return rows;
}

function hasModel(r: RunRecord): boolean {
  return Boolean(r.checkpoints?.best ?? r.checkpoints?.last);
}

function presentRun(entry: RunEntry, options: PresentOptions): RowData {
  const status = displayStatus(entry, options);
  const { label, description, tooltip } = describeRun(entry, status, options);
  const [icon, iconColor] = STATUS_ICON[status];
  const running = status === 'running';
  return {
    id: entry.dir,
    label,
    name: entry.name,
    description,
    tooltip,
    contextValue: tokens('run', running && (options.active || options.live) ? 'running' : undefined, hasModel(entry.record) && 'model', 'curves', !running && 'deletable', !running && 'renamable', 'reveal'),
    icon,
    iconColor,
    resource: entry.dir,
    runDir: entry.dir,
    children: runChildren(entry),
  };
}

function presentEvaluation(entry: EvaluationEntry, options: PresentOptions): RowData {
  const e = entry.evaluation;
  const status = displayStatus(entry, options);
  const live = options.live;
  const done = e.results.length;
  let label: string;
  if (status === 'running') label = `fold ${live?.fold ?? done + 1}/${e.folds}${done ? ` · IoU ${formatIoU(e.meanForegroundIoU)} so far` : ''}`;
  else if (status === 'failed') label = 'failed';
  else label = `${status === 'succeeded' ? '' : `${status} · `}${e.folds}-fold IoU ${formatIoU(e.meanForegroundIoU)}`;
  const description = [formatShortTime(e.createdAt, options.now), shortRunName(entry.name), status === 'failed' ? e.error : undefined].filter(Boolean).join(' · ');
  const tooltip = [
    `**${entry.name}** — ${e.folds}-fold evaluation, ${status}`,
    '',
    `- Mean foreground IoU over ${plural(done, 'fold')}: ${formatIoU(e.meanForegroundIoU)}`,
    ...e.results.map((f) => `- Fold ${f.fold + 1}: ${formatIoU(f.meanForegroundIoU)}`),
    `- Preset: ${e.preset}`,
    `- Duration: ${formatDuration(runSeconds(e, options.now))}`,
    `- Volumes: ${e.volumes.map((v) => path.basename(v.image)).join(', ') || '–'}`,
    ...(e.error ? [`- Error: ${e.error}`] : []),
  ].join('\n');
  const [icon, iconColor] = STATUS_ICON[status];
  const classNames = e.classNames;
  const children: RowData[] = [];
  if (e.error) children.push({ id: 'error', label: 'error', description: e.error, tooltip: e.error, contextValue: tokens('detail'), icon: 'error' });
  children.push(...classRows({ classes: classNames?.map((name, i) => ({ value: i + 1, name })) }, e.meanIoU, 'iou'));
  children.push(
    ...entry.folds.map((f, i) => {
      const foldActive = status === 'running' && f.kind === 'run' && f.record.status === 'running' && Boolean(options.active || live);
      const row = f.kind === 'run' ? presentRun(f, { now: options.now, staleAfterMs: options.staleAfterMs, active: foldActive, live: foldActive ? live : undefined }) : presentBroken(f);
      return { ...row, id: `fold-${i}-${f.dir}`, contextValue: row.contextValue.replace(':deletable', '').replace(':renamable', '') };
    }),
  );
  const volumes = e.volumes.map((v, i) => fileRow(`volume-${i}`, v.image, `labels: ${path.basename(v.labels)}`));
  children.push({ id: 'volumes', label: 'volumes', description: String(volumes.length), contextValue: tokens('detail'), icon: 'files', children: volumes });
  const running = status === 'running';
  return {
    id: entry.dir,
    label,
    name: entry.name,
    description,
    tooltip,
    contextValue: tokens('evaluation', running && (options.active || live) ? 'running' : undefined, !running && 'deletable', !running && 'renamable', 'reveal'),
    icon,
    iconColor,
    resource: entry.dir,
    runDir: entry.dir,
    children,
  };
}

function presentBroken(entry: BrokenEntry): RowData {
  const [icon, iconColor] = STATUS_ICON.broken;
  return {
    id: entry.dir,
    label: 'broken',
    name: entry.name,
    description: `${entry.name} · ${entry.reason}`,
    tooltip: `**${entry.name}** cannot be read as a run.\n\n${entry.reason}`,
    contextValue: tokens('broken', 'deletable', 'renamable', 'reveal'),
    icon,
    iconColor,
    resource: entry.dir,
    runDir: entry.dir,
  };
}

/**
 * The row of one entry of the runs folder, with its children. A record the parser let through
 * but that cannot be shown (a field of the wrong type, written by hand or by another tool) is
 * shown as broken, with why: one run never takes the whole view down.
 */
export function presentEntry(entry: Entry, options: PresentOptions): RowData {
  try {
    switch (entry.kind) {
      case 'run':
        return presentRun(entry, options);
      case 'evaluation':
        return presentEvaluation(entry, options);
      case 'broken':
        return presentBroken(entry);
    }
  } catch (error) {
    const file = entry.kind === 'evaluation' ? EVALUATION_FILE : RUN_FILE;
    return presentBroken({ kind: 'broken', dir: entry.dir, name: entry.name, createdMs: entry.createdMs, reason: `its ${file} cannot be shown (${(error as Error).message})` });
  }
}
