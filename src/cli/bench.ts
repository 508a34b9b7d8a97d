// `nablax bench` (and `npm run bench`): throughput of every zoo model as a table, or JSON objects with --json;
// --gemm adds the GEMM kernel's GFLOP/s on the `cnn`'s shapes, --peers the same models in other JS engines.
import type { Command } from 'commander';
import { cnnGemmShapes, gemmGflops } from '../../bench/gemm.js';
import { runBench, type Measure } from '../../bench/throughput.js';
import { kernels } from '../engine/kernels/kernels.js';
import { Rng } from '../engine/random.js';
import { zooNames, type ZooName } from '../layers/zoo.js';
import { ensurePeersInstalled, formatPeerTable, peerModels, peerNames, peerRatios, peersDir, runPeers } from './bench-peers.js';
import { num, int, printJson, say, UsageError } from './util.js';
import { cpus } from 'node:os';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('images per second for training (batch 128, Adam), ∇x (batch 256) and inference (batch 256)')
    .option('--models <list>', 'comma-separated zoo models', zooNames.join(','))
    .option('--seconds <s>', 'seconds per timed round', num('--seconds', 0.05), 1)
    .option('--rounds <n>', 'timed rounds per figure (the median is reported)', int('--rounds', 1), 3)
    .option('--gemm', "also the GEMM kernel's GFLOP/s on the cnn's shapes")
    .option('--peers [list]', `also measure cnn and mlp in other engines (${peerNames.join(', ')}) in a child process; installs them into bench/peers on first use`)
    .option('--json', 'print one JSON document on stdout')
    .action((o) => {
      const models = String(o.models).split(',').map((s) => s.trim());
      for (const m of models) if (!zooNames.includes(m as ZooName)) throw new UsageError(`unknown model '${m}' (expected ${zooNames.join(', ')})`);
      let peers: string[] | undefined;
      let forPeers: string[] = [];
      if (o.peers !== undefined) {
        if (typeof o.peers === 'string') {
          const list: string[] = o.peers.split(',').map((s: string) => s.trim());
          for (const p of list) if (!(peerNames as readonly string[]).includes(p)) throw new UsageError(`unknown peer '${p}' (expected ${peerNames.join(', ')})`);
          peers = list;
        }
        forPeers = models.filter((m) => (peerModels as readonly string[]).includes(m));
        if (forPeers.length === 0) throw new UsageError(`--peers measures ${peerModels.join(' and ')}, and --models has neither`);
      }
      const measures: Measure[] = ['train', 'inputGradient', 'inference'];
      const threads = kernels().getThreads();
      say(`nablax bench: kernels ${kernels().name}, ${threads} thread${threads === 1 ? '' : 's'}, ${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), Node ${process.version}`);
      // The ceiling every figure is compared with, measured now, in this process, on every thread.
      const measured = kernels().peakGflops?.(300);
      const peakGflops = measured === undefined ? null : Math.round(measured * 100) / 100;
      say(peakGflops === null
        ? 'peak: not measured (these kernels have no SIMD peak loop)'
        : `peak: ${peakGflops.toFixed(1)} GFLOP/s (independent SIMD multiply-adds on ${threads} thread${threads === 1 ? '' : 's'})`);
      if (!o.json) say('model     measure          batch   images/s   GFLOP/s  of peak');
      const results = runBench({
        models: models as ZooName[],
        measures,
        seconds: o.seconds,
        rounds: o.rounds,
        peakGflops,
        onResult: (r) => {
          if (o.json) return;
          const frac = r.fractionOfPeak === null ? '-' : `${(r.fractionOfPeak * 100).toFixed(1)}%`;
          say(`${r.model.padEnd(9)} ${r.measure.padEnd(16)} ${String(r.batch).padStart(5)} ${String(r.imagesPerSecond).padStart(10)} ${r.gflops.toFixed(2).padStart(9)} ${frac.padStart(8)}`);
        },
      });
      // Peak memory of the whole run: the resident set at its highest (process.resourceUsage reports it in KiB).
      const peakRssMiB = Math.round(process.resourceUsage().maxRSS / 1024);
      if (!o.json) say(`peak memory: ${peakRssMiB} MiB resident`);
      const doc: Record<string, unknown> = {
        kernels: kernels().name, threads, cpu: cpus()[0]?.model ?? null, node: process.version, peakGflops, peakRssMiB, results,
      };

      if (o.gemm) {
        if (!o.json) say(`\n${`gemm (${kernels().name})`.padEnd(20)} ${'shape (M,N,K) op'.padEnd(18)} ${'GFLOP/s'.padStart(8)}`);
        const rng = new Rng(1234);
        doc.gemm = cnnGemmShapes.map((s) => {
          const gflops = Math.round(gemmGflops(kernels(), s, rng, { warmMs: 100, rounds: 3 }) * 100) / 100;
          if (!o.json) say(`${s.role.padEnd(20)} ${`(${s.M},${s.N},${s.K}) ${s.op}`.padEnd(18)} ${gflops.toFixed(2).padStart(8)}`);
          return { ...s, gflops };
        });
      }

      if (o.peers !== undefined) {
        const dir = peersDir();
        ensurePeersInstalled(dir, say);
        say(`\nbench --peers: ${forPeers.join(', ')} in ${(peers ?? peerNames).join(', ')} (bench/peers/run.mjs, a child process)`);
        const { peers: peerResults, versions } = runPeers(dir, { seconds: o.seconds, rounds: o.rounds, models: forPeers, peers });
        doc.peers = peerResults;
        doc.peerVersions = versions;
        doc.ratios = peerRatios(results, peerResults);
        if (!o.json) {
          say('');
          for (const line of formatPeerTable(results, peerResults)) say(line);
          const v = Object.entries(versions).map(([k, s]) => `${k} ${s}`).join(', ');
          if (v !== '') say(`versions: ${v}`);
        }
      }
      if (o.json) printJson(doc);
    });
}
