#!/usr/bin/env node
// The nablax command line: train, eval, grad, info, attacks, analyses, adversarial training, experiments, bench and
// the demo (main job). Results go to stdout, progress and notices to stderr. Errors become one line on stderr and an
// exit code: 2 for every usage error (commander's own, a bad flag value, an output path that cannot be written),
// 1 for a failure, 130 for an interrupt (Ctrl-C).
import { CommanderError } from 'commander';
import { setupKernels } from './kernels.js';
import { buildProgram } from './program.js';
import { installInterruptHandler, Interrupted, stopAllProgress, UsageError } from './util.js';

const program = buildProgram();
setupKernels();
// A reader that stops early (`nablax info … | head -1`) closes the pipe: the rest of the output has nowhere to go,
// which is what the reader asked for, so leave quietly instead of dying on the write's EPIPE with a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
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
