/** Every `unet3d bench` kind, by name. */
import { infer } from './infer';
import { io } from './io';
import type { BenchKind } from './kind';
import { save } from './save';
import { segment } from './segment';
import { train } from './train';

export const benchKinds: Record<string, BenchKind> = {
  io,
  train,
  infer,
  segment,
  save,
};
