/**
 * Usage mistakes of every `unet3d` command, in this process: each is refused with a UsageError
 * (exit status 2 from the CLI) naming the mistake, before any file is read. They need neither the
 * shared data nor a build, so they never skip.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/command';
import { commands } from '../../src/cli/commands';

/** Paths that do not exist: a usage mistake must be found before they are opened. */
const IMAGE = '/nonexistent/unet3d-usage/a.nii.gz';
const LABELS = '/nonexistent/unet3d-usage/b.nii.gz';
const RUN = '/nonexistent/unet3d-usage/run';

const CASES: { command: string; argv: string[]; message: RegExp }[] = [
  { command: 'info', argv: [], message: /expected exactly one FILE/ },
  { command: 'info', argv: [IMAGE, LABELS], message: /expected exactly one FILE/ },
  { command: 'model', argv: ['--preset', 'huge'], message: /--preset must be one of paper, fast, bench, not "huge"/ },
  { command: 'model', argv: ['--levels', '0'], message: /--levels must be a number from 1 to 8/ },
  { command: 'model', argv: ['--input', '10,10'], message: /--input must be three positive integers/ },
  { command: 'model', argv: ['extra'], message: /unexpected argument "extra"/ },
  { command: 'bench', argv: [], message: /which benchmark\?/ },
  { command: 'bench', argv: ['warp'], message: /unknown benchmark "warp"/ },
  { command: 'bench', argv: ['train', '--size', '10'], message: /--size must be a multiple of 4, not 10/ },
  { command: 'bench', argv: ['infer', '--backend', 'tpu'], message: /unknown backend "tpu"/ },
  { command: 'segment', argv: ['--image', IMAGE], message: /--run RUN_DIR is required/ },
  { command: 'segment', argv: ['--run', RUN, '--image', IMAGE, '--tile', '8,8'], message: /--tile must be three positive integers/ },
  { command: 'segment', argv: ['--run', RUN, '--image', IMAGE, '--backend', 'tpu'], message: /unknown backend "tpu"/ },
  { command: 'crossval', argv: ['--image', IMAGE], message: /1 --image but 0 --labels/ },
  { command: 'baselines', argv: ['--image', IMAGE], message: /--labels is required/ },
  { command: 'baselines', argv: ['--image', IMAGE, '--labels', LABELS, '--baseline', 'magic'], message: /unknown baseline "magic"/ },
  { command: 'train', argv: ['--image', IMAGE, '--out', RUN], message: /1 --image but 0 --labels/ },
  { command: 'train', argv: ['--image', IMAGE, '--labels', LABELS], message: /--out RUN_DIR is required/ },
  { command: 'train', argv: ['--image', IMAGE, '--labels', LABELS, '--out', RUN, '--padding', 'full'], message: /--padding must be valid or same/ },
  { command: 'train', argv: ['--image', IMAGE, '--labels', LABELS, '--out', RUN, '--backend', 'tpu'], message: /unknown backend "tpu"/ },
  { command: 'evaluate', argv: [], message: /--pred is required/ },
  { command: 'evaluate', argv: ['--bogus'], message: /Unknown option '--bogus'/ },
];

for (const c of CASES) {
  test(`unet3d ${c.command} ${c.argv.join(' ')}: a usage mistake`, async () => {
    await assert.rejects(commands[c.command].run(c.argv), (error: unknown) => {
      assert.ok(error instanceof UsageError, `not a usage error: ${String(error)}`);
      assert.match(error.message, c.message);
      return true;
    });
  });
}

test('unet3d segment: an output that is not NIfTI is refused by name before anything is read', async () => {
  await assert.rejects(commands.segment.run(['--run', RUN, '--image', IMAGE, '--out', '/nonexistent/o.nrrd']), /o\.nrrd must end in \.nii\.gz or \.nii/);
});
