// The library behind `nablax bench --peers`: reading run.mjs's JSON, the ratios and the table, the PyTorch request.
// Nothing here installs or runs a peer (a fake child output and a stand-in script stand in), and no timing is
// asserted; the command's own checks are in test/cli/bench.test.ts.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BenchResult } from '../../../src/experiments/bench/throughput.js';
import {
  formatPeerTable, formatRatio, npmReason, parsePeerOutput, peerRatios, peersDir, runTorchPeer, torchRequestJson, torchVersion,
} from '../../../src/experiments/bench/peers.js';

const nablax: BenchResult[] = [
  { model: 'cnn', measure: 'train', batch: 128, imagesPerSecond: 1035, kernels: 'wasm', gflops: 6.46, fractionOfPeak: null },
  { model: 'cnn', measure: 'inputGradient', batch: 256, imagesPerSecond: 1237, kernels: 'wasm', gflops: 5.52, fractionOfPeak: null },
  { model: 'cnn', measure: 'inference', batch: 256, imagesPerSecond: 2293, kernels: 'wasm', gflops: 5.12, fractionOfPeak: null },
  { model: 'softmax', measure: 'train', batch: 128, imagesPerSecond: 119774, kernels: 'wasm', gflops: 5.63, fractionOfPeak: null },
];

const wasmNote = "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'";
const child = JSON.stringify({
  peers: [
    { peer: 'convnetjs', model: 'cnn', measure: 'train', batch: 128, imagesPerSecond: 108, note: 'Adam applied per batch' },
    { peer: 'convnetjs', model: 'cnn', measure: 'inputGradient', batch: 256, imagesPerSecond: 106 },
    { peer: 'convnetjs', model: 'cnn', measure: 'inference', batch: 256, imagesPerSecond: 230 },
    { peer: 'tfjs-wasm', model: 'cnn', measure: 'train', batch: 128, imagesPerSecond: null, note: wasmNote },
    { peer: 'tfjs-wasm', model: 'cnn', measure: 'inputGradient', batch: 256, imagesPerSecond: 960 },
    { peer: 'tfjs-wasm', model: 'cnn', measure: 'inference', batch: 256, imagesPerSecond: 5831 },
  ],
  versions: { convnetjs: '0.3.0', 'tfjs-wasm': '4.22.0 (SIMD, 1 thread)' },
});

describe('parsePeerOutput', () => {
  it('reads the document, nulls and notes included', () => {
    const { peers, versions } = parsePeerOutput(child + '\n');
    expect(peers).toHaveLength(6);
    expect(peers[0]).toEqual({ peer: 'convnetjs', model: 'cnn', measure: 'train', batch: 128, imagesPerSecond: 108, note: 'Adam applied per batch' });
    expect(peers[3]).toEqual({ peer: 'tfjs-wasm', model: 'cnn', measure: 'train', batch: 128, imagesPerSecond: null, note: wasmNote });
    expect(versions).toEqual({ convnetjs: '0.3.0', 'tfjs-wasm': '4.22.0 (SIMD, 1 thread)' });
  });

  it('takes the last line when a library wrote to stdout first', () => {
    expect(parsePeerOutput(`Hi there\n${child}\n`).peers).toHaveLength(6);
  });

  it('throws on output that is not the document', () => {
    expect(() => parsePeerOutput('')).toThrow(/no JSON document/);
    expect(() => parsePeerOutput('Error: something\n')).toThrow(/no JSON document/);
    expect(() => parsePeerOutput('{"rows": []}')).toThrow(/no 'peers' array/);
    const row = { peer: 'convnetjs', model: 'cnn', measure: 'train', batch: 128, imagesPerSecond: 1 };
    const one = (r: object) => JSON.stringify({ peers: [r] });
    expect(() => parsePeerOutput(one({ ...row, measure: 'fit' }))).toThrow(/peers\[0\]: 'measure'/);
    expect(() => parsePeerOutput(one({ ...row, batch: 0 }))).toThrow(/'batch'/);
    expect(() => parsePeerOutput(one({ ...row, imagesPerSecond: '108' }))).toThrow(/'imagesPerSecond'/);
    expect(() => parsePeerOutput(one({ ...row, imagesPerSecond: -1 }))).toThrow(/'imagesPerSecond'/);
    expect(() => parsePeerOutput(one({ ...row, note: 3 }))).toThrow(/'note'/);
    expect(() => parsePeerOutput(JSON.stringify({ peers: [null] }))).toThrow(/peers\[0\]: expected an object/);
  });
});

describe('ratios and the table', () => {
  const { peers } = parsePeerOutput(child);

  it('divides nablax by the peer, null where the peer has no figure', () => {
    const ratios = peerRatios(nablax, peers);
    expect(ratios).toHaveLength(6);
    expect(ratios[0]).toEqual({ peer: 'convnetjs', model: 'cnn', measure: 'train', ratio: 9.58 });
    expect(ratios.find((r) => r.peer === 'tfjs-wasm' && r.measure === 'train')?.ratio).toBeNull();
    expect(ratios.find((r) => r.peer === 'tfjs-wasm' && r.measure === 'inference')?.ratio).toBe(0.39);
    // peer figures for models nablax did not measure get no ratio
    expect(peerRatios(nablax.filter((r) => r.model !== 'cnn'), peers)).toEqual([]);
  });

  it('formats ratios with two significant figures or more', () => {
    expect(formatRatio(9.583)).toBe('9.6×');
    expect(formatRatio(129.4)).toBe('129×');
    expect(formatRatio(0.393)).toBe('0.39×');
    expect(formatRatio(11.67)).toBe('11.7×');
    expect(formatRatio(0.997)).toBe('1.0×');
    expect(formatRatio(99.7)).toBe('100×');
  });

  it('puts nablax and each peer in rows, measures in columns, ratios in cells and notes below', () => {
    const lines = formatPeerTable(nablax, peers);
    expect(lines[0]).toMatch(/^\| model +\| engine +\| +train \(batch 128\) \| +∇x \(batch 256\) \| +inference \(batch 256\) \|$/);
    expect(lines[1]).toMatch(/^\|-+\|-+\|-+:\|-+:\|-+:\|$/);
    const row = (engine: string) => lines.find((l) => l.includes(`| ${engine} `))!.split('|').map((c) => c.trim()).slice(1, -1);
    expect(row('nablax')).toEqual(['`cnn`', 'nablax', '1,035', '1,237', '2,293']);
    expect(row('convnetjs')).toEqual(['`cnn`', 'convnetjs', '108 (9.6×) [1]', '106 (11.7×)', '230 (10.0×)']);
    expect(row('tfjs-wasm')).toEqual(['`cnn`', 'tfjs-wasm', 'n/a [2]', '960 (1.3×)', '5,831 (0.39×)']);
    expect(lines).toContain('[1] Adam applied per batch');
    expect(lines).toContain(`[2] ${wasmNote}`);
    // aligned: every table line has the same width
    const table = lines.filter((l) => l.startsWith('|'));
    expect(new Set(table.map((l) => [...l].length)).size).toBe(1);
    // softmax has no peer row: the table lists only the models the peers measured
    expect(lines.some((l) => l.includes('softmax'))).toBe(false);
  });
});

describe('npmReason', () => {
  it("picks the line of npm's error output that says what went wrong", () => {
    const out = [
      'npm warn Unknown user config "nodedir".',
      'npm error code ECONNREFUSED',
      'npm error syscall connect',
      'npm error errno ECONNREFUSED',
      'npm error FetchError: request to http://127.0.0.1:9/yargs-parser failed, reason: connect ECONNREFUSED 127.0.0.1:9',
      'npm error     at ClientRequest.<anonymous> (minipass-fetch/lib/index.js:130:14)',
      'npm error A complete log of this run can be found in: /tmp/x.log',
    ].join('\n');
    expect(npmReason(out)).toBe(': FetchError: request to http://127.0.0.1:9/yargs-parser failed, reason: connect ECONNREFUSED 127.0.0.1:9');
    expect(npmReason('npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/convnetjs')).toBe(': 404 Not Found - GET https://registry.npmjs.org/convnetjs');
    expect(npmReason('')).toBe('');
  });
});

describe('peersDir', () => {
  it('finds bench/peers with its own package.json and run.mjs under the package root', () => {
    const dir = peersDir();
    expect(dir.replaceAll('\\', '/')).toMatch(/\/bench\/peers$/);
    expect(existsSync(join(dir, 'package.json'))).toBe(true);
    expect(existsSync(join(dir, 'run.mjs'))).toBe(true);
  });
});

describe('--peers torch (no PyTorch needed: a missing interpreter and a stand-in script)', () => {
  it('sends the digits as base64 float32 that decode to the same values, with the specs and protocol', () => {
    const x = new Float32Array([0, 0.5, 1, 0.123456789]);
    const doc = JSON.parse(torchRequestJson({ seconds: 1, rounds: 3, threads: 2, models: [{ name: 'cnn', spec: { input: [1, 2, 2] } }], x, y: [7] }));
    expect(doc).toMatchObject({ seconds: 1, rounds: 3, threads: 2, y: [7], models: [{ name: 'cnn', spec: { input: [1, 2, 2] } }] });
    const back = new Float32Array(new Uint8Array(Buffer.from(doc.x, 'base64')).buffer);
    expect(Array.from(back)).toEqual(Array.from(x));
  });

  it('finds no torch behind a missing interpreter', () => {
    expect(torchVersion('/nonexistent/python3')).toBeNull();
  });

  it('runs the peer script with the request on stdin and the thread count in the environment, and reads its JSON', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nablax-torch-peer-'));
    try {
      writeFileSync(join(dir, 'torch_peer.py'), '');
      // a stand-in "python": echoes what it was given as one peer row
      const fake = join(dir, 'python');
      writeFileSync(fake, `#!/bin/sh\nread -r req\nn=$(printf '%s' "$req" | wc -c)\nprintf '{"peers":[{"peer":"torch","model":"cnn","measure":"train","batch":128,"imagesPerSecond":%s}],"versions":{"torch":"t%s"}}\\n' "$n" "$OMP_NUM_THREADS"\n`);
      chmodSync(fake, 0o755);
      const req = { seconds: 1, rounds: 1, threads: 3, models: [{ name: 'cnn', spec: {} }], x: new Float32Array(8), y: [1] };
      const out = await runTorchPeer(dir, req, fake);
      expect(out.peers[0].imagesPerSecond).toBe(torchRequestJson(req).length);
      expect(out.versions).toEqual({ torch: 't3' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
