/**
 * Reading the training volumes and their label files, normalizing each image, and splitting
 * each label map's annotated slices into training and validation.
 */
import * as path from 'node:path';
import { VolumeError } from '../core/errors';
import { toLabelArray } from '../core/labelMapIO';
import { readVolumeFile } from '../core/readVolume';
import { sameGrid, type Volume } from '../core/volume';
import type { ClassInfo } from '../protocol/worker';
import { computeNormalization, normalizeVolume, volumeChannels, withCoordinateChannels } from './normalize';
import { fileRecord, type VolumeRecord } from './runFolder';
import type { LabelArray, TrainingVolume } from './sampler';
import type { TrainSettings, VolumeFiles } from './settings';
import { findAnnotatedSlices, splitLabels } from './sparseSplit';
import type { ValidationVolume } from './validation';

/** One volume ready for training. */
export interface PreparedVolume {
  files: VolumeFiles;
  record: VolumeRecord;
  /** The training slices' labels. */
  training: TrainingVolume;
  /** The held-out slices (absent when nothing is held out of this volume). */
  validation?: ValidationVolume;
}

export interface TrainingData {
  volumes: PreparedVolume[];
  /** Classes including background (label values 1..classes). */
  classes: number;
  classInfo: ClassInfo[];
  /** Input channels of the network: the images' channels (frames of a 4D image), plus 3 with coordinate channels. */
  channels: number;
  /** Whether the coordinate channels are given (the settings' `auto` resolved). */
  coordinateChannels: boolean;
}

/** The settings' coordinate channels for a label set of `classes` classes (background included). */
export function useCoordinateChannels(setting: boolean | 'auto', classes: number): boolean {
  return setting === 'auto' ? classes > 2 : setting;
}

function readLabels(file: string, image: Volume, imageFile: string): { labels: LabelArray; volume: Volume } {
  const volume = readVolumeFile(file);
  if (volume.layers && volume.layers.length > 1) {
    throw new VolumeError('layered-segmentation', `${path.basename(file)} has overlapping segments (${volume.layers.length} layers); a label file needs one label per voxel`);
  }
  if (volume.dims.join() !== image.dims.join()) {
    throw new VolumeError('grid-mismatch', `${path.basename(file)} is ${volume.dims.join('×')} voxels but ${path.basename(imageFile)} is ${image.dims.join('×')}`);
  }
  if (!sameGrid(volume, image, 1e-2)) {
    throw new VolumeError('grid-mismatch', `${path.basename(file)} and ${path.basename(imageFile)} have the same size but different voxel-to-world matrices: they are not on the same grid`);
  }
  let labels: LabelArray;
  try {
    labels = toLabelArray(volume.data);
  } catch (error) {
    throw new VolumeError('bad-header', `${path.basename(file)} is not a label map: ${(error as Error).message}`);
  }
  return { labels, volume };
}

/** Reads, normalizes and splits every training volume (see TrainSettings). */
export function loadTrainingData(settings: TrainSettings): TrainingData {
  const loaded = settings.volumes.map((files) => {
    const image = readVolumeFile(files.image, { allFrames: true });
    const { labels, volume: labelVolume } = readLabels(files.labels, image, files.image);
    return { files, image, labels, labelVolume };
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
  const classes = settings.classes ?? Math.max(2, maxLabel);
  if (maxLabel > classes) throw new RangeError(`the labels go up to ${maxLabel}, more than the ${classes} classes asked for`);
  const segments = loaded.find((l) => l.labelVolume.segments)?.labelVolume.segments;
  const classInfo: ClassInfo[] = Array.from({ length: classes }, (_, c) => ({
    value: c + 1,
    name: settings.classNames?.[c] ?? segments?.find((s) => s.value === c + 1)?.name ?? (c === 0 ? 'background' : `class ${c}`),
  }));

  const coordinateChannels = useCoordinateChannels(settings.coordinateChannels, classes);
  const volumes = loaded.map(({ files, image, labels }) => {
    let normalized = normalizeVolume(image, computeNormalization(image, settings.normalization));
    if (coordinateChannels) normalized = withCoordinateChannels(normalized);
    const slices = findAnnotatedSlices(labels, image.dims);
    const split = splitLabels(labels, image.dims, settings.validation, slices);
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
    };
    const prepared: PreparedVolume = { files, record, training: { name, image: normalized, labels: split.training } };
    if (split.validationSlices.length > 0) {
      prepared.validation = { name, image: normalized, labels, mask: split.validationMask, slices: split.validationSlices };
    }
    return prepared;
  });
  if (volumes.every((v) => v.record.trainingVoxels.every((n) => n === 0))) throw new RangeError('no labeled voxels are left for training');
  limitValidationSlices(volumes.flatMap((v) => (v.validation ? [v.validation] : [])), settings.maxValidationSlices);
  return { volumes, classes, classInfo, channels: channels + (coordinateChannels ? 3 : 0), coordinateChannels };
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
