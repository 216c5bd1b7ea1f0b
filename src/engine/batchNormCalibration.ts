/**
 * Re-estimating batch-norm statistics after training. With one small patch per step, the moving
 * averages follow the last few (foreground-rich, augmented) patches, and in inference mode the
 * network then sees other statistics than it was trained with. Before a network is validated or
 * saved, a few forward passes in training mode over plain patches drawn uniformly from the
 * volumes give each layer's mean and variance over those patches, which replace the moving
 * averages. The weights are not touched.
 */
import type { UNet } from './model';
import { BN_MOMENTUM } from './ops';
import { tf, type Tensor5D, type Variable } from './tf';

interface MovingStatistics {
  mean: Variable;
  variance: Variable;
}

/**
 * The moving-average variables of a network's batch-norm layers. They are not among
 * `trainableVariables`; they are found in the tfjs variable registry by the network's name
 * prefix (`unetN/…/bn/moving_mean`).
 */
export function movingStatistics(net: UNet): MovingStatistics[] {
  const first = net.trainableVariables[0]?.name;
  if (!first || !net.config.batchNorm) return [];
  const prefix = first.slice(0, first.indexOf('/') + 1);
  const registry = tf.engine().registeredVariables;
  const found: MovingStatistics[] = [];
  for (const name of Object.keys(registry)) {
    if (!name.startsWith(prefix) || !name.endsWith('/bn/moving_mean')) continue;
    const variance = registry[name.replace(/moving_mean$/, 'moving_variance')];
    if (variance) found.push({ mean: registry[name], variance });
  }
  return found;
}

/**
 * Replaces the moving statistics by the statistics over `batches` (each [N, D, H, W, C]): the
 * mean of the batch means, and the variance over all their voxels (mean batch variance plus the
 * variance of the batch means). Each batch's statistics are read back from the moving-average
 * update the network makes in training mode. Returns the number of layers recalibrated.
 */
export async function recalibrateBatchNorm(net: UNet, batches: Iterable<Tensor5D>): Promise<number> {
  const stats = movingStatistics(net);
  if (stats.length === 0) return 0;
  const m = BN_MOMENTUM;
  const sums = stats.map((s) => ({ mean: new Float64Array(s.mean.size), second: new Float64Array(s.mean.size) }));
  let count = 0;
  // Read back asynchronously: the webgpu backend cannot read synchronously under Node.
  const read = () => Promise.all(stats.map(async (s) => ({ mean: (await s.mean.data()) as Float32Array, variance: (await s.variance.data()) as Float32Array })));
  for (const batch of batches) {
    const before = await read();
    tf.tidy(() => {
      net.apply(batch, true);
    });
    const after = await read();
    after.forEach(({ mean, variance }, l) => {
      for (let c = 0; c < mean.length; c++) {
        const batchMean = (mean[c] - m * before[l].mean[c]) / (1 - m);
        const batchVariance = Math.max(0, (variance[c] - m * before[l].variance[c]) / (1 - m));
        sums[l].mean[c] += batchMean;
        sums[l].second[c] += batchVariance + batchMean * batchMean;
      }
    });
    count++;
  }
  if (count === 0) return 0;
  stats.forEach((s, l) => {
    const mean = Float32Array.from(sums[l].mean, (v) => v / count);
    const variance = Float32Array.from(sums[l].second, (v, c) => Math.max(1e-6, v / count - mean[c] * mean[c]));
    tf.tidy(() => {
      s.mean.assign(tf.tensor1d(mean));
      s.variance.assign(tf.tensor1d(variance));
    });
  });
  return stats.length;
}
