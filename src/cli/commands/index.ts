/** Every `unet3d` command, by name. Add a command by adding a module and a line here. */
import type { CliCommand } from '../command';
import { baselines } from './baselines';
import { bench } from './bench';
import { crossval } from './crossval';
import { evaluate } from './evaluate';
import { info } from './info';
import { model } from './model';
import { segment } from './segment';
import { train } from './train';

export const commands: Record<string, CliCommand> = {
  info,
  model,
  bench,
  evaluate,
  baselines,
  train,
  segment,
  crossval,
};
