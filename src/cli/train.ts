// `nablax train`: train a zoo model or a JSON spec on a data source, evaluate on the official test set,
// save the model (atomic) with a checkpoint per epoch; --resume continues from the checkpoint. The run itself is
// experiments/training-run.ts; here are its flags, its progress bars and its output.
import type { Command } from 'commander';
import { zooNames } from '../layers/zoo.js';
import { runTraining, TrainingInterrupted, TrainingSetupError, type TrainArgs, type TrainRun } from '../experiments/training-run.js';
import type { TrainJson } from '../report/json-types.js';
import { dataOption, jsonOption, limitOptions, outOption } from './options.js';
import { claimOutputs, int, Interrupted, num, plural, printJson, progressBar, result, say, UsageError, withInterrupt, type Progress } from './util.js';

/**
 * runTraining with the CLI's face: the run's header on stderr, a progress bar per epoch and one for the test set,
 * Ctrl-C stopping after the batch in progress (exit 130, the last checkpoint kept), setup errors as usage errors.
 * @example
 *   const run = await trainWithProgress({ model: 'cnn', data: 'mnist', epochs: 1, batchSize: 128, optimizer: 'adam', lr: 2e-3, seed: 0, out: 'runs/m.safetensors' });
 */
export async function trainWithProgress(a: TrainArgs): Promise<TrainRun> {
  let bar: Progress | null = null, testBar: Progress | null = null;
  try {
    return await withInterrupt((stopped) => runTraining(a, {
      interrupted: stopped,
      onMessage: say,
      onProgress: (p) => {
        if (p.batch === 1) bar = progressBar(`epoch ${p.epoch + 1}/${p.epochs}`, p.batches, 'loss {loss} acc {acc} | {rate} img/s', { loss: '–', acc: '–' });
        bar?.update(p.batch, { loss: p.loss.toFixed(4), acc: (100 * p.accuracy).toFixed(2) + '%', rate: p.imagesPerSecond.toFixed(0) });
        if (p.batch === p.batches) bar?.stop();
      },
      onTrainingEnd: () => bar?.stop(),
      onTestStart: (total) => (testBar = progressBar('test', total, '{rate} img/s')),
      onTestProgress: (done) => testBar?.update(done),
      onTestEnd: () => testBar?.stop(),
    }));
  } catch (e) {
    (bar as Progress | null)?.stop();
    (testBar as Progress | null)?.stop();
    if (e instanceof TrainingSetupError) throw new UsageError(e.message);
    if (e instanceof TrainingInterrupted) throw new Interrupted(e.message);
    throw e;
  }
}

export function registerTrain(program: Command): void {
  const cmd = program
    .command('train')
    .description('train a model and evaluate it on the official test images')
    .option('--model <name|spec.json>', `zoo model (${zooNames.join(', ')}) or a JSON spec file`, 'cnn')
    .option('--test-data <source>', 'test data source (default: the official MNIST test set, or the --data directory)')
    .option('--epochs <n>', 'epochs', int('--epochs', 1), 3)
    .option('--batch-size <n>', 'minibatch size (a last batch of one example joins the batch before it)', int('--batch-size', 1), 128)
    .option('--optimizer <name>', 'sgd, momentum or adam', 'adam')
    .option('--lr <rate>', 'learning rate (the peak, with a cosine schedule)', num('--lr', 0, Infinity, true), 2e-3)
    .option('--lr-schedule <name>', 'constant, or cosine decay to 0 over the run', 'cosine')
    .option('--momentum <m>', 'momentum for sgd/momentum', num('--momentum', 0, 1))
    .option('--weight-decay <λ>', 'L2 weight decay', num('--weight-decay', 0))
    .option('--seed <n>', 'seed for initialisation, shuffling and dropout', int('--seed', 0), 0)
    .option('--classes <n>', 'number of classes (default: the spec file\'s output width, or 10 for a zoo model); labels of both splits are checked against it before training', int('--classes', 2))
    .option('--resume', 'continue from the checkpoint beside --out (the same options; more --epochs may be given)');
  dataOption(cmd, 'mnist', 'training data');
  limitOptions(cmd, { train: true, test: true, oldLimit: 'train', testHelp: 'evaluate on the first N test images' });
  outOption(cmd, 'file', 'model file to write (its checkpoint goes beside it)', 'runs/model.safetensors');
  jsonOption(cmd);
  cmd.action(async (o) => {
      if (!['sgd', 'momentum', 'adam'].includes(o.optimizer)) throw new UsageError(`unknown optimizer '${o.optimizer}' (expected sgd, momentum or adam)`);
      if (!['constant', 'cosine'].includes(o.lrSchedule)) throw new UsageError(`unknown --lr-schedule '${o.lrSchedule}' (expected constant or cosine)`);
      claimOutputs([{ path: o.out, kind: 'file', flag: '--out' }]);
      const run = await trainWithProgress({ ...o, data: o.data, testData: o.testData });
      const doc: TrainJson = {
        model: o.model,
        data: run.trainSet.name,
        trainCount: run.trainSet.count,
        testData: run.testSet.name,
        testCount: run.test.count,
        epochs: o.epochs,
        batchSize: o.batchSize,
        optimizer: o.optimizer,
        lr: o.lr,
        lrSchedule: o.lrSchedule,
        seed: o.seed,
        parameters: run.model.numParameters(),
        cleanAccuracy: run.test.accuracy,
        testLoss: run.test.loss,
        perClassAccuracy: run.test.perClassAccuracy,
        confusion: run.test.confusion,
        history: run.history,
        trainSeconds: run.seconds,
        modelFile: o.out,
        testAccuracy: run.test.accuracy,
        out: o.out,
      };
      if (o.json) printJson(doc);
      else result(`test accuracy ${(100 * run.test.accuracy).toFixed(2)}% on ${plural(run.test.count, 'test image')} of ${run.testSet.name}; saved ${o.out}`);
    });
}
