/**
 * Warm start: a run begins from the weights of an earlier run (its parent) instead of random
 * ones, so that a correction of a few slices costs seconds of training, not minutes. What must
 * not change is checked first, with a message that says what differs: the network's layout, the
 * image channels, whether coordinate and annotation channels are given. Classes may be added: each
 * new class gets a fresh output channel, and (with annotation channels) a new one-hot input
 * channel whose weights start at zero, so the network computes what its parent computed for the
 * old classes until training moves it.
 */
import * as path from 'node:path';
import { resolveFilters, type UNetConfig } from '../protocol/network';
import type { RunParent, RunRecord } from '../protocol/run';
import { createUNet, loadUNet, type UNet } from './model';
import { readRunRecord } from './runFolder';
import type { AnnotatedSlice } from '../core/sparseSplit';
import { tf } from './tf';

/** A parent run that this run cannot start from, and why. */
export class WarmStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WarmStartError';
  }
}

/** What the new run is: its network and the channels its data gives. */
export interface WarmStartTarget {
  config: UNetConfig;
  /** Channels of the images themselves (frames of a 4D image). */
  imageChannels: number;
  coordinateChannels: boolean;
  annotationChannels: boolean;
}

/** The parent's checkpoint to load: the best, else the last. */
function parentCheckpoint(dir: string, record: RunRecord): { modelDir: string; checkpoint: 'best' | 'last'; iteration: number; meanForegroundIoU?: number | null } {
  const best = record.checkpoints.best;
  const last = record.checkpoints.last;
  const chosen = best ? { c: best, kind: 'best' as const } : last ? { c: last, kind: 'last' as const } : undefined;
  if (!chosen) throw new WarmStartError(`the run ${path.basename(dir)} has no checkpoint to start from (status: ${record.status})`);
  return { modelDir: path.join(dir, chosen.c.dir), checkpoint: chosen.kind, iteration: chosen.c.iteration, meanForegroundIoU: chosen.c.meanForegroundIoU };
}

const describeNet = (c: UNetConfig) => `${c.levels} levels, filters ${resolveFilters(c).map((f) => f.join('/')).join(' ')}, ${c.padding} padding${c.batchNorm ? '' : ', no batch norm'}`;

/** Why `target` cannot start from the parent run (recorded as `parent`), or undefined when it can. */
export function warmStartProblem(parent: RunRecord, parentName: string, target: WarmStartTarget): string | undefined {
  const net = parent.network;
  if (!net) return `the run ${parentName} never built its network (status: ${parent.status})`;
  const from = `the run ${parentName}`;
  if (describeNet(net) !== describeNet(target.config)) return `${from} has another network (${describeNet(net)}; this run: ${describeNet(target.config)}): train from scratch, or with the parent's preset and size`;
  const parentImageChannels = parent.volumes[0]?.channels;
  if (parentImageChannels !== undefined && parentImageChannels !== target.imageChannels) {
    return `${from} learned from images with ${parentImageChannels} channel(s), these have ${target.imageChannels}: train from scratch`;
  }
  const coordinates = parent.settings.coordinateChannels === true;
  if (coordinates !== target.coordinateChannels) return `${from} ${coordinates ? 'read' : 'did not read'} coordinate channels and this run ${target.coordinateChannels ? 'does' : 'does not'}: give both the same setting, or train from scratch`;
  const annotations = parent.settings.annotationChannels === true;
  if (annotations !== target.annotationChannels) return `${from} ${annotations ? 'read' : 'did not read'} annotation channels and this run ${target.annotationChannels ? 'does' : 'does not'}: give both the same setting, or train from scratch`;
  if ((net.positionChannels ?? 0) !== (target.config.positionChannels ?? 0)) return `${from} fed positions to its synthesis blocks differently (--no-position-skip): give both the same setting, or train from scratch`;
  if (Boolean(net.annotationResidual) !== Boolean(target.config.annotationResidual)) return `${from} ${net.annotationResidual ? 'had' : 'had no'} a trust map on its logits and this run ${target.config.annotationResidual ? 'has' : 'has not'} (--no-annotation-residual): give both the same setting`;
  if (target.config.classes < net.classes) return `${from} has ${net.classes} classes and these labels ${target.config.classes}: a class cannot be taken away from a trained network; train from scratch`;
  return undefined;
}

/**
 * Where each of the parent's input channels goes in the new network's input: annotation channels
 * (one per class, then the nearness) come first, so a class added moves the later ones along.
 */
export function inputChannelMap(parent: UNetConfig, target: UNetConfig, annotationChannels: boolean): number[] {
  const added = target.classes - parent.classes;
  return Array.from({ length: parent.inChannels }, (_, p) => (annotationChannels && p >= parent.classes ? p + added : p));
}

/**
 * The new network, with the parent's weights wherever they belong: every variable of the same
 * shape as is; the first convolution's kernel through the input channel map (new input channels
 * at zero); the final convolution's kernel and bias for the parent's classes (new classes keep a
 * fresh initialization). Anything else that differs is an error (warmStartProblem checks first).
 */
export function transferWeights(parentNet: UNet, target: UNetConfig, annotationChannels: boolean, seed: number): UNet {
  const net = createUNet(target, seed);
  const map = inputChannelMap(parentNet.config, target, annotationChannels);
  try {
    for (const [name, variable] of net.namedVariables) {
      const from = parentNet.namedVariables.get(name);
      if (!from) throw new WarmStartError(`the parent network has no weight ${name}`);
      if (from.shape.join() === variable.shape.join()) {
        variable.assign(from);
        continue;
      }
      variable.assign(tf.tidy(() => reshapeWeight(name, from, variable, map)));
    }
    return net;
  } catch (error) {
    net.dispose();
    throw error;
  }
}

function reshapeWeight(name: string, from: tf.Variable, to: tf.Variable, inputMap: number[]): tf.Tensor {
  const mismatch = () => new WarmStartError(`the parent's weight ${name} is [${from.shape.join(', ')}], this network needs [${to.shape.join(', ')}]`);
  if (name === 'enc0/conv1/kernel' && from.rank === 5 && from.shape.slice(0, 3).join() === to.shape.slice(0, 3).join() && from.shape[4] === to.shape[4]) {
    // Input channels: the parent's where the map puts them, zeros for the new ones.
    const [k1, k2, k3, cin, cout] = to.shape as number[];
    const parts: tf.Tensor[] = [];
    const inverse = new Map(inputMap.map((c, p) => [c, p]));
    for (let c = 0; c < cin; c++) {
      const p = inverse.get(c);
      parts.push(p === undefined ? tf.zeros([k1, k2, k3, 1, cout]) : tf.slice(from, [0, 0, 0, p, 0], [k1, k2, k3, 1, cout]));
    }
    return tf.concat(parts, 3);
  }
  const lastFrom = from.shape[from.rank - 1] ?? 0;
  const lastTo = to.shape[to.rank - 1] ?? 0;
  if (name === 'final/kernel' && from.rank === 5 && from.shape.slice(0, 4).join() === to.shape.slice(0, 4).join() && lastTo > lastFrom) {
    const fresh = tf.slice(to, [0, 0, 0, 0, lastFrom], [-1, -1, -1, -1, lastTo - lastFrom]);
    return tf.concat([from, fresh], 4);
  }
  const [kept, wanted] = [lastFrom, lastTo];
  if (name === 'final/bias' && from.rank === 1 && wanted > kept) {
    return tf.concat([from, tf.slice(to, [kept], [wanted - kept])], 0);
  }
  throw mismatch();
}

/**
 * Per training volume, the annotated slices the parent run had (its training and held-out slices),
 * matched by image path; undefined for a volume the parent did not train on, and for all of them
 * when the parent cannot be read (warmStart then says why).
 */
export function parentSlices(dir: string, images: readonly string[]): (AnnotatedSlice[] | undefined)[] | undefined {
  let record: RunRecord;
  try {
    record = readRunRecord(path.resolve(dir));
  } catch {
    return undefined;
  }
  return images.map((image) => {
    const v = record.volumes.find((r) => path.resolve(r.image.path) === path.resolve(image));
    return v ? [...v.trainingSlices, ...v.validationSlices] : undefined;
  });
}

/**
 * Whether held-out slices of this run were seen by its parent: it trained on them, as training
 * slices or in its refit on every slice.
 */
export function heldOutSeenByParent(parent: RunRecord, volumes: readonly { image: string; validationSlices: readonly AnnotatedSlice[] }[]): boolean {
  return volumes.some(({ image, validationSlices }) => {
    if (validationSlices.length === 0) return false;
    const v = parent.volumes.find((r) => path.resolve(r.image.path) === path.resolve(image));
    if (!v) return false;
    const seen = parent.refit?.done ? [...v.trainingSlices, ...v.validationSlices] : v.trainingSlices;
    return validationSlices.some((s) => seen.some((t) => t.axis === s.axis && t.index === s.index));
  });
}

/**
 * Loads the parent run `dir` and builds the new network from it (see transferWeights). Throws a
 * WarmStartError saying what differs when it cannot.
 */
export async function warmStart(dir: string, target: WarmStartTarget, seed: number): Promise<{ net: UNet; parent: RunParent; record: RunRecord }> {
  const parentDir = path.resolve(dir);
  let record: RunRecord;
  try {
    record = readRunRecord(parentDir);
  } catch (error) {
    throw new WarmStartError(`cannot start from ${parentDir}: ${(error as Error).message}`);
  }
  const problem = warmStartProblem(record, path.basename(parentDir), target);
  if (problem) throw new WarmStartError(`cannot start from ${problem}`);
  const checkpoint = parentCheckpoint(parentDir, record);
  const parentNet = await loadUNet(checkpoint.modelDir);
  try {
    const net = transferWeights(parentNet, target.config, target.annotationChannels, seed);
    return {
      net,
      parent: {
        runDir: parentDir,
        checkpoint: checkpoint.checkpoint,
        iteration: checkpoint.iteration,
        meanForegroundIoU: checkpoint.meanForegroundIoU,
        classesAdded: target.config.classes - parentNet.config.classes,
      },
      record,
    };
  } finally {
    parentNet.dispose();
  }
}
