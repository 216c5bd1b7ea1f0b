/**
 * What a training reports while it runs and how it ends: the events the worker forwards (with
 * its request's `id`) and the results the run record keeps. Part of the engine's contract.
 */
import type { Vec3 } from '../core/geometry';
import { plural } from '../core/words';
import type { BackendName, BackendReport } from './backends';
import type { UNetConfig } from './network';
import type { RunParent } from './run';

/** The network's patch geometry, in voxels along x, y, z. */
export interface PatchGeometry {
  /** The input patch the network reads. */
  input: Vec3;
  /** The output patch it predicts (equal to `input` for a 'same' network). */
  output: Vec3;
}

/** A class of the run: its label value (1 = background) and name. */
export interface ClassInfo {
  value: number;
  name: string;
}

/** The run is set up: data read, network built, training about to begin. */
export interface TrainStartedEvent {
  type: 'started';
  runDir: string;
  backend: BackendReport;
  network: UNetConfig;
  parameters: number;
  geometry: PatchGeometry;
  classes: ClassInfo[];
  /** The run it started from (warm start). */
  parent?: RunParent;
  /** Labeled voxels used for training / scored by validation, over every volume. */
  trainingVoxels: number;
  validationVoxels: number;
  /** The label files read as masks (0 = background, every voxel labeled), by file name. */
  masks?: string[];
}

/** One validation pass on the held-out slices. */
export interface ValidationResult {
  iteration: number;
  /** IoU per class, background first (index c = label value c + 1); null where the class is absent. */
  iou: (number | null)[];
  /** Mean IoU over the foreground classes; null if none is present. */
  meanForegroundIoU: number | null;
  /** Seconds since training started. */
  seconds: number;
}

/** After every training step. */
export interface TrainProgressEvent {
  type: 'progress';
  iteration: number;
  /** The iteration limit, if the run has one. */
  totalIterations?: number;
  /** This step's loss, and an exponential moving average of it. */
  loss: number;
  smoothedLoss: number;
  learningRate: number;
  /** Output (labeled-grid) voxels trained per second, averaged over the recent steps. */
  voxelsPerSecond: number;
  elapsedSeconds: number;
  /** Estimated seconds to the end (iteration or time limit, whichever comes first). */
  etaSeconds: number;
  backend: BackendName;
  /** The latest and the best validation so far. */
  validation?: ValidationResult;
  bestValidation?: ValidationResult;
}

export interface TrainValidationEvent {
  type: 'validation';
  result: ValidationResult;
  /** True when this is the best so far (a `best` checkpoint follows). */
  improved: boolean;
}

/** A checkpoint (model.json + weights) was written to `dir`. */
export interface CheckpointEvent {
  type: 'checkpoint';
  kind: 'best' | 'last';
  dir: string;
  iteration: number;
  meanForegroundIoU?: number | null;
}

/** Why a run stopped. */
export type StopReason = 'iterations' | 'time' | 'early-stop' | 'cancelled' | 'interrupted';

/**
 * How a run stopped, in words that follow its name: "ran its 1,000 iterations", "used its time
 * budget (612 iterations)", "stopped early after 400 iterations: validation stopped improving".
 */
export function describeStop(summary: Pick<RunSummary, 'stopReason' | 'iterations'>): string {
  const n = plural(summary.iterations, 'iteration');
  switch (summary.stopReason) {
    case 'iterations':
      return `ran its ${n}`;
    case 'time':
      return `used its time budget (${n})`;
    case 'early-stop':
      return `stopped early after ${n}: validation stopped improving`;
    case 'cancelled':
      return `was cancelled after ${n}`;
    case 'interrupted':
      return `was interrupted after ${n}`;
  }
}

/** How a run ended. */
export interface RunSummary {
  /** `interrupted`: the process that asked for the run went away, and the run stopped after its step. */
  status: 'succeeded' | 'cancelled' | 'interrupted';
  stopReason: StopReason;
  iterations: number;
  seconds: number;
  /** Smoothed loss at the end. */
  finalLoss: number | null;
  /** The best validation (absent without validation). */
  best?: ValidationResult;
  /** The folder of the model to use (best checkpoint, or last without validation or after a refit). */
  modelDir: string;
  /**
   * When the run ended with a refit on every annotated slice (TrainSettings.refit): the slices
   * it trained on, how many had been held out, its steps. `best` is then the held-out figure of
   * the network before the refit.
   */
  refit?: { slices: number; heldOutSlices: number; iterations: number };
  /** A warm start that scored below its parent on the annotated slices and left the parent's weights (RunParent.comparison). */
  keptParent?: { parentIoU: number | null; trainedIoU: number | null };
}

export interface TrainFinishedEvent {
  type: 'finished';
  runDir: string;
  summary: RunSummary;
}

/** One plane of a live preview: the slice perpendicular to `axis` at `index`, columns along the lower in-plane axis. */
export interface PreviewPlane {
  axis: 0 | 1 | 2;
  index: number;
  width: number;
  height: number;
  /** width·height label values 1..classes (predicted by the network as it is now). */
  labels: Uint8Array | Uint16Array;
}

/** The network as it is now, on the three planes through `voxel` of the training image `image`. */
export interface TrainPreviewEvent {
  type: 'preview';
  /** The training image (absolute path) the planes belong to. */
  image: string;
  voxel: Vec3;
  iteration: number;
  planes: PreviewPlane[];
  /** Seconds this preview took, and the share of the training's time previews took so far. */
  seconds: number;
  share: number;
}

/** Everything a training reports while it runs. */
export type TrainEvent = TrainStartedEvent | TrainProgressEvent | TrainValidationEvent | CheckpointEvent | TrainFinishedEvent | TrainPreviewEvent;
