// `nablax bench` (and `npm run bench`): throughput of every zoo model as a table, or JSON objects with --json;
// --gemm adds the GEMM kernel's GFLOP/s on the `cnn`'s shapes, --peers the same models in other JS engines.
import type { Command } from 'commander';
import { cnnGemmShapes, gemmGflops } from '../experiments/bench/gemm.js';
import { benchBatch, runBench, type BenchResult, type Measure } from '../experiments/bench/throughput.js';
import { summarizeRuns, type BenchRun } from '../experiments/bench/repeat.js';
import { kernels } from '../engine/kernels/kernels.js';
import { Rng } from '../engine/random.js';
import { zooNames, zooSpec, type ZooName } from '../layers/zoo.js';
import {
  ensurePeersInstalled, formatPeerTable, jsPeerNames, peerModels, peerNames, peerRatios, peersDir, runPeers, runTorchPeer,
  torchProblem, torchPython, type PeerResult,
} from '../experiments/bench/peers.js';
import { num, int, printJson, progressBar, result, say, UsageError, type Progress } from './util.js';
import { cpus } from 'node:os';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('images per second for training (batch 128, Adam), ∇x (batch 256) and inference (batch 256)')
    .option('--models <list>', 'comma-separated zoo models', zooNames.join(','))
    .option('--seconds <s>', 'seconds per timed round', num('--seconds', 0.05), 1)
    .option('--rounds <n>', 'timed rounds per figure (the median is reported)', int('--rounds', 1), 3)
    .option('--repeat <n>', 'measure everything n times in this run (with --peers torch, each model beside PyTorch, the order alternating) and report each figure as the median with its range', int('--repeat', 1), 1)
    .option('--gemm', "also the GEMM kernel's GFLOP/s on the cnn's shapes")
    .option('--peers [list]', `also measure the models in other engines (${peerNames.join(', ')}; default: the JavaScript ones, which build cnn and mlp and install into bench/peers on first use; torch: every model, in ${torchPython}) in a child process`)
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => {
      const models = String(o.models).split(',').map((s) => s.trim());
      for (const m of models) if (!zooNames.includes(m as ZooName)) throw new UsageError(`unknown model '${m}' (expected ${zooNames.join(', ')})`);
      let jsPeers: string[] = [];
      let torch = false;
      let forPeers: string[] = [];
      if (o.peers !== undefined) {
        let list: string[] = [...jsPeerNames];
        if (typeof o.peers === 'string') {
          list = o.peers.split(',').map((s: string) => s.trim());
          for (const p of list) if (!(peerNames as readonly string[]).includes(p)) throw new UsageError(`unknown peer '${p}' (expected ${peerNames.join(', ')})`);
        }
        torch = list.includes('torch');
        jsPeers = list.filter((p) => p !== 'torch');
        forPeers = models.filter((m) => (peerModels as readonly string[]).includes(m));
        if (jsPeers.length > 0 && forPeers.length === 0) {
          throw new UsageError(`--peers ${jsPeers.join(',')} measure ${peerModels.join(' and ')}, and --models has neither`);
        }
        // before the long work: the peer scripts must be there, and PyTorch importable
        peersDir();
        const problem = torch ? torchProblem() : null;
        if (problem !== null) throw new Error(problem);
      }
      const measures: Measure[] = ['train', 'inputGradient', 'inference'];
      const threads = kernels().getThreads();
      say(`nablax bench: kernels ${kernels().name}, ${threads} thread${threads === 1 ? '' : 's'}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}`);
      // The ceiling every figure is compared with: the peak loop on every thread, in this process, before the models
      // and after each one; the best of these samples, since a busy neighbour can only make a sample slower.
      const peakNow = (): number | null => kernels().peakGflops?.(300) ?? null;
      const samples: number[] = [];
      const sample = () => {
        const p = peakNow();
        if (p !== null) samples.push(p);
      };
      sample();
      const repeat: number = o.repeat;
      const dir = o.peers !== undefined ? peersDir() : '';
      // the bench's digits, read once (runBench and the PyTorch peer take them from the same cache) before any progress
      const torchBatch = benchBatch(256);
      benchBatch(128);
      const versions: Record<string, string> = {};
      // PyTorch on one model, in a child process, with nablax's thread count and the bench's digits
      const torchWhere = `${torchPython} bench/peers/torch_peer.py, a child process, ${threads} thread${threads === 1 ? '' : 's'}`;
      // With --json the table does not stream, so a progress line (figures done, rate, ETA) on stderr says where the
      // run is, redrawn at least once a second (each round of a figure ticks it); what would be said is its payload.
      let bar: Progress | null = null, done = 0;
      const note = (line: string, now: string) => {
        if (bar) bar.update(done, { now }, true); // a new stage: its line at once
        else say(line);
      };
      if (o.json) {
        if (torch) say(`bench --peers: PyTorch beside each model (${torchWhere})`);
        const figures = repeat * models.length * measures.length * (torch ? 2 : 1);
        bar = progressBar('bench', figures, '{now} | {rate} figures/s', { now: 'starting' });
      }
      const torchOn = async (m: string) => {
        note(`bench --peers: ${m} in PyTorch (${torchWhere})`, `${m} in PyTorch`);
        // while the child measures, move the line once a second by the time it should take: the same warm-up and
        // rounds per figure as nablax's, and a couple of seconds to start Python and import torch
        const t0 = performance.now(), expected = measures.length * (o.rounds + 1) * o.seconds + 2;
        const timer = bar && setInterval(() => {
          bar.update(done + measures.length * Math.min(0.95, (performance.now() - t0) / 1000 / expected));
        }, 1000);
        try {
          const t = await runTorchPeer(dir, {
            seconds: o.seconds, rounds: o.rounds, threads, x: torchBatch.x.data as Float32Array, y: torchBatch.y,
            models: [{ name: m, spec: zooSpec(m) }],
          });
          Object.assign(versions, t.versions);
          done += measures.length;
          bar?.update(done);
          return t.peers;
        } finally {
          if (timer) clearInterval(timer);
        }
      };
      const header = 'model     measure          batch   images/s   GFLOP/s';
      if (!o.json && repeat === 1) result(header);
      const runs: BenchRun[] = [];
      for (let rep = 0; rep < repeat; rep++) {
        if (repeat > 1) {
          note(`bench: repetition ${rep + 1} of ${repeat}`, `repetition ${rep + 1} of ${repeat}`);
          if (!o.json) result(`${rep === 0 ? '' : '\n'}repetition ${rep + 1} of ${repeat}:\n${header}`);
        }
        const run: BenchRun = { results: [], peers: [] };
        for (const m of models) {
          // each model beside its PyTorch figures, PyTorch first in every other repetition: a drift of the host's
          // speed then moves both sides of a ratio alike
          const torchFirst = torch && rep % 2 === 1;
          if (torchFirst) run.peers.push(...await torchOn(m));
          run.results.push(...await runBench({
            models: [m as ZooName],
            measures,
            seconds: o.seconds,
            rounds: o.rounds,
            // a figure's start (f = 0) writes its line at once
            onProgress: (model, measure, f) => bar?.update(done + f, { now: `${repeat > 1 ? `${rep + 1}/${repeat} ` : ''}${model} ${measure}` }, f === 0),
            onResult: (r) => {
              done++;
              bar?.update(done, { now: `${r.model} ${r.measure} ${r.imagesPerSecond} images/s` });
              if (!o.json) result(`${r.model.padEnd(9)} ${r.measure.padEnd(16)} ${String(r.batch).padStart(5)} ${String(r.imagesPerSecond).padStart(10)} ${r.gflops.toFixed(2).padStart(9)}`);
            },
          }));
          if (torch && !torchFirst) run.peers.push(...await torchOn(m));
          sample(); // after each model
        }
        runs.push(run);
      }
      bar?.stop();
      const peakGflops = samples.length === 0 ? null : Math.round(Math.max(...samples) * 100) / 100;
      // one repetition is summarised the same way: its own figures, with ranges of one value
      const summary = summarizeRuns(runs, peakGflops);
      const results: BenchResult[] = summary.results;
      if (!o.json && repeat > 1) {
        result(`\nmedians of ${repeat} repetitions [range]:`);
        result(`model     measure          batch ${'images/s [range]'.padEnd(27)} GFLOP/s [range]`);
        for (const r of summary.results) {
          const [lo, hi] = r.imagesPerSecondRange, [glo, ghi] = r.gflopsRange;
          result(`${r.model.padEnd(9)} ${r.measure.padEnd(16)} ${String(r.batch).padStart(5)} ${`${r.imagesPerSecond} [${lo}–${hi}]`.padEnd(27)} ${r.gflops.toFixed(2)} [${glo.toFixed(2)}–${ghi.toFixed(2)}]`);
        }
      }
      if (!o.json) {
        if (peakGflops === null) result('peak: not measured (these kernels have no SIMD peak loop)');
        else {
          result(`peak: ${peakGflops.toFixed(1)} GFLOP/s (independent SIMD multiply-adds on ${threads} thread${threads === 1 ? '' : 's'}; ` +
            `the best of ${samples.length} samples, one before the first model and one after each model, lowest ${Math.min(...samples).toFixed(1)}); fraction of it${repeat > 1 ? ' (median)' : ''}:`);
          const label: Record<Measure, string> = { train: 'train', inputGradient: '∇x', inference: 'inference' };
          for (const m of models) {
            const parts = results.filter((r) => r.model === m).map((r) => `${label[r.measure]} ${(r.fractionOfPeak! * 100).toFixed(1)}%`);
            result(`  ${m.padEnd(9)} ${parts.join(', ')}`);
          }
        }
      }
      // Peak memory of the whole run: the resident set at its highest (process.resourceUsage reports it in KiB).
      const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
      // …of which the kernels' WebAssembly linear memory (it only grows, to the largest problem of the run)
      const wasmBytes = kernels().memoryBytes?.();
      const wasmMemoryMiB = wasmBytes === undefined ? null : Math.round(wasmBytes / (1 << 20));
      if (!o.json) result(`peak memory: ${peakRssMiB} MiB resident${wasmMemoryMiB === null ? '' : `, of which ${wasmMemoryMiB} MiB WebAssembly linear memory`}`);
      const doc: Record<string, unknown> = {
        kernels: kernels().name, threads, cpu: cpus()[0]?.model ?? null, node: process.version, peakGflops, peakRssMiB, wasmMemoryMiB, results,
      };
      if (repeat > 1) {
        doc.repeat = repeat;
        doc.runs = summary.runs; // each repetition with its own fraction of the peak
      }

      if (o.gemm) {
        if (!o.json) result(`\n${`gemm (${kernels().name})`.padEnd(20)} ${'shape (M,N,K) op'.padEnd(18)} ${'GFLOP/s'.padStart(8)}`);
        const rng = new Rng(1234);
        doc.gemm = cnnGemmShapes.map((s) => {
          const gflops = Math.round(gemmGflops(kernels(), s, rng, { warmMs: 100, rounds: 3 }) * 100) / 100;
          if (!o.json) result(`${s.role.padEnd(20)} ${`(${s.M},${s.N},${s.K}) ${s.op}`.padEnd(18)} ${gflops.toFixed(2).padStart(8)}`);
          return { ...s, gflops };
        });
      }

      if (o.peers !== undefined) {
        const torchResults = summary.peers;
        const jsResults: PeerResult[] = [];
        if (jsPeers.length > 0) {
          ensurePeersInstalled(dir, say);
          say(`\nbench --peers: ${forPeers.join(', ')} in ${jsPeers.join(', ')} (bench/peers/run.mjs, a child process)`);
          const js = runPeers(dir, { seconds: o.seconds, rounds: o.rounds, models: forPeers, peers: jsPeers });
          jsResults.push(...js.peers);
          Object.assign(versions, js.versions);
        }
        const peerResults: PeerResult[] = [...jsResults, ...torchResults];
        doc.peers = peerResults;
        doc.peerVersions = versions;
        // PyTorch's ratios over the repetitions are the median of the side-by-side ratios (with their range)
        doc.ratios = [...peerRatios(results, jsResults), ...summary.ratios];
        if (!o.json) {
          result('');
          for (const line of formatPeerTable(results, peerResults)) result(line);
          if (repeat > 1) {
            for (const r of summary.ratios) {
              if (r.ratioRange !== null) result(`${r.model} ${r.measure}: nablax ÷ ${r.peer} ${r.ratio}× median of ${repeat} side-by-side ratios [${r.ratioRange[0]}–${r.ratioRange[1]}]`);
            }
          }
          const v = Object.entries(versions).map(([k, s]) => `${k} ${s}`).join(', ');
          if (v !== '') result(`versions: ${v}`);
        }
      }
      if (o.json) printJson(doc);
    });
}
