/**
 * The optimizers: SGD with momentum (the paper's) and Adam. Written here rather than taken from
 * tf.train so the learning rate can follow a schedule step by step, gradients can be clipped by
 * their global norm, and the state is plain variables that are disposed with the optimizer.
 */
import type { OptimizerSettings } from '../protocol/settings';
import { activeFormulation } from './ops';
import { tf, type Tensor, type Variable } from './tf';

/**
 * Updates variables from their gradients; owns its state until `dispose`. With the engine's own
 * kernels (cpu and wasm backends) the update runs in one loop over each variable in JavaScript
 * (applyInPlace): there the forty-odd small tfjs kernels per variable of the op-by-op update cost
 * more than the arithmetic. Both paths compute the same update in float32.
 */
export class Optimizer {
  private readonly state = new Map<Variable, Variable[]>();
  /** The state of the JavaScript path: per variable, the momentum (and Adam's second moment). */
  private readonly arrays = new Map<Variable, Float32Array[]>();
  private iterations = 0;

  constructor(readonly settings: OptimizerSettings) {}

  /**
   * One update with learning rate `lr`. `grads` maps each variable (by position) to its
   * gradient. Resolves with the global gradient norm before clipping (read back asynchronously:
   * the webgpu backend cannot read synchronously under Node).
   */
  async apply(variables: readonly Variable[], grads: readonly Tensor[], lr: number): Promise<number> {
    if (variables.length !== grads.length) throw new RangeError(`${grads.length} gradients for ${variables.length} variables`);
    if (activeFormulation() === 'simd') return this.applyInPlace(variables, grads, lr);
    const s = this.settings;
    this.iterations++;
    const t = this.iterations;
    const normTensor = tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))));
    const norm = (await normTensor.data())[0];
    normTensor.dispose();
    const clip = s.clipNorm > 0 && norm > s.clipNorm ? s.clipNorm / norm : 1;
    if (!Number.isFinite(norm)) throw new Error('the gradient is not finite (NaN or infinity); lower the learning rate');
    tf.tidy(() => {
      variables.forEach((v, i) => {
        let g = grads[i];
        if (clip !== 1) g = tf.mul(g, clip);
        if (s.weightDecay > 0) g = tf.add(g, tf.mul(v, s.weightDecay));
        if (s.kind === 'sgd') {
          const [m] = this.slots(v, 1);
          const mNew = tf.add(tf.mul(m, s.momentum), g);
          m.assign(mNew);
          const step = s.nesterov ? tf.add(g, tf.mul(mNew, s.momentum)) : mNew;
          v.assign(tf.sub(v, tf.mul(step, lr)));
        } else {
          const [m, u] = this.slots(v, 2);
          const mNew = tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1));
          const uNew = tf.add(tf.mul(u, s.beta2), tf.mul(tf.square(g), 1 - s.beta2));
          m.assign(mNew);
          u.assign(uNew);
          const mHat = tf.div(mNew, 1 - Math.pow(s.beta1, t));
          const uHat = tf.div(uNew, 1 - Math.pow(s.beta2, t));
          v.assign(tf.sub(v, tf.mul(tf.div(mHat, tf.add(tf.sqrt(uHat), s.epsilon)), lr)));
        }
      });
    });
    return norm;
  }

  /** The update of `apply` in plain loops (see the class comment). */
  private applyInPlace(variables: readonly Variable[], grads: readonly Tensor[], lr: number): number {
    const s = this.settings;
    const g = grads.map((t) => t.dataSync() as Float32Array);
    let squares = 0;
    for (const values of g) for (let i = 0; i < values.length; i++) squares += values[i] * values[i];
    const norm = Math.sqrt(squares);
    if (!Number.isFinite(norm)) throw new Error('the gradient is not finite (NaN or infinity); lower the learning rate');
    this.iterations++;
    const t = this.iterations;
    const clip = s.clipNorm > 0 && norm > s.clipNorm ? s.clipNorm / norm : 1;
    const correction1 = 1 - Math.pow(s.beta1, t);
    const correction2 = 1 - Math.pow(s.beta2, t);
    variables.forEach((v, j) => {
      const w = Float32Array.from(v.dataSync() as Float32Array);
      const gj = g[j];
      let slots = this.arrays.get(v);
      if (!slots) {
        slots = Array.from({ length: s.kind === 'sgd' ? 1 : 2 }, () => new Float32Array(w.length));
        this.arrays.set(v, slots);
      }
      const [m, u] = slots;
      for (let i = 0; i < w.length; i++) {
        const grad = gj[i] * clip + s.weightDecay * w[i];
        if (s.kind === 'sgd') {
          const mNew = m[i] * s.momentum + grad;
          m[i] = mNew;
          w[i] -= lr * (s.nesterov ? grad + mNew * s.momentum : mNew);
        } else {
          m[i] = m[i] * s.beta1 + grad * (1 - s.beta1);
          u[i] = u[i] * s.beta2 + grad * grad * (1 - s.beta2);
          w[i] -= (lr * (m[i] / correction1)) / (Math.sqrt(u[i] / correction2) + s.epsilon);
        }
      }
      tf.tidy(() => v.assign(tf.tensor(w, v.shape)));
    });
    return norm;
  }

  private slots(v: Variable, count: number): Variable[] {
    let slots = this.state.get(v);
    if (!slots) {
      slots = Array.from({ length: count }, () => tf.variable(tf.zerosLike(v), false));
      this.state.set(v, slots);
    }
    return slots;
  }

  dispose(): void {
    for (const slots of this.state.values()) for (const s of slots) s.dispose();
    this.state.clear();
    this.arrays.clear();
  }
}
