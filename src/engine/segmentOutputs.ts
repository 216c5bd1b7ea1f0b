/**
 * Checks on the files a segmentation will write, made before anything is predicted: a long
 * prediction must not end in "permission denied", and it must never overwrite the labels a user
 * painted.
 */
import * as path from 'node:path';
import { checkWritableFolder } from '../core/folders';
import { labelFileKindOf } from '../core/labels';

/** The files one segmentation writes and the files it must leave alone. Absolute paths. */
export interface SegmentOutputs {
  image: string;
  /** Every file it will write: the labels, their sidecars, the probabilities. */
  outputs: string[];
  /** Files it reads that must not be written either (the `--labels` annotations). */
  inputs?: string[];
}

/**
 * Throws a one-line error when an output is one of the image's label files
 * (`NAME.labels.nii.gz`, `NAME.labels.json`, `NAME.labels.seg.nrrd`) or an input, or when an
 * output folder cannot be written (a file is created there and removed to find out).
 */
export function checkSegmentOutputs({ image, outputs, inputs = [] }: SegmentOutputs): void {
  for (const output of outputs) {
    const kind = path.dirname(output) === path.dirname(image) ? labelFileKindOf(path.basename(image), path.basename(output)) : undefined;
    if (kind) {
      throw new RangeError(`${output} is one of ${path.basename(image)}'s label files: a segmentation never overwrites the painted labels; choose another --out`);
    }
    if (inputs.includes(output)) throw new RangeError(`${output} is an input of this segmentation; choose another --out`);
  }
  for (const dir of new Set(outputs.map((file) => path.dirname(file)))) checkWritableFolder(dir, 'the output folder');
}
