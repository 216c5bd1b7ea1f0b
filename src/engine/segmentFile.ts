/**
 * Segmenting an image file with a trained run and writing the result beside it — what
 * `unet3d segment` runs, and what the worker runs for the extension (`segmentVolumeFile`).
 *
 * Files written (as one set, each atomically), for an image `NAME.nii.gz` / `NAME.nrrd` / ...
 * (encodeSegmentationFiles; the label values: src/core/segmentationConvention.ts):
 * - `NAME.seg.nii.gz` (or `--out`): the classes as the ecosystem reads them, 0 = background,
 *   1..K−1 the others (every voxel is predicted), uint8 (uint16 above 256 classes), NIfTI intent
 *   LABEL, on the image's grid with its affine. The volume editor shows this file over `NAME` as
 *   its prediction overlay and reloads it whenever it is rewritten.
 * - `NAME.seg.json` (beside the output, the output's name with `.json` for `.nii.gz`): the class
 *   names and colours by file value, `"labelValues": "0-background"`, plus a `prediction` object
 *   saying which run, checkpoint and backend made it.
 * - for NRRD images, `NAME.seg.nrrd`: the same values as a 3D Slicer segmentation, one segment
 *   per class but background (Slicer's 0, no segment).
 * - with `probabilities`: a 4D uint8 NIfTI on the same grid, frame c = the probability of value
 *   c of the segmentation (frame 0 = background), × 255 rounded (intent none, scl_slope 1:
 *   values are 0–255). They are the network's: the labels are its likelier class except where
 *   the one-object clean-up (the run's `singleObjectClasses`) relabeled an island.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFilesAtomic } from '../core/atomicWrite';
import { defaultClassColor, labelFileNames, type LabelClass } from '../core/labels';
import { classListBeside } from '../core/labelConvention';
import { encodeNiftiGz } from '../core/niftiWriter';
import { PROBABILITIES_DESCRIPTION, segmentationCompanions, segmentationValueOf } from '../core/segmentationConvention';
import { encodeSegmentationFiles } from '../core/segmentationFiles';
import { readVolumeFile } from '../core/readVolume';
import { initBackend } from './backends';
import { planPrediction } from './predictionPlan';
import { AnnotationsNeededError, loadRun, normalizationFor, predictVolume, runPredictOptions, trainingVolumeOf, type VolumePrediction } from './predict';
import type { SegmentOptions, SegmentResult, SegmentStart, TileProgress } from '../protocol/segment';
import type { RunRecord, VolumeRecord } from '../protocol/run';
import type { LabelArray } from '../core/editDeltas';
import { checkSegmentOutputs } from './segmentOutputs';
import { readLabelMapOnGrid } from './trainingData';
import type { Volume } from '../core/volume';

export interface SegmentHooks {
  /** Once the backend is up and the plan is made. */
  onStart?(info: SegmentStart): void;
  /** After every tile. */
  onProgress?(progress: TileProgress): void;
  /** Checked between tiles; aborting stops with an AbortError and writes nothing. */
  signal?: AbortSignal;
  /**
   * A segmentation of the image (by its SHA-256) that the model in `modelDir` made already, as
   * this would make it (HandedOnSegmentation: the training just finished in this worker), or
   * undefined. Taken instead of predicting when the tiling is the default and the backend the
   * training's.
   */
  made?(modelDir: string, imageSha256: string): VolumePrediction | undefined;
}

const NIFTI_SUFFIX = /\.nii(\.gz)?$/i;

/** The default prediction path for an image: `NAME.seg.nii.gz` beside it. */
export function defaultSegmentationPath(image: string): string {
  return path.join(path.dirname(image), labelFileNames(path.basename(image)).prediction);
}

/**
 * The run's classes with colours: those of the label file's class list (`NAME.labels.json` beside
 * the first training label file) where it names the same values, the defaults otherwise; names from run.json.
 */
export function runClasses(record: RunRecord): LabelClass[] {
  const infos = record.classes ?? [];
  const labelsFile = record.volumes[0]?.labels.path;
  const known = (labelsFile && classListBeside(labelsFile)?.classes) || [];
  const byValue = new Map(known.map((c) => [c.value, c]));
  return infos.map((info, i) => {
    const value = i + 1;
    const sidecar = byValue.get(value);
    // run.json's generic names ("background", "class 1") give way to the names the user gave in the sidecar.
    const generic = !info.name || /^(background|class \d+)$/.test(info.name);
    const name = generic && sidecar ? sidecar.name : info.name || (value === 1 ? 'background' : `class ${i}`);
    return { value, name, color: sidecar?.color ?? defaultClassColor(value) };
  });
}

/**
 * The sparse labels a run with annotation channels reads for `imageFile`: those of `labelsFile`,
 * else of the label file the run trained this image with (`trained`). Throws
 * AnnotationsNeededError when there is none.
 */
function readAnnotations(record: RunRecord, trained: VolumeRecord | undefined, imageFile: string, image: Volume, labelsFile: string | undefined): LabelArray {
  let file = labelsFile === undefined ? undefined : path.resolve(labelsFile);
  if (file === undefined && trained && fs.existsSync(trained.labels.path)) file = trained.labels.path;
  if (file === undefined) throw new AnnotationsNeededError();
  // A file the run trained with reads as it did then.
  const convention = record.settings.volumes.find((v) => path.resolve(v.labels) === file)?.labelsConvention;
  return readLabelMapOnGrid(file, image, imageFile, convention).labels;
}

/** Segments one image with a run and writes the files listed in the module comment. */
export async function segmentVolumeFile(options: SegmentOptions, hooks: SegmentHooks = {}): Promise<SegmentResult> {
  const t0 = performance.now();
  const runDir = path.resolve(options.runDir);
  const image = path.resolve(options.image);
  const out = path.resolve(options.out ?? defaultSegmentationPath(image));
  if (!NIFTI_SUFFIX.test(out)) throw new RangeError(`the output ${path.basename(out)} must end in .nii.gz or .nii`);
  if (out === image) throw new RangeError('the output would overwrite the image');
  const probabilitiesFile = options.probabilities === undefined ? undefined : path.resolve(options.probabilities);
  if (probabilitiesFile !== undefined && !NIFTI_SUFFIX.test(probabilitiesFile)) throw new RangeError(`the probability map ${path.basename(probabilitiesFile)} must end in .nii.gz or .nii`);
  if (probabilitiesFile !== undefined && (probabilitiesFile === out || probabilitiesFile === image)) throw new RangeError('the probability map needs a file of its own');
  const companionFiles = segmentationCompanions(out);
  checkSegmentOutputs({
    image,
    outputs: [out, companionFiles.classesFile, companionFiles.segNrrd, ...(probabilitiesFile ? [probabilitiesFile] : [])],
    inputs: options.labels === undefined ? [] : [path.resolve(options.labels)],
  });
  const volume = readVolumeFile(image, { allFrames: true });
  const backend = await initBackend(options.backend ?? 'auto');
  const run = await loadRun(runDir, options.checkpoint ?? 'best');
  try {
    // Hashes the image once: a training volume of the run keeps its stored normalization and labels.
    const trained = trainingVolumeOf(run.record, image);
    const { normalization, source } = normalizationFor(run.record, trained, volume);
    const tiling = { tile: options.tile, overlap: options.overlap, context: options.context };
    const plan = planPrediction(run.net, volume.dims, tiling);
    hooks.onStart?.({
      backend,
      modelDir: run.modelDir,
      checkpoint: run.checkpoint,
      dims: volume.dims,
      tile: plan.tile,
      inputTile: plan.inputSize,
      tiles: plan.tiles.length,
      blend: plan.blend,
      normalization: source,
    });
    const annotations = run.record.settings.annotationChannels === true ? readAnnotations(run.record, trained, image, volume, options.labels) : undefined;
    const defaultTiling = options.tile === undefined && options.overlap === undefined && options.context === undefined;
    const made = defaultTiling && trained && backend.active === run.record.backend ? hooks.made?.(run.modelDir, trained.image.sha256) : undefined;
    const predicted = made && (made.probabilities || probabilitiesFile === undefined) ? made : await predictVolume(run.net, volume, normalization, {
      ...tiling,
      ...runPredictOptions(run.record, volume, annotations),
      probabilities: probabilitiesFile !== undefined,
      signal: hooks.signal,
      onProgress: hooks.onProgress,
    });
    hooks.signal?.throwIfAborted();
    const classes = runClasses(run.record);
    const { dims, affine } = volume;
    const probabilities = probabilitiesFile !== undefined && predicted.probabilities ? probabilitiesFile : undefined;
    const written = encodeSegmentationFiles({
      out,
      volumeName: path.basename(image),
      volume,
      labels: predicted.labels,
      classes,
      prediction: {
        run: runDir,
        checkpoint: run.checkpoint,
        iteration: run.iteration,
        backend: backend.active,
        createdAt: new Date().toISOString(),
        probabilities: probabilities ? path.basename(probabilities) : null,
        // Frame c holds the probability of the segmentation's value c (frame 0 = background).
        probabilityFrames: probabilities ? classes.map((c) => segmentationValueOf(c.value)) : null,
        tile: plan.tile,
        normalization: source,
        sameGridAsImage: true,
      },
    });
    // The segmentation, its sidecar, the Slicer file and the probabilities: written as one set.
    const files = [...written.files];
    if (probabilities && predicted.probabilities) {
      files.push({
        target: probabilities,
        bytes: encodeNiftiGz({ dims, affine, xformCodes: volume.xformCodes, data: predicted.probabilities, frames: classes.length, intentCode: 0, description: PROBABILITIES_DESCRIPTION }),
      });
    }
    await writeFilesAtomic(files);
    const voxelsPerClass = new Array<number>(classes.length).fill(0);
    for (let i = 0; i < predicted.labels.length; i++) voxelsPerClass[predicted.labels[i] - 1]++;
    const voxels = dims[0] * dims[1] * dims[2];
    return {
      out,
      classesFile: written.classesFile,
      segNrrd: written.segNrrd,
      probabilities,
      runDir,
      modelDir: run.modelDir,
      checkpoint: run.checkpoint,
      backend: backend.active,
      dims: [...dims],
      classes: classes.map((c) => ({ value: segmentationValueOf(c.value), name: c.name })),
      voxelsPerClass,
      tiles: plan.tiles.length,
      tile: plan.tile,
      normalization: source,
      predictSeconds: predicted.seconds,
      seconds: (performance.now() - t0) / 1000,
      voxelsPerSecond: voxels / predicted.seconds,
    };
  } finally {
    run.net.dispose();
  }
}
