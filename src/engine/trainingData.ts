/**
 * Reading the training volumes and their label files, normalizing each image, and splitting
 * each label map's annotated slices into training and validation.
 */
import * as path from 'node:path';
import { VolumeError } from '../core/errors';
import { classListBeside, isEditorLabelFile } from '../core/labelConvention';
import { conventionOfLabelValues, segmentationValueOf, toEditorLabels, type LabelConvention } from '../core/segmentationConvention';
import { readVolumeFile } from '../core/readVolume';
import type { Volume } from '../core/volume';
import { labelsOnGrid } from '../core/volumeFiles';
import type { ClassInfo } from '../protocol/training';
import { annotationChannelCount, annotationField } from '../core/annotationField';
import { computeNormalization, normalizeVolume, volumeChannels, withCoordinateChannels, type NormalizedImage } from './normalize';
import { fileRecord } from './runFolder';
import type { VolumeRecord } from '../protocol/run';
import type { TrainingVolume } from './sampler';
import type { LabelArray } from '../core/editDeltas';
import type { TrainSettings, VolumeFiles } from '../protocol/settings';
import { findAnnotatedSlices, type AnnotatedSlice } from '../core/sparseSplit';
import { splitLabels } from '../core/sparseSplit';
import type { ValidationVolume } from './validation';

/** One volume ready for training. */
export interface PreparedVolume {
  files: VolumeFiles;
  record: VolumeRecord;
  /** The training slices' labels. */
  training: TrainingVolume;
  /**
   * What the sampler draws patches from: `training` itself, or with annotation channels one
   * volume per left-out group of training slices (see leaveOutVolumes).
   */
  sampled: TrainingVolume[];
  /** With annotation channels: each left-out group's targets as slices to score, each with its own field. */
  leftOut: ValidationVolume[];
  /** The held-out slices (absent when nothing is held out of this volume). */
  validation?: ValidationVolume;
  /** Every annotated slice's labels, held-out ones included, and the slices (what a refit learns from). */
  allLabels: LabelArray;
  allSlices: AnnotatedSlice[];  /** With a parent run (warm start): the annotated slices it did not have, which always train. */
  newSlices: AnnotatedSlice[];
}

export interface TrainingData {
  volumes: PreparedVolume[];
  /** Classes including background (label values 1..classes). */
  classes: number;
  classInfo: ClassInfo[];
  /** Input channels of the network: the images' channels (frames of a 4D image), plus 3 with coordinate channels, plus classes + 1 with annotation channels. */
  channels: number;
  /** Whether the coordinate channels are given (the settings' `auto` resolved). */
  coordinateChannels: boolean;
  /** Whether the annotation channels are given (the settings' `auto` resolved); they come first. */
  annotationChannels: boolean;
}

/** The settings' coordinate channels for a label set of `classes` classes (background included). */
export function useCoordinateChannels(setting: boolean | 'auto', classes: number): boolean {
  return setting === 'auto' ? classes > 2 : setting;
}

/**
 * The settings' annotation channels for `volumes` training volumes of `classes` classes whose
 * fewest training slices in one volume is `fewestSlices`. `auto`: for one volume with several
 * foreground classes — densifying a volume's own annotations (the semi-automated case), where
 * the classes may differ by where they lie more than by how they look (the levels of the spine;
 * docs/quality.md). Not with one foreground class, where the network alone already beat the
 * nearest annotation, and not with several volumes,
 * whose run is meant for new volumes that carry no annotations. Leaving slices out needs two.
 */
export function useAnnotationChannels(setting: boolean | 'auto', classes: number, volumes: number, fewestSlices: number): boolean {
  if (setting === 'auto') return volumes === 1 && classes > 2 && fewestSlices >= 2;
  if (setting && fewestSlices < 2) {
    throw new RangeError(`annotation channels need at least 2 annotated training slices per volume (a network never reads the annotation of the slice it learns from), and a volume has ${fewestSlices}`);
  }
  return setting;
}

/** Bytes kept per voxel and left-out group: the targets, the field (class and nearness) and the scoring mask. */
const LEAVE_OUT_BYTES_PER_VOXEL = 5;
/** Bytes of one volume's left-out groups at most. */
const LEAVE_OUT_BYTES = 1.5 * 2 ** 30;
/** Left-out groups per volume at most: with more training slices, slices dealt round-robin are left out together. */
const MAX_LEAVE_OUT_GROUPS = 12;

/** One left-out group: what the sampler trains on, and the same targets as slices to score (calibrateLogitAdjustment). */
export interface LeftOutGroup {
  sampled: TrainingVolume;
  check: ValidationVolume;
}

/**
 * Training volumes for a network with annotation channels: the training slices are dealt
 * round-robin (axis by axis, as in a k-fold split) into groups, one slice each where there are
 * few; for each group, the annotation field is built from the other slices and only the group's
 * slices are targets, minus the lines where they cross a slice that stays (there the field holds
 * the answer). So the network learns to densify from annotations that never include the voxel it
 * is scored on, as it does when it predicts a voxel no one annotated.
 */
export function leaveOutVolumes(name: string, image: NormalizedImage, labels: LabelArray, slices: AnnotatedSlice[], classes: number): LeftOutGroup[] {
  const voxels = labels.length;
  const groups = Math.min(slices.length, MAX_LEAVE_OUT_GROUPS, Math.max(2, Math.floor(LEAVE_OUT_BYTES / (LEAVE_OUT_BYTES_PER_VOXEL * voxels))));
  if (groups < 2) throw new RangeError(`${name}: annotation channels need at least 2 annotated training slices, it has ${slices.length}`);
  const Ctor = labels instanceof Uint16Array ? Uint16Array : Uint8Array;
  const out: LeftOutGroup[] = [];
  for (let g = 0; g < groups; g++) {
    const split = splitLabels(labels, image.dims, { fold: g, folds: groups }, slices);
    const targets = new Ctor(voxels);
    let count = 0;
    for (let i = 0; i < voxels; i++) {
      if (split.validationMask[i] === 0) continue;
      targets[i] = labels[i];
      count++;
    }
    if (count === 0) continue;
    const left = split.validationSlices.map((s) => `${'xyz'[s.axis]}=${s.index}`).join(', ');
    const groupName = `${name} (${left} left out)`;
    const annotation = annotationField(split.training, image.dims, image.spacing, classes);
    out.push({
      sampled: { name: groupName, image, labels: targets, annotation },
      check: { name: groupName, image, labels, mask: split.validationMask, slices: split.validationSlices, annotation },
    });
  }
  return out;
}

/**
 * Reads a label map that must lie on `image`'s grid (read from `imageFile`), as editor labels:
 * with `convention` given, as it says (`mask`: value + 1); else a sparse label file as it is,
 * and a dense segmentation of ours whose sidecar says 0 = background (what Segment writes) as
 * value + 1, so that it trains as the classes it shows.
 */
export function readLabelMapOnGrid(file: string, image: Volume, imageFile: string, convention?: LabelConvention): { labels: LabelArray; volume: Volume; convention: LabelConvention } {
  const volume = readVolumeFile(file);
  const labels = labelsOnGrid(image, volume, path.basename(file), path.basename(imageFile));
  const chosen = convention ?? trainingConvention(file, volume);
  return { labels: chosen === 'mask' ? toEditorLabels(labels, 'mask') : labels, volume, convention: chosen };
}

/**
 * How a label file reads when no convention is asked for. Values alone cannot tell sparse labels
 * from a mask, so: the editor's own files are labels; a `.json` sidecar says which (what Segment
 * writes says 0 = background); a 3D Slicer segmentation is a mask (0 = no segment), unless its
 * segment 1 is named background (labels in the editor's convention, painted or edited in
 * Slicer); anything else is read as the editor's labels.
 */
export function trainingConvention(file: string, volume: Pick<Volume, 'segments'>): LabelConvention {
  if (isEditorLabelFile(file)) return 'labels';
  const listed = classListBeside(file);
  if (listed) return conventionOfLabelValues(listed.labelValues);
  if (volume.segments?.length) return volume.segments.some((s) => s.value === 1 && /^background$/i.test(s.name.trim())) ? 'labels' : 'mask';
  return 'labels';
}

/**
 * The error for labels holding the background alone (label 1, beside unlabeled 0): a network
 * trained on them can only ever say background. `asLabels` names the files read in the editor's
 * convention, where a mask (0 = background, 1 = the object) ends up this way.
 */
export function backgroundOnlyMessage(asLabels: readonly string[]): string {
  const text = 'the labels hold the background (1) alone: there is no class to learn. Label at least one class besides the background (2 and up)';
  if (asLabels.length === 0) return text;
  return (
    `${text}. In these labels 0 = unlabeled and 1 = background; if ${asLabels.join(', ')} ${asLabels.length === 1 ? 'is a mask' : 'are masks'} ` +
    `(0 = background, 1 = the object), read ${asLabels.length === 1 ? 'it' : 'them'} as such: unet3d train --labels-convention mask`
  );
}

/**
 * The class names a label file's class list gives (`X.json` beside `X.nii.gz`, as the editor
 * writes `NAME.labels.json`, or a segmentation's `NAME.seg.json`), by editor label; an empty map
 * when there is none or it is unusable.
 */
function classNamesBeside(labelFile: string): Map<number, string> {
  return new Map((classListBeside(labelFile)?.classes ?? []).map((c) => [c.value, c.name]));
}

/**
 * Reads, normalizes and splits every training volume (see TrainSettings). `known`: per volume,
 * the annotated slices a parent run had (warm start), or undefined; only those may be held out,
 * and the others are the volume's `newSlices`.
 */
export function loadTrainingData(settings: TrainSettings, known?: readonly (readonly Pick<AnnotatedSlice, 'axis' | 'index'>[] | undefined)[]): TrainingData {
  const loaded = settings.volumes.map((files) => {
    const image = readVolumeFile(files.image, { allFrames: true });
    const { labels, volume: labelVolume, convention } = readLabelMapOnGrid(files.labels, image, files.image, files.labelsConvention);
    return { files, image, labels, labelVolume, convention };
  });
  const channels = volumeChannels(loaded[0].image);
  for (const l of loaded) {
    if (volumeChannels(l.image) !== channels) {
      throw new VolumeError('bad-dimensions', `${path.basename(l.files.image)} has ${volumeChannels(l.image)} channel(s), ${path.basename(loaded[0].files.image)} has ${channels}: every training image needs the same channels`);
    }
  }
  let maxLabel = 0;
  for (const { labels } of loaded) for (let i = 0; i < labels.length; i++) if (labels[i] > maxLabel) maxLabel = labels[i];
  if (maxLabel === 0) throw new RangeError('the label files hold no labeled voxel: paint some slices first');
  if (maxLabel === 1) throw new RangeError(backgroundOnlyMessage(loaded.filter((l) => l.convention === 'labels' && !isEditorLabelFile(l.files.labels)).map((l) => path.basename(l.files.labels))));
  const dense = loaded.some((l) => l.convention === 'mask');
  if (dense && settings.annotationChannels === true) {
    throw new RangeError('annotation channels read where the nearest annotation is, and a mask labels every voxel: train on masks without them');
  }
  const classes = settings.classes ?? Math.max(2, maxLabel);
  if (maxLabel > classes) throw new RangeError(`the labels go up to ${maxLabel}, more than the ${classes} classes asked for`);
  // Names: the settings', else the label file's class list (the editor's NAME.labels.json), else a Slicer file's segments
  // (a segment's value v is label v + 1 in a mask).
  const segmented = loaded.find((l) => l.labelVolume.segments);
  const segmentName = (label: number) => segmented?.labelVolume.segments?.find((s) => s.layer === 0 && s.value === (segmented.convention === 'mask' ? segmentationValueOf(label) : label))?.name;
  const listed = loaded.map((l) => classNamesBeside(l.files.labels)).find((m) => m.size > 0);
  const classInfo: ClassInfo[] = Array.from({ length: classes }, (_, c) => ({
    value: c + 1,
    name: settings.classNames?.[c] ?? listed?.get(c + 1) ?? segmentName(c + 1) ?? (c === 0 ? 'background' : `class ${c}`),
  }));

  const coordinateChannels = useCoordinateChannels(settings.coordinateChannels, classes);
  const isKnown = (v: number, s: AnnotatedSlice) => known?.[v]?.some((k) => k.axis === s.axis && k.index === s.index) ?? true;
  const found = loaded.map(({ image, labels }) => findAnnotatedSlices(labels, image.dims));
  const splits = loaded.map(({ image, labels }, v) => splitLabels(labels, image.dims, settings.validation, found[v], known?.[v] ? found[v].map((s) => isKnown(v, s)) : undefined));
  // A mask labels every voxel: the nearest annotation is the voxel itself, nothing to learn from.
  const annotationChannels = useAnnotationChannels(dense ? false : settings.annotationChannels, classes, loaded.length, Math.min(...splits.map((s) => s.trainingSlices.length)));
  const volumes = loaded.map(({ files, image, labels, convention }, v) => {
    let normalized = normalizeVolume(image, computeNormalization(image, settings.normalization));
    if (coordinateChannels) normalized = withCoordinateChannels(normalized);
    const split = splits[v];
    const trainingVoxels = new Array<number>(classes).fill(0);
    for (let i = 0; i < split.training.length; i++) if (split.training[i] > 0) trainingVoxels[split.training[i] - 1]++;
    const name = path.basename(files.image);
    const record: VolumeRecord = {
      image: fileRecord(files.image),
      labels: fileRecord(files.labels),
      dims: [...image.dims],
      spacing: [...image.spacing],
      channels,
      normalization: normalized.normalization,
      trainingSlices: split.trainingSlices,
      validationSlices: split.validationSlices,
      trainingVoxels,
      labelsConvention: convention,
    };
    const training: TrainingVolume = { name, image: normalized, labels: split.training };
    const groups = annotationChannels ? leaveOutVolumes(name, normalized, split.training, split.trainingSlices, classes) : [];
    const sampled = annotationChannels ? groups.map((g) => g.sampled) : [training];
    const prepared: PreparedVolume = { files, record, training, sampled, leftOut: groups.map((g) => g.check), allLabels: labels, allSlices: found[v], newSlices: found[v].filter((s) => !isKnown(v, s)) };
    if (split.validationSlices.length > 0) {
      prepared.validation = { name, image: normalized, labels, mask: split.validationMask, slices: split.validationSlices };
      if (annotationChannels) prepared.validation.annotation = annotationField(split.training, image.dims, image.spacing, classes);
    }
    return prepared;
  });
  if (volumes.every((v) => v.record.trainingVoxels.every((n) => n === 0))) throw new RangeError('no labeled voxels are left for training');
  limitValidationSlices(volumes.flatMap((v) => (v.validation ? [v.validation] : [])), settings.maxValidationSlices);
  const extraChannels = (annotationChannels ? annotationChannelCount(classes) : 0) + (coordinateChannels ? 3 : 0);
  return { volumes, classes, classInfo, channels: channels + extraChannels, coordinateChannels, annotationChannels };
}

/**
 * What a refit samples from (see TrainSettings.refit): every annotated slice of the volume, the
 * held-out ones included, with its left-out groups when the network reads annotation channels.
 */
export function refitVolumes(volume: PreparedVolume, classes: number, annotationChannels: boolean): TrainingVolume[] {
  const name = path.basename(volume.files.image);
  const image = volume.training.image;
  if (!annotationChannels) return [{ name, image, labels: volume.allLabels }];
  return leaveOutVolumes(name, image, volume.allLabels, volume.allSlices, classes).map((g) => g.sampled);
}

/** Keeps at most `max` slices scored in total, spread evenly over the held-out slices of every volume. */
function limitValidationSlices(volumes: ValidationVolume[], max: number): void {
  const all = volumes.flatMap((v, volume) => v.slices.map((_, ordinal) => ({ volume, ordinal })));
  if (all.length <= max) return;
  const keep = Array.from({ length: max }, (_, j) => all[Math.floor(((j + 0.5) * all.length) / max)]);
  volumes.forEach((v, volume) => {
    v.scored = keep.filter((k) => k.volume === volume).map((k) => k.ordinal);
  });
}
