// The adversarial training methods by name, each as the Objective the loop runs, with their defaults: shared by
// `adv-train` and `experiment robust-mnist`. goodfellow (Goodfellow et al. 2015), fgsm-aug / invfgsm (Pervin et al.
// 2021), pgd (Madry et al. 2018), fast (Wong et al. 2020), advprop (Xie et al. 2020), trades (Zhang et al. 2019),
// mart (Wang et al. 2020). ε defaults: goodfellow 0.25, fgsm-aug/invfgsm 0.1, the others 0.3.
import { augmentObjective, fastObjective, goodfellowObjective, pgdObjective } from './adversarial.js';
import { advpropObjective } from './advprop.js';
import type { Objective } from './loop.js';
import { martObjective } from './mart.js';
import type { StepsSchedule } from './schedules.js';
import { tradesObjective } from './trades.js';

export const adversarialMethods = ['goodfellow', 'fgsm-aug', 'invfgsm', 'pgd', 'fast', 'advprop', 'trades', 'mart'] as const;
export type AdversarialMethod = (typeof adversarialMethods)[number];

/** Methods whose attack takes steps and a step size, and so a curriculum of steps. */
export const multiStepMethods: readonly string[] = ['pgd', 'trades', 'mart'];

/** A method's numeric options; unset ones take the method's default. */
export interface MethodOptions {
  eps?: number;
  alpha?: number;
  steps?: number;
  stepSize?: number;
  epsWarmup?: number;
  beta?: number;
  lambda?: number;
}

/**
 * The training objective of `method` and its ε (an Error naming the method when it is unknown).
 * @example
 *   const { objective, eps } = methodObjective('trades', { beta: 1, steps: 10, stepSize: 0.075 });
 *   await train(model, data, { epochs: 1, batchSize: 128, optimizer: 'adam', lr: 1e-3, seed: 0, objective });
 */
export function methodObjective(method: string, o: MethodOptions, stepsSchedule?: StepsSchedule): { objective: Objective; eps: number } {
  switch (method) {
    case 'goodfellow': {
      const eps = o.eps ?? 0.25;
      return { objective: goodfellowObjective({ alpha: o.alpha ?? 0.5, eps }), eps };
    }
    case 'fgsm-aug':
    case 'invfgsm': {
      const eps = o.eps ?? 0.1;
      return { objective: augmentObjective({ eps, direction: method === 'fgsm-aug' ? 'fgsm' : 'invfgsm' }), eps };
    }
    case 'pgd': {
      const eps = o.eps ?? 0.3;
      return { objective: pgdObjective({ eps, steps: o.steps ?? 7, stepSize: o.stepSize ?? (stepsSchedule ? undefined : 0.1), warmupEpochs: o.epsWarmup ?? 0, stepsSchedule }), eps };
    }
    case 'fast': {
      const eps = o.eps ?? 0.3;
      return { objective: fastObjective({ eps, alpha: o.alpha ?? 1.25 * eps, warmupEpochs: o.epsWarmup ?? 0 }), eps };
    }
    case 'advprop': {
      const eps = o.eps ?? 0.3;
      return { objective: advpropObjective({ eps, steps: o.steps ?? 5, stepSize: o.stepSize ?? 0.1 }), eps };
    }
    case 'trades': {
      const eps = o.eps ?? 0.3;
      return { objective: tradesObjective({ beta: o.beta ?? 1.0, eps, steps: o.steps ?? 40, stepSize: o.stepSize, warmupEpochs: o.epsWarmup ?? 0, stepsSchedule }), eps };
    }
    case 'mart': {
      const eps = o.eps ?? 0.3;
      return { objective: martObjective({ lambda: o.lambda ?? 6, eps, steps: o.steps ?? 40, stepSize: o.stepSize, warmupEpochs: o.epsWarmup ?? 0, stepsSchedule }), eps };
    }
    default:
      throw new Error(`methodObjective: unknown method '${method}' (expected ${adversarialMethods.join(', ')})`);
  }
}
