// The defaults the attack records declare (shown by `nablax attack --help`) are the values the attacks use: for each
// setting with a numeric default, a run that omits the setting and a run that gives the default produce the same
// adversarial images. Formula defaults ('ε/steps', BIM's step count) are left to the attacks' own tests.
import { beforeAll, describe, expect, it } from 'vitest';
import { blackBoxAttacks } from '../../src/attacks/black-box.js';
import { whiteBoxAttacks } from '../../src/attacks/index.js';
import { autoattack } from '../../src/attacks/autoattack.js';
import { ScoreOracle } from '../../src/attacks/oracle.js';
import type { Attack } from '../../src/attacks/attack.js';
import type { Sequential } from '../../src/layers/sequential.js';
import { testBatch, trainedModel } from './fixtures.js';

let model: Sequential;
beforeAll(async () => {
  model = await trainedModel('softmax');
});

/** '40' → 40, '1/255' → 1/255; a formula → null. */
function numeric(d: string): number | null {
  if (/^\d+(\.\d+)?$/.test(d)) return Number(d);
  const f = /^(\d+)\/(\d+)$/.exec(d);
  return f ? Number(f[1]) / Number(f[2]) : null;
}

const all: [string, Attack][] = [...Object.entries(whiteBoxAttacks), ['autoattack', autoattack], ...Object.entries(blackBoxAttacks)] as [string, Attack][];

describe('attack setting defaults', () => {
  it('every record states the default of its iterations and query budgets', () => {
    for (const [name, a] of all) {
      for (const s of a.settings) if (['steps', 'maxQueries', 'squareQueries', 'restarts'].includes(s.key)) expect(s.default, `${name} ${s.key}`).toBeDefined();
    }
  });

  for (const [name, a] of all) {
    const given = a.settings.filter((s) => s.default !== undefined && numeric(s.default) !== null);
    if (!given.length) continue;
    // Without early stop (where the attack has it), an iterative attack spends its whole budget on every image, so a
    // budget other than the default changes the images: the test checks that with a budget of 2 (a budget near the
    // default may give the same best point on this small softmax model, whose optimum APGD reaches early).
    const full = a.settings.some((s) => s.key === 'earlyStop');
    it(`${name}: omitting ${given.map((s) => s.key).join(', ')} equals giving ${given.map((s) => s.default).join(', ')}`, () => {
      const { x, y } = testBatch(4);
      const eps = a.norm === 'l2' ? 1 : 0.05;
      const opts = Object.fromEntries(given.map((s) => [s.key, numeric(s.default!)]));
      const run = (o: Record<string, unknown>) => Array.from((a.kind === 'white-box'
        ? a.run(model, x, y, { eps, seed: 1, ...(full ? { earlyStop: false } : {}), ...o })
        : a.run(new ScoreOracle(model), x, y, { eps, seed: 1, ...(full ? { earlyStop: false } : {}), ...o })).adversarial.data);
      const byDefault = run({});
      expect(run(opts)).toEqual(byDefault);
      if (full) {
        for (const s of given.filter((g) => ['steps', 'maxQueries'].includes(g.key))) {
          expect(run({ ...opts, [s.key]: 2 }), `${name}: ${s.key} 2 changes the images`).not.toEqual(byDefault);
        }
      }
    });
  }
});
