/**
 * Segmenting an image file with a trained run and writing the result beside it — what
 * `unet3d segment` runs, and what the worker runs for the extension (`segmentVolumeFile`).
 *
 * Files written (each atomically), for an image `NAME.nii.gz` / `NAME.nrrd` / ...:
 * - `NAME.seg.nii.gz` (or `--out`): the labels 1..K (1 = background, no 0: every voxel is
 *   predicted), uint8 (uint16 above 254 classes), NIfTI intent LABEL, on the image's grid with
 *   its affine. The volume editor shows this file over `NAME` as its prediction overlay and
 *   reloads it whenever it is rewritten.
 * - `NAME.seg.json` (beside the output, the output's name with `.json` for `.nii.gz`): the class
 *   names and colours, in the editor's `NAME.labels.json` format (`format: "unet3d-labels"`,
 *   readable by parseLabelsFile), plus a `prediction` object saying which run, checkpoint and
 *   backend made it. A `.json` sidecar also tells `readLabelsAs` that the file uses the editor's
 *   convention.
 * - for NRRD images, `NAME.seg.nrrd`: the same labels as a 3D Slicer segmentation with the class
 *   names as segments (values as in the NIfTI, background included, like the editor's
 *   `NAME.labels.seg.nrrd`).
 * - with `probabilities`: a 4D uint8 NIfTI on the same grid, frame c = class c + 1 (background
 *   first), probability × 255 rounded (intent none, scl_slope 1: values are 0–255).
 *   They are the network's: the labels are its likelier class except where the one-object
 *   clean-up (the run's `singleObjectClasses`) relabeled an island.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFilesAtomic } from '../core/atomicWrite';
import { classesFileName, type FileSetEntry } from '../core/volumeFiles';
import { defaultClassColor, labelFileNames, parseLabelsFile, segmentsOfClasses, serializeLabelsFile, makeLabelsFile, type LabelClass, type LabelsFile } from '../core/labels';
import { encodeNiftiGz } from '../core/niftiWriter';
import { encodeSegNrrd } from '../core/nrrdWriter';
import { readVolumeFile } from '../core/readVolume';
import { initBackend } from './backends';
import { planPrediction } from './predictionPlan';
import { AnnotationsNeededError, loadRun, normalizationFor, predictVolume, runPredictOptions, trainingVolumeOf } from './predict';
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
}

const NIFTI_SUFFIX = /\.nii(\.gz)?$/i;

/** The default prediction path for an image: `NAME.seg.nii.gz` beside it. */
export function defaultSegmentationPath(image: string): string {
  return path.join(path.dirname(image), labelFileNames(path.basename(image)).prediction);
}

/** The sidecar and Slicer file names that go with a label output `X.nii.gz`: `X.json` and `X.nrrd` (`X.seg.nrrd` when X does not end in `.seg`). */
export function segmentationCompanions(out: string): { classesFile: string; segNrrd: string } {
  const base = out.replace(NIFTI_SUFFIX, '');
  return { classesFile: `${base}.json`, segNrrd: /\.seg$/i.test(base) ? `${base}.nrrd` : `${base}.seg.nrrd` };
}

/**
 * The run's classes with colours: those of the label file's `NAME.labels.json` (beside the first
 * training label file) where it names the same values, the defaults otherwise; names from run.json.
 */
export function runClasses(record: RunRecord): LabelClass[] {
  const infos = record.classes ?? [];
  let known: LabelClass[] = [];
  const labelsFile = record.volumes[0]?.labels.path;
  if (labelsFile) {
    const sidecar = path.join(path.dirname(labelsFile), classesFileName(path.basename(labelsFile)));
    try {
      if (fs.existsSync(sidecar)) known = parseLabelsFile(fs.readFileSync(sidecar, 'utf8')).classes;
    } catch {
      known = [];
    }
  }
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
function readAnnotations(trained: VolumeRecord | undefined, imageFile: string, image: Volume, labelsFile: string | undefined): LabelArray {
  let file = labelsFile === undefined ? undefined : path.resolve(labelsFile);
  if (file === undefined && trained && fs.existsSync(trained.labels.path)) file = trained.labels.path;
  if (file === undefined) throw new AnnotationsNeededError();
  return readLabelMapOnGrid(file, image, imageFile).labels;
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
    const annotations = run.record.settings.annotationChannels === true ? readAnnotations(trained, image, volume, options.labels) : undefined;
    const predicted = await predictVolume(run.net, volume, normalization, {
      ...tiling,
      ...runPredictOptions(run.record, volume, annotations),
      probabilities: probabilitiesFile !== undefined,
      signal: hooks.signal,
      onProgress: hooks.onProgress,
    });
    hooks.signal?.throwIfAborted();
    const classes = runClasses(run.record);
    const { dims, affine } = volume;
    const companions = segmentationCompanions(out);
    // The label map, its class list, the Slicer file and the probabilities: written as one set.
    const files: FileSetEntry<string>[] = [{ target: out, bytes: encodeNiftiGz({ dims, affine, xformCodes: volume.xformCodes, data: predicted.labels, description: 'unet3d prediction: 1 background, 2.. classes' }) }];
    let probabilities: string | undefined;
    if (probabilitiesFile && predicted.probabilities) {
      files.push({
        target: probabilitiesFile,
        bytes: encodeNiftiGz({ dims, affine, xformCodes: volume.xformCodes, data: predicted.probabilities, frames: classes.length, intentCode: 0, description: 'unet3d class probabilities x255, frame c = class c+1' }),
      });
      probabilities = probabilitiesFile;
    }
    let segNrrd: string | undefined;
    if (volume.format === 'nrrd') {
      segNrrd = companions.segNrrd;
      files.push({ target: segNrrd, bytes: encodeSegNrrd({ dims, affine, data: predicted.labels, segments: segmentsOfClasses(classes) }) });
    }
    const sidecar: LabelsFile & { prediction: Record<string, unknown> } = {
      ...makeLabelsFile(path.basename(image), classes),
      labelMap: path.basename(out),
      prediction: {
        run: runDir,
        checkpoint: run.checkpoint,
        iteration: run.iteration,
        backend: backend.active,
        createdAt: new Date().toISOString(),
        probabilities: probabilities ? path.basename(probabilities) : null,
        probabilityFrames: probabilities ? classes.map((c) => c.value) : null,
        tile: plan.tile,
        normalization: source,
        sameGridAsImage: true,
      },
    };
    files.push({ target: companions.classesFile, bytes: new TextEncoder().encode(serializeLabelsFile(sidecar)) });
    await writeFilesAtomic(files);
    const voxelsPerClass = new Array<number>(classes.length).fill(0);
    for (let i = 0; i < predicted.labels.length; i++) voxelsPerClass[predicted.labels[i] - 1]++;
    const voxels = dims[0] * dims[1] * dims[2];
    return {
      out,
      classesFile: companions.classesFile,
      segNrrd,
      probabilities,
      runDir,
      modelDir: run.modelDir,
      checkpoint: run.checkpoint,
      backend: backend.active,
      dims: [...dims],
      classes: classes.map((c) => ({ value: c.value, name: c.name })),
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
