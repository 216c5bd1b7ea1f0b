/**
 * The 3D U-Net's configuration, presets and the arithmetic of its shapes and parameter counts:
 * everything about the network that needs no TensorFlow.js. Part of the engine's contract: the
 * extension, the CLI and the engine all read it.
 */

/** A convolution's padding: 'valid' (the paper's; the output shrinks) or 'same'. */
export type Padding = 'valid' | 'same';

/** A 3D U-Net. Tensors are NDHWC: [batch, z, y, x, channels]. */
export interface UNetConfig {
  /** Resolution levels (paper: 4). */
  levels: number;
  /** Filters of the first conv (paper: 32); doubling per level. */
  baseFilters: number;
  padding: Padding;
  /** BN before each ReLU. */
  batchNorm: boolean;
  inChannels: number;
  /** Classes, including background. */
  classes: number;
  /** Optional explicit channel counts per level [first conv, second conv]; overrides baseFilters. */
  filters?: [number, number][];
  /**
   * How baseFilters F grows when `filters` is not given: 'paper' (the default) gives level l the
   * convolutions F·2^l, F·2^(l+1) (32,64 | 64,128 | ...); 'flat' gives F·2^l, F·2^l (16,16 | 32,32 | ...).
   */
  filterPattern?: 'paper' | 'flat';
  /**
   * The last this many input channels hold each voxel's position (coordinate channels). Each
   * synthesis block reads them again, max-pooled to its level's grid (a half-voxel shift per
   * level, no matter for a smooth ramp): there a convolution and its ReLU can gate what the
   * features recognise by where it lies (left or right lung, which level of the spine), which
   * the first layer alone, before any feature exists, cannot. Default 0.
   */
  positionChannels?: number;
  /**
   * The first this many input channels hold the nearest annotation's class, one-hot, one per
   * class (annotation channels; it must equal `classes`). A 1×1×1 convolution beside the final
   * one gives a trust map t ≥ 0 (softplus), and the logits become the final convolution's plus
   * t × that one-hot: how far to follow the annotations is learned once for all classes, so a
   * class seen as a target on one slice only is still carried from its annotations elsewhere.
   * Default 0.
   */
  annotationResidual?: number;
}

export type PresetName = 'paper' | 'fast' | 'bench';

export const PRESETS: Record<PresetName, UNetConfig> = {
  /** The paper's network: 19,069,955 parameters, 132×132×116 (x×y×z) in, 44×44×28 out. */
  paper: { levels: 4, baseFilters: 32, filterPattern: 'paper', padding: 'valid', batchNorm: true, inChannels: 3, classes: 3 },
  /** Sized for a CPU: 3 levels of 16,16 | 32,32 | 64,64 filters, 'same' padding, BN. */
  fast: { levels: 3, baseFilters: 16, filterPattern: 'flat', padding: 'same', batchNorm: true, inChannels: 1, classes: 2 },
  /** The benchmark network (docs/benchmarks.md): as `fast`, 2 classes, run at 64³. */
  bench: { levels: 3, baseFilters: 16, filterPattern: 'flat', padding: 'same', batchNorm: true, inChannels: 1, classes: 2 },
};

/** Each preset's usual input size, [z, y, x] (tensor order). */
export const PRESET_INPUT_SIZE: Record<PresetName, [number, number, number]> = {
  paper: [116, 132, 132],
  fast: [64, 64, 64],
  bench: [64, 64, 64],
};

/** The presets in the order pickers list them. */
export const PRESET_NAMES: readonly PresetName[] = ['fast', 'paper', 'bench'];

/**
 * How the Train pick shows each preset: a few words beside its name and one short line under it
 * (a quick pick cuts a line at about 80 characters).
 */
export const PRESET_PICK: Record<PresetName, { summary: string; detail: string }> = {
  fast: { summary: 'sized for a CPU', detail: '3 levels, 16–64 filters, same padding' },
  paper: { summary: '19 M parameters, wants a GPU', detail: "The paper's network: 4 levels, 32–512 filters, valid padding" },
  bench: { summary: 'for speed comparisons', detail: 'The network of the published speed figures (as fast)' },
};

/** One line per preset, for the setting's enumDescriptions. */
export const PRESET_DESCRIPTIONS: Record<PresetName, string> = Object.fromEntries(
  Object.entries(PRESET_PICK).map(([name, p]) => [name, `${p.detail}: ${p.summary}`]),
) as Record<PresetName, string>;

export function isPresetName(text: string): text is PresetName {
  return Object.prototype.hasOwnProperty.call(PRESETS, text);
}

/** One row of UNet.describe. */
export interface LayerRow {
  name: string;
  kind: string;
  /** [d, h, w, channels] (z, y, x, channels) for batch 1. */
  outputShape: number[];
  parameters: number;
  /** Floating-point operations of this layer's forward pass for batch 1 (a multiply-add is 2). */
  flops: number;
}

/** Thrown for a configuration or an input size the network cannot take. */
export class UNetConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UNetConfigError';
  }
}

/** The [first conv, second conv] channel counts of each analysis level. */
export function resolveFilters(config: UNetConfig): [number, number][] {
  if (config.filters) return config.filters.map(([a, b]) => [a, b]);
  const f = config.baseFilters;
  const flat = config.filterPattern === 'flat';
  return Array.from({ length: config.levels }, (_, l) => [f * 2 ** l, flat ? f * 2 ** l : f * 2 ** (l + 1)] as [number, number]);
}

export function validateConfig(config: UNetConfig): void {
  const positiveInt = (v: number, what: string, min = 1) => {
    if (!Number.isInteger(v) || v < min) throw new UNetConfigError(`${what} must be an integer ≥ ${min}, not ${v}`);
  };
  positiveInt(config.levels, 'levels');
  if (config.levels > 8) throw new UNetConfigError(`levels must be at most 8, not ${config.levels}`);
  positiveInt(config.baseFilters, 'baseFilters');
  positiveInt(config.inChannels, 'inChannels');
  positiveInt(config.classes, 'classes', 2);
  if (config.padding !== 'valid' && config.padding !== 'same') throw new UNetConfigError(`padding must be 'valid' or 'same', not '${String(config.padding)}'`);
  if (config.filterPattern !== undefined && config.filterPattern !== 'paper' && config.filterPattern !== 'flat') {
    throw new UNetConfigError(`filterPattern must be 'paper' or 'flat', not '${String(config.filterPattern)}'`);
  }
  const positions = config.positionChannels ?? 0;
  if (!Number.isInteger(positions) || positions < 0 || positions >= config.inChannels) {
    throw new UNetConfigError(`positionChannels must be an integer from 0 to ${config.inChannels - 1} (fewer than the input channels), not ${positions}`);
  }
  const residual = config.annotationResidual ?? 0;
  if (residual !== 0 && residual !== config.classes) throw new UNetConfigError(`annotationResidual must be 0 or the number of classes (${config.classes}), not ${residual}`);
  if (residual + positions > config.inChannels) throw new UNetConfigError(`annotationResidual (${residual}) and positionChannels (${positions}) need more than the ${config.inChannels} input channels`);
  if (config.filters) {
    if (config.filters.length !== config.levels) throw new UNetConfigError(`filters lists ${config.filters.length} levels, the network has ${config.levels}`);
    config.filters.forEach(([a, b], l) => {
      positiveInt(a, `filters[${l}][0]`);
      positiveInt(b, `filters[${l}][1]`);
    });
  }
}

/** A spec of each variable: its name (without the instance prefix), shape, whether trained, and how it starts. */
export interface VariableSpec {
  name: string;
  shape: number[];
  trainable: boolean;
  /** He-normal fan-in for kernels; for the others the constant they start at. */
  init: { fanIn: number } | { constant: number };
}

/** The trust map's bias at the start (see variableSpecs). */
export const INITIAL_TRUST = 3;

/** The variables of a network with this config, in a fixed order. */
export function variableSpecs(config: UNetConfig): VariableSpec[] {
  const filters = resolveFilters(config);
  const specs: VariableSpec[] = [];
  const conv = (name: string, k: number, cin: number, cout: number, bn: boolean, bias = 0) => {
    specs.push({ name: `${name}/kernel`, shape: [k, k, k, cin, cout], trainable: true, init: { fanIn: k * k * k * cin } });
    specs.push({ name: `${name}/bias`, shape: [cout], trainable: true, init: { constant: bias } });
    if (bn) {
      specs.push({ name: `${name}/bn/gamma`, shape: [cout], trainable: true, init: { constant: 1 } });
      specs.push({ name: `${name}/bn/beta`, shape: [cout], trainable: true, init: { constant: 0 } });
      specs.push({ name: `${name}/bn/moving_mean`, shape: [cout], trainable: false, init: { constant: 0 } });
      specs.push({ name: `${name}/bn/moving_variance`, shape: [cout], trainable: false, init: { constant: 1 } });
    }
  };
  let channels = config.inChannels;
  for (let l = 0; l < config.levels; l++) {
    conv(`enc${l}/conv1`, 3, channels, filters[l][0], config.batchNorm);
    conv(`enc${l}/conv2`, 3, filters[l][0], filters[l][1], config.batchNorm);
    channels = filters[l][1];
  }
  for (let l = config.levels - 2; l >= 0; l--) {
    // The up-convolution keeps the channel count (the paper's 512, 256, 128 filters).
    specs.push({ name: `up${l}/kernel`, shape: [2, 2, 2, channels, channels], trainable: true, init: { fanIn: channels } });
    conv(`dec${l}/conv1`, 3, filters[l][1] + channels + (config.positionChannels ?? 0), filters[l][1], config.batchNorm);
    conv(`dec${l}/conv2`, 3, filters[l][1], filters[l][1], config.batchNorm);
    channels = filters[l][1];
  }
  conv('final', 1, channels, config.classes, false);
  if ((config.annotationResidual ?? 0) > 0) {
    // The trust starts high (softplus(INITIAL_TRUST) ≈ 3): a fresh network already leans on the
    // nearest annotation, and training learns where to follow it less. From softplus(0) ≈ 0.7 the
    // chest CT's first 30 s scored far below that annotation alone (docs/quality.md).
    conv('trust', 1, channels, 1, false, INITIAL_TRUST);
  }
  return specs;
}

/** The output size [d, h, w] for an input size [d, h, w], without creating the network; throws if invalid. */
export function outputSizeFor(config: UNetConfig, input: [number, number, number]): [number, number, number] {
  validateConfig(config);
  return input.map((s, axis) => outputLength(config, s, ['z', 'y', 'x'][axis])) as [number, number, number];
}

/** The smallest input size ≥ `atLeast` (per axis) that the network takes. */
export function validInputSize(config: UNetConfig, atLeast: [number, number, number]): [number, number, number] {
  validateConfig(config);
  return atLeast.map((s) => {
    for (let t = Math.max(1, s); t < s + 64 * 2 ** config.levels; t++) if (validOutput(config, t) !== undefined) return t;
    throw new UNetConfigError(`no input size near ${s} fits this network`);
  }) as [number, number, number];
}

/** The output length along one axis for an input length, or a UNetConfigError saying why none. */
export function outputLength(config: UNetConfig, input: number, axis = 'an axis', suggest = true): number {
  const { levels, padding } = config;
  if (!Number.isInteger(input) || input < 1) throw new UNetConfigError(`input size along ${axis} must be a positive integer, not ${input}`);
  const factor = 2 ** (levels - 1);
  if (padding === 'same') {
    if (input % factor !== 0) {
      throw new UNetConfigError(`input size ${input} along ${axis} does not fit a ${levels}-level U-Net with 'same' padding: it must be a multiple of ${factor}`);
    }
    return input;
  }
  const invalid = (why: string) =>
    new UNetConfigError(
      `input size ${input} along ${axis} does not fit a ${levels}-level U-Net with 'valid' padding: ${why}` + (suggest ? `; the nearest sizes that fit are ${nearestValid(config, input)}` : ''),
    );
  let s = input;
  const skips: number[] = [];
  for (let l = 0; l < levels - 1; l++) {
    s -= 4;
    if (s < 2) throw invalid(`it shrinks to ${s} at level ${l + 1}`);
    if (s % 2 !== 0) throw invalid(`it reaches the pooling of level ${l + 1} at odd size ${s}`);
    skips.push(s);
    s /= 2;
  }
  s -= 4;
  if (s < 1) throw invalid(`it shrinks to ${s} at the bottom level`);
  for (let l = levels - 2; l >= 0; l--) {
    s = 2 * s - 4;
    if (s < 1) throw invalid(`it shrinks to ${s} in the synthesis path`);
  }
  return s;
}

function validOutput(config: UNetConfig, input: number): number | undefined {
  try {
    return outputLength(config, input, undefined, false);
  } catch {
    return undefined;
  }
}

function nearestValid(config: UNetConfig, input: number): string {
  const found: number[] = [];
  for (let d = 1; d < 4096 && found.length < 2; d++) {
    for (const s of [input - d, input + d]) if (s > 0 && validOutput(config, s) !== undefined && found.length < 2) found.push(s);
  }
  return found.sort((a, b) => a - b).join(' and ');
}

/** The smallest input length whose output length is at least `output`. */
export function inputLengthFor(config: UNetConfig, output: number): number {
  if (!Number.isInteger(output) || output < 1) throw new UNetConfigError(`output size must be a positive integer, not ${output}`);
  if (config.padding === 'same') {
    const factor = 2 ** (config.levels - 1);
    return Math.ceil(output / factor) * factor;
  }
  for (let s = output; s < output + 64 * 2 ** config.levels; s++) {
    const o = validOutput(config, s);
    if (o !== undefined && o >= output) return s;
  }
  throw new UNetConfigError(`no input size gives an output of ${output}`);
}

/**
 * How far along one axis the output of a 'same'-padded network at a position reads its input:
 * `before[r]` and `after[r]` voxels on either side of an output voxel whose position in the tile
 * is r modulo 2^(levels − 1) (the pooling grid starts at the tile's first voxel, so the reach
 * depends on where in a pooling cell the voxel lies). A tile that holds those voxels on both sides
 * of a position gives it exactly the output a larger tile with the same pooling grid would: no
 * zero of the padding reaches it. Traced through the layers of model.ts: two 3×3×3 convolutions
 * per block, 2×2×2 max pooling, 2×2×2 stride-2 up-convolutions, the final 1×1×1 convolutions.
 */
export function sameReceptiveReach(levels: number): { before: number[]; after: number[] } {
  type Span = [number, number];
  const widen = ([lo, hi]: Span, by: number): Span => [lo - by, hi + by];
  const join = (a: Span, b: Span): Span => [Math.min(a[0], b[0]), Math.max(a[1], b[1])];
  // The level-0 input voxels feeding an analysis block's output at level l on `span`.
  const analysis = (l: number, span: Span): Span => {
    const inputs = widen(span, 2);
    return l === 0 ? inputs : analysis(l - 1, [2 * inputs[0], 2 * inputs[1] + 1]);
  };
  // … and a synthesis block's (the bottleneck's at the deepest level), position channels included.
  const synthesis = (l: number, span: Span): Span => {
    if (l === levels - 1) return analysis(l, span);
    const inputs = widen(span, 2);
    const positions: Span = [inputs[0] * 2 ** l, inputs[1] * 2 ** l + 2 ** l - 1];
    const up = synthesis(l + 1, [Math.floor(inputs[0] / 2), Math.floor(inputs[1] / 2)]);
    return join(join(analysis(l, inputs), up), positions);
  };
  const cell = 2 ** (levels - 1);
  const before: number[] = [];
  const after: number[] = [];
  for (let r = 0; r < cell; r++) {
    // Far enough from the tile's start that no floor goes below 0 on the way.
    const p = r + 64 * cell;
    const [lo, hi] = synthesis(0, [p, p]);
    before.push(p - lo);
    after.push(hi - p);
  }
  return { before, after };
}

/** Parameters counted the paper's way (BN not counted), without creating the network. */
export function countParameters(config: UNetConfig): number {
  validateConfig(config);
  return variableSpecs(config)
    .filter((s) => !s.name.includes('/bn/'))
    .reduce((sum, s) => sum + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** The layer table of a network with this config for an input [d, h, w], without creating it. */
export function describeNetwork(config: UNetConfig, input: [number, number, number]): LayerRow[] {
  validateConfig(config);
  const filters = resolveFilters(config);
  const shrink = config.padding === 'valid' ? 2 : 0;
  const act = config.batchNorm ? ' + BN + ReLU' : ' + ReLU';
  const rows: LayerRow[] = [{ name: 'input', kind: 'input', outputShape: [...input, config.inChannels], parameters: 0, flops: 0 }];
  const voxels = () => size[0] * size[1] * size[2];
  let size = [...input];
  let channels = config.inChannels;
  const conv = (name: string, cout: number, k = 3, kind = `conv ${k}×${k}×${k}${act}`) => {
    size = size.map((s) => s - (k === 3 ? shrink : 0));
    rows.push({ name, kind, outputShape: [...size, cout], parameters: k ** 3 * channels * cout + cout, flops: 2 * k ** 3 * channels * cout * voxels() });
    channels = cout;
  };
  // Check the size first, for a clear error.
  input.forEach((s, axis) => outputLength(config, s, ['z', 'y', 'x'][axis]));
  const skipSizes: number[][] = [];
  const positions = config.positionChannels ?? 0;
  for (let l = 0; l < config.levels; l++) {
    conv(`enc${l}/conv1`, filters[l][0]);
    conv(`enc${l}/conv2`, filters[l][1]);
    if (l < config.levels - 1) {
      skipSizes.push([...size]);
      size = size.map((s) => Math.floor(s / 2));
      rows.push({ name: `pool${l}`, kind: 'max pool 2×2×2', outputShape: [...size, channels], parameters: 0, flops: 0 });
    }
  }
  for (let l = config.levels - 2; l >= 0; l--) {
    size = size.map((s) => 2 * s);
    // Each output voxel of the up-convolution sums one tap over the input channels.
    rows.push({ name: `up${l}`, kind: 'up-conv 2×2×2, stride 2', outputShape: [...size, channels], parameters: 8 * channels * channels, flops: 2 * channels * channels * voxels() });
    const skip = filters[l][1];
    const cropped = skipSizes[l].some((s, i) => s !== size[i]);
    const what = (cropped ? `crop enc${l} + concat` : `concat enc${l}`) + (positions > 0 ? ` + ${positions} position channels` : '');
    rows.push({ name: `concat${l}`, kind: what, outputShape: [...size, skip + channels + positions], parameters: 0, flops: 0 });
    channels += skip + positions;
    conv(`dec${l}/conv1`, filters[l][1]);
    conv(`dec${l}/conv2`, filters[l][1]);
  }
  if ((config.annotationResidual ?? 0) > 0) {
    const features = channels;
    conv('trust', 1, 1, 'conv 1×1×1 + softplus (trust in the annotations)');
    channels = features;
    conv('final', config.classes, 1, `conv 1×1×1 + trust × annotation one-hot (logits)`);
  } else conv('final', config.classes, 1, 'conv 1×1×1 (logits)');
  return rows;
}
