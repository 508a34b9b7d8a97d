// `nablax bench --peers`: the same models measured in other JavaScript engines (convnetjs, TensorFlow.js on its
// pure-JS CPU and WebAssembly backends) by bench/peers/run.mjs, and in PyTorch on CPU (`--peers torch`, Debian's
// /usr/bin/python3 running bench/peers/torch_peer.py), each in a child process so that no peer ever loads into
// nablax's own process, and a table of nablax's images/s beside theirs with the ratio nablax ÷ peer.
// bench/peers has its own package.json; its node_modules are installed on first use and never ship with nablax;
// PyTorch comes from Debian's packages (python3-torch, with libopenblas0-pthread as its BLAS) or not at all.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../engine/package-root.js';
import type { BenchResult, Measure } from './throughput.js';

/** The JavaScript peers (bench/peers/run.mjs); a bare `--peers` measures these. */
export const jsPeerNames = ['convnetjs', 'tfjs-cpu', 'tfjs-wasm'] as const;
/** Every peer `--peers <list>` accepts. */
export const peerNames = [...jsPeerNames, 'torch'] as const;
/** The zoo models the JavaScript peers build (PyTorch builds any zoo model from its spec). */
export const peerModels = ['cnn', 'mlp'] as const;

/**
 * The Python that `--peers torch` runs: Debian's, whose python3-torch package is the supported way to get PyTorch
 * (NABLAX_TORCH_PYTHON names another interpreter).
 */
export const torchPython = process.env.NABLAX_TORCH_PYTHON || '/usr/bin/python3';
/**
 * The one line `--peers torch` prints when `python` cannot import torch: for Debian's Python, how to install
 * PyTorch; for an interpreter that NABLAX_TORCH_PYTHON names (`named`), that it does not exist, cannot be run (`error`,
 * from trying to start it) or cannot import torch (Debian's package would not reach it).
 * @example
 *   torchMissing('/usr/bin/python3', false); // 'PyTorch not found (/usr/bin/python3 cannot import torch); install it with: …'
 */
export function torchMissing(python: string, named: boolean, error?: NodeJS.ErrnoException): string {
  if (!named) return `PyTorch not found (${python} cannot import torch); install it with: apt-get install python3-torch libopenblas0-pthread`;
  const what = error === undefined ? 'cannot import torch' : error.code === 'ENOENT' ? 'does not exist' : `cannot be run (${error.code ?? error.message})`;
  return `PyTorch not found: NABLAX_TORCH_PYTHON names ${python}, which ${what}; point it at a Python that imports torch, or unset it to use /usr/bin/python3 (apt-get install python3-torch libopenblas0-pthread)`;
}
const measures: Measure[] = ['train', 'inputGradient', 'inference'];

export interface PeerResult {
  peer: string;
  model: string;
  measure: Measure;
  batch: number;
  /** null when the peer cannot do it; `note` then says why. */
  imagesPerSecond: number | null;
  note?: string;
}

export interface PeerRatio {
  peer: string;
  model: string;
  measure: Measure;
  /** nablax's images/s ÷ the peer's (2 decimals); null when either side has no figure. */
  ratio: number | null;
}

/**
 * Read run.mjs's stdout: one JSON document `{ peers: [...], versions? }`, or, should a library have written to
 * stdout before it, its last line. Throws with what is wrong.
 * @example
 *   const { peers } = parsePeerOutput('{"peers":[{"peer":"convnetjs","model":"cnn","measure":"train","batch":128,"imagesPerSecond":108}]}');
 */
export function parsePeerOutput(text: string): { peers: PeerResult[]; versions: Record<string, string> } {
  let doc: unknown;
  const trimmed = text.trim();
  try {
    doc = JSON.parse(trimmed);
  } catch {
    const last = trimmed.split('\n').pop() ?? '';
    try {
      doc = JSON.parse(last);
    } catch {
      throw new Error(`bench/peers/run.mjs printed no JSON document (stdout began '${trimmed.slice(0, 40)}')`);
    }
  }
  const peers = (doc as { peers?: unknown } | null)?.peers;
  if (!Array.isArray(peers)) throw new Error("bench/peers/run.mjs: JSON document has no 'peers' array");
  const out: PeerResult[] = peers.map((p: unknown, i: number) => {
    const r = p as Record<string, unknown> | null;
    const bad = (what: string) => new Error(`bench/peers/run.mjs: peers[${i}]: ${what}, got ${JSON.stringify(p)}`);
    if (r === null || typeof r !== 'object') throw bad('expected an object');
    if (typeof r.peer !== 'string' || typeof r.model !== 'string') throw bad("'peer' and 'model' must be strings");
    if (!measures.includes(r.measure as Measure)) throw bad(`'measure' must be one of ${measures.join(', ')}`);
    if (!Number.isInteger(r.batch) || (r.batch as number) < 1) throw bad("'batch' must be a positive integer");
    const ips = r.imagesPerSecond;
    if (!(ips === null || (typeof ips === 'number' && Number.isFinite(ips) && ips >= 0))) {
      throw bad("'imagesPerSecond' must be a number ≥ 0 or null");
    }
    if (r.note !== undefined && typeof r.note !== 'string') throw bad("'note' must be a string");
    const row: PeerResult = { peer: r.peer, model: r.model, measure: r.measure as Measure, batch: r.batch as number, imagesPerSecond: ips };
    if (r.note !== undefined) row.note = r.note;
    return row;
  });
  const v = (doc as { versions?: unknown }).versions;
  const versions: Record<string, string> = {};
  if (v !== null && typeof v === 'object') for (const [k, s] of Object.entries(v)) if (typeof s === 'string') versions[k] = s;
  return { peers: out, versions };
}

/**
 * nablax ÷ peer for every peer figure that has a nablax figure for the same model and measure.
 * @example
 *   peerRatios(results, peers); // [{ peer: 'convnetjs', model: 'cnn', measure: 'train', ratio: 9.58 }, …]
 */
export function peerRatios(nablax: BenchResult[], peers: PeerResult[]): PeerRatio[] {
  const ours = new Map(nablax.map((r) => [`${r.model}/${r.measure}`, r.imagesPerSecond]));
  return peers
    .filter((p) => ours.has(`${p.model}/${p.measure}`))
    .map((p) => {
      const n = ours.get(`${p.model}/${p.measure}`)!;
      const ratio = p.imagesPerSecond === null || p.imagesPerSecond === 0 ? null : Math.round((n / p.imagesPerSecond) * 100) / 100;
      return { peer: p.peer, model: p.model, measure: p.measure, ratio };
    });
}

/** `9.6×`: a whole number from 100 up, one decimal from 1, two below (thresholds after rounding). */
export function formatRatio(r: number): string {
  return `${r >= 99.5 ? r.toFixed(0) : r >= 0.995 ? r.toFixed(1) : r.toFixed(2)}×`;
}

const formatRate = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * The comparison as a Markdown table (aligned for a terminal): rows nablax and each peer per model, columns
 * train / ∇x / inference images/s, each peer cell with nablax ÷ peer in brackets; then one numbered line per
 * distinct note (why a figure is missing, or how it was taken).
 * @example
 *   for (const line of formatPeerTable(results, peers)) console.log(line);
 */
export function formatPeerTable(nablax: BenchResult[], peers: PeerResult[]): string[] {
  const notes: string[] = [];
  const mark = (note: string | undefined): string => {
    if (note === undefined) return '';
    let i = notes.indexOf(note);
    if (i < 0) i = notes.push(note) - 1;
    return ` [${i + 1}]`;
  };
  const models = [...new Set(peers.map((p) => p.model))];
  const engines = [...new Set(peers.map((p) => p.peer))];
  const batchOf = (m: Measure) => nablax.find((r) => r.measure === m)?.batch ?? peers.find((p) => p.measure === m)?.batch;
  const title: Record<Measure, string> = { train: 'train', inputGradient: '∇x', inference: 'inference' };
  const rows: string[][] = [['model', 'engine', ...measures.map((m) => `${title[m]} (batch ${batchOf(m)})`)]];
  for (const model of models) {
    const ours = (m: Measure) => nablax.find((r) => r.model === model && r.measure === m)?.imagesPerSecond;
    rows.push([`\`${model}\``, 'nablax', ...measures.map((m) => { const n = ours(m); return n === undefined ? '' : formatRate(n); })]);
    for (const peer of engines) {
      rows.push([`\`${model}\``, peer, ...measures.map((m) => {
        const p = peers.find((q) => q.peer === peer && q.model === model && q.measure === m);
        if (p === undefined) return '';
        if (p.imagesPerSecond === null) return `n/a${mark(p.note)}`;
        const n = ours(m);
        const ratio = n === undefined || p.imagesPerSecond === 0 ? '' : ` (${formatRatio(n / p.imagesPerSecond)})`;
        return `${formatRate(p.imagesPerSecond)}${ratio}${mark(p.note)}`;
      })]);
    }
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => [...r[c]].length)));
  const pad = (s: string, c: number) => (c < 2 ? s + ' '.repeat(widths[c] - [...s].length) : ' '.repeat(widths[c] - [...s].length) + s);
  const line = (r: string[]) => `| ${r.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, c) => (c < 2 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|')}|`;
  return [
    line(rows[0]),
    rule,
    ...rows.slice(1).map(line),
    '',
    'images/s; (n×) = nablax ÷ peer',
    ...notes.map((n, i) => `[${i + 1}] ${n}`),
  ];
}

/** The package root (holding package.json). */
function peersRoot(): string {
  const root = packageRoot();
  if (root === null) throw new Error('--peers: no package.json above this module');
  return root;
}

/**
 * bench/peers under the package root; throws when the package was installed without it.
 * @example
 *   const dir = peersDir(); // …/nablax/bench/peers
 */
export function peersDir(): string {
  const dir = join(peersRoot(), 'bench', 'peers');
  if (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'run.mjs'))) {
    throw new Error(`--peers: ${dir} with package.json and run.mjs not found (a source checkout has it)`);
  }
  return dir;
}

/** The line of npm's error output that says what went wrong (not its code/errno lines, stack or log path). */
export function npmReason(output: string): string {
  const errors = output.split('\n').filter((l) => /^npm (error|ERR!)/.test(l)).map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim());
  const why = errors.find((l) => l !== '' && !/^(code|syscall|errno|at) /.test(l) && !/complete log|log files/i.test(l));
  return why === undefined ? '' : `: ${why}`;
}

const peerPackages = ['convnetjs', '@tensorflow/tfjs', '@tensorflow/tfjs-backend-wasm'];

/** Install bench/peers' own dependencies unless they are there; `say` gets a one-line notice first. */
export function ensurePeersInstalled(dir: string, say: (msg: string) => void): void {
  if (peerPackages.every((p) => existsSync(join(dir, 'node_modules', p, 'package.json')))) return;
  say(`bench --peers: installing convnetjs and TensorFlow.js into ${join(dir, 'node_modules')} (once; not nablax dependencies)`);
  const r = spawnSync('npm', ['install', '--prefix', dir, '--no-audit', '--no-fund'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    shell: process.platform === 'win32',
  });
  if (r.error !== undefined) throw new Error(`--peers: cannot run npm install (${r.error.message})`);
  if (r.status !== 0) {
    throw new Error(`--peers: npm install --prefix ${dir} failed (exit ${r.status})${npmReason(`${r.stderr ?? ''}\n${r.stdout ?? ''}`)}`);
  }
}

/**
 * Run bench/peers/run.mjs in a child Node process (its progress goes to stderr) and parse what it prints.
 * @example
 *   const { peers } = runPeers(peersDir(), { seconds: 1, rounds: 3, models: ['cnn', 'mlp'] });
 */
export function runPeers(dir: string, o: { seconds: number; rounds: number; models: string[]; peers?: string[] }): ReturnType<typeof parsePeerOutput> {
  const args = [join(dir, 'run.mjs'), '--seconds', String(o.seconds), '--rounds', String(o.rounds), '--models', o.models.join(',')];
  if (o.peers !== undefined) args.push('--peers', o.peers.join(','));
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
  if (r.error !== undefined) throw new Error(`--peers: cannot run ${args[0]} (${r.error.message})`);
  if (r.signal !== null) throw new Error(`--peers: ${args[0]} was stopped by ${r.signal}`);
  if (r.status !== 0) throw new Error(`--peers: ${args[0]} exited with code ${r.status}`);
  return parsePeerOutput(r.stdout);
}

/** Start `python` once to import torch: its version (null without one) and the error of starting it, if any. */
function probeTorch(python: string): { version: string | null; error?: NodeJS.ErrnoException } {
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 120_000 });
  if (r.error !== undefined) return { version: null, error: r.error };
  const v = r.status === 0 ? (r.stdout.trim().split('\n').pop() ?? '') : '';
  return { version: v === '' ? null : v };
}

/**
 * Whether `python` can import torch: its version, or null (a missing interpreter, a missing or broken torch).
 * @example
 *   const v = torchVersion(); // '1.13.0a0' or null
 */
export function torchVersion(python = torchPython): string | null {
  return probeTorch(python).version;
}

/**
 * What stops `--peers torch` before any work, in one line ({@link torchMissing}), or null when `python` imports
 * torch; the interpreter is started once.
 * @example
 *   const problem = torchProblem(); if (problem !== null) throw new Error(problem);
 */
export function torchProblem(python = torchPython, named = Boolean(process.env.NABLAX_TORCH_PYTHON)): string | null {
  const { version, error } = probeTorch(python);
  return version !== null ? null : torchMissing(python, named, error);
}

/** What torch_peer.py reads on stdin: the protocol, the models' specs and the bench's digits. */
export interface TorchRequest {
  seconds: number;
  rounds: number;
  threads: number;
  models: { name: string; spec: unknown }[];
  /** The bench's 256 images [256, C, H, W] (training uses the first 128). */
  x: Float32Array;
  y: ArrayLike<number>;
}

/**
 * The JSON document torch_peer.py reads: x as base64 little-endian float32 (1 MB for 256 MNIST digits, not a
 * 3 MB list of decimals), y as a list.
 * @example
 *   spawnSync('/usr/bin/python3', ['bench/peers/torch_peer.py'], { input: torchRequestJson(req) });
 */
export function torchRequestJson(r: TorchRequest): string {
  const bytes = Buffer.from(r.x.buffer, r.x.byteOffset, r.x.byteLength);
  return JSON.stringify({ seconds: r.seconds, rounds: r.rounds, threads: r.threads, models: r.models, x: bytes.toString('base64'), y: Array.from(r.y) });
}

/**
 * Run bench/peers/torch_peer.py with `python` in a child process and parse its output. Asynchronous, so that the
 * caller's progress line keeps moving while PyTorch measures. The child's stderr is kept, not shown (the caller
 * says which model runs): a failure's error names its last line (a Python traceback's last line says what went
 * wrong).
 * @example
 *   const { peers } = await runTorchPeer(peersDir(), { seconds: 1, rounds: 3, threads: 2, models, x, y });
 */
export async function runTorchPeer(dir: string, req: TorchRequest, python = torchPython): Promise<ReturnType<typeof parsePeerOutput>> {
  const script = join(dir, 'torch_peer.py');
  if (!existsSync(script)) throw new Error(`--peers torch: ${script} not found (a source checkout has it)`);
  const { stdout, stderr, code, signal } = await new Promise<{ stdout: string; stderr: string; code: number | null; signal: string | null }>((resolve, reject) => {
    const child = spawn(python, [script], {
      stdio: ['pipe', 'pipe', 'pipe'],
      // one thread pool, as many threads as nablax's kernels: OpenBLAS and OpenMP read these at load time
      env: { ...process.env, OMP_NUM_THREADS: String(req.threads), OPENBLAS_NUM_THREADS: String(req.threads) },
    });
    const out: Buffer[] = [], err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (e) => reject(new Error(`--peers torch: cannot run ${python} ${script} (${e.message})`)));
    child.on('close', (c, sig) => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: c, signal: sig }));
    child.stdin.on('error', () => {}); // a child that exits before reading its request: its exit code says why
    child.stdin.end(torchRequestJson(req));
  });
  if (signal !== null) throw new Error(`--peers torch: ${python} ${script} was stopped by ${signal}`);
  if (code !== 0) {
    const last = stderr.trim().split('\n').pop()?.trim() ?? '';
    throw new Error(`--peers torch: ${python} ${script} exited with code ${code}${last === '' ? '' : `: ${last}`}`);
  }
  return parsePeerOutput(stdout);
}
