/** The shape of a CLI command: parse its own arguments, run, return an exit status. */
export interface CliCommand {
  /** One line for `unet3d --help`. */
  summary: string;
  /** Usage text printed by `unet3d help COMMAND` and on a usage error. */
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** A usage mistake: printed with the command's usage, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
