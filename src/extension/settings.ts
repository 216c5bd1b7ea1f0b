/**
 * Typed access to the `unet3d.*` settings the training loop reads (the volume editor reads its
 * own `unet3d.editor.*`). Every value is checked: a wrong type in settings.json falls back to the
 * default rather than reaching the worker as garbage.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendName } from '../engine/backends';
import type { PresetName } from '../engine/model';
import type { TrainSettingsInput } from '../engine/settings';

export const PRESET_NAMES: readonly PresetName[] = ['fast', 'paper', 'bench'];

/** The backends by setting name. (Not imported from the engine: its backends module loads TensorFlow.js.) */
export const BACKEND_NAMES = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'] as const satisfies readonly BackendName[];
// Every backend is listed (a compile error names one that is missing).
const EVERY_BACKEND: Record<Exclude<BackendName, (typeof BACKEND_NAMES)[number]>, never> = {};
void EVERY_BACKEND;

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
  backend: BackendName | 'auto';
  /** The runs folder as written in the setting (relative to a workspace folder, or absolute). */
  runsFolder: string;
  training: TrainingDefaults;
  /** Folds of Evaluate's cross-validation (≥ 2). */
  evaluationFolds: number;
  /** Write per-class probabilities with each segmentation (Suggest Next Slice reads them). */
  segmentProbabilities: boolean;
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
    backend: typeof backend === 'string' && (BACKEND_NAMES as readonly string[]).includes(backend) ? (backend as BackendName) : 'auto',
    runsFolder: typeof runsFolder === 'string' && runsFolder.trim() ? runsFolder.trim() : DEFAULT_RUNS_FOLDER,
    training: {
      preset: typeof preset === 'string' && (PRESET_NAMES as readonly string[]).includes(preset) ? (preset as PresetName) : 'fast',
      iterations: positiveInteger(c.get('training.iterations')) ?? 1000,
      minutes: typeof minutes === 'number' && minutes > 0 && Number.isFinite(minutes) ? minutes : 10,
      validationFraction: typeof fraction === 'number' && fraction >= 0 && fraction < 1 ? fraction : 0.2,
      levels: positiveInteger(c.get('training.levels')),
      baseFilters: positiveInteger(c.get('training.baseFilters')),
      advanced: isPlainObject(advanced) ? (advanced as Partial<TrainSettingsInput>) : {},
    },
    evaluationFolds: Math.max(2, positiveInteger(c.get('evaluate.folds')) ?? 3),
    segmentProbabilities: c.get<boolean>('segment.probabilities') !== false,
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
