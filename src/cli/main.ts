/**
 * `unet3d`: the command line over the same core and engine as the extension.
 * Each command lives in ./commands; this file only dispatches.
 */
import { VolumeError } from '../core/errors';
import { UsageError, type CliCommand } from './command';
import { commands } from './commands';

function printHelp(): void {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  process.stdout.write(`unet3d: 3D U-Net from sparse annotations\n\nUsage: unet3d COMMAND [options]\n\n${lines.join('\n')}\n\nunet3d help COMMAND shows a command's options.\n`);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    printHelp();
    return name ? 0 : 2;
  }
  if (name === 'help') {
    const target = rest[0] ? commands[rest[0]] : undefined;
    if (target) process.stdout.write(target.usage.trimEnd() + '\n');
    else printHelp();
    return 0;
  }
  const command: CliCommand | undefined = commands[name];
  if (!command) {
    process.stderr.write(`unet3d: unknown command "${name}"; run unet3d --help\n`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`unet3d ${name}: ${error.message}\n${command.usage.trimEnd()}\n`);
      return 2;
    }
    const message = error instanceof VolumeError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`unet3d ${name}: ${message.split('\n')[0]}\n`);
    if (process.env.UNET3D_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`unet3d: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
