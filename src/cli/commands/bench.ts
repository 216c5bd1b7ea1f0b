import { benchKinds } from '../bench';
import { UsageError, type CliCommand } from '../command';

export const bench: CliCommand = {
  summary: 'measure speed and memory (io, ...)',
  get usage() {
    const kinds = Object.entries(benchKinds).map(([name, k]) => `  ${name.padEnd(8)} ${k.summary}`);
    return `Usage: unet3d bench KIND [options] [--json]\n\n${kinds.join('\n')}\n\nunet3d bench KIND --help shows a benchmark's options.`;
  },
  async run(argv) {
    const [kind, ...rest] = argv;
    const target = kind ? benchKinds[kind] : undefined;
    if (!target) throw new UsageError(kind ? `unknown benchmark "${kind}"` : 'which benchmark?');
    if (rest.includes('--help')) {
      process.stdout.write(target.usage.trimEnd() + '\n');
      return 0;
    }
    return target.run(rest);
  },
};
