/** Every `unet3d` command, by name. Add a command by adding a module and a line here. */
import type { CliCommand } from '../command';
import { bench } from './bench';
import { info } from './info';

export const commands: Record<string, CliCommand> = {
  info,
  bench,
};
