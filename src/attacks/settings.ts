// The settings attacks read from their options object, each described once so that front ends can offer them: the
// CLI makes a flag of each (`flag`), with the attacks that read it in its help. An attack's record lists the ones it
// reads (`settings`), so a new attack's settings reach the command line from its record alone.
import type { AttackSetting } from './attack.js';

/**
 * The shared settings, by options key.
 * @example
 *   const pgdReads = [settings.steps, settings.stepSize, settings.restarts, settings.randomStart, settings.earlyStop];
 */
export const settings = {
  steps: { key: 'steps', flag: '--steps <n>', type: 'int', min: 1, help: 'iterations' },
  stepSize: { key: 'stepSize', flag: '--step-size <α>', type: 'positive', help: 'step size in the norm of ε' },
  restarts: { key: 'restarts', flag: '--restarts <n>', type: 'int', min: 1, help: 'random restarts (the strongest per example is kept)' },
  randomStart: { key: 'randomStart', flag: '--no-random-start', type: 'off', help: 'start from x itself instead of a uniform random start' },
  earlyStop: { key: 'earlyStop', flag: '--no-early-stop', type: 'off', help: 'keep iterating on an example after it succeeds (maximise the loss)' },
  pixels: { key: 'pixels', flag: '--pixels <k>', type: 'int', min: 1, help: 'pixels changed (paper: 1, 3, 5)' },
  population: { key: 'population', flag: '--population <n>', type: 'int', min: 4, help: 'population size (paper: 400)' },
  generations: { key: 'generations', flag: '--generations <n>', type: 'int', min: 1, help: 'generations (paper: 100)' },
  maxQueries: { key: 'maxQueries', flag: '--max-queries <n>', type: 'int', min: 1, help: 'query budget (Square paper: 10,000; AutoAttack: 5,000)' },
} as const satisfies Record<string, AttackSetting>;
