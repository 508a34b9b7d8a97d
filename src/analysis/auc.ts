// Area under the ROC curve by the rank (Mann–Whitney) formula, with ties given their mean rank, and the macro
// one-vs-rest AUC of a classifier's probabilities [N, C] (each class against all others, then the unweighted mean):
//   AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊·n₋),   R₊ the sum of the positives' ranks among all N scores (1-based, ascending)
// which equals P(score of a random positive > score of a random negative) + ½·P(tie) (Hanley & McNeil 1982).

/**
 * ROC AUC of `scores` for the examples marked positive; NaN when there are no positives or no negatives.
 * @example
 *   rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]);   // 0.75
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = scores.length;
  if (positive.length !== n) throw new Error(`rocAuc: ${n} scores but ${positive.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) if (Number.isNaN(scores[i])) throw new Error(`rocAuc: score ${i} is NaN`);
  order.sort((a, b) => scores[a] - scores[b]);
  let rankSum = 0, nPos = 0;
  for (let i = 0; i < n; ) {
    // a run of equal scores shares the mean of ranks i+1 … j
    let j = i + 1;
    while (j < n && scores[order[j]] === scores[order[i]]) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (positive[order[k]]) {
        rankSum += rank;
        nPos++;
      }
    }
    i = j;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Macro one-vs-rest AUC of probabilities `probs` (row-major [N, C]) for `labels`: the mean of the C per-class AUCs,
 * over the classes that have both positives and negatives among the labels (the others are null in perClass).
 * @example
 *   const { macro, perClass } = macroAucOvR(softmax(logits).data, y, 10);
 */
export function macroAucOvR(probs: ArrayLike<number>, labels: ArrayLike<number>, classes: number): { macro: number; perClass: (number | null)[] } {
  const N = labels.length;
  if (probs.length !== N * classes) throw new Error(`macroAucOvR: probs must be [${N}, ${classes}] (${N * classes} values), got ${probs.length}`);
  const perClass: (number | null)[] = [];
  const col = new Float64Array(N);
  const pos = new Uint8Array(N);
  for (let c = 0; c < classes; c++) {
    for (let n = 0; n < N; n++) {
      col[n] = probs[n * classes + c];
      pos[n] = labels[n] === c ? 1 : 0;
    }
    const auc = rocAuc(col, pos);
    perClass.push(Number.isNaN(auc) ? null : auc);
  }
  const defined = perClass.filter((a): a is number => a !== null);
  return { macro: defined.length ? defined.reduce((s, a) => s + a, 0) / defined.length : NaN, perClass };
}
