// `nablax bench` (and `npm run bench`): throughput of every zoo model as a table, or JSON objects with --json.
import type { Command } from 'commander';
import { runBench, type Measure } from '../../bench/throughput.js';
import { kernels } from '../engine/kernels/kernels.js';
import { zooNames, type ZooName } from '../layers/zoo.js';
import { num, int, printJson, say, UsageError } from './util.js';
import { cpus } from 'node:os';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('images per second for training (batch 128, Adam), ∇x (batch 256) and inference (batch 256)')
    .option('--models <list>', 'comma-separated zoo models', zooNames.join(','))
    .option('--seconds <s>', 'seconds per timed round', num('--seconds', 0.05), 1)
    .option('--rounds <n>', 'timed rounds per figure (the median is reported)', int('--rounds', 1), 3)
    .option('--json', 'print one JSON document on stdout')
    .action((o) => {
      const models = String(o.models).split(',').map((s) => s.trim());
      for (const m of models) if (!zooNames.includes(m as ZooName)) throw new UsageError(`unknown model '${m}' (expected ${zooNames.join(', ')})`);
      const measures: Measure[] = ['train', 'inputGradient', 'inference'];
      say(`nablax bench: kernels ${kernels().name}, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`);
      if (!o.json) say('model     measure          batch   images/s');
      const results = runBench({
        models: models as ZooName[],
        measures,
        seconds: o.seconds,
        rounds: o.rounds,
        onResult: (r) => {
          if (!o.json) say(`${r.model.padEnd(9)} ${r.measure.padEnd(16)} ${String(r.batch).padStart(5)} ${String(r.imagesPerSecond).padStart(10)}`);
        },
      });
      if (o.json) printJson({ kernels: kernels().name, cpu: cpus()[0]?.model ?? null, node: process.version, results });
    });
}
