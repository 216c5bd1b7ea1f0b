/** Every `unet3d bench` kind, by name. */
import { gpu } from './gpu';
import { infer } from './infer';
import { io } from './io';
import { loop } from './loop';
import { preview } from './preview';
import type { BenchKind } from './kind';
import { save } from './save';
import { segment } from './segment';
import { step } from './step';
import { train } from './train';

export const benchKinds: Record<string, BenchKind> = {
  io,
  train,
  infer,
  segment,
  save,
  loop,
  preview,
  step,
  gpu,
};
