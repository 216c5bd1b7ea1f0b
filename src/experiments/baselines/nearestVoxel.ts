/** Baseline: every voxel takes the label of the nearest annotated voxel in 3D, distance in mm. */
import type { Vec3 } from '../../core/geometry';
import { featureTransform } from '../../core/distanceTransform';

/**
 * Dense labels from sparse ones (0 = unlabeled): each voxel gets the label of the nearest
 * labeled voxel, by exact Euclidean distance with the voxel spacing (mm, x, y, z).
 */
export function nearestVoxelLabels(sparse: Uint8Array | Uint16Array, dims: Vec3, spacing: Vec3): Uint8Array | Uint16Array {
  const { nearest } = featureTransform(sparse, dims, spacing);
  const out = sparse instanceof Uint16Array ? new Uint16Array(sparse.length) : new Uint8Array(sparse.length);
  for (let i = 0; i < out.length; i++) {
    const from = nearest[i];
    if (from < 0) throw new RangeError('the sparse labels hold no labeled voxel');
    out[i] = sparse[from];
  }
  return out;
}
