/**
 * Time to quality, the interactive loop measured (`unet3d bench loop`): on one volume with full
 * manual labels, the protocol's sparse labels (docs/protocol.md: 3 annotated slices per axis) are
 * made and
 *
 * - from scratch: one run of `budgetSeconds`, scored as it goes: the network as a run of 30, 60,
 *   120, ... s would leave it (TrainHooks.snapshots: batch-norm statistics calibrated, the logit
 *   adjustment chosen; the clock stands still meanwhile) segments the volume, dense IoU on the
 *   voxels of no annotated slice, next to the best densifying baseline's;
 * - a correction: the slice Suggest Next Slice picks from that run's segmentation (the unannotated
 *   slice of highest mean entropy, src/core/sliceEntropy.ts) is labeled from the manual truth, as a
 *   user would correct it; a run continues from the first one (warm start) for each of
 *   `warmSeconds` and segments the volume, the way the editor does it (one worker trains, then
 *   writes the segmentation and its probabilities); dense IoU before and
 *   after, and of a run from scratch on the same 10 slices for `budgetSeconds`. These three are
 *   scored on the voxels of none of the 10 slices. `secondsToOverlay`: from starting the shortest
 *   warm run's worker to its segmentation written.
 *
 * Times are wall-clock seconds: on a busy machine a run does fewer steps in them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnnotatedSlice } from '../core/sparseLabels';
import { chooseAnnotatedSlices, sparseLabels } from '../core/sparseLabels';
import { annotatedSliceSets, mostUncertainSlices, sliceEntropy } from '../core/sliceEntropy';
import { readVolumeFile } from '../core/readVolume';
import { writeLabelMapNifti } from '../core/labelMapIO';
import { readLabelsAs } from '../core/labelConvention';
import type { Volume } from '../core/volume';
import type { LabelArray } from '../core/editDeltas';
import { trainSettings, type TrainingClock, type TrainSettings } from '../protocol/settings';
import type { TrainEvent } from '../protocol/training';
import { readRunRecord } from '../engine/runFolder';
import { loadRun, predictVolume, runPredictOptions } from '../engine/predict';
import { runTraining, type TrainingSnapshot } from '../engine/train';
import type { UNet } from '../engine/model';
import { WorkerClient } from '../engine/workerClient';
import { BASELINES } from './baselines';
import { readLabelsOnGrid, sliceFractions, type TrainingInput } from './crossval';
import { denseIoU, evaluateDensifier } from './densifyEvaluation';

/** The semi-automated sets of the shared data: an image and its full manual labels, relative to the data folder. */
export const SEMI_SETS: Record<string, { image: string; labels: string }> = {
  spinalcord: { image: 'semi/spinalcord/t2.nii.gz', labels: 'semi/spinalcord/t2_seg-manual.nii.gz' },
  spleen: { image: 'semi/spleen/sub-spleen2_ct.nii.gz', labels: 'semi/spleen/sub-spleen2_ct_seg-manual.nii.gz' },
  ctchest: { image: 'semi/ctchest/CTChest4.nrrd', labels: 'semi/ctchest/Segmentation.seg.nrrd' },
};

/** The seconds of training at which the from-scratch run is scored (those within its budget, and the budget). */
export const SCRATCH_CHECKPOINTS: readonly number[] = [30, 60, 120, 180, 300, 600];

/** Seconds of the warm runs after a correction. */
export const WARM_SECONDS: readonly number[] = [30, 60];

export interface TimeToQualityOptions {
  name: string;
  image: string;
  /** Full manual labels (a mask or a Slicer segmentation, read as `unet3d crossval` reads them). */
  labels: string;
  /** Seconds of the from-scratch runs. */
  budgetSeconds: number;
  /** Seconds at which the from-scratch run is scored (default SCRATCH_CHECKPOINTS up to the budget). */
  checkpoints?: readonly number[];
  /** Seconds of each warm run (default WARM_SECONDS). */
  warmSeconds?: readonly number[];
  /** Annotated slices per axis (default 3). */
  slicesPerAxis?: number;
  /** The share of the annotated slices each run holds out for validation (default 0: the protocol trains on every one). */
  validationFraction?: number;
  training: TrainingInput;
  /** Runs, label files and segmentations go here (created, kept). */
  workDir: string;
  /** The worker bundle for the warm runs (default: beside this bundle). */
  workerPath?: string;
  /**
   * How seconds are counted (TrainSettings.clock): 'wall' (default), or 'cpu': every training's
   * budget and checkpoints in CPU seconds of its process, and secondsToOverlay as the CPU seconds
   * of the two workers (Linux: read from /proc), for a shared machine.
   */
  clock?: TrainingClock;
}

export interface TimeToQualityHooks {
  /** What it is doing now, one line. */
  onStage?(stage: string): void;
  onTrainEvent?(label: string, event: TrainEvent): void;
}

/** One point of a curve: seconds of training and the dense IoU (mean over foreground classes; null where undefined). */
export interface IoUAt {
  seconds: number;
  iou: number | null;
}

/** What `unet3d bench loop --json` prints for one set. */
export interface TimeToQualityResult {
  name: string;
  /** The best densifying baseline's dense IoU on the same sparse labels. */
  baseline: number | null;
  scratch: IoUAt[];
  correction: {
    /** The slice added (perpendicular to voxel axis `axis`, 0 = x). */
    slice: AnnotatedSlice;
    /** Dense IoU of the from-scratch run, then of each warm run, and of a run from scratch on the same slices. */
    before: number | null;
    after: IoUAt[];
    scratchSameSlices: number | null;
    /** From starting the shortest warm run to its segmentation written, s. */
    secondsToOverlay: number;
  };
}

/** Details kept beside the result (the text report shows them; the JSON does not). */
export interface TimeToQualityDetails {
  baselineName: string;
  slices: AnnotatedSlice[];
  /** Steps of the from-scratch run at each checkpoint. */
  scratchIterations: number[];
  /**
   * Per warm run: steps, seconds from its start to its segmentation written, and whether it kept
   * its parent's weights (it scored below them on the annotated slices; RunParent.comparison).
   */
  warm: { seconds: number; iterations: number; secondsToOverlay: number; keptParent: boolean }[];
  scratchSameSlicesIterations: number;
}

const fileLabels = (dir: string, name: string) => path.join(dir, `${name}.labels.nii.gz`);

/** Reads the volume and its truth, makes the protocol's sparse labels and writes them. */
function prepare(options: TimeToQualityOptions): { image: Volume; truth: LabelArray; slices: AnnotatedSlice[]; sparse: LabelArray; sparseFile: string } {
  const image = readVolumeFile(options.image, { allFrames: true });
  const truth = readLabelsOnGrid(options, image, 'auto').data;
  const slices = chooseAnnotatedSlices(truth, image.dims, sliceFractions(options.slicesPerAxis ?? 3));
  const sparse = sparseLabels(truth, image.dims, slices);
  fs.mkdirSync(options.workDir, { recursive: true });
  const sparseFile = fileLabels(options.workDir, 'sparse-9');
  writeLabelMapNifti(sparseFile, { dims: image.dims, affine: image.affine, data: sparse }, 'unet3d bench loop: sparse labels, 0 unlabeled');
  return { image, truth, slices, sparse, sparseFile };
}

/** The best baseline's dense IoU on these sparse labels, and its name. */
async function bestBaseline(image: Volume, truth: LabelArray, slices: AnnotatedSlice[]): Promise<{ name: string; iou: number | null }> {
  let best: { name: string; iou: number | null } = { name: '–', iou: null };
  for (const b of BASELINES) {
    const scored = await evaluateDensifier(truth, image.dims, image.spacing, slices, b.densify, { slice: false, dense: true });
    const iou = scored.denseIoU?.meanIoU ?? null;
    if (iou !== null && (best.iou === null || iou > best.iou)) best = { name: b.name, iou };
  }
  return best;
}

/** Predicts the volume with `net` as the run in `runDir` would, with the snapshot's decision (logit adjustment, annotation offsets). */
async function predictWith(net: UNet, runDir: string, image: Volume, sparse: LabelArray, decision: Pick<TrainingSnapshot, 'logitAdjustment' | 'annotationOffsets'>, probabilities = false) {
  const record = readRunRecord(runDir);
  record.settings.logitAdjustment = decision.logitAdjustment;
  if (decision.annotationOffsets) record.annotationOffsets = decision.annotationOffsets;
  else delete record.annotationOffsets;
  const normalization = record.volumes[0]?.normalization;
  if (!normalization) throw new Error(`internal: the run in ${runDir} records no normalization`);
  return predictVolume(net, image, normalization, { ...runPredictOptions(record, image, sparse as Uint8Array | Uint16Array), probabilities });
}

/** The slice Suggest Next Slice would pick: of the unannotated slices, the one of highest mean entropy over the three axes. */
export function suggestedSlice(probabilities: Uint8Array, image: Pick<Volume, 'dims'>, classes: number, sparse: LabelArray): AnnotatedSlice {
  const entropy = sliceEntropy(probabilities, image.dims, classes);
  const candidates = mostUncertainSlices(entropy, annotatedSliceSets(sparse, image.dims));
  if (candidates.length === 0) throw new Error('every slice is annotated already: there is nothing to correct');
  const top = candidates.reduce((a, b) => (b.entropy > a.entropy ? b : a));
  return { axis: top.axis, index: top.index };
}

/** Runs the time-to-quality experiment on one volume (see the module comment). */
export async function timeToQuality(options: TimeToQualityOptions, hooks: TimeToQualityHooks = {}): Promise<{ result: TimeToQualityResult; details: TimeToQualityDetails }> {
  const stage = (text: string) => hooks.onStage?.(`${options.name}: ${text}`);
  const budget = options.budgetSeconds;
  if (!(budget > 0)) throw new RangeError(`the budget must be a positive number of seconds, not ${budget}`);
  const warmSeconds = [...(options.warmSeconds ?? WARM_SECONDS)].sort((a, b) => a - b);
  if (warmSeconds.length === 0 || warmSeconds.some((s) => !(s > 0))) throw new RangeError('the warm runs need positive budgets');
  const checkpoints = [...new Set([...(options.checkpoints ?? SCRATCH_CHECKPOINTS).filter((s) => s > 0 && s < budget), budget])].sort((a, b) => a - b);
  const { image, truth, slices, sparse, sparseFile } = prepare(options);
  const validation = { fraction: options.validationFraction ?? 0 };
  const settingsFor = (label: string, labels: string, seconds: number, init?: string): TrainSettings =>
    trainSettings({
      ...options.training,
      volumes: [{ image: path.resolve(options.image), labels }],
      outDir: path.join(options.workDir, label),
      minutes: seconds / 60,
      validation,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(init ? { init } : {}),
    });

  stage('baselines');
  const baseline = await bestBaseline(image, truth, slices);

  // From scratch, scored as it goes.
  stage(`from scratch, ${budget} s`);
  const scratchSettings = settingsFor('scratch', sparseFile, budget);
  const scratch: IoUAt[] = [];
  const scratchIterations: number[] = [];
  const summary = await runTraining(scratchSettings, {
    onEvent: (event) => hooks.onTrainEvent?.('scratch', event),
    snapshots: {
      seconds: checkpoints.slice(0, -1),
      take: async (snapshot) => {
        const predicted = await predictWith(snapshot.net, scratchSettings.outDir, image, sparse, snapshot);
        const at = checkpoints[scratch.length];
        scratch.push({ seconds: at, iou: denseIoU(predicted.labels, truth, image.dims, slices).meanIoU });
        scratchIterations.push(snapshot.iteration);
        stage(`from scratch: ${at} s (${snapshot.iteration} steps): dense IoU ${scratch.at(-1)?.iou?.toFixed(3) ?? '–'}`);
      },
    },
  });
  if (summary.status !== 'succeeded') throw new Error(`the from-scratch run ended ${summary.status}`);
  const run = await loadRun(scratchSettings.outDir);
  const classes = run.net.config.classes;
  let final;
  try {
    final = await predictVolume(run.net, image, run.record.volumes[0].normalization, { ...runPredictOptions(run.record, image, sparse as Uint8Array | Uint16Array), probabilities: true });
  } finally {
    run.net.dispose();
  }
  // A run shorter than a checkpoint (a tiny budget) is scored once, at its end.
  while (scratch.length < checkpoints.length - 1) scratch.push({ seconds: checkpoints[scratch.length], iou: null });
  scratch.push({ seconds: budget, iou: denseIoU(final.labels, truth, image.dims, slices).meanIoU });
  scratchIterations.push(summary.iterations);

  // The correction: the suggested slice, labeled from the truth.
  const slice = suggestedSlice(final.probabilities!, image, classes, sparse);
  const corrected = [...slices, slice];
  const sparse10 = sparseLabels(truth, image.dims, corrected);
  const correctedFile = fileLabels(options.workDir, 'sparse-10');
  writeLabelMapNifti(correctedFile, { dims: image.dims, affine: image.affine, data: sparse10 }, 'unet3d bench loop: sparse labels with the correction, 0 unlabeled');
  const before = denseIoU(final.labels, truth, image.dims, corrected).meanIoU;
  stage(`correction: ${'xyz'[slice.axis]} = ${slice.index}; before ${before?.toFixed(3) ?? '–'}`);

  const after: IoUAt[] = [];
  const warm: TimeToQualityDetails['warm'] = [];
  for (const seconds of warmSeconds) {
    stage(`warm start, ${seconds} s, then segment`);
    const settings = settingsFor(`warm-${seconds}s`, correctedFile, seconds, scratchSettings.outDir);
    const out = path.join(options.workDir, `warm-${seconds}s.seg.nii.gz`);
    const t0 = performance.now();
    const cpu0 = ownCpuSeconds();
    // Train then segment in one worker, as the editor's Train does it.
    const { result: trained, cpuSeconds } = await inWorker(options.workerPath, async (client) => {
      const summary = await client.train(settings, (e) => hooks.onTrainEvent?.(`warm ${seconds} s`, e)).done;
      await client.segment({ runDir: settings.outDir, image: path.resolve(options.image), out, labels: correctedFile, probabilities: path.join(options.workDir, `warm-${seconds}s.probabilities.nii.gz`) }).done;
      return summary;
    });
    const secondsToOverlay = options.clock === 'cpu' ? cpuSeconds + ownCpuSeconds() - cpu0 : (performance.now() - t0) / 1000;
    // The segmentation file holds 0 = background; its sidecar says so and readLabelsAs turns it into editor labels.
    const labels = readLabelsAs(out).data;
    after.push({ seconds, iou: denseIoU(labels, truth, image.dims, corrected).meanIoU });
    const kept = trained.keptParent;
    warm.push({ seconds, iterations: trained.iterations, secondsToOverlay, keptParent: kept !== undefined });
    const keptText = kept ? `, kept the parent's weights (annotated slices: IoU ${kept.parentIoU?.toFixed(3) ?? '–'}, trained ${kept.trainedIoU?.toFixed(3) ?? '–'})` : '';
    stage(`warm start, ${seconds} s (${trained.iterations} steps${keptText}): dense IoU ${after.at(-1)?.iou?.toFixed(3) ?? '–'}, segmentation after ${secondsToOverlay.toFixed(1)} s`);
  }

  stage(`from scratch on the same ${corrected.length} slices, ${budget} s`);
  const sameSettings = settingsFor('scratch-same-slices', correctedFile, budget);
  const same = await runTraining(sameSettings, { onEvent: (event) => hooks.onTrainEvent?.('scratch, same slices', event) });
  const sameRun = await loadRun(sameSettings.outDir);
  let sameIoU: number | null;
  try {
    const predicted = await predictVolume(sameRun.net, image, sameRun.record.volumes[0].normalization, runPredictOptions(sameRun.record, image, sparse10));
    sameIoU = denseIoU(predicted.labels, truth, image.dims, corrected).meanIoU;
  } finally {
    sameRun.net.dispose();
  }

  return {
    result: {
      name: options.name,
      baseline: baseline.iou,
      scratch,
      correction: { slice, before, after, scratchSameSlices: sameIoU, secondsToOverlay: warm[0].secondsToOverlay },
    },
    details: { baselineName: baseline.name, slices, scratchIterations, warm, scratchSameSlicesIterations: same.iterations },
  };
}

/**
 * Runs `job` in a fresh engine worker (as the editor's Train, then its segmentation, do), then ends it;
 * with the CPU seconds the worker used, start included (NaN where /proc cannot tell).
 */
async function inWorker<T>(workerPath: string | undefined, job: (client: WorkerClient) => Promise<T>): Promise<{ result: T; cpuSeconds: number }> {
  const client = await WorkerClient.start(workerPath ? { workerPath } : {});
  try {
    const result = await job(client);
    return { result, cpuSeconds: processCpuSeconds(client.pid) };
  } finally {
    await client.dispose();
  }
}

/** CPU seconds (user + system, every thread) of this process. */
function ownCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on Linux's usual builds). */
const USER_HZ = 100;

/** CPU seconds used so far by the process `pid`, from /proc/PID/stat (Linux); NaN elsewhere. */
export function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (in parentheses, which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return NaN;
  }
}
