// The seams between the WebAssembly kernels' host side and their .wat families: named memory layouts (carve), the
// named argument records of conv_fwd / conv_bwd against the `(param …)` lists of wasm/conv.wat, and the build's list
// of families against the .wat files there and the exports the host needs. Text checks: no module is instantiated.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { convBwdParams, convFwdParams, convPoolDwParams, convPoolDxParams } from '../../src/engine/kernels/wasm-conv.js';
import { exportNames, positional } from '../../src/engine/kernels/wasm-exports.js';
import { carve, carveEach, SCRATCH } from '../../src/engine/kernels/wasm-memory.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const wasmDir = join(root, 'src', 'engine', 'kernels', 'wasm');
const watFiles = readdirSync(wasmDir).filter((f) => f.endsWith('.wat')).sort();
const wat = (f: string) => readFileSync(join(wasmDir, f), 'utf8');

/** The parameter names of exported function `name` in a .wat text, in order. */
function watParams(text: string, name: string): string[] {
  const at = text.indexOf(`(func (export "${name}")`);
  expect(at, `export ${name}`).toBeGreaterThanOrEqual(0);
  const head = text.slice(at, text.indexOf('(local', at));
  return [...head.matchAll(/\(param \$(\w+) i32\)/g)].map((m) => m[1]);
}

describe('named layouts of linear memory', () => {
  it('carve lays regions out in order after the scratch bytes, each on a cache line; a zero count takes no room', () => {
    const at = carve({ a: 3, none: 0, b: 16, c: 1 });
    expect(at).toEqual({ a: SCRATCH, none: SCRATCH + 64, b: SCRATCH + 64, c: SCRATCH + 128, end: SCRATCH + 192 });
    expect(carve({ x: 100 }, 1000)).toEqual({ x: 1000, end: 1408 });
  });

  it('carveEach gives every thread its own copy of a layout, one after another', () => {
    const work = carveEach({ cols: 20, scr: 32 }, 3, 640);
    expect(work.at.map((w) => [w.cols, w.scr])).toEqual([[640, 768], [896, 1024], [1152, 1280]]);
    expect(work.end).toBe(1408);
  });
});

describe('the kernel module’s exports and parameters', () => {
  it('conv_fwd, conv_bwd, conv_pool_dx and conv_pool_dw take their named arguments in the order of their (param …) lists', () => {
    expect(convFwdParams).toEqual(watParams(wat('conv.wat'), 'conv_fwd'));
    expect(convBwdParams).toEqual(watParams(wat('conv.wat'), 'conv_bwd'));
    expect(convFwdParams).toHaveLength(23);
    expect(convBwdParams).toHaveLength(29);
    expect(convPoolDxParams).toEqual(watParams(wat('conv-relu-pool.wat'), 'conv_pool_dx'));
    expect(convPoolDxParams).toHaveLength(19);
    expect(convPoolDwParams).toEqual(watParams(wat('conv-relu-pool.wat'), 'conv_pool_dw'));
    expect(convPoolDwParams).toHaveLength(22);
  });

  it('positional puts each named value at its parameter’s place', () => {
    const args = Object.fromEntries(convBwdParams.map((k, i) => [k, 100 + i])) as Record<(typeof convBwdParams)[number], number>;
    expect(positional(convBwdParams, args)).toEqual(convBwdParams.map((_, i) => 100 + i));
  });

  it('the build splices every .wat family, and they export every function the host calls', () => {
    const script = readFileSync(join(root, 'scripts', 'build-wasm.mjs'), 'utf8');
    const list = /const families = \[([^\]]*)\]/.exec(script);
    expect(list, 'scripts/build-wasm.mjs lists its families').not.toBeNull();
    const families = [...list![1].matchAll(/'([\w-]+)'/g)].map((m) => `${m[1]}.wat`);
    expect([...families].sort()).toEqual(watFiles);
    const exported = watFiles.flatMap((f) => [...wat(f).matchAll(/\(export "(\w+)"\)/g)].map((m) => m[1]));
    expect(new Set(exported).size, 'no export is defined twice').toBe(exported.length);
    for (const name of exportNames) expect(exported, name).toContain(name);
  });

  it('no family file declares the module or its memory (the build wraps them in one)', () => {
    for (const f of watFiles) expect(wat(f), f).not.toMatch(/\(module|\(import|\(memory/);
  });
});
