/**
 * A network's layer table for people and for JSON: shapes in x, y, z, channels order (the order
 * volume dimensions are given in, e.g. the paper's 132×132×116), from the engine's z, y, x order.
 * Needs no TensorFlow.js.
 */
import { plural } from '../core/words';
import { countParameters, describeNetwork, outputSizeFor, resolveFilters, type UNetConfig } from './network';

/** What `unet3d model --json` prints. Every shape is [x, y, z, channels] for batch 1. */
export interface ModelSummary {
  parameters: number;
  inputShape: number[];
  outputShape: number[];
  shapeOrder: 'x,y,z,channels';
  config: UNetConfig & { filters: [number, number][] };
  /** Forward-pass floating-point operations for one input (a multiply-add counts 2). */
  forwardFlops: number;
  layers: { name: string; kind: string; outputShape: number[]; parameters: number }[];
}

const toXyz = (zyxc: number[]) => [zyxc[2], zyxc[1], zyxc[0], ...zyxc.slice(3)];

/** The summary for an input of [z, y, x] voxels. */
export function summarizeModel(config: UNetConfig, inputZyx: [number, number, number]): ModelSummary {
  const rows = describeNetwork(config, inputZyx);
  const out = outputSizeFor(config, inputZyx);
  return {
    parameters: countParameters(config),
    inputShape: toXyz([...inputZyx, config.inChannels]),
    outputShape: toXyz([...out, config.classes]),
    shapeOrder: 'x,y,z,channels',
    config: { ...config, filters: resolveFilters(config) },
    forwardFlops: rows.reduce((s, r) => s + r.flops, 0),
    layers: rows.map((r) => ({ name: r.name, kind: r.kind, outputShape: toXyz(r.outputShape), parameters: r.parameters })),
  };
}

/** The summary as a table. */
export function formatModelSummary(s: ModelSummary): string {
  const shape = (v: number[]) => `${v.slice(0, 3).join(' × ')} × ${v[3]}`;
  const nameWidth = Math.max(5, ...s.layers.map((l) => l.name.length));
  const kindWidth = Math.max(4, ...s.layers.map((l) => l.kind.length));
  const shapeWidth = Math.max(16, ...s.layers.map((l) => shape(l.outputShape).length));
  const c = s.config;
  const lines = [
    `3D U-Net: ${c.levels} levels, filters ${c.filters.map((f) => f.join(',')).join(' | ')}, '${c.padding}' padding${c.batchNorm ? ', batch norm' : ''}, ${plural(c.inChannels, 'input channel')}, ${plural(c.classes, 'class', 'classes')}`,
    `${'layer'.padEnd(nameWidth)}  ${'kind'.padEnd(kindWidth)}  ${'output x×y×z×c'.padEnd(shapeWidth)}  ${'parameters'.padStart(11)}`,
    ...s.layers.map((l) => `${l.name.padEnd(nameWidth)}  ${l.kind.padEnd(kindWidth)}  ${shape(l.outputShape).padEnd(shapeWidth)}  ${l.parameters.toLocaleString('en-US').padStart(11)}`),
    `input   ${shape(s.inputShape)} (x × y × z × channels)`,
    `output  ${shape(s.outputShape)} (x × y × z × classes)`,
    `parameters ${s.parameters.toLocaleString('en-US')} (convolutions with bias, up-convolutions without, batch norm not counted)`,
    `forward pass ${(s.forwardFlops / 1e9).toFixed(1)} GFLOP per input`,
  ];
  return lines.join('\n') + '\n';
}
