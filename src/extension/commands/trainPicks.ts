/**
 * The questions Train and Evaluate ask (each answer remembered for the workspace): which volumes,
 * the preset, the budget, the validation hold-out. A call from code that gives an answer is not asked.
 */
import * as vscode from 'vscode';
import { PRESET_DESCRIPTIONS, PRESET_NAMES, type PresetName } from '../../protocol/network';
import type { TrainingDefaults } from '../settings';
import { budgetKey, parseBudget, type Budget } from './budget';
import type { LoopContext } from './loopContext';
import { pickRemembered, type Choice } from './picks';
import { activeVolume, displayPath, fileName, labeledVolumes, toUri, volumesOfSelection, workspaceVolumes } from './volumes';

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

export async function pickPreset(ctx: LoopContext, defaults: TrainingDefaults): Promise<PresetName | undefined> {
  const names = [defaults.preset, ...PRESET_NAMES.filter((p) => p !== defaults.preset)];
  const choices = names.map((p) => ({ value: p, label: p, description: p === defaults.preset ? 'setting' : undefined, detail: PRESET_DESCRIPTIONS[p] }));
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

export async function pickFraction(ctx: LoopContext, defaults: TrainingDefaults): Promise<number | undefined> {
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

/** The budget a call from code gives (or the setting's), else the one the user picks. */
export async function budgetFor(ctx: LoopContext, given: { iterations?: number; minutes?: number }, fromCode: boolean, defaults: TrainingDefaults): Promise<Budget | undefined> {
  if (given.iterations !== undefined) return { kind: 'iterations', value: given.iterations };
  if (given.minutes !== undefined) return { kind: 'minutes', value: given.minutes };
  return fromCode ? { kind: 'iterations', value: defaults.iterations } : pickBudget(ctx, defaults);
}

