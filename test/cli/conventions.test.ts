// One convention for every command, end to end from source: the result on stdout and progress on stderr, exit
// codes (2 usage, 1 failure, 130 Ctrl-C), outputs checked before work (in words, never a hang under /proc),
// locked per run, temporaries of dead runs cleaned, --resume refusing other options, Ctrl-C keeping the last
// checkpoint and saying so, deprecated flags still working with a notice.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointHeader, loadCheckpoint } from '../../src/train/checkpoint.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';
import { makeOptimizer } from '../../src/train/optimizers.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const env = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
const args = (a: string[]) => ['--import', 'tsx', 'src/cli/main.ts', ...a];
const cli = (...a: string[]): SpawnSyncReturns<string> => spawnSync(process.execPath, args(a), { cwd: repoRoot, encoding: 'utf8', timeout: 120_000, env });
const show = (r: SpawnSyncReturns<string>) => `exit ${r.status} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

let root: string;
let model: string;
let trained: SpawnSyncReturns<string>;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'nablax-conv-'));
  model = join(root, 'm.safetensors');
  trained = cli('train', '--model', 'softmax', '--train-limit', '300', '--epochs', '1', '--test-limit', '100', '--out', model);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('results on stdout, progress and notices on stderr', () => {
  it('a reader that closes the pipe early (`| head -1`): exit 0 and nothing on stderr, no EPIPE stack trace', async () => {
    const child = spawn(process.execPath, args(['info', '--model-file', model]), { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the first line
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('train: the result line on stdout; the announcement ("1 epoch") and the progress on stderr', () => {
    expect(trained.status, show(trained)).toBe(0);
    expect(trained.stdout).toMatch(/^test accuracy \d+\.\d+% on 100 test images of .*; saved .*m\.safetensors\n$/);
    expect(trained.stderr).toMatch(/^nablax train: softmax .*\(300 images\), 1 epoch, batch 128/);
    expect(trained.stderr).toMatch(/epoch 1\/1 100% 3\/3 \| loss [\d.]+ acc [\d.]+% \| \d+ img\/s \| ETA 0s\n/);
    expect(trained.stderr.match(/epoch 1\/1 100%/g)).toHaveLength(1); // the final line once
    // the final evaluation has its own bar, after training
    expect(trained.stderr).toMatch(/ETA 0s\ntest 0% 0\/100 \| – img\/s \| ETA –\n(test .*\n)*test 100% 100\/100 \| \d+ img\/s \| ETA 0s\n$/);
  });

  it('info, eval, predict, grad, trace, linear, attack, bench: what `| grep` needs is on stdout', () => {
    const cases: [string[], RegExp, RegExp | null][] = [
      [['info', '--model-file', model], /^.*7,850 parameters\n[\s\S]*1\.weight\s+\[10, 784\]/, null],
      [['eval', '--model-file', model, '--test-limit', '50'], /^test accuracy \d+\.\d+% \(loss [\d.]+\) on 50 test images/, /eval 100% 50\/50 \| \d+ img\/s \| ETA 0s\n$/],
      [['predict', '--model-file', model, '--index', '0'], /^#0 label 7 predicted \d +logits/, null],
      [['grad', '--model-file', model, '--index', '0,1', '--out', join(root, 'g.png')], /^#0 label 7 predicted \d .*\n#1 label 2/, /wrote .*g\.png/],
      [['trace', '--model-file', model, '--index', '0'], /^test image 0: label 7[\s\S]*forward:[\s\S]*backward:/, null],
      [['linear', '--model-file', model, '--test-limit', '20'], /network, true logit, 20 test images/, /linear: network, 5 ε 100% 20\/20 \| \d+ img\/s \| ETA 0s/],
      [['attack', '--model-file', model, '--attack', 'fgsm', '--eps', '0.1', '--test-limit', '20'], /^clean accuracy [\d.]+% on 20 test images\nfgsm eps 0\.1: accuracy [\d.]+%, success/, /fgsm eps 0\.1 100% 20\/20 \| \d+ img\/s \| ETA 0s/],
      [['bench', '--models', 'softmax', '--seconds', '0.05', '--rounds', '1'], /^model +measure +batch +images\/s +GFLOP\/s\nsoftmax +train +128 +\d+/, /^nablax bench: kernels /],
    ];
    for (const [a, out, err] of cases) {
      const r = cli(...a);
      expect(r.status, `${a[0]}: ${show(r)}`).toBe(0);
      expect(r.stdout, `${a[0]} stdout`).toMatch(out);
      if (err) expect(r.stderr, `${a[0]} stderr`).toMatch(err);
      else expect(r.stderr, `${a[0]} stderr`).toBe('');
    }
  });

  it('adv-train: announces itself as adv-train, the result on stdout, the report beside the model in --out', () => {
    const out = join(root, 'adv');
    const r = cli('adv-train', '--model', 'softmax', '--method', 'fgsm-aug', '--epochs', '1', '--train-limit', '200', '--test-limit', '50',
      '--robust-limit', '20', '--epoch-test-limit', '0', '--out', out);
    expect(r.status, show(r)).toBe(0);
    expect(r.stderr).toMatch(/^nablax adv-train: softmax /);
    expect(r.stderr).toMatch(/PGD-40 ε=0\.1 on 20 test images 100% 20\/20/);
    expect(r.stdout).toMatch(/^clean \d+\.\d+% \(50 test images\), FGSM ε=0\.1 [\d.]+%, PGD-40 ε=0\.1 [\d.]+%, AutoAttack \(apgd-ce\+apgd-t\) [\d.]+%, robust [\d.]+% \(first 20 test images\); saved .*adv\/model\.safetensors\n$/);
    expect(readdirSync(out).sort()).toEqual(['model.adv-state.json', 'model.ckpt.safetensors', 'model.safetensors', 'report.json', 'report.md']);
    const doc = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(doc).toMatchObject({ testCount: 50, robustCount: 20, modelFile: join(out, 'model.safetensors') });
  });
});

describe('exit codes', () => {
  it('2 for every usage error, 1 for a failure, each one line on stderr', () => {
    const bad = join(root, 'not-a-model.safetensors');
    writeFileSync(bad, 'this is not a safetensors file');
    const cases: [string[], number, RegExp][] = [
      [['eval', '--model-file', model, '--bogus'], 2, /^nablax eval: unknown option '--bogus'/],
      [['attack'], 2, /^nablax attack: required option '--model-file <path>' not specified/],
      [['frob'], 2, /^nablax: unknown command 'frob'/],
      [['bench', '--rounds', '0'], 2, /^nablax bench: --rounds must be an integer ≥ 1, got '0'/],
      [['eval', '--model-file', model, '--limit', '5', '--test-limit', '5'], 2, /--limit and --test-limit are the same option/],
      [['info', '--model-file', bad], 1, /^nablax info: .*not-a-model\.safetensors/],
    ];
    for (const [a, code, re] of cases) {
      const r = cli(...a);
      expect(r.status, show(r)).toBe(code);
      expect(r.stderr.trimEnd().split('\n'), show(r)).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(r.stdout).toBe('');
    }
  });

  it('BatchNorm1d with batches of one example: a usage error (2), said before any work, nothing written', () => {
    const spec = join(root, 'bn1d.json');
    writeFileSync(spec, JSON.stringify({ input: [1, 28, 28], layers: [{ type: 'flatten' }, { type: 'dense', in: 784, out: 8 }, { type: 'batchnorm1d', features: 8 }, { type: 'relu' }, { type: 'dense', in: 8, out: 10 }] }));
    const dir = join(root, 'bn1d');
    const cases: [string[], RegExp][] = [
      [['train', '--model', spec, '--batch-size', '1', '--train-limit', '20', '--out', join(dir, 'a.safetensors')], /^nablax train: --batch-size 1: layer 2 \(batchnorm1d\) needs batches of at least 2 examples in training; use --batch-size 2 or more/],
      [['train', '--model', spec, '--train-limit', '1', '--out', join(dir, 'b.safetensors')], /^nablax train: a training set of 1 image \(.*\): layer 2 \(batchnorm1d\) needs batches of at least 2 examples/],
      [['adv-train', '--method', 'fgsm-aug', '--model', spec, '--batch-size', '1', '--train-limit', '20', '--out', join(dir, 'adv')], /^nablax adv-train: --batch-size 1: layer 2 \(batchnorm1d\)/],
    ];
    for (const [a, re] of cases) {
      const r = cli(...a);
      expect(r.status, show(r)).toBe(2);
      expect(r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('nablax train: ') && !l.startsWith('nablax adv-train: ')), show(r)).toEqual([]);
      expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(re);
      expect(r.stderr, 'no work started').not.toMatch(/epoch \d/);
      expect(r.stdout).toBe('');
    }
    expect(existsSync(dir) ? readdirSync(dir) : [], 'no file, no lock').toEqual([]);
  });

  it('deprecated names keep working for one release, with a notice on stderr', () => {
    const r = cli('eval', '--model-file', model, '--limit', '30', '--json');
    expect(r.status, show(r)).toBe(0);
    const [notice, ...bar] = r.stderr.trimEnd().split('\n');
    expect(notice).toBe('notice: --limit is deprecated and goes in the next release; use --test-limit');
    expect(bar.every((l) => /^eval \d+% \d+\/30 /.test(l)), r.stderr).toBe(true);
    const doc = JSON.parse(r.stdout);
    expect(doc.testCount).toBe(30);
    expect(doc.cleanAccuracy).toBe(doc.testAccuracy);
  });
});

describe('outputs checked before work, locked, temporaries cleaned', () => {
  it('under /proc: fails at once with a reason, before loading anything', () => {
    const r = cli('attack', '--model-file', model, '--test-limit', '10', '--out', '/proc/x/report');
    expect(r.status, show(r)).toBe(2);
    expect(r.stderr).toBe('nablax attack: --out cannot write /proc/x/report: /proc is a virtual file system, no files can be made there\n');
  });

  it('a file in the way: "not a directory"', () => {
    const f = join(root, 'a-file');
    writeFileSync(f, '');
    const r = cli('train', '--model', 'softmax', '--train-limit', '50', '--epochs', '1', '--out', join(f, 'm.safetensors'));
    expect(r.status, show(r)).toBe(2);
    expect(r.stderr).toMatch(/^nablax train: --out cannot write .*a-file\/m\.safetensors: .*a-file is not a directory\n$/);
    expect(r.stderr).not.toMatch(/epoch/); // no work started
  });

  it('"permission denied" and "read-only file system" in words', () => {
    const locked = join(root, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o555);
    chmodSync(root, 0o755);
    // root ignores permission bits: run as nobody then
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const r = spawnSync(process.execPath, args(['grad', '--model-file', model, '--out', join(locked, 'g.png')]), { cwd: repoRoot, encoding: 'utf8', env, ...asUser });
    expect(r.status, show(r)).toBe(2);
    expect(r.stderr).toMatch(/^nablax grad: --out cannot write .*locked\/g\.png: permission denied\n$/);
    // a read-only mount, where a user namespace can make one (Linux); elsewhere this part has nothing to mount
    const ro = join(root, 'ro');
    mkdirSync(ro);
    const can = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'true']).status === 0;
    if (can) {
      const cmd = `mount -t tmpfs -o ro none '${ro}' && exec '${process.execPath}' ${args(['grad', '--model-file', model, '--out', join(ro, 'sub', 'g.png')]).map((s) => `'${s}'`).join(' ')}`;
      const q = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', cmd], { cwd: repoRoot, encoding: 'utf8', env });
      expect(q.status, show(q)).toBe(2);
      expect(q.stderr).toMatch(/^nablax grad: --out cannot write .*ro\/sub\/g\.png: read-only file system \(in .*ro\)\n$/);
    }
  });

  it('a live run\'s lock stops a second run; a dead run\'s lock and temporaries are taken over and cleaned', () => {
    const dir = join(root, 'locks');
    mkdirSync(dir);
    const out = join(dir, 'm.safetensors');
    writeFileSync(`${out}.lock`, `${process.pid}\n`); // a live holder: this test process
    const second = cli('train', '--model', 'softmax', '--train-limit', '50', '--epochs', '1', '--test-limit', '10', '--out', out);
    expect(second.status, show(second)).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`^nablax train: .*m\\.safetensors is being written by another nablax run \\(pid ${process.pid}\\)`));
    expect(existsSync(out)).toBe(false);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(`${out}.lock`, `${dead}\n`);
    writeFileSync(join(dir, `.m.safetensors.tmp-${dead}-1700000000000`), 'half a model of a killed run');
    const r = cli('train', '--model', 'softmax', '--train-limit', '50', '--epochs', '1', '--test-limit', '10', '--out', out);
    expect(r.status, show(r)).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['m.ckpt.safetensors', 'm.safetensors']);
  });
});

describe('--resume', () => {
  it('refuses other options, naming them; more epochs are fine', () => {
    const dir = join(root, 'resume');
    mkdirSync(dir);
    const out = join(dir, 'm.safetensors');
    const base = ['train', '--model', 'softmax', '--train-limit', '100', '--test-limit', '10', '--out', out];
    expect(cli(...base, '--epochs', '1').status).toBe(0);
    const r = cli(...base, '--epochs', '2', '--lr', '0.01', '--seed', '3', '--resume');
    expect(r.status, show(r)).toBe(2);
    expect(r.stderr).toBe("nablax train: --resume: the checkpoint was trained with other options: --lr 0.01 (checkpoint: 0.002), --seed 3 (checkpoint: 0); resume with the checkpoint's options, or start afresh without --resume\n");
    const ok = cli(...base, '--epochs', '2', '--resume');
    expect(ok.status, show(ok)).toBe(0);
    expect(checkpointHeader(join(dir, 'm.ckpt.safetensors')).epoch).toBe(2);
    expect((checkpointHeader(join(dir, 'm.ckpt.safetensors')).state as { options: { trainCount: number } }).options.trainCount).toBe(100);
  });
});

describe('Ctrl-C', () => {
  it('exits 130 after the bar stops, keeps the last checkpoint (it loads) and says which epoch it holds', async () => {
    const dir = join(root, 'sigint');
    mkdirSync(dir);
    const out = join(dir, 'm.safetensors');
    const ckpt = join(dir, 'm.ckpt.safetensors');
    const child = spawn(process.execPath, args(['train', '--model', 'softmax', '--train-limit', '1000', '--batch-size', '10', '--epochs', '1000', '--out', out]), { cwd: repoRoot, env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    for (let i = 0; i < 600 && !existsSync(ckpt); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(ckpt), stderr).toBe(true);
    child.kill('SIGINT');
    const code = await exited;
    expect(code, stderr).toBe(130);
    const lines = stderr.trimEnd().split('\n');
    const at = lines.findIndex((l) => l.startsWith('interrupt: stopping after the batch in progress'));
    expect(at, stderr).toBeGreaterThan(0);
    // after the notice, only the last line: no bar drawn over the messages
    expect(lines.slice(at + 1), stderr).toHaveLength(1);
    const m = /^nablax train: interrupted; kept the checkpoint of epoch (\d+) at .*m\.ckpt\.safetensors( \(epoch (\d+) was in progress: its (1 batch is|\d+ batches are) not kept\))?; continue with --resume; no model file written$/.exec(lines[at + 1]);
    expect(m, stderr).not.toBeNull();
    if (m![2]) expect(Number(m![3])).toBe(Number(m![1]) + 1);
    const net = buildModel(zooSpec('softmax'), { seed: 0 });
    const info = loadCheckpoint(ckpt, net, makeOptimizer('adam', net.parameters(), { lr: 0.002 }));
    expect(info.epoch).toBe(Number(m![1]));
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual(['m.ckpt.safetensors']);
  }, 120_000);

  it('any other command (attack): the bar stops, one line says nothing was written, exit 130, no report', async () => {
    const out = join(root, 'sigint-attack');
    const child = spawn(process.execPath, args(['attack', '--model-file', model, '--attack', 'pgd', '--steps', '2000', '--eps', '0.1',
      '--batch-size', '5', '--test-limit', '2000', '--out', out]), { cwd: repoRoot, env });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((res) => child.on('exit', (code, sig) => res([code, sig])));
    // the bar's first line: the command is at work (and its Ctrl-C handler in place)
    for (let i = 0; i < 600 && !/pgd eps 0\.1 0% /.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    expect(stderr).toMatch(/pgd eps 0\.1 0% /);
    child.kill('SIGINT');
    const [code, sig] = await exited;
    expect([code, sig], stderr).toEqual([130, null]);
    const lines = stderr.trimEnd().split('\n');
    expect(lines.filter((l) => /interrupt/.test(l)), stderr).toEqual(['nablax attack: interrupted: nothing was written']);
    expect(lines.at(-1)).toBe('nablax attack: interrupted: nothing was written'); // the bar stopped before it
    expect(lines.at(-2), stderr).toMatch(/^pgd eps 0\.1 \d+% \d+\/2000 /);
    expect(stdout === '' || stdout.endsWith('\n'), stdout).toBe(true);
    expect(existsSync(out) ? readdirSync(out) : [], 'nothing in --out, not even a lock').toEqual([]);
  }, 120_000);
});
