/** Every `unet3d bench` kind, by name. */
import { io } from './io';
import type { BenchKind } from './kind';

export const benchKinds: Record<string, BenchKind> = {
  io,
};
