// No leak over 1,000 training steps: a tiny convolutional model (fused conv → ReLU → pool block, GEMMs, Adam, on
// the WebAssembly kernels; one thread, since on a shared 2-core machine every step's thread hand-offs cost 10× the
// step itself) trained step after step; after a full garbage collection at step 100 and
// at step 1,000, the JavaScript heap plus typed-array memory, the kernels' linear memory and the resident set must
// not have grown beyond small bounds. A leak of one activation per step (≥ 4 KiB here) would add ≥ 3.5 MiB: keeping
// a 4 KiB Float32Array per step made this test fail (heap + external grew 4.18 MB).
// Memory sizes only; no timing.
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { kernels } from '../../src/engine/kernels/kernels.js';
import { Rng } from '../../src/engine/random.js';
import { Tensor } from '../../src/engine/tensor.js';
import { buildModel } from '../../src/layers/spec.js';
import { recycledBytes, useArena } from '../../src/engine/recycle.js';
import { crossEntropyObjective, trainingStep } from '../../src/train/loop.js';
import { Adam } from '../../src/train/optimizers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1 << 20;

function snapshot() {
  gc();
  gc();
  const m = process.memoryUsage();
  return { js: m.heapUsed + m.external, rss: m.rss, wasm: kernels().memoryBytes?.() ?? 0 };
}

describe('memory over 1,000 training steps', () => {
  // with the kernels' arena (the steps' arrays are views of linear memory, emptied after each step) and without it
  // (they go to the recycling pool on the JS heap)
  it.each([true, false])('the heap, typed arrays, linear memory and resident set stay flat from step 100 to step 1,000 (arena %s)', (arenaOn) => {
    const prevThreads = kernels().getThreads();
    kernels().setThreads(1);
    const prevArena = useArena(arenaOn ? kernels().arena! : null);
    try {
      const model = buildModel({
        input: [1, 12, 12],
        layers: [
          { type: 'conv2d', in: 1, out: 4, kernel: 3, padding: 1 }, { type: 'relu' }, { type: 'maxpool2d', kernel: 2 },
          { type: 'flatten' }, { type: 'dense', in: 144, out: 16 }, { type: 'relu' }, { type: 'dense', in: 16, out: 10 },
        ],
      }, { seed: 0 });
      const params = model.parameters();
      const tensors = params.map(([, t]) => t);
      const opt = new Adam(params, { lr: 1e-3 });
      const x = Tensor.uniform([64, 1, 12, 12], 0, 1, new Rng(1));
      const y = Int32Array.from({ length: 64 }, (_, i) => i % 10);
      // train()'s step: its activations and gradients (9,216 floats for the block's pooled output) go through the
      // recycling pool, which must not grow either
      const step = () => trainingStep(model, opt, tensors, crossEntropyObjective, x, y, { rng: new Rng(0), epoch: 0, step: 0 }).loss.data[0];
      for (let i = 0; i < 100; i++) step();
      const at100 = snapshot();
      const pooled100 = recycledBytes();
      if (arenaOn) expect(kernels().arena!.owns(Tensor.zeros([64, 4, 12, 12]).data), 'outside a step: the JS heap').toBe(false);
      else expect(pooled100, 'the steps recycle their arrays').toBeGreaterThan(0);
      let last = 0;
      for (let i = 100; i < 1000; i++) last = step();
      const at1000 = snapshot();
      expect(recycledBytes(), 'the pool holds one step\'s arrays, not more every step').toBe(pooled100);
      expect(Number.isFinite(last)).toBe(true);
      expect(at1000.js - at100.js, 'JS heap + external').toBeLessThan(2 * MiB);
      expect(at1000.wasm, 'linear memory only grows for a larger problem').toBe(at100.wasm);
      expect(at1000.rss - at100.rss, 'resident set').toBeLessThan(32 * MiB);
    } finally {
      kernels().setThreads(prevThreads);
      useArena(prevArena);
    }
  });
});
