// The `cnn`'s two fused blocks (convolution → ReLU → 2×2 max pooling), forward only as inference runs them (no
// routes), on 256 random images, through the WebAssembly kernels alone: GFLOP/s per block, the median of 15 rounds
// of 10 calls. With two module files it measures both in alternating rounds (an A/B of two builds, which also says
// whether they give the same bits: two fused builds should; the fused and the portable build round differently); with
// one, that build. NABLAX_THREADS sets the kernels' threads (default 1).
//   npx tsx bench/conv-blocks.ts [build/kernels-fma.wasm] [other.wasm]
import { loadWasmKernels } from '../src/engine/kernels/wasm-node.js';
import { Rng } from '../src/engine/random.js';

const paths = process.argv.length > 2 ? process.argv.slice(2) : ['build/kernels-fma.wasm'];
if (paths.length > 2) {
  console.error(`conv-blocks: one or two module files, got ${paths.length}`);
  process.exit(2);
}
const threads = Number(process.env.NABLAX_THREADS ?? 1);
if (!(Number.isInteger(threads) && threads >= 1)) {
  console.error(`conv-blocks: NABLAX_THREADS must be a positive integer, got ${process.env.NABLAX_THREADS}`);
  process.exit(2);
}
const ks = paths.map((p) => {
  const k = loadWasmKernels({ path: p });
  if (k === null) {
    console.error(`conv-blocks: ${p} does not load as the kernels' module (npm run build writes build/kernels-fma.wasm)`);
    process.exit(1);
  }
  try {
    k.setThreads(threads);
  } catch (e) {
    console.error(`conv-blocks: NABLAX_THREADS=${threads}: ${(e as Error).message}`);
    process.exit(2);
  }
  return k;
});
const rng = new Rng(1);
const block = (C: number, H: number, OC: number) => ({ g: { C, H, W: H, KH: 5, KW: 5, stride: 1, pad: 0, OH: H - 4, OW: H - 4 }, OC });
const blocks = { 'block 1 (1→16, 28×28)': block(1, 28, 16), 'block 2 (16→32, 12×12)': block(16, 12, 32) };
const N = 256;
const median = (a: number[]) => a.slice().sort((p, q) => p - q)[a.length >> 1];
console.log(`conv-blocks: ${threads} thread(s), ${paths.join(' vs ')}`);
for (const [name, { g, OC }] of Object.entries(blocks)) {
  const x = new Float32Array(N * g.C * g.H * g.W).map(() => rng.uniform());
  const w = new Float32Array(OC * g.C * 25).map(() => rng.uniform(-0.2, 0.2));
  const b = new Float32Array(OC).map(() => rng.uniform(-0.1, 0.1));
  const outs = ks.map(() => new Float32Array(N * OC * (g.OH / 2) * (g.OW / 2)));
  const flop = 2 * N * OC * g.OH * g.OW * g.C * 25;
  const times: number[][] = ks.map(() => []);
  for (let r = 0; r < 15; r++) {
    for (let j0 = 0; j0 < ks.length; j0++) {
      const j = (j0 + r) % ks.length; // alternate which build goes first
      const t0 = performance.now();
      for (let i = 0; i < 10; i++) ks[j].conv2dReluPoolForward(x, N, g, w, OC, b, outs[j], null);
      times[j].push((performance.now() - t0) / 10);
    }
  }
  const rates = times.map((t) => `${(flop / median(t) / 1e6).toFixed(1)} GFLOP/s`).join('  ');
  const ab = ks.length === 2
    ? `  B/A ${(median(times[0]) / median(times[1])).toFixed(3)}, ${outs[1].every((v, i) => Object.is(v, outs[0][i])) ? 'same bits' : 'DIFFERENT bits'}`
    : '';
  console.log(`${name.padEnd(24)} ${rates}${ab}`);
}
for (const k of ks) k.setThreads(1); // stops their workers
