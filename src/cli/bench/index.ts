/** Every `unet3d bench` kind, by name. */
import { gpu } from './gpu';
import { infer } from './infer';
import { io } from './io';
import type { BenchKind } from './kind';
import { segment } from './segment';
import { train } from './train';

export const benchKinds: Record<string, BenchKind> = {
  io,
  train,
  infer,
  segment,
  gpu,
};
