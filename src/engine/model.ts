/**
 * The 3D U-Net of Çiçek et al. (MICCAI 2016): an analysis path of 3×3×3 convolutions (each followed
 * by batch norm and ReLU) and 2×2×2 max pooling, a synthesis path of 2×2×2 stride-2 up-convolutions,
 * skip connections (centre-cropped with 'valid' padding) and 3×3×3 convolutions, and a final
 * 1×1×1 convolution to the classes. Tensors are NDHWC: [batch, z, y, x, channels].
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomicWrite';
import { makeFolders } from '../core/folders';
import { networkOps, type BatchNormParams } from './ops';
import { tf, type Tensor, type Tensor1D, type Tensor5D, type Variable } from './tf';
import { countParameters, describeNetwork, inputLengthFor, outputLength, UNetConfigError, validateConfig, variableSpecs, type LayerRow, type UNetConfig, type VariableSpec } from '../protocol/network';

export * from '../protocol/network';

export interface UNet {
  readonly config: UNetConfig;
  /** Logits [N, D', H', W', classes]; `training` uses batch statistics and updates BN moving averages. */
  apply(input: tf.Tensor5D, training: boolean, options?: ApplyOptions): tf.Tensor5D;
  /** Trainable variables (what the optimizer updates). */
  readonly trainableVariables: tf.Variable[];
  /** Every variable (batch-norm statistics included) by its name in variableSpecs, e.g. `enc0/conv1/kernel`. */
  readonly namedVariables: ReadonlyMap<string, tf.Variable>;
  /** Output spatial size for an input size [d,h,w] (same-padding: equal; valid: smaller); throws if invalid. */
  outputSize(input: [number, number, number]): [number, number, number];
  /** Smallest valid input >= the requested output size (valid padding needs specific sizes). */
  inputSizeFor(output: [number, number, number]): [number, number, number];
  /** Parameters counted the paper's way (conv + bias, up-conv without bias, final 1×1×1 with bias; BN not counted). */
  parameterCount(): number;
  /** Layer table: name, kind, output shape [d, h, w, channels] for a given input size [d, h, w]. */
  describe(input: [number, number, number]): LayerRow[];
  /** Saves tfjs-format model.json + weights (all variables incl. BN moving stats) into dir. */
  save(dir: string): Promise<void>;
  dispose(): void;
}

/** How an inference pass decides, beyond the weights (a run's calibration, see calibrateDecision). */
export interface ApplyOptions {
  /**
   * Per class c, added to the trust map where the nearest annotation is class c (a network with
   * annotation channels, in inference only): how far the run follows each class's annotations
   * beyond what the trust map learned. Ignored by a network without a trust map.
   */
  annotationOffsets?: readonly number[];
}

/** One convolution's variables; bn is present when the network uses batch norm. */
interface ConvLayer {
  name: string;
  kernel: Variable;
  bias: Variable;
  bn?: BatchNormParams;
}

let instances = 0;

class UNet3D implements UNet {
  readonly config: UNetConfig;
  readonly trainableVariables: Variable[];
  private readonly variables = new Map<string, Variable>();
  private readonly prefix: string;
  private disposed = false;

  constructor(config: UNetConfig, initial: (spec: VariableSpec, index: number) => Tensor) {
    validateConfig(config);
    this.config = structuredClone(config);
    // tfjs registers variables by name, globally: keep each network's names apart.
    this.prefix = `unet${instances++}/`;
    const specs = variableSpecs(this.config);
    specs.forEach((spec, index) => {
      const value = initial(spec, index);
      this.variables.set(spec.name, tf.variable(value, spec.trainable, this.prefix + spec.name));
      value.dispose();
    });
    this.trainableVariables = specs.filter((s) => s.trainable).map((s) => this.variables.get(s.name)!);
  }

  get namedVariables(): ReadonlyMap<string, Variable> {
    return this.variables;
  }

  private variable(name: string): Variable {
    const v = this.variables.get(name);
    if (!v) throw new Error(`internal: no variable ${name}`);
    return v;
  }

  private conv(name: string): ConvLayer {
    const layer: ConvLayer = { name, kernel: this.variable(`${name}/kernel`), bias: this.variable(`${name}/bias`) };
    // The 1×1×1 convolutions (final, trust) have no batch norm: variableSpecs gives them none.
    if (this.variables.has(`${name}/bn/gamma`)) {
      layer.bn = {
        gamma: this.variable(`${name}/bn/gamma`),
        beta: this.variable(`${name}/bn/beta`),
        movingMean: this.variable(`${name}/bn/moving_mean`),
        movingVariance: this.variable(`${name}/bn/moving_variance`),
      };
    }
    return layer;
  }

  apply(input: Tensor5D, training: boolean, options: ApplyOptions = {}): Tensor5D {
    if (this.disposed) throw new Error('this network was disposed');
    if (input.rank !== 5) throw new UNetConfigError(`the input must be [batch, z, y, x, channels], not of shape [${input.shape.join(', ')}]`);
    if (input.shape[4] !== this.config.inChannels) {
      throw new UNetConfigError(`the network takes ${this.config.inChannels} input channel(s), the input has ${input.shape[4]}`);
    }
    this.outputSize([input.shape[1], input.shape[2], input.shape[3]]);
    const ops = networkOps();
    const { levels, padding } = this.config;
    const block = (name: string, inputs: Tensor5D[]): Tensor5D => {
      const layer = this.conv(name);
      if (layer.bn && !training && ops.convBatchNormRelu) return ops.convBatchNormRelu(inputs, layer.kernel as Tensor as Tensor5D, layer.bias as Tensor as Tensor1D, padding, layer.bn);
      // The first convolution reads the input itself: no gradient flows into data.
      const y = ops.conv(inputs, layer.kernel as Tensor as Tensor5D, layer.bias as Tensor as Tensor1D, padding, { inputGradient: inputs[0] !== input });
      return layer.bn ? ops.batchNormRelu(y, layer.bn, training) : ops.relu(y);
    };
    const positionChannels = this.config.positionChannels ?? 0;
    const residual = this.config.annotationResidual ?? 0;
    return tf.tidy(() => {
      let x = input;
      const skips: Tensor5D[] = [];
      // The position channels on each level's grid (level 0: as given), for the synthesis blocks.
      const positions: Tensor5D[] = [];
      if (positionChannels > 0) {
        positions.push(inputChannels(input, input.shape[4] - positionChannels, positionChannels));
        for (let l = 1; l < levels - 1; l++) positions.push(ops.maxPool(positions[l - 1]));
      }
      // In inference each activation is freed once used (tidy would keep all until the end): a
      // large tile then needs the skip connections plus one layer's tensors, not the whole pass.
      const free = (...ts: Tensor5D[]) => {
        if (!training) for (const t of ts) if (t !== input) t.dispose();
      };
      for (let l = 0; l < levels; l++) {
        const first = block(`enc${l}/conv1`, [x]);
        free(x);
        x = block(`enc${l}/conv2`, [first]);
        free(first);
        if (l < levels - 1) {
          skips.push(x);
          x = ops.maxPool(x);
        }
      }
      for (let l = levels - 2; l >= 0; l--) {
        const up = ops.upConv(x, this.variable(`up${l}/kernel`) as Tensor as Tensor5D);
        free(x);
        const inputs = positionChannels > 0 ? [skips[l], up, positions[l]] : [skips[l], up];
        const first = block(`dec${l}/conv1`, inputs);
        free(skips[l], up);
        x = block(`dec${l}/conv2`, [first]);
        free(first);
      }
      const final = this.conv('final');
      const logits = ops.conv([x], final.kernel as Tensor as Tensor5D, final.bias as Tensor as Tensor1D, 'valid');
      if (residual === 0) {
        free(x);
        return logits;
      }
      const trust = this.conv('trust');
      const t = tf.softplus(ops.conv([x], trust.kernel as Tensor as Tensor5D, trust.bias as Tensor as Tensor1D, 'valid'));
      const oneHot = annotationOneHot(input, residual, logits.shape);
      const trusted = tf.add(logits, tf.mul(t, oneHot)) as Tensor5D;
      const offsets = training ? undefined : options.annotationOffsets;
      if (!offsets || offsets.every((o) => o === 0)) return trusted;
      if (offsets.length !== residual) throw new RangeError(`${offsets.length} annotation offsets for a network of ${residual} classes`);
      return tf.add(trusted, tf.mul(oneHot, tf.tensor1d([...offsets]))) as Tensor5D;
    });
  }

  outputSize(input: [number, number, number]): [number, number, number] {
    return input.map((s, axis) => outputLength(this.config, s, ['z', 'y', 'x'][axis])) as [number, number, number];
  }

  inputSizeFor(output: [number, number, number]): [number, number, number] {
    return output.map((o) => inputLengthFor(this.config, o)) as [number, number, number];
  }

  parameterCount(): number {
    return countParameters(this.config);
  }

  describe(input: [number, number, number]): LayerRow[] {
    return describeNetwork(this.config, input);
  }

  async save(dir: string): Promise<void> {
    makeFolders(dir);
    const named = [...this.variables].map(([name, variable]) => ({ name, tensor: variable as Tensor }));
    const { data, specs } = await tf.io.encodeWeights(named);
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(tf.io.concatenateArrayBuffers(data));
    writeFileAtomic(path.join(dir, WEIGHTS_FILE), bytes);
    const modelJson: UNetModelJson = {
      format: MODEL_FORMAT,
      formatVersion: 1,
      generatedBy: 'unet3d-vscode',
      modelTopology: { unet3d: this.config },
      weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
    };
    writeFileAtomic(path.join(dir, MODEL_FILE), JSON.stringify(modelJson, null, 1) + '\n');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}

/** Channels `[first, first + count)` of a 5-D input (the formulation's channel slice). */
function inputChannels(input: Tensor5D, first: number, count: number): Tensor5D {
  return networkOps().channels(input, first, count);
}

/** The first `classes` channels of `input` (the annotation one-hot) on the output grid `out`: centre-cropped for a 'valid' network. */
function annotationOneHot(input: Tensor5D, classes: number, out: number[]): Tensor5D {
  const [n, d, h, w] = input.shape;
  const oneHot = inputChannels(input, 0, classes);
  if (d === out[1] && h === out[2] && w === out[3]) return oneHot;
  return tf.slice(oneHot, [0, (d - out[1]) / 2, (h - out[2]) / 2, (w - out[3]) / 2, 0], [n, out[1], out[2], out[3], classes]);
}

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';
const MODEL_FORMAT = 'unet3d';

/** model.json: the tfjs layout (modelTopology + weightsManifest) with our config as the topology. */
export interface UNetModelJson {
  format: typeof MODEL_FORMAT;
  formatVersion: 1;
  generatedBy: string;
  modelTopology: { unet3d: UNetConfig };
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** A new network with He-normal weights drawn from `seed` (the same seed gives the same weights). */
export function createUNet(config: UNetConfig, seed = 1): UNet {
  return new UNet3D(config, (spec, index) => {
    if ('constant' in spec.init) return tf.fill(spec.shape, spec.init.constant);
    // He (Kaiming) normal: std √(2 / fan-in), suited to ReLU.
    return tf.randomNormal(spec.shape, 0, Math.sqrt(2 / spec.init.fanIn), 'float32', seed * 1000 + index);
  });
}

/** Loads a network saved by UNet.save. */
export async function loadUNet(dir: string): Promise<UNet> {
  const modelFile = path.join(dir, MODEL_FILE);
  if (!fs.existsSync(modelFile)) throw new UNetConfigError(`no ${MODEL_FILE} in ${dir}`);
  let json: UNetModelJson;
  try {
    json = JSON.parse(fs.readFileSync(modelFile, 'utf8')) as UNetModelJson;
  } catch (error) {
    throw new UNetConfigError(`${modelFile} is not valid JSON: ${(error as Error).message}`);
  }
  if (json.format !== MODEL_FORMAT || !json.modelTopology?.unet3d || !Array.isArray(json.weightsManifest)) {
    throw new UNetConfigError(`${modelFile} is not a unet3d model (format "${String(json.format)}")`);
  }
  const specs = json.weightsManifest.flatMap((group) => group.weights);
  const buffers = json.weightsManifest.flatMap((group) =>
    group.paths.map((p) => {
      const file = path.join(dir, p);
      if (!fs.existsSync(file)) throw new UNetConfigError(`${modelFile} lists ${p}, which is missing`);
      const b = fs.readFileSync(file);
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
    }),
  );
  const expectedBytes = specs.reduce((sum, s) => sum + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
  const bytes = buffers.reduce((sum, b) => sum + b.byteLength, 0);
  if (specs.some((s) => s.dtype !== 'float32')) throw new UNetConfigError(`${modelFile}: only float32 weights are supported`);
  if (bytes !== expectedBytes) throw new UNetConfigError(`${dir}: the weights hold ${bytes} bytes, model.json describes ${expectedBytes}`);
  const weights = tf.io.decodeWeights(buffers.length === 1 ? buffers[0] : tf.io.concatenateArrayBuffers(buffers), specs);
  try {
    return new UNet3D(json.modelTopology.unet3d, (spec) => {
      const value = weights[spec.name];
      if (!value) throw new UNetConfigError(`${modelFile} has no weight "${spec.name}"`);
      if (value.shape.join() !== spec.shape.join()) {
        throw new UNetConfigError(`${modelFile}: weight "${spec.name}" is [${value.shape.join(', ')}], the network needs [${spec.shape.join(', ')}]`);
      }
      return tf.clone(value);
    });
  } finally {
    tf.dispose(Object.values(weights));
  }
}

