#!/usr/bin/env node
// The nablax command line: train, eval, grad, info, attacks, analyses, adversarial training, experiments, bench and
// the demo (main job). Results go to stdout, progress and notices to stderr. Errors become one line on stderr and an
// exit code: 2 for every usage error (commander's own, a bad flag value, an output path that cannot be written),
// 1 for a failure, 130 for an interrupt (Ctrl-C).
import { Command, CommanderError } from 'commander';
import { registerAdvTrain } from './adv-train.js';
import { registerAttack } from './attack.js';
import { registerBench } from './bench.js';
import { registerDemo } from './demo.js';
import { registerExperiment } from './experiment.js';
import { registerEval } from './eval.js';
import { registerGrad } from './grad.js';
import { registerInfo } from './info.js';
import { registerPredict } from './predict.js';
import { registerLab } from './lab.js';
import { registerLinear } from './linear.js';
import { registerReproduce } from './reproduce.js';
import { registerTrace } from './trace.js';
import { registerTrain } from './train.js';
import { setupKernels } from './kernels.js';
import { addArchOptions } from './model-option.js';
import { setThreads } from '../engine/kernels/kernels.js';
import { installInterruptHandler, Interrupted, stopAllProgress, UsageError } from './util.js';

const program = new Command();
program
  .name('nablax')
  .description('∇x: input gradients, MNIST training and adversarial experiments on a from-scratch engine')
  .version('0.1.0')
  .option('--threads <n>', 'threads for the convolution kernels (default: NABLAX_THREADS, else the cores, at most 4); results are the same bits for any count')
  .exitOverride()
  .configureOutput({
    writeErr: (s) => process.stderr.write(s),
    // commander's own errors in the house format: one line, `nablax <command>: …`
    outputError: (s, write) => {
      const sub = process.argv.slice(2).find((a) => program.commands.some((c) => c.name() === a));
      write(`nablax${sub ? ' ' + sub : ''}: ${s.replace(/^error: /, '')}`);
    },
  })
  .configureHelp({ showGlobalOptions: true })
  .hook('preAction', () => {
    // NABLAX_CHECK_ARGS=1 stops once the command and its flags have parsed: the README test checks long commands so
    if (process.env.NABLAX_CHECK_ARGS === '1') process.exit(0);
    const t = program.opts().threads;
    if (t === undefined) return;
    const n = Number(t);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--threads must be an integer from 1 to 64, got '${t}'`);
    setThreads(n);
  });
registerTrain(program);
registerEval(program);
registerGrad(program);
registerPredict(program);
registerInfo(program);
registerDemo(program);
registerAttack(program);
registerLinear(program);
registerTrace(program);
registerAdvTrain(program);
registerReproduce(program);
registerExperiment(program);
registerBench(program);
addArchOptions(program); // --arch/--spec on every command that takes --model-file
registerLab(program);

setupKernels();
// Ctrl-C: bars stopped, one line saying what was kept, exit 130, in every command (train, adv-train and demo keep
// their own, which finishes the batch in progress and keeps the last checkpoint). A JavaScript handler runs only when
// the event loop turns, so every command's work yields once per batch (letInterruptIn) and writes its files in one
// synchronous stretch after the work: an interrupt leaves all of them or none.
program.hook('preAction', (_, action) => {
  installInterruptHandler(() => action.name());
});
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // commander already printed its message (or the help / version, exit code 0); its errors are usage errors
    process.exit(e.exitCode === 0 ? 0 : 2);
  }
  stopAllProgress();
  const cmd = program.args[0] ?? '';
  const msg = (e as Error).message ?? String(e);
  process.stderr.write(`nablax${cmd ? ' ' + cmd : ''}: ${msg.split('\n')[0]}\n`);
  process.exit(e instanceof Interrupted ? 130 : e instanceof UsageError ? 2 : 1);
}
