/**
 * What Train tells the user about the annotations it is about to learn from: how many annotated
 * slices each volume's label file holds (so the validation pick can say how many a fraction
 * holds out), and which of them are almost empty (a stray click makes a slice an annotated one).
 * Pure: unit-tested (trainPicks.ts reads the label files).
 */
import { nearlyEmptySlices } from '../../core/annotatedSlices';
import { describeSlice, planeOfAxis, type PlaneName } from '../../core/planes';
import { findAnnotatedSlices, heldOutPositions } from '../../core/sparseSplit';
import { plural } from '../../core/words';

/** An annotated slice with hardly any labels, as the editor's panes name it. */
export interface AlmostEmptySlice {
  volume: string;
  plane: PlaneName;
  /** Voxel index along the slice axis (from 0), and the slices along it. */
  index: number;
  count: number;
  /** The voxel (i, j, k) to show it at: the slice, at the middle of the other axes. */
  voxel: [number, number, number];
  ownVoxels: number;
}

/** One volume's annotations as training will split them. */
export interface VolumeAnnotations {
  /** The volume's file name. */
  volume: string;
  /** Annotated slices (the engine's findAnnotatedSlices). */
  slices: number;
  almostEmpty: AlmostEmptySlice[];
}

/** The annotated slices of a label map and the almost empty ones among them. Pure. */
export function summarizeAnnotations(volume: string, labels: Parameters<typeof findAnnotatedSlices>[0], dims: [number, number, number], affine: number[][]): VolumeAnnotations {
  const slices = findAnnotatedSlices(labels, dims);
  const almostEmpty = nearlyEmptySlices(labels, dims, slices).map((s) => {
    const voxel = dims.map((n) => Math.floor(n / 2)) as [number, number, number];
    voxel[s.axis] = s.index;
    return { volume, plane: planeOfAxis(affine, s.axis), index: s.index, count: dims[s.axis], voxel, ownVoxels: s.ownVoxels };
  });
  return { volume, slices: slices.length, almostEmpty };
}

/**
 * What a validation fraction holds out of the user's annotated slices: "2 of your 9 annotated
 * slices", or why it cannot ("t2.nii.gz has only 1 annotated slice").
 */
export function heldOutText(fraction: number, annotations: readonly VolumeAnnotations[]): string {
  if (annotations.length === 0) return '';
  const total = annotations.reduce((n, a) => n + a.slices, 0);
  if (fraction === 0) return `trains on all ${plural(total, 'annotated slice')}`;
  const tooFew = annotations.find((a) => a.slices < 2);
  if (tooFew) return `not possible: ${tooFew.volume} has only ${plural(tooFew.slices, 'annotated slice')}`;
  const held = annotations.reduce((n, a) => n + heldOutPositions(a.slices, { fraction }).length, 0);
  const where = annotations.length > 1 ? ` (${annotations.length} volumes)` : '';
  return `holds out ${held} of your ${plural(total, 'annotated slice')}${where}`;
}

/** The warning before training on almost empty annotated slices, or undefined when there is none. */
export function almostEmptyWarning(annotations: readonly VolumeAnnotations[]): { message: string; detail: string } | undefined {
  const slices = annotations.flatMap((a) => a.almostEmpty);
  if (slices.length === 0) return undefined;
  const several = annotations.filter((a) => a.almostEmpty.length > 0).length > 1;
  const list = slices
    .slice(0, 6)
    .map((s) => `${several ? `${s.volume}: ` : ''}${describeSlice(s.plane, s.index, s.count)} (${plural(s.ownVoxels, 'labeled voxel')})`);
  if (slices.length > 6) list.push(`and ${slices.length - 6} more`);
  return {
    message: `${plural(slices.length, 'annotated slice is', 'annotated slices are')} almost empty`,
    detail:
      `${list.join('; ')}.\n\nTraining learns from every annotated slice: a stray click makes a slice one, and its few labels ` +
      'carry as much weight as a fully labeled slice. Label such a slice fully (background too), or erase its labels.',
  };
}
