/** The densifying baselines the 3D U-Net is compared against, by name, as densifiers. */
import type { Densifier } from '../densifyEvaluation';
import { contourInterpolationLabels } from './contourInterpolation';
import { nearestSliceLabels } from './nearestSlice';
import { nearestVoxelLabels } from './nearestVoxel';

export type BaselineName = 'nearest-slice' | 'nearest-slice-x' | 'nearest-slice-y' | 'nearest-slice-z' | 'nearest-voxel' | 'contour-interpolation';

export interface Baseline {
  name: BaselineName;
  /** One line for tables. */
  title: string;
  densify: Densifier;
}

export const BASELINES: readonly Baseline[] = [
  {
    name: 'nearest-slice',
    title: 'nearest annotated slice (any axis, mm)',
    densify: ({ sparse, dims, spacing, slices }) => nearestSliceLabels(sparse, dims, spacing, slices),
  },
  // Propagation along one axis only (copying from the nearest parallel annotated slice): the
  // best of these three is what ../shared/QUALITY.md reports as "nearest annotated slice".
  ...([0, 1, 2] as const).map(
    (axis): Baseline => ({
      name: `nearest-slice-${'xyz'[axis]}` as BaselineName,
      title: `nearest annotated slice along ${'xyz'[axis]} only`,
      densify: ({ sparse, dims, spacing, slices }) => nearestSliceLabels(sparse, dims, spacing, slices, [axis]),
    }),
  ),
  {
    name: 'nearest-voxel',
    title: 'nearest annotated voxel (3D, in mm)',
    densify: ({ sparse, dims, spacing }) => nearestVoxelLabels(sparse, dims, spacing),
  },
  {
    name: 'contour-interpolation',
    title: 'morphological contour interpolation, all axes',
    densify: ({ sparse, dims, spacing }) => contourInterpolationLabels(sparse, dims, spacing),
  },
];

/** The baseline of a name, or a clear error listing the names. */
export function baselineByName(name: string): Baseline {
  const found = BASELINES.find((b) => b.name === name);
  if (!found) throw new RangeError(`unknown baseline "${name}"; the baselines are ${BASELINES.map((b) => b.name).join(', ')}`);
  return found;
}
