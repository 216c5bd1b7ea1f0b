/** Learning-rate schedules, as a function of training progress in [0, 1]. */
import type { LearningRateSchedule } from '../protocol/settings';

/** The learning rate at `progress` ∈ [0, 1] (iterations done / planned, or time used / budget). */
export function learningRateAt(schedule: LearningRateSchedule, progress: number): number {
  const p = Math.min(1, Math.max(0, progress));
  const { initial, warmup, finalFraction } = schedule;
  if (warmup > 0 && p < warmup) return initial * Math.max(p / warmup, 0.01);
  const t = warmup < 1 ? (p - warmup) / (1 - warmup) : 1;
  const low = initial * finalFraction;
  switch (schedule.kind) {
    case 'constant':
      return initial;
    case 'poly':
      return low + (initial - low) * Math.pow(1 - t, 0.9);
    case 'cosine':
      return low + (initial - low) * 0.5 * (1 + Math.cos(Math.PI * t));
  }
}
