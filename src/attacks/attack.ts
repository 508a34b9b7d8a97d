// The shared shape of every attack: a batch of images in [0,1] and their labels in, the adversarial batch and
// per-example outcomes out. White-box attacks receive the model (and ask it for ∇x); black-box attacks receive
// only a ScoreOracle, which has no gradient method, so they cannot cheat by construction.
import type { Tensor } from '../engine/tensor.js';
import type { Sequential } from '../layers/sequential.js';
import type { ScoreOracle } from './oracle.js';

export type Norm = 'linf' | 'l2' | 'l0';

/** How targeted attacks pick their targets: a given class, a random other class, or the least-likely class. */
export type TargetMode = { kind: 'class'; class: number } | { kind: 'random' } | { kind: 'least-likely' };

export interface AttackOptions {
  /** Perturbation budget in the attack's norm (for L0 attacks: the number of pixels is the attack's own option). */
  eps: number;
  /** Seed for random starts, restarts and black-box search; a seeded run is bit-identical. */
  seed?: number;
  /** Per-example target classes; when given the attack is targeted. */
  targets?: Int32Array;
  /** Iterative attacks: stop working on an example once it succeeds (default true); false maximises the loss. */
  earlyStop?: boolean;
  /**
   * Gradient attacks: a memo of ∇x J at the clean x of this batch, shared by the runs of an ε sweep over the same
   * batch (the gradient at x does not depend on ε, so FGSM at six ε needs one backward pass, not six). Results
   * are the same bits with or without it. Pass a fresh `new Map()` per batch.
   */
  gradientMemo?: GradientMemo;
  /**
   * Long attacks (Square, one-pixel) report how far through the batch they are, a fraction in [0, 1], after each
   * query round or generation, so that a progress bar moves within a batch. It never changes the result.
   */
  onProgress?: (fraction: number) => void;
}

/** ∇x J and the logits at a batch's clean x, by the classes J was taken for (see AttackOptions.gradientMemo). */
export type GradientMemo = Map<string, { dx: Tensor; logits: Tensor }>;

export interface AttackResult {
  /** The adversarial batch, same shape as x, inside the ε-ball of x and inside [0,1]. */
  adversarial: Tensor;
  /** success[n] = 1 when example n is misclassified (untargeted) or classified as its target (targeted). */
  success: Uint8Array;
  /** Iterations (or black-box generations) spent on each example. */
  iterations: Int32Array;
  /** Black-box attacks: model queries spent on each example. */
  queries?: Int32Array;
  /** Whether iterations stopped at success (true) or ran to the budget (false). */
  earlyStopped: boolean;
  targets?: Int32Array;
  /** The model's logits on `adversarial` (evaluation mode), when the attack already computed them. */
  logits?: Tensor;
  /** The model's logits on the clean x (evaluation mode), when the attack already computed them. */
  cleanLogits?: Tensor;
}

/**
 * One setting an attack reads from its options object, described for front ends (the CLI makes a flag of it):
 * 'int' an integer ≥ min, 'positive' a number > 0, 'off' a setting that is on by default and the flag turns off.
 * The shared ones are in settings.ts.
 */
export interface AttackSetting<O = Record<string, unknown>> {
  /** The key in the attack's options object (the compiler checks that the attack's options have it). */
  key: Extract<keyof O, string>;
  /** The command-line flag, as commander spells it ('--steps <n>', '--no-early-stop'). */
  flag: string;
  type: 'int' | 'positive' | 'off';
  min?: number;
  help: string;
  /** The value the attack uses when the setting is not given, as the help shows it ('40', '1/255', 'ε/steps'). */
  default?: string;
}

export interface WhiteBoxAttack<O extends AttackOptions = AttackOptions, R extends AttackResult = AttackResult> {
  name: string;
  kind: 'white-box';
  norm: Norm;
  /** The settings of `O` a caller may set (besides eps, seed and targets, which every attack reads). */
  settings: readonly AttackSetting<O>[];
  /** The norms a caller may pick with `options.norm` (the record's `norm` is the default); absent: only `norm`. */
  norms?: readonly ('linf' | 'l2')[];
  /** R: what this attack returns besides the common result (AutoAttack's report, C&W's bracket of c). */
  run(model: Sequential, x: Tensor, y: Int32Array, opts: O): R;
}

export interface BlackBoxAttack<O extends AttackOptions = AttackOptions> {
  name: string;
  kind: 'black-box';
  norm: Norm;
  /** The settings of `O` a caller may set (besides eps, seed and targets, which every attack reads). */
  settings: readonly AttackSetting<O>[];
  run(oracle: ScoreOracle, x: Tensor, y: Int32Array, opts: O): AttackResult;
}

// `any`, not `AttackOptions`: each attack's run takes its own options type (PgdOptions, SquareOptions, …), and a
// function parameter only accepts a wider type, so a record of every attack can only be typed with `any` here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Attack = WhiteBoxAttack<any> | BlackBoxAttack<any>;

/**
 * The one check of targets every attack runs (white-box and black-box alike): one per example, an integer class
 * (below `classes` when the caller knows the count) and never the example's true label, since "reaching" the true
 * label is no attack. Throws naming the attack, the index and both values.
 * @example
 *   checkTargets('square.run', opts.targets, y, oracle.classes);
 */
export function checkTargets(f: string, targets: ArrayLike<number>, y: ArrayLike<number>, classes?: number): void {
  const N = y.length;
  if (targets.length !== N) throw new Error(`${f}: targets must have ${N} entries (one per image), got ${targets.length}`);
  for (let n = 0; n < N; n++) {
    const t = targets[n];
    if (!Number.isInteger(t) || t < 0 || (classes !== undefined && t >= classes)) {
      throw new Error(`${f}: targets[${n}] must be a class in [0, ${classes ?? '∞'}), got ${t}`);
    }
    if (t === y[n]) throw new Error(`${f}: targets[${n}] must differ from the true label, got ${t} for both`);
  }
}
