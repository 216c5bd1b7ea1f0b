/** A typed wrapper over tf.customGrad for an operation of a fixed number of tensor inputs. */
import { tf, type Tensor } from '../tf';

/** The forward pass: the value, and the gradient of each input given dy and the tensors saved. */
export type CustomForward<T extends Tensor> = (
  inputs: Tensor[],
  save: (tensors: Tensor[]) => void,
) => { value: T; gradFunc: (dy: T, saved: Tensor[]) => Tensor[] };

/** An operation of `arity` tensor inputs whose gradient is given by `forward`'s gradFunc. */
export function customOp<T extends Tensor>(arity: number, forward: CustomForward<T>): (...inputs: Tensor[]) => T {
  const op = tf.customGrad(((...args: unknown[]) => {
    const save = args[arity] as (tensors: Tensor[]) => void;
    const { value, gradFunc } = forward(args.slice(0, arity) as Tensor[], save);
    return { value, gradFunc: (dy: Tensor, saved: Tensor[]) => gradFunc(dy as T, saved) };
  }) as Parameters<typeof tf.customGrad>[0]);
  return (...inputs: Tensor[]) => {
    if (inputs.length !== arity) throw new Error(`internal: custom op takes ${arity} inputs, got ${inputs.length}`);
    return op(...inputs) as T;
  };
}
