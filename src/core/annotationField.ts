/**
 * What the annotation channels of a network read: for every voxel, the class of the nearest
 * annotated voxel (exact Euclidean distance in mm, see featureTransform) and how near it is.
 *
 * This is the nearest-annotated-voxel baseline handed to the network as input, so that it learns
 * where to trust it (a spine level far from the image's landmarks) and where the image says better
 * (a lung's border between two annotated slices), much as interactive networks (DeepEdit,
 * DeepIGeoS) read the user's clicks or scribbles as guidance channels. Training must not see a
 * voxel's own annotation in these channels, or the network learns to copy it: the engine builds
 * one field per left-out group of slices and trains only on the left-out slices (trainingData.ts).
 */
import type { Vec3 } from './geometry';
import { featureTransform } from './distanceTransform';

/** Nearness falls off as exp(−distance / this): 1 on an annotated voxel, 0.37 at 20 mm, 0.08 at 50 mm. */
export const ANNOTATION_NEARNESS_MM = 20;

/** The nearest annotation of every voxel of a grid (x fastest). */
export interface AnnotationField {
  dims: Vec3;
  /** Classes including background: label values 1..classes. */
  classes: number;
  /** Label value (1..classes) of the nearest annotated voxel. */
  nearest: Uint8Array | Uint16Array;
  /** exp(−distance / ANNOTATION_NEARNESS_MM) × 255, rounded. */
  nearness: Uint8Array;
}

/** Channels a field gives the network: one per class (the nearest annotation's class, one-hot), then the nearness. */
export function annotationChannelCount(classes: number): number {
  return classes + 1;
}

/**
 * The field of a sparse label map (0 = unlabeled, c + 1 = class c) on a grid of `dims` with
 * `spacing` mm. Throws when no voxel is labeled or a label exceeds `classes`.
 */
export function annotationField(sparse: Uint8Array | Uint16Array, dims: Vec3, spacing: Vec3, classes: number): AnnotationField {
  const { nearest: from, distanceSquared } = featureTransform(sparse, dims, spacing);
  const nearest = classes > 255 ? new Uint16Array(sparse.length) : new Uint8Array(sparse.length);
  const nearness = new Uint8Array(sparse.length);
  for (let i = 0; i < sparse.length; i++) {
    const f = from[i];
    if (f < 0) throw new RangeError('the annotation channels need at least one labeled voxel');
    const value = sparse[f];
    if (value > classes) throw new RangeError(`label value ${value} exceeds the ${classes} classes`);
    nearest[i] = value;
    nearness[i] = Math.round(255 * Math.exp(-Math.sqrt(distanceSquared[i]) / ANNOTATION_NEARNESS_MM));
  }
  return { dims: [...dims], classes, nearest, nearness };
}

/** Writes voxel `voxel`'s annotation channels (annotationChannelCount of them) at `out[offset…]`. */
export function writeAnnotationChannels(field: AnnotationField, voxel: number, out: Float32Array, offset: number): void {
  const { classes } = field;
  for (let c = 0; c < classes; c++) out[offset + c] = 0;
  out[offset + field.nearest[voxel] - 1] = 1;
  out[offset + classes] = field.nearness[voxel] / 255;
}
