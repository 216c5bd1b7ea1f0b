/**
 * Segmenting an image with a trained run: what to segment and where to write it, the progress
 * after each tile, and what was written. Part of the engine's contract (the worker's `segment`
 * request, `unet3d segment`, the extension's Segment command).
 */
import type { Vec3 } from '../core/geometry';
import type { BackendChoice, BackendName, BackendReport } from './backends';

// ---- tiling defaults (src/engine/predictionPlan.ts plans the tiles) ----

/** Default context of `same` tiles, voxels per side. */
export const DEFAULT_CONTEXT = 0;

/**
 * Default output tiles. `same`: 96³ (the `fast` network's activations stay near 60 MiB per map),
 * or the whole volume in one tile when it holds no more voxels than that (no seams at all).
 * `valid`: 44×44×28, the paper's output tile (input 132×132×116 for its network).
 */
export const DEFAULT_TILE: Record<'same' | 'valid', Vec3> = { same: [96, 96, 96], valid: [44, 44, 28] };

/**
 * Default overlap of blended tiles: 1/8 of the tile. nnU-Net uses 1/2, which costs about 8× the
 * work of no overlap in 3D; 1/8 costs far less and the Gaussian still hides the seams.
 */
export const DEFAULT_OVERLAP = 0.125;

/** Which checkpoint to load: the best (the default, falling back to the last) or the last. */
export type CheckpointChoice = 'best' | 'last';

/** Where an image's normalization came from. */
export type NormalizationSource = 'stored' | 'computed';

/** Progress after each tile. */
export interface TileProgress {
  /** Tiles done and in the plan. */
  done: number;
  total: number;
  /** Seconds since the first tile started, and the estimated seconds left. */
  elapsedSeconds: number;
  etaSeconds: number;
  /** Volume voxels finished per second so far. */
  voxelsPerSecond: number;
}

/** What to segment and where to write it. Paths absolute or relative to the process's folder. */
export interface SegmentOptions {
  /** The run folder (run.json + checkpoints). */
  runDir: string;
  /** The image to segment (.nii, .nii.gz, .nrrd, .nhdr); a 4D image gives one channel per frame. */
  image: string;
  /** The label output, `.nii.gz` or `.nii`; default `NAME.seg.nii.gz` beside the image. */
  out?: string;
  /**
   * The image's sparse label file (editor's convention: 0 = unlabeled), for a run with annotation
   * channels, which reads the volume's own annotations. Default: the label file the run trained
   * this image with (same content), as run.json names it, if it is still there.
   */
  labels?: string;
  /** Also write the class probabilities here (4D uint8 NIfTI). */
  probabilities?: string;
  /** Output tile (x, y, z) and overlap of blended tiles (see PredictionTiling). */
  tile?: Vec3;
  overlap?: number;
  /** Voxels of mirrored context around each tile of a `same` network (see PredictionTiling). */
  context?: number;
  /** Checkpoint: 'best' (default; the last when the run has no best) or 'last'. */
  checkpoint?: CheckpointChoice;
  /** Backend to run on (default 'auto'). */
  backend?: BackendChoice;
}

export interface SegmentStart {
  backend: BackendReport;
  /** The checkpoint folder and which one. */
  modelDir: string;
  checkpoint: 'best' | 'last';
  dims: Vec3;
  /** Output and input tile sizes (x, y, z), the tile count, and whether tiles are blended. */
  tile: Vec3;
  inputTile: Vec3;
  tiles: number;
  blend: boolean;
  normalization: NormalizationSource;
}

/** A class of a written segmentation. */
export interface SegmentedClass {
  /** Its voxel value in the file: 0 = background, 1..K−1 the others (see src/core/segmentationConvention.ts). */
  value: number;
  name: string;
}

/** What a segmentation wrote and how it went. */
export interface SegmentResult {
  /** Absolute paths of the files written. */
  out: string;
  classesFile: string;
  segNrrd?: string;
  probabilities?: string;
  runDir: string;
  modelDir: string;
  checkpoint: 'best' | 'last';
  backend: BackendName;
  dims: Vec3;
  /** The classes by their value in the written segmentation: 0 = background, 1..K−1 (editor label − 1). */
  classes: SegmentedClass[];
  /** Voxels predicted per class, index c = value c of the segmentation (0 = background). */
  voxelsPerClass: number[];
  tiles: number;
  tile: Vec3;
  normalization: NormalizationSource;
  /** Seconds in the tiles, and the whole call. */
  predictSeconds: number;
  seconds: number;
  /** Volume voxels per second of the tiles. */
  voxelsPerSecond: number;
}
