// A/B of two built trees of nablax in ONE process: the `nablax bench` figures (train on 128 digits, ∇x and inference
// on 256, the same steps as src/experiments/bench/throughput.ts) of each model, measured for tree A and tree B in
// turn, the order alternating every pair, so that a busy neighbour slows both alike; prints the medians and the
// median of the pairs' ratios B ÷ A (> 1: B is faster) in wall time and in the process's CPU time (steadier on a
// busy machine: time spent descheduled does not count). It first checks that both trees compute the same bits:
// logits, ∇x and the parameters after three Adam steps, for every model.
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
    predict: existsSync(join(root, 'dist', 'src', 'layers', 'predict.js')) ? (await d('layers/predict.js')).predict : undefined,
    // a model's parameters in linear memory, as the bench and the training pipelines place them (trees that have it)
    resident: existsSync(join(root, 'dist', 'src', 'layers', 'resident.js')) ? (await d('layers/resident.js')).residentParameters : (m) => m,
  };
}

/** Bytes of logits, ∇x and the parameters after three Adam steps of `name` in tree t. */
function fingerprint(t, name) {
  const b128 = t.bench.benchBatch(128), b256 = t.bench.benchBatch(256);
  const model = t.resident(t.spec.buildModel(t.zoo.zooSpec(name), { seed: 0 }));
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
/** The three measured steps of `name` in tree t, as src/experiments/bench/throughput.ts runs them: [images, step]. */
function steps(t, name) {
  const b128 = t.bench.benchBatch(128), b256 = t.bench.benchBatch(256);
  const model = t.resident(t.spec.buildModel(t.zoo.zooSpec(name), { seed: 0 }));
  const params = model.parameters(), tensors = params.map(([, p]) => p);
  const opt = new t.optim.Adam(params, { lr: 1e-3 });
  return {
    train: [128, () => {
      model.train();
      const ctx = { rng: new t.random.Rng(0), epoch: 0, step: 0 };
      // the bench's (and train()'s) step where the tree has it: a recyclable objective's arrays reused between steps
      if (t.loop.trainingStep) t.loop.trainingStep(model, opt, tensors, t.loop.crossEntropyObjective, b128.x, b128.y, ctx);
      else opt.step(t.tape.grad(t.loop.crossEntropyObjective(model, b128.x, b128.y, ctx).loss, tensors));
    }],
    inputGradient: [256, () => { model.train(); t.ig.inputGradient(model, b256.x, b256.y); }],
    // the bench's inference: predict where the tree has it (evaluation mode, no graph, recycled activations)
    inference: [256, t.predict ? () => { t.predict(model, b256.x); } : () => { model.eval(); t.tape.noGrad(() => model.forward(b256.x)); }],
  };
}

/** Images per second of wall time and of process CPU time (all threads) over steps run for at least `seconds`. */
function measure([images, step]) {
  const w0 = performance.now(), c0 = process.cpuUsage();
  let n = 0, wall;
  do {
    step();
    n++;
    wall = (performance.now() - w0) / 1000;
  } while (wall < seconds);
  const c = process.cpuUsage(c0), cpu = (c.user + c.system) / 1e6;
  return { wall: (n * images) / wall, cpu: (n * images) / cpu };
}

const rates = new Map(); // `${model} ${measure}` → { a, b, ratio, cpuRatio }
const t0 = performance.now(), total = rounds * models.length * measures.length;
let done = 0;
for (const model of models) {
  const sa = steps(A, model), sb = steps(B, model);
  for (const m of measures) for (let i = 0; i < 2; i++) { sa[m][1](); sb[m][1](); } // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const m of measures) {
      const key = `${model} ${m}`;
      if (!rates.has(key)) rates.set(key, { a: [], b: [], ratio: [], cpuRatio: [] });
      const e = rates.get(key);
      let a, b;
      if ((r + done) % 2 === 0) { a = measure(sa[m]); b = measure(sb[m]); } else { b = measure(sb[m]); a = measure(sa[m]); }
      e.a.push(a.wall); e.b.push(b.wall); e.ratio.push(b.wall / a.wall); e.cpuRatio.push(b.cpu / a.cpu);
      done++;
      const s = (performance.now() - t0) / 1000;
      process.stderr.write(`\rab-trees: ${done}/${total} pairs, ${(done / s).toFixed(2)} pairs/s, ETA ${Math.round((total - done) / (done / s))} s   `);
    }
  }
}
process.stderr.write('\n');
const fmt = (xs) => `${median(xs).toFixed(3)} [${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}]`;
console.log(`\n${'figure'.padEnd(22)} ${'A images/s'.padStart(11)} ${'B images/s'.padStart(11)}  ${'B/A wall time [range]'.padEnd(24)}  B/A CPU time [range]`);
for (const [key, e] of rates) {
  console.log(`${key.padEnd(22)} ${median(e.a).toFixed(0).padStart(11)} ${median(e.b).toFixed(0).padStart(11)}  ${fmt(e.ratio).padEnd(24)}  ${fmt(e.cpuRatio)}`);
}
console.log(`(${rounds} pairs per figure, ${seconds} s per measurement, order alternating; medians of the pairs' ratios, > 1: B faster)`);
process.exit(identical ? 0 : 1);
