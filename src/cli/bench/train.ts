/** `unet3d bench train`: a training step of the benchmark U-Net at 64³ against PyTorch (see unetStep.ts). */
import type { BenchKind } from './kind';
import { runUnetBench, stepUsage } from './unetStep';

export const train: BenchKind = {
  summary: 'a training step of the benchmark 3D U-Net at 64³, per backend, against PyTorch',
  usage: stepUsage('train'),
  run: (argv) => runUnetBench('train', argv),
};
