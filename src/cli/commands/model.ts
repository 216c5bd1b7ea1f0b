import { formatModelSummary, summarizeModel } from '../../protocol/networkSummary';
import { isPresetName, PRESET_INPUT_SIZE, PRESETS, UNetConfigError, validInputSize, type UNetConfig } from '../../protocol/network';
import { parseCommandArgs, parseNumber, parseTriple } from '../args';
import { UsageError, type CliCommand } from '../command';

/** The preset with the command line's overrides (shared with `unet3d train`). */
export function configFromOptions(values: {
  preset?: string;
  levels?: string;
  'base-filters'?: string;
  padding?: string;
  'in-channels'?: string;
  classes?: string;
}): UNetConfig {
  const preset = values.preset ?? 'fast';
  if (!isPresetName(preset)) throw new UsageError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, not "${preset}"`);
  const config: UNetConfig = structuredClone(PRESETS[preset]);
  const levels = parseNumber(values.levels, '--levels', 1, 8);
  const base = parseNumber(values['base-filters'], '--base-filters', 1, 4096);
  if (levels !== undefined || base !== undefined) delete config.filters;
  if (levels !== undefined) {
    if (!Number.isInteger(levels)) throw new UsageError('--levels must be an integer');
    config.levels = levels;
  }
  if (base !== undefined) {
    if (!Number.isInteger(base)) throw new UsageError('--base-filters must be an integer');
    config.baseFilters = base;
  }
  if (values.padding !== undefined) {
    if (values.padding !== 'valid' && values.padding !== 'same') throw new UsageError(`--padding must be valid or same, not "${values.padding}"`);
    config.padding = values.padding;
  }
  const inChannels = parseNumber(values['in-channels'], '--in-channels', 1, 64);
  if (inChannels !== undefined) config.inChannels = inChannels;
  const classes = parseNumber(values.classes, '--classes', 2, 255);
  if (classes !== undefined) config.classes = classes;
  return config;
}

export const model: CliCommand = {
  summary: "print a 3D U-Net's layers, shapes and parameter count",
  usage: `Usage: unet3d model [--preset paper|fast|bench] [--levels L] [--base-filters F] [--padding valid|same]
                    [--in-channels C] [--classes K] [--input X,Y,Z] [--json]

  --preset P      paper: the paper's network (valid convolutions, 3 channels, 3 classes, 132×132×116 in);
                  fast: 3 levels of 16,16 | 32,32 | 64,64 filters, same padding, BN (the default);
                  bench: the benchmark network (as fast, run at 64³)
  --levels L, --base-filters F, --padding, --in-channels C, --classes K   override the preset
  --input X,Y,Z   input size in voxels, x,y,z (default: the preset's, or the nearest size that fits)
  --json          { parameters, inputShape, outputShape, layers, ... }; shapes are [x, y, z, channels]`,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      preset: { type: 'string' },
      levels: { type: 'string' },
      'base-filters': { type: 'string' },
      padding: { type: 'string' },
      'in-channels': { type: 'string' },
      classes: { type: 'string' },
      input: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const config = configFromOptions(values);
    const preset = (values.preset ?? 'fast') as keyof typeof PRESET_INPUT_SIZE;
    let inputZyx: [number, number, number];
    try {
      if (values.input) {
        const [x, y, z] = parseTriple(values.input, '--input');
        inputZyx = [z, y, x];
      } else {
        inputZyx = validInputSize(config, PRESET_INPUT_SIZE[preset]);
      }
      const summary = summarizeModel(config, inputZyx);
      process.stdout.write(values.json ? JSON.stringify(summary) + '\n' : formatModelSummary(summary));
    } catch (error) {
      if (error instanceof UNetConfigError) throw new UsageError(error.message);
      throw error;
    }
    return 0;
  },
};
