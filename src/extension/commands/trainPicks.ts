/**
 * The questions Train and Evaluate ask (each answer remembered for the workspace): which volumes,
 * the preset, the budget, the validation hold-out. A call from code that gives an answer is not asked.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readVolumeFile } from '../../core/readVolume';
import { toLabelArray } from '../../core/volumeFiles';
import { PRESET_NAMES, PRESET_PICK, type PresetName } from '../../protocol/network';
import type { RunRecord } from '../../protocol/run';
import { trainSettings, type TrainSettingsInput } from '../../protocol/settings';
import { trainSettingsInput, type TrainingDefaults } from '../settings';
import { heldOutText, summarizeAnnotations, type VolumeAnnotations } from './annotations';
import { budgetKey, parseBudget, type Budget } from './budget';
import { budgetEstimate, stepText, timingFor, type StepTiming } from './budgetEstimate';
import type { LoopContext } from './loopContext';
import { pickRemembered, type Choice } from './picks';
import { activeVolume, displayPath, fileName, labeledVolumes, labelsUriOf, toUri, volumesOfSelection, workspaceVolumes } from './volumes';

const MEMORY = {
  scope: 'unet3d.train.scope',
  chosen: 'unet3d.train.chosenVolumes',
  preset: 'unet3d.train.preset',
  budget: 'unet3d.train.budget',
  fraction: 'unet3d.train.validationFraction',
};

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
  // "The open volume" is remembered with the volume it was: another volume open now is not "last used".
  const scopeKey = (s: Scope) => (s === 'open' && open ? `open:${open.toString()}` : s);
  const scope = choices.length === 1 ? 'chosen' : await pickRemembered(ctx.state, MEMORY.scope, `3D U-Net: ${what} — on which volumes?`, choices, scopeKey);
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

/**
 * Reads and sums up the label file of each volume, for the validation pick and the warning on
 * almost empty slices (one that cannot be read is left out: training will say why).
 */
export async function readAnnotations(volumes: readonly vscode.Uri[]): Promise<VolumeAnnotations[]> {
  const out: VolumeAnnotations[] = [];
  for (const volume of volumes) {
    // One file at a time, yielding between them: the extension host stays responsive.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      const labelsFile = readVolumeFile(labelsUriOf(volume).fsPath);
      out.push(summarizeAnnotations(path.basename(volume.fsPath), toLabelArray(labelsFile.data), labelsFile.dims, labelsFile.affine));
    } catch {
      // training reads it again and names the problem
    }
  }
  return out;
}

/** Every run record of the workspace (the folds of evaluations too): what estimates are measured from. */
export function runRecords(ctx: LoopContext): RunRecord[] {
  const out: RunRecord[] = [];
  for (const { entry } of ctx.runs.all) {
    if (entry.kind === 'run') out.push(entry.record);
    else if (entry.kind === 'evaluation') for (const fold of entry.folds) if (fold.kind === 'run') out.push(fold.record);
  }
  return out;
}

/**
 * How long an iteration of `preset` took here lately (undefined when no comparable run is
 * known): the settings a training would get now, compared with the runs made before.
 */
export function timingOfPreset(
  records: readonly RunRecord[],
  defaults: TrainingDefaults,
  backend: TrainSettingsInput['backend'],
  volumes: readonly vscode.Uri[],
  preset: PresetName,
  extra?: Partial<TrainSettingsInput>,
): StepTiming | undefined {
  if (volumes.length === 0) return undefined;
  try {
    const settings = trainSettings(trainSettingsInput(defaults, backend, volumes, 'estimate', { preset, budget: { kind: 'iterations', value: 1 }, validationFraction: 0, extra }));
    return timingFor(records, settings);
  } catch {
    return undefined; // a bad setting: training names it
  }
}

export async function pickPreset(ctx: LoopContext, defaults: TrainingDefaults, timingOf: (preset: PresetName) => StepTiming | undefined = () => undefined): Promise<PresetName | undefined> {
  const names = [defaults.preset, ...PRESET_NAMES.filter((p) => p !== defaults.preset)];
  const choices = names.map((p) => {
    const timing = timingOf(p);
    return {
      value: p,
      label: p,
      description: [PRESET_PICK[p].summary, p === defaults.preset ? 'default' : undefined].filter(Boolean).join(' · '),
      detail: `${PRESET_PICK[p].detail}${timing ? ` — ${stepText(timing)}` : ''}`,
    };
  });
  return pickRemembered(ctx.state, MEMORY.preset, '3D U-Net: Train — network preset', choices, (p) => p);
}

/** A budget as the pick names it: "1000 iterations", "10 minutes". */
function budgetLabel(b: Budget): string {
  return b.kind === 'iterations' ? `${b.value} iterations` : `${b.value} minutes`;
}

/**
 * Asks for the budget. Each choice says what to expect here: the duration of an iteration
 * budget, the iterations a time budget reaches (from `timing`, this machine's recent runs of the
 * same network; `folds` trainings for Evaluate). Without a comparable run it says so once.
 */
export async function pickBudget(ctx: LoopContext, defaults: TrainingDefaults, timing?: StepTiming, folds = 1): Promise<Budget | undefined> {
  const budgets: Budget[] = [
    { kind: 'iterations', value: defaults.iterations },
    ...[200, 500, 1000, 2000, 5000].map((value): Budget => ({ kind: 'iterations', value })),
    { kind: 'minutes', value: defaults.minutes },
    ...[2, 5, 10, 30].map((value): Budget => ({ kind: 'minutes', value })),
  ];
  const choice = (b: Budget, isDefault = false): Choice<Budget> => ({
    value: b,
    label: budgetLabel(b),
    description: [budgetEstimate(b, timing, folds), isDefault ? 'default' : undefined].filter(Boolean).join(' · ') || undefined,
  });
  const seen = new Set<string>();
  const choices: Choice<Budget | 'other'>[] = [];
  budgets.forEach((b, i) => {
    if (seen.has(budgetKey(b))) return;
    seen.add(budgetKey(b));
    // The budget a training gets when nothing is picked (unet3d.training.iterations).
    choices.push(choice(b, i === 0));
  });
  const remembered = ctx.state.get<string>(MEMORY.budget);
  if (remembered && !seen.has(remembered)) {
    const [kind, value] = remembered.split(':');
    const b = parseBudget(`${value}${kind === 'minutes' ? 'm' : ''}`);
    if (b) choices.unshift(choice(b));
  }
  choices.push({ value: 'other', label: 'Other…', detail: 'Type a number of iterations, or minutes as "5m"' });
  const placeHolder = timing
    ? `Times from this machine: ${stepText(timing)}${folds > 1 ? `; ${folds} folds train one after another` : ''}`
    : 'No run of this network on this machine yet: the first one measures how long an iteration takes here';
  const picked = await pickRemembered(
    ctx.state,
    MEMORY.budget,
    '3D U-Net: Train — budget (it stops early when validation stops improving)',
    choices,
    (b) => (b === 'other' ? 'other' : budgetKey(b)),
    placeHolder,
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

/**
 * Asks how much of the annotated slices to hold out; each choice says how many of the user's
 * annotated slices it holds out (from `annotations`, read meanwhile: the pick waits for them).
 */
export async function pickFraction(ctx: LoopContext, defaults: TrainingDefaults, annotations: Promise<VolumeAnnotations[]> = Promise.resolve([])): Promise<number | undefined> {
  const values = [...new Set([defaults.validationFraction, 0.2, 0.1, 0.33, 0])];
  const choices = annotations.then((found) =>
    values.map((f) => ({
      value: f,
      label: f === 0 ? 'No validation' : `${Math.round(f * 100)} % of the annotated slices`,
      description: [heldOutText(f, found), f === defaults.validationFraction ? 'default' : undefined].filter(Boolean).join(' · ') || undefined,
      detail: f === 0 ? 'Train on every annotated slice; the run gets no IoU and keeps its last checkpoint' : 'Held out of training and scored by IoU; the best checkpoint is kept',
    })),
  );
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

/** The budget a call from code gives (or the setting's), else the one the user picks (told what to expect from `timing`). */
export async function budgetFor(
  ctx: LoopContext,
  given: { iterations?: number; minutes?: number },
  fromCode: boolean,
  defaults: TrainingDefaults,
  timing?: StepTiming,
  folds = 1,
): Promise<Budget | undefined> {
  if (given.iterations !== undefined) return { kind: 'iterations', value: given.iterations };
  if (given.minutes !== undefined) return { kind: 'minutes', value: given.minutes };
  return fromCode ? { kind: 'iterations', value: defaults.iterations } : pickBudget(ctx, defaults, timing, folds);
}

