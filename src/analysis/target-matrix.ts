// The source/target matrix of a targeted attack (the 10×10 figure of Carlini & Wagner 2017, Fig. 3, and Papernot et
// al. 2016): the first test image of each class attacked toward every other class, one batch of K(K − 1) images, with
// whether each reached its target and the model's confidence in it.
import type { Attack } from '../attacks/attack.js';
import { ScoreOracle } from '../attacks/oracle.js';
import type { Dataset } from '../data/datasets.js';
import { softmax } from '../engine/ops/loss.js';
import { Tensor } from '../engine/tensor.js';
import { argmax, predict } from '../layers/predict.js';
import type { Sequential } from '../layers/sequential.js';

/** One cell: the image shown (first channel, h·w values in [0,1]), whether the attack reached its target, the target's confidence. */
export interface TargetCell {
  values: ArrayLike<number>;
  success: boolean;
  conf: number;
}

/**
 * cells[s][t]: the first image of class s in `ds` attacked toward class t at `eps` (diagonal: the clean image, counted
 * a success with confidence 1); null when some class has no image in `ds`. `options` are the attack's own settings.
 * @example
 *   const cells = targetMatrix(model, pgd, testSet, 0.3, { steps: 40 }, 0);
 *   cells?.[3][8].success;   // did the 3 become an 8?
 */
export function targetMatrix(model: Sequential, attack: Attack, ds: Dataset, eps: number, options: Record<string, unknown>, seed: number): TargetCell[][] | null {
  const per = ds.channels * ds.height * ds.width;
  const K = ds.numClasses;
  const first: number[] = [];
  for (let c = 0; c < K; c++) first.push(ds.labels.indexOf(c));
  if (first.some((i) => i < 0)) return null;
  const pairs: [number, number][] = [];
  for (let s = 0; s < K; s++) for (let t = 0; t < K; t++) if (s !== t) pairs.push([s, t]);
  const x = Tensor.zeros([pairs.length, ds.channels, ds.height, ds.width]);
  pairs.forEach(([s], k) => x.data.set(ds.images.subarray(first[s] * per, (first[s] + 1) * per), k * per));
  const y = Int32Array.from(pairs, ([s]) => s);
  const targets = Int32Array.from(pairs, ([, t]) => t);
  const opts = { ...options, eps, seed, targets };
  const r = attack.kind === 'white-box' ? attack.run(model, x, y, opts) : attack.run(new ScoreOracle(model), x, y, opts);
  const p = softmax(predict(model, r.adversarial));
  const pred = argmax(p);
  const cells: TargetCell[][] = Array.from({ length: K }, (_, s) =>
    Array.from({ length: K }, () => ({ values: ds.images.subarray(first[s] * per, first[s] * per + ds.height * ds.width), success: true, conf: 1 })),
  );
  pairs.forEach(([s, t], k) => {
    cells[s][t] = { values: r.adversarial.data.subarray(k * per, k * per + ds.height * ds.width), success: pred[k] === t, conf: p.data[k * K + t] };
  });
  return cells;
}
