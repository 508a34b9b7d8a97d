// The nablax program: its global options (--threads, --version), the house format of commander's errors, and every
// command, registered in the order `nablax --help` lists them. A new command is one line here.
import { Command } from 'commander';
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
import { addArchOptions } from './model-option.js';
import { setThreads, threadCountProblem, threadsEnvProblem } from '../engine/kernels/kernels.js';
import { UsageError } from './util.js';

/**
 * The whole command line, ready to parse (nothing runs until `parseAsync`).
 * @example
 *   buildProgram().commands.map((c) => c.name());   // ['train', 'eval', 'grad', …]
 */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('nablax')
    .description('∇x: input gradients, MNIST training and adversarial experiments on a from-scratch engine')
    .version('0.1.0')
    .option('--threads <n>', 'threads for the WebAssembly kernels: convolutions, matrix products, batch-norm, Adam (default: NABLAX_THREADS, else the cores, at most 4); results are the same bits for any count')
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
      if (t === undefined) {
        // the kernels would fall back to the default count: refuse a bad value before any work, as --threads does
        const problem = threadsEnvProblem();
        if (problem !== null) throw new UsageError(problem);
        return;
      }
      const problem = threadCountProblem('--threads', String(t));
      if (problem !== null) throw new UsageError(problem);
      setThreads(Number(t));
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
  return program;
}
