// A/B of the widened implicit-GEMM convolution forwards (wasm-conv.ts wideGeometry) against the im2col path they
// replace, on madry (both blocks widened) and smallcnn (none at the default bound: a control whose ratio should be
// 1 within the noise): the same step timed with widening on and off, alternating which goes first, so a busy
// neighbour slows both alike; prints the median of the pairs' ratios (off ÷ on time: > 1 means widening is faster).
// `npx tsx bench/ab-wide.ts [pairs]`; NABLAX_THREADS sets the kernels' threads.
import { median } from '../src/analysis/stats.js';
import { inputGradient } from '../src/attacks/input-gradient.js';
import { setWideMaxWaste } from '../src/engine/kernels/wasm.js';
import { Rng } from '../src/engine/random.js';
import { grad, noGrad } from '../src/engine/tape.js';
import { buildModel } from '../src/layers/spec.js';
import { zooSpec } from '../src/layers/zoo.js';
import { crossEntropyObjective } from '../src/train/loop.js';
import { Adam } from '../src/train/optimizers.js';
import { benchBatch } from '../src/experiments/bench/throughput.js';

const pairs = Number(process.argv[2] ?? 8);
const b128 = benchBatch(128), b256 = benchBatch(256);
for (const name of ['madry', 'smallcnn']) {
  const model = buildModel(zooSpec(name), { seed: 0 });
  const params = model.parameters();
  const tensors = params.map(([, t]) => t);
  const opt = new Adam(params, { lr: 1e-4 });
  const steps: [string, () => void][] = [
    ['train', () => {
      model.train();
      const { loss } = crossEntropyObjective(model, b128.x, b128.y, { rng: new Rng(0), epoch: 0, step: 0 });
      opt.step(grad(loss, tensors));
    }],
    ['∇x', () => void inputGradient(model, b256.x, b256.y)],
    ['inference', () => { model.eval(); noGrad(() => model.forward(b256.x)); }],
  ];
  for (const [what, step] of steps) {
    const time = (waste: number) => {
      setWideMaxWaste(waste);
      step();
      const t0 = performance.now();
      step();
      step();
      return performance.now() - t0;
    };
    const ratios: number[] = [];
    for (let p = 0; p < pairs; p++) {
      // alternate which goes first
      const [on, off] = p % 2 === 0 ? [time(0.15), time(-1)] : ((o) => [time(0.15), o])(time(-1));
      ratios.push(off / on);
    }
    setWideMaxWaste(0.15);
    console.log(`${name.padEnd(9)} ${what.padEnd(10)} off/on ratio median ${median(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}] over ${pairs} pairs`);
  }
}
process.exit(0);
