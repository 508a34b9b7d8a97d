// A/B of two built trees of nablax in ONE process: the `nablax bench` figures (train, ∇x, inference) of each model,
// measured for tree A and tree B in turn, the order alternating every pair, so that a busy neighbour slows both
// alike; prints the medians and the median of the pairs' ratios B ÷ A (> 1: B is faster). It first checks that both
// trees compute the same bits: logits, ∇x and the parameters after three Adam steps, for every model.
// A tree is a directory holding package.json, dist/ (tsc output) and build/*.wasm (each tree loads its own kernels).
//   node bench/ab-trees.mjs <treeA> <treeB> [--models cnn,mlp] [--rounds 9] [--seconds 1]   (--rounds 0: the bit check only)
// Example (old = a copy of main's package.json, dist/ and build/):
//   node bench/ab-trees.mjs /tmp/old . --models cnn,mlp --rounds 9
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { models: { type: 'string', default: 'cnn,mlp' }, rounds: { type: 'string', default: '9' }, seconds: { type: 'string', default: '1' } },
});
if (positionals.length !== 2) {
  process.stderr.write('usage: node bench/ab-trees.mjs <treeA> <treeB> [--models cnn,mlp] [--rounds 9] [--seconds 1]\n');
  process.exit(2);
}
const rounds = Number(values.rounds), seconds = Number(values.seconds);
if (!(Number.isInteger(rounds) && rounds >= 0) || !(seconds > 0)) {
  process.stderr.write(`ab-trees: --rounds must be a non-negative integer and --seconds positive, got ${values.rounds} and ${values.seconds}\n`);
  process.exit(2);
}
const models = values.models.split(',');
const measures = ['train', 'inputGradient', 'inference'];

/** The modules of one tree that the benchmark and the bit check use. */
async function loadTree(dir) {
  const root = resolve(dir);
  const first = (...paths) => paths.map((p) => join(root, 'dist', p)).find(existsSync);
  const throughput = first('src/experiments/bench/throughput.js', 'bench/throughput.js');
  if (!existsSync(join(root, 'package.json')) || throughput === undefined) {
    process.stderr.write(`ab-trees: ${root} is not a built tree (package.json, dist/ with the benchmark, build/*.wasm)\n`);
    process.exit(1);
  }
  const load = (p) => import(pathToFileURL(p).href);
  const d = (p) => load(join(root, 'dist', 'src', p));
  return {
    root,
    bench: await load(throughput),
    kernels: (await d('engine/kernels/kernels.js')).kernels,
    spec: await d('layers/spec.js'), zoo: await d('layers/zoo.js'), tape: await d('engine/tape.js'),
    ig: await d('attacks/input-gradient.js'), loop: await d('train/loop.js'), optim: await d('train/optimizers.js'),
    random: await d('engine/random.js'),
  };
}

/** Bytes of logits, ∇x and the parameters after three Adam steps of `name` in tree t. */
function fingerprint(t, name) {
  const b128 = t.bench.benchBatch(128), b256 = t.bench.benchBatch(256);
  const model = t.spec.buildModel(t.zoo.zooSpec(name), { seed: 0 });
  model.eval();
  const logits = t.tape.noGrad(() => model.forward(b256.x)).data;
  const dx = t.ig.inputGradient(model, b256.x, b256.y).dx.data;
  const params = model.parameters();
  const opt = new t.optim.Adam(params, { lr: 1e-3 });
  model.train();
  for (let s = 0; s < 3; s++) {
    const { loss } = t.loop.crossEntropyObjective(model, b128.x, b128.y, { rng: new t.random.Rng(0), epoch: 0, step: s });
    opt.step(t.tape.grad(loss, params.map(([, p]) => p)));
  }
  return { logits, dx, params: params.map(([n, p]) => [n, p.data]) };
}

const same = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
const median = (xs) => { const s = [...xs].sort((p, q) => p - q), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

const A = await loadTree(positionals[0]), B = await loadTree(positionals[1]);
process.stderr.write(`ab-trees: A = ${A.root} (${A.kernels().name}, ${A.kernels().getThreads()} threads), B = ${B.root} (${B.kernels().name}, ${B.kernels().getThreads()} threads)\n`);
let identical = true;
for (const name of models) {
  const fa = fingerprint(A, name), fb = fingerprint(B, name);
  const diffs = [['logits', fa.logits, fb.logits], ['∇x', fa.dx, fb.dx], ...fa.params.map(([n, p], i) => [`${n} after 3 Adam steps`, p, fb.params[i][1]])]
    .filter(([, a, b]) => !same(a, b)).map(([what]) => what);
  identical &&= diffs.length === 0;
  console.log(`${name}: ${diffs.length === 0 ? 'bit-identical logits, ∇x and parameters after 3 Adam steps' : `DIFFERENT: ${diffs.join(', ')}`}`);
}

if (rounds === 0) process.exit(identical ? 0 : 1);
const rates = new Map(); // `${model} ${measure}` → { a: [], b: [], ratio: [] }
const t0 = performance.now(), total = rounds * models.length * measures.length;
let done = 0;
for (let r = 0; r < rounds; r++) {
  for (const model of models) for (const measure of measures) {
    const run = async (t) => (await t.bench.runBench({ models: [model], measures: [measure], seconds, rounds: 1 }))[0].imagesPerSecond;
    const [first, second] = (r + done) % 2 === 0 ? [A, B] : [B, A];
    const x = await run(first), y = await run(second);
    const [a, b] = first === A ? [x, y] : [y, x];
    const key = `${model} ${measure}`;
    if (!rates.has(key)) rates.set(key, { a: [], b: [], ratio: [] });
    const e = rates.get(key);
    e.a.push(a); e.b.push(b); e.ratio.push(b / a);
    done++;
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(`\rab-trees: ${done}/${total} pairs, ${(done / s).toFixed(2)} pairs/s, ETA ${Math.round((total - done) / (done / s))} s   `);
  }
}
process.stderr.write('\n');
console.log(`\n${'figure'.padEnd(22)} ${'A images/s'.padStart(11)} ${'B images/s'.padStart(11)} ${'B/A (median of pairs)'.padStart(22)}  range of pair ratios`);
for (const [key, e] of rates) {
  console.log(`${key.padEnd(22)} ${median(e.a).toFixed(0).padStart(11)} ${median(e.b).toFixed(0).padStart(11)} ${median(e.ratio).toFixed(3).padStart(22)}  ${Math.min(...e.ratio).toFixed(3)}–${Math.max(...e.ratio).toFixed(3)}`);
}
console.log(`(${rounds} pairs per figure, ${seconds} s per measurement, order alternating; medians)`);
process.exit(identical ? 0 : 1);
