/**
 * Typed access to the `unet3d.*` settings the training loop reads (the volume editor reads its
 * own `unet3d.editor.*`). Every value is checked: a wrong type in settings.json falls back to the
 * default rather than reaching the worker as garbage.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isBackendChoice, type BackendChoice } from '../protocol/backends';
import { isPresetName, type PresetName } from '../protocol/network';
import { labelFileNames } from '../core/labels';
import { TRAIN_DEFAULTS, type TrainSettingsInput } from '../protocol/settings';
import type { Budget } from './commands/budget';

/** What a training is given unless the user picks otherwise. */
export interface TrainingDefaults {
  preset: PresetName;
  /** Iteration budget (used when the budget is counted in iterations). */
  iterations: number;
  /** Time budget in minutes (used when the budget is counted in time). */
  minutes: number;
  /** Fraction of the annotated slices held out for validation, 0 ≤ f < 1. */
  validationFraction: number;
  /** Network changes over the preset (absent: the preset's). */
  levels?: number;
  baseFilters?: number;
  /**
   * Any other field of the engine's training settings (patch size, optimizer, augmentation…),
   * merged over the rest; the worker checks them and names a bad one.
   */
  advanced: Partial<TrainSettingsInput>;
}

export interface LoopSettings {
  backend: BackendChoice;
  /** The runs folder as written in the setting (relative to a workspace folder, or absolute). */
  runsFolder: string;
  training: TrainingDefaults;
  /** Folds of Evaluate's cross-validation (≥ 2). */
  evaluationFolds: number;
  /** Write per-class probabilities with each segmentation (Suggest Next Slice reads them). */
  segmentProbabilities: boolean;
  /** Start Train from the newest compatible run of the same volumes (unet3d.training.warmStart). */
  warmStart: boolean;
  /** Show the network's live preview in the editor while it trains (unet3d.training.preview). */
  preview: boolean;
  /** Segment the open volume when a training started from the editor finishes (unet3d.training.segmentAfter). */
  segmentAfter: boolean;
}

const DEFAULT_RUNS_FOLDER = '.unet3d/runs';

function positiveInteger(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads and checks the settings (of `scope`, e.g. a volume's folder, when given). */
export function readLoopSettings(scope?: vscode.ConfigurationScope): LoopSettings {
  const c = vscode.workspace.getConfiguration('unet3d', scope);
  const backend = c.get<string>('backend');
  const preset = c.get<string>('training.preset');
  const minutes = c.get<number>('training.minutes');
  const fraction = c.get<number>('training.validationFraction');
  const advanced = c.get<unknown>('training.advanced');
  const runsFolder = c.get<string>('runsFolder');
  return {
    backend: isBackendChoice(backend) ? backend : 'auto',
    runsFolder: typeof runsFolder === 'string' && runsFolder.trim() ? runsFolder.trim() : DEFAULT_RUNS_FOLDER,
    training: {
      preset: typeof preset === 'string' && isPresetName(preset) ? preset : TRAIN_DEFAULTS.preset,
      iterations: positiveInteger(c.get('training.iterations')) ?? TRAIN_DEFAULTS.iterations,
      minutes: typeof minutes === 'number' && minutes > 0 && Number.isFinite(minutes) ? minutes : TRAIN_DEFAULTS.minutes,
      validationFraction: typeof fraction === 'number' && fraction >= 0 && fraction < 1 ? fraction : TRAIN_DEFAULTS.validationFraction,
      levels: positiveInteger(c.get('training.levels')),
      baseFilters: positiveInteger(c.get('training.baseFilters')),
      advanced: isPlainObject(advanced) ? (advanced as Partial<TrainSettingsInput>) : {},
    },
    evaluationFolds: Math.max(2, positiveInteger(c.get('evaluate.folds')) ?? 3),
    segmentProbabilities: c.get<boolean>('segment.probabilities') !== false,
    warmStart: c.get<boolean>('training.warmStart') !== false,
    preview: c.get<boolean>('training.preview') !== false,
    segmentAfter: c.get<boolean>('training.segmentAfter') !== false,
  };
}

/** The runs folder of a workspace folder (the setting is relative to it, or absolute). */
export function runsFolderOf(folder: vscode.WorkspaceFolder): vscode.Uri {
  const setting = readLoopSettings(folder).runsFolder;
  if (path.isAbsolute(setting)) return vscode.Uri.file(setting);
  return vscode.Uri.joinPath(folder.uri, ...setting.split(/[\\/]+/).filter(Boolean));
}

/** Every runs folder of the workspace, one per workspace folder (absolute ones counted once). */
export function allRunsFolders(): vscode.Uri[] {
  const seen = new Set<string>();
  const out: vscode.Uri[] = [];
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const uri = runsFolderOf(folder);
    if (seen.has(uri.toString())) continue;
    seen.add(uri.toString());
    out.push(uri);
  }
  return out;
}

/** The engine settings for a training of `volumes` into `outDir`. */
export function trainSettingsInput(
  defaults: TrainingDefaults,
  backend: TrainSettingsInput['backend'],
  volumes: readonly vscode.Uri[],
  outDir: string,
  /** `classNames`: names for a label map without a class list beside it (the engine reads the list when there is one). */
  choice: { preset: PresetName; budget: Budget; validationFraction: number; classNames?: string[]; extra?: Partial<TrainSettingsInput> },
): TrainSettingsInput {
  const advanced = defaults.advanced;
  const extra = choice.extra ?? {};
  const input: TrainSettingsInput = {
    ...advanced,
    ...extra,
    volumes: volumes.map((v) => ({ image: v.fsPath, labels: path.join(path.dirname(v.fsPath), labelFileNames(path.basename(v.fsPath)).labelMap) })),
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
  if (choice.classNames && !input.classNames) input.classNames = choice.classNames;
  delete input.iterations;
  delete input.minutes;
  if (choice.budget.kind === 'iterations') input.iterations = choice.budget.value;
  else input.minutes = choice.budget.value;
  return input;
}

