/** Learning-rate schedules, as a function of training progress in [0, 1]. */

/** `constant`, `poly` (nnU-Net's (1 − p)^0.9) or `cosine` decay, each after an optional linear warm-up. */
export type ScheduleKind = 'constant' | 'poly' | 'cosine';

export interface LearningRateSchedule {
  kind: ScheduleKind;
  /** The peak learning rate. */
  initial: number;
  /** Fraction of training (0–1) spent ramping up linearly from 0. */
  warmup: number;
  /** The rate at the end, as a fraction of `initial` (poly and cosine). */
  finalFraction: number;
}

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
