/** `unet3d bench infer`: an inference pass of the benchmark U-Net at 64³ against PyTorch (see unetStep.ts). */
import type { BenchKind } from './kind';
import { runUnetBench, stepUsage } from './unetStep';

export const infer: BenchKind = {
  summary: 'an inference pass of the benchmark 3D U-Net at 64³, per backend, against PyTorch',
  usage: stepUsage('infer'),
  run: (argv) => runUnetBench('infer', argv),
};
