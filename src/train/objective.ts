// What the training loop minimises: an objective maps a batch to its scalar loss and the clean batch's logits.
// Built-in objectives are marked recyclable: their steps keep no array they allocate beyond the loss and logits they
// return, so the loop recycles the step's activations, gradients and adversarial examples for the next step.
import type { Rng } from '../engine/random.js';
import type { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';

export interface ObjectiveContext {
  rng: Rng;
  epoch: number;
  /** Optimiser steps taken before this one, over the whole run. */
  step: number;
  /** Optimiser steps per epoch (for schedules inside an objective, such as a warm-up of ε). */
  stepsPerEpoch?: number;
}

/** A training objective: returns the scalar loss to minimise and the logits of the clean batch. */
export type Objective = (model: Sequential, x: Tensor, y: Int32Array, ctx: ObjectiveContext) => { loss: Tensor; logits: Tensor };

const recyclable = new WeakSet<Objective>();

/**
 * Mark an objective as recyclable and return it: every array its step allocates through Tensor.zeros or
 * Tensor.empty (the ops' activations and gradients, the adversarial examples of its attack) is dead once the
 * optimiser has stepped, except the loss and logits it returns. The training loop then runs each step in a
 * recycling scope (engine/recycle.ts), so the next step reuses those arrays instead of allocating them afresh
 * (values unchanged). Every built-in objective is marked; an unmarked one (a custom objective that keeps a tensor
 * it made, for a plot after training, say) runs without recycling.
 * @example
 *   const objective = recyclableObjective((model, x, y) => { const logits = model.forward(x); return { loss: softmaxCrossEntropy(logits, y), logits }; });
 */
export function recyclableObjective(objective: Objective): Objective {
  recyclable.add(objective);
  return objective;
}

/** Whether recyclableObjective marked it. */
export const isRecyclable = (objective: Objective): boolean => recyclable.has(objective);
