/**
 * "3D U-Net: Train" (`unet3d.train`): asks which volumes (the open one, every labeled volume of
 * the workspace, or a chosen set), the preset, the budget and the validation hold-out, each
 * answer remembered for the workspace; saves unsaved labels (or asks); then trains in a worker
 * of its own with a cancellable progress notification and a status-bar item, into a new run
 * folder under the runs folder. Label files are only read.
 *
 * From code or a test: `executeCommand('unet3d.train', { volumes, preset, iterations, ... })`
 * asks nothing and resolves with the result when the run ends. From the explorer: the selected
 * files or folders are the volumes.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultClasses, parseLabelsFile } from '../../core/labels';
import type { PresetName } from '../../engine/model';
import type { RunStatus } from '../../engine/runFolder';
import { trainSettings, type TrainSettings, type TrainSettingsInput } from '../../engine/settings';
import type { RunSummary, TrainEvent } from '../../protocol/worker';
import { formatDuration, formatIoU } from '../runs/runPresentation';
import { PRESET_NAMES, readLoopSettings, runsFolderOf, type TrainingDefaults } from '../settings';
import type { Job } from '../workerJobs';
import { budgetKey, parseBudget, runFolderName, type Budget } from './budget';
import type { LoopContext } from './loopContext';
import { pickRemembered, type Choice } from './picks';
import { requireTrust } from './trust';
import {
  activeVolume,
  classesUriOf,
  dirtyVolumes,
  displayPath,
  exists,
  fileName,
  labeledVolumes,
  labelsUriOf,
  volumesOfSelection,
  volumesTitle,
  workspaceVolumes,
} from './volumes';

/** Arguments for a call from code: whatever is given is not asked. */
export interface TrainArgs {
  /** The volumes (their label files lie beside them). */
  volumes?: (vscode.Uri | string)[];
  preset?: PresetName;
  iterations?: number;
  minutes?: number;
  validationFraction?: number;
  /** Engine settings merged over the defaults (e.g. a tiny network for a test). */
  settings?: Partial<TrainSettingsInput>;
  /** The run folder's name (default: date, time and volume). */
  name?: string;
  /** Unsaved labels: save them (default for calls from code) or train on what is on disk. */
  unsavedLabels?: 'save' | 'ignore';
}

/** How a training ended (what the command resolves with). */
export interface TrainResult {
  runDir: string;
  status: RunStatus;
  summary?: RunSummary;
  error?: string;
}

const MEMORY = {
  scope: 'unet3d.train.scope',
  chosen: 'unet3d.train.chosenVolumes',
  preset: 'unet3d.train.preset',
  budget: 'unet3d.train.budget',
  fraction: 'unet3d.train.validationFraction',
};

export function isTrainArgs(value: unknown): value is TrainArgs {
  return typeof value === 'object' && value !== null && !(value instanceof vscode.Uri) && !Array.isArray(value);
}

export function toUri(v: vscode.Uri | string): vscode.Uri {
  return typeof v === 'string' ? vscode.Uri.file(path.resolve(v)) : v;
}

/** A new folder under the runs folder of the volumes' workspace folder (made unique). */
export async function newRunDir(volumes: readonly vscode.Uri[], title: string, name?: string): Promise<vscode.Uri> {
  const folder = vscode.workspace.getWorkspaceFolder(volumes[0]) ?? vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('open a folder first: runs are kept in the workspace (setting unet3d.runsFolder)');
  const runs = runsFolderOf(folder);
  await vscode.workspace.fs.createDirectory(runs);
  const base = name ?? runFolderName(title);
  for (let n = 1; ; n++) {
    const candidate = vscode.Uri.joinPath(runs, n === 1 ? base : `${base}-${n}`);
    if (!(await exists(candidate))) return candidate;
  }
}

/** Asks which volumes to train on. */
export async function pickVolumes(ctx: LoopContext, what = 'Train'): Promise<vscode.Uri[] | undefined> {
  const open = activeVolume();
  const labeled = await labeledVolumes();
  type Scope = 'open' | 'all' | 'chosen';
  const choices: Choice<Scope>[] = [];
  if (open) choices.push({ value: 'open', label: `$(file) ${fileName(open)}`, detail: 'The open volume, from the slices painted on it (semi-automated)' });
  if (labeled.length) {
    choices.push({
      value: 'all',
      label: `$(files) Every labeled volume (${labeled.length})`,
      detail: `${labeled.map((v) => fileName(v)).slice(0, 4).join(', ')}${labeled.length > 4 ? ', …' : ''} — one network for all of them (fully-automated)`,
    });
  }
  choices.push({ value: 'chosen', label: '$(checklist) Choose volumes…', detail: 'Pick the volumes to learn from' });
  const scope = choices.length === 1 ? 'chosen' : await pickRemembered(ctx.state, MEMORY.scope, `3D U-Net: ${what} — on which volumes?`, choices, (s) => s);
  if (!scope) return undefined;
  if (scope === 'open') return open ? [open] : undefined;
  if (scope === 'all') return labeled;
  const candidates = await workspaceVolumes();
  if (candidates.length === 0) {
    void vscode.window.showWarningMessage('3D U-Net: there is no volume (.nii, .nii.gz, .nrrd, .nhdr) in this workspace.');
    return undefined;
  }
  const labeledSet = new Set(labeled.map((v) => v.toString()));
  const remembered = new Set(ctx.state.get<string[]>(MEMORY.chosen) ?? []);
  const items = candidates.map((uri) => ({
    uri,
    label: fileName(uri),
    description: displayPath(uri),
    detail: labeledSet.has(uri.toString()) ? 'has labels' : 'no label file yet (save labels in the volume editor first)',
    picked: remembered.size ? remembered.has(uri.toString()) : labeledSet.has(uri.toString()),
  }));
  const picked = await vscode.window.showQuickPick(items, { title: `3D U-Net: ${what} — choose volumes`, canPickMany: true, ignoreFocusOut: true });
  if (!picked || picked.length === 0) return undefined;
  await ctx.state.update(MEMORY.chosen, picked.map((p) => p.uri.toString()));
  return picked.map((p) => p.uri);
}

const PRESET_DETAIL: Record<PresetName, string> = {
  fast: '3 levels, 16 filters, same padding: sized for a CPU',
  paper: "The paper's network: 4 levels, 32–512 filters, valid padding, 19 M parameters (wants a GPU)",
  bench: 'The benchmark network of ENGINE.md (as fast)',
};

export async function pickPreset(ctx: LoopContext, defaults: TrainingDefaults): Promise<PresetName | undefined> {
  const names = [defaults.preset, ...PRESET_NAMES.filter((p) => p !== defaults.preset)];
  const choices = names.map((p) => ({ value: p, label: p, description: p === defaults.preset ? 'setting' : undefined, detail: PRESET_DETAIL[p] }));
  return pickRemembered(ctx.state, MEMORY.preset, '3D U-Net: Train — network preset', choices, (p) => p);
}

export async function pickBudget(ctx: LoopContext, defaults: TrainingDefaults): Promise<Budget | undefined> {
  const budgets: Budget[] = [
    { kind: 'iterations', value: defaults.iterations },
    { kind: 'minutes', value: defaults.minutes },
    ...[200, 500, 1000, 2000, 5000].map((value): Budget => ({ kind: 'iterations', value })),
    ...[2, 5, 10, 30].map((value): Budget => ({ kind: 'minutes', value })),
  ];
  const seen = new Set<string>();
  const choices: Choice<Budget | 'other'>[] = [];
  budgets.forEach((b, i) => {
    if (seen.has(budgetKey(b))) return;
    seen.add(budgetKey(b));
    choices.push({ value: b, label: b.kind === 'iterations' ? `${b.value} iterations` : `${b.value} minutes`, description: i < 2 ? 'setting' : undefined });
  });
  const remembered = ctx.state.get<string>(MEMORY.budget);
  if (remembered && !seen.has(remembered)) {
    const [kind, value] = remembered.split(':');
    const b = parseBudget(`${value}${kind === 'minutes' ? 'm' : ''}`);
    if (b) choices.unshift({ value: b, label: b.kind === 'iterations' ? `${b.value} iterations` : `${b.value} minutes` });
  }
  choices.push({ value: 'other', label: 'Other…', detail: 'Type a number of iterations, or minutes as "5m"' });
  const picked = await pickRemembered(ctx.state, MEMORY.budget, '3D U-Net: Train — budget (it stops early when validation stops improving)', choices, (b) =>
    b === 'other' ? 'other' : budgetKey(b),
  );
  if (picked !== 'other') return picked;
  const text = await vscode.window.showInputBox({
    title: '3D U-Net: Train — budget',
    prompt: 'Iterations (e.g. 800) or minutes (e.g. 5m)',
    validateInput: (t) => (parseBudget(t) ? undefined : 'a whole number of iterations, or minutes such as 5m'),
    ignoreFocusOut: true,
  });
  const budget = text === undefined ? undefined : parseBudget(text);
  if (budget) await ctx.state.update(MEMORY.budget, budgetKey(budget));
  return budget;
}

async function pickFraction(ctx: LoopContext, defaults: TrainingDefaults): Promise<number | undefined> {
  const values = [...new Set([defaults.validationFraction, 0.2, 0.1, 0.33, 0])];
  const choices = values.map((f) => ({
    value: f,
    label: f === 0 ? 'No validation' : `${Math.round(f * 100)} % of the annotated slices`,
    description: f === defaults.validationFraction ? 'setting' : undefined,
    detail: f === 0 ? 'Train on every annotated slice; the run gets no IoU and keeps its last checkpoint' : 'Held out of training and scored by IoU; the best checkpoint is kept',
  }));
  return pickRemembered(ctx.state, MEMORY.fraction, '3D U-Net: Train — validation hold-out', choices, (f) => String(f));
}

/**
 * The volumes a Train or Evaluate command works on: given by code, selected in the explorer
 * (`arg` and `selection` as VS Code passes them), or asked.
 */
export async function volumesToTrainOn(ctx: LoopContext, given: (vscode.Uri | string)[] | undefined, arg: unknown, selection: unknown, what: string): Promise<vscode.Uri[] | undefined> {
  if (given) return given.map(toUri);
  if (arg instanceof vscode.Uri) {
    const selected = Array.isArray(selection) && selection.every((s) => s instanceof vscode.Uri) ? (selection as vscode.Uri[]) : [arg];
    const volumes = await volumesOfSelection(selected, true);
    if (volumes.length === 0) throw new Error('the selection holds no volume with labels (.nii, .nii.gz, .nrrd, .nhdr with a NAME.labels.nii.gz beside it)');
    return volumes;
  }
  return pickVolumes(ctx, what);
}

/** Throws naming the volumes that have no label file beside them. */
export async function requireLabelFiles(volumes: readonly vscode.Uri[]): Promise<void> {
  const missing: string[] = [];
  for (const v of volumes) if (!(await exists(labelsUriOf(v)))) missing.push(fileName(v));
  if (missing.length) throw new Error(`no label file beside ${missing.join(', ')}: paint a few slices in the volume editor and save them first`);
}

/** The budget a call from code gives (or the setting's), else the one the user picks. */
export async function budgetFor(ctx: LoopContext, given: { iterations?: number; minutes?: number }, fromCode: boolean, defaults: TrainingDefaults): Promise<Budget | undefined> {
  if (given.iterations !== undefined) return { kind: 'iterations', value: given.iterations };
  if (given.minutes !== undefined) return { kind: 'minutes', value: given.minutes };
  return fromCode ? { kind: 'iterations', value: defaults.iterations } : pickBudget(ctx, defaults);
}

/** Saves unsaved labels of `volumes` (or, when asked and the user says so, leaves them). Returns false when the user cancels. */
export async function saveUnsavedLabels(volumes: readonly vscode.Uri[], mode: 'save' | 'ignore' | 'ask', what: string): Promise<boolean> {
  const dirty = dirtyVolumes(volumes);
  if (dirty.length === 0 || mode === 'ignore') return true;
  if (mode === 'ask') {
    const save = 'Save and Continue';
    const skip = 'Use the Saved Labels';
    const answer = await vscode.window.showWarningMessage(
      `${dirty.map(fileName).join(', ')} ${dirty.length === 1 ? 'has' : 'have'} unsaved labels.`,
      { modal: true, detail: `${what} reads the label files on disk.` },
      save,
      skip,
    );
    if (answer === undefined) return false;
    if (answer === skip) return true;
  }
  for (const uri of dirty) await vscode.workspace.save(uri);
  return true;
}

/** The class names of a volume's labels (NAME.labels.json), else those the volume editor starts with. */
export async function classNamesOf(volume: vscode.Uri): Promise<string[]> {
  let classes = defaultClasses();
  try {
    classes = parseLabelsFile(new TextDecoder().decode(await vscode.workspace.fs.readFile(classesUriOf(volume)))).classes;
  } catch {
    // no class list saved yet (or unreadable): the editor's defaults name what it shows
  }
  return classes
    .slice()
    .sort((a, b) => a.value - b.value)
    .map((c) => c.name);
}

/** The engine settings for a training of `volumes` into `outDir`. */
export function buildTrainSettings(
  defaults: TrainingDefaults,
  backend: TrainSettingsInput['backend'],
  volumes: readonly vscode.Uri[],
  outDir: string,
  choice: { preset: PresetName; budget: Budget; validationFraction: number; classNames?: string[]; extra?: Partial<TrainSettingsInput> },
): TrainSettingsInput {
  const advanced = defaults.advanced;
  const extra = choice.extra ?? {};
  const input: TrainSettingsInput = {
    ...advanced,
    ...extra,
    volumes: volumes.map((v) => ({ image: v.fsPath, labels: labelsUriOf(v).fsPath })),
    outDir,
    network: {
      ...advanced.network,
      preset: choice.preset,
      ...(defaults.levels !== undefined ? { levels: defaults.levels } : {}),
      ...(defaults.baseFilters !== undefined ? { baseFilters: defaults.baseFilters } : {}),
      ...extra.network,
    },
    validation: extra.validation ?? { fraction: choice.validationFraction },
    backend: extra.backend ?? backend,
  };
  delete input.iterations;
  delete input.minutes;
  if (choice.budget.kind === 'iterations') input.iterations = choice.budget.value;
  else input.minutes = choice.budget.value;
  if (choice.classNames && !input.classNames) input.classNames = choice.classNames;
  return input;
}

/** One line on a training's progress: "iteration 120/1000 · loss 0.2310 · IoU 0.712 · 3 min 10 s left". */
function progressLine(e: TrainEvent & { type: 'progress' }): string {
  const best = e.bestValidation?.meanForegroundIoU;
  return (
    `iteration ${e.iteration}${e.totalIterations ? `/${e.totalIterations}` : ''} · loss ${e.smoothedLoss.toFixed(4)}` +
    `${best != null ? ` · IoU ${formatIoU(best)}` : ''}${Number.isFinite(e.etaSeconds) ? ` · ${formatDuration(e.etaSeconds)} left` : ''}`
  );
}

/**
 * Trains `settings` with the job's worker, reporting to `progress` and to the job (the Runs
 * view, the status bar, the curves). Resolves with the summary; rejects when the run fails.
 */
export async function trainWithJob(
  job: Job,
  settings: TrainSettings,
  progress: vscode.Progress<{ message?: string; increment?: number }>,
  /** A prefix for the progress messages, and the share of the progress bar (percent) this training fills. */
  part: { prefix?: string; from?: number; to?: number } = {},
): Promise<RunSummary> {
  const { prefix = '', from = 0, to = 100 } = part;
  job.runDir = path.resolve(settings.outDir);
  job.curves = { loss: [], validation: [], totalIterations: settings.iterations };
  let reported = from;
  const handle = job.client.train(settings, (event) => {
    switch (event.type) {
      case 'started':
        progress.report({ message: `${prefix}${event.backend.active}, ${event.parameters.toLocaleString('en-US')} parameters — first iterations…` });
        break;
      case 'progress': {
        job.live = { ...job.live, iteration: event.iteration, totalIterations: event.totalIterations, smoothedLoss: event.smoothedLoss, etaSeconds: event.etaSeconds, bestIoU: event.bestValidation?.meanForegroundIoU };
        job.curves?.loss.push({ iteration: event.iteration, loss: event.smoothedLoss });
        job.status = progressLine(event);
        const fraction = event.totalIterations ? event.iteration / event.totalIterations : event.elapsedSeconds / Math.max(1e-9, event.elapsedSeconds + event.etaSeconds);
        const percent = from + Math.min(1, fraction) * (to - from);
        progress.report({ message: prefix + job.status, increment: Math.max(0, percent - reported) });
        reported = Math.max(reported, percent);
        job.changed();
        break;
      }
      case 'validation':
        job.curves?.validation.push(event.result);
        job.changed();
        break;
      case 'checkpoint':
      case 'finished':
        break;
    }
  });
  job.onCancel(() => {
    handle.cancel();
    progress.report({ message: `${prefix}stopping after this step…` });
  });
  return handle.done;
}

export async function trainCommand(ctx: LoopContext, arg?: unknown, selection?: unknown): Promise<TrainResult | undefined> {
  if (!requireTrust('Training')) return undefined;
  const args: TrainArgs = isTrainArgs(arg) ? arg : {};
  const fromCode = isTrainArgs(arg);
  try {
    const volumes = await volumesToTrainOn(ctx, args.volumes, arg, selection, 'Train');
    if (!volumes || volumes.length === 0) return undefined;

    const title = volumesTitle(volumes);
    if (!(await saveUnsavedLabels(volumes, args.unsavedLabels ?? (fromCode ? 'save' : 'ask'), 'Training'))) return undefined;
    await requireLabelFiles(volumes);

    const loop = readLoopSettings(volumes[0]);
    const defaults = loop.training;
    const preset = args.preset ?? (fromCode ? defaults.preset : await pickPreset(ctx, defaults));
    if (!preset) return undefined;
    const budget = await budgetFor(ctx, args, fromCode, defaults);
    if (!budget) return undefined;
    const validationFraction = args.validationFraction ?? (fromCode ? defaults.validationFraction : await pickFraction(ctx, defaults));
    if (validationFraction === undefined) return undefined;

    const outDir = (await newRunDir(volumes, title, args.name)).fsPath;
    // Filled and checked here too, so a bad setting is named before a worker starts.
    const settings = trainSettings(
      buildTrainSettings(defaults, loop.backend, volumes, outDir, {
        preset,
        budget,
        validationFraction,
        classNames: await classNamesOf(volumes[0]),
        extra: args.settings,
      }),
    );
    ctx.log.info(`training ${title} into ${outDir}`);
    return await runTrainJob(ctx, `Training ${title}`, settings);
  } catch (error) {
    const message = (error as Error).message;
    ctx.log.error(`train: ${message}`);
    void vscode.window.showErrorMessage(`3D U-Net: cannot train: ${message}`);
    return undefined;
  }
}

/** Runs one training as a job with its progress notification; tells the user how it ended. */
async function runTrainJob(ctx: LoopContext, title: string, settings: TrainSettings): Promise<TrainResult> {
  const runDir = path.resolve(settings.outDir);
  const runName = path.basename(runDir);
  try {
    const summary = await ctx.jobs.run('train', title, (job) =>
      vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `3D U-Net: ${title}`, cancellable: true }, (progress, token) => {
        token.onCancellationRequested(() => job.cancel());
        return trainWithJob(job, settings, progress);
      }),
    );
    ctx.runs.reread();
    const iou = summary.best?.meanForegroundIoU;
    const segment = 'Segment';
    const curves = 'Show Curves';
    const text =
      summary.status === 'succeeded'
        ? `3D U-Net: ${title} finished (${summary.stopReason}) after ${summary.iterations} iterations, ${formatDuration(summary.seconds)}: mean IoU ${formatIoU(iou)}.`
        : `3D U-Net: ${title} was cancelled after ${summary.iterations} iterations; its best checkpoint was kept (mean IoU ${formatIoU(iou)}).`;
    void vscode.window.showInformationMessage(text, segment, curves).then((answer) => {
      if (answer === segment) void vscode.commands.executeCommand('unet3d.segment', { run: runDir });
      if (answer === curves) ctx.curves.show(runDir);
    });
    ctx.log.info(`${runName}: ${summary.status} (${summary.stopReason}), ${summary.iterations} iterations, IoU ${formatIoU(iou)}`);
    return { runDir, status: summary.status, summary };
  } catch (error) {
    ctx.runs.reread();
    const message = (error as Error).message;
    ctx.log.error(`${runName}: failed: ${message}`);
    const showLog = 'Show Log';
    void vscode.window.showErrorMessage(`3D U-Net: ${title} failed: ${message.split('\n')[0]}`, showLog).then((a) => a === showLog && ctx.log.show());
    return { runDir, status: 'failed', error: message };
  }
}
