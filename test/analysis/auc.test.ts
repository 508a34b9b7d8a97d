// ROC AUC by ranks against cases worked by hand (pairs counted: 1 when the positive scores higher, ½ on a tie),
// and the macro one-vs-rest AUC.
import { describe, expect, it } from 'vitest';
import { macroAucOvR, rocAuc } from '../../src/analysis/auc.js';
import { meanStd } from '../../src/analysis/stats.js';

describe('rocAuc', () => {
  it('counts positive–negative pairs: 3 of 4 ordered correctly is 0.75', () => {
    // positives 0.35, 0.8; negatives 0.1, 0.4: (0.35>0.1) (0.35<0.4) (0.8>0.1) (0.8>0.4) → 3/4
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75);
  });

  it('gives a tie half a pair', () => {
    // positives 0.3, 0.5; negatives 0.5, 0.1: 0 + 1 + ½ + 1 = 2.5 of 4
    expect(rocAuc([0.3, 0.5, 0.5, 0.1], [1, 1, 0, 0])).toBe(0.625);
    // all scores equal: every pair a tie
    expect(rocAuc([2, 2, 2, 2, 2], [1, 0, 0, 1, 0])).toBe(0.5);
    // three-way tie across the classes: positives 1, 2, 2; negatives 2, 3 → (0+0) + (½+0) + (½+0) = 1 of 6
    expect(rocAuc([1, 2, 2, 2, 3], [1, 1, 1, 0, 0])).toBeCloseTo(1 / 6, 15);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, NaN without positives or negatives', () => {
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    expect(() => rocAuc([0.1, 0.2], [1])).toThrow(/2 scores but 1 labels/);
  });
});

describe('macroAucOvR', () => {
  it('averages the per-class AUCs, skipping a class with no examples', () => {
    // 4 examples, 3 classes (class 2 never occurs)
    const probs = [
      0.7, 0.2, 0.1, // y = 0
      0.4, 0.5, 0.1, // y = 0
      0.5, 0.3, 0.2, // y = 1
      0.1, 0.8, 0.1, // y = 1
    ];
    // class 0: positives 0.7, 0.4 vs negatives 0.5, 0.1 → (1+1) + (0+1) = 3/4
    // class 1: positives 0.3, 0.8 vs negatives 0.2, 0.5 → (1+0) + (1+1) = 3/4
    const { macro, perClass } = macroAucOvR(probs, [0, 0, 1, 1], 3);
    expect(perClass).toEqual([0.75, 0.75, null]);
    expect(macro).toBe(0.75);
    expect(() => macroAucOvR(probs, [0, 0, 1], 3)).toThrow(/probs must be \[3, 3\]/);
  });
});

describe('meanStd', () => {
  it('uses the sample standard deviation', () => {
    expect(meanStd([1, 2, 3])).toEqual({ mean: 2, std: 1 });
    expect(meanStd([5])).toEqual({ mean: 5, std: 0 });
    expect(meanStd([]).mean).toBeNaN();
  });
});
