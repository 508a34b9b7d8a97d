// The seams that let the browser run the engine: the page's bundle pulls in no Node API (esbuild's browser
// platform would refuse it) and runs the kernels of wasm.ts, not the file reading of wasm-node.ts; model files
// round-trip through bytes alone; kernels instantiated without a thread starter stay on one thread.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleOptions } from '../../lab/build.js';
import { referenceKernels } from '../../src/engine/kernels/reference.js';
import { instantiateKernels } from '../../src/engine/kernels/wasm.js';
import { Rng } from '../../src/engine/random.js';
import { decodeModel, encodeModel } from '../../src/io/model-bytes.js';
import { buildModel } from '../../src/layers/spec.js';
import { zooSpec } from '../../src/layers/zoo.js';

const root = resolve(import.meta.dirname, '../..');

describe('browser seams', () => {
  it('bundles the page for the browser from src/ with no Node module and without wasm-node.ts', async () => {
    const r = await build({ ...bundleOptions(), write: false, minify: false, sourcemap: false, logLevel: 'silent' });
    const inputs = Object.keys(r.metafile!.inputs);
    expect(inputs.some((f) => f.startsWith('node:'))).toBe(false);
    expect(inputs).toContain('src/engine/kernels/wasm.ts');
    expect(inputs).toContain('src/attacks/pgd.ts');
    expect(inputs).toContain('src/io/model-bytes.ts');
    expect(inputs.filter((f) => /wasm-node|safetensors\.ts$|model-file\.ts$|threads\.ts$|data\/datasets\.ts$/.test(f))).toEqual(['lab/src/platform/wasm-node.browser.ts']);
  });

  it('round-trips a model through bytes alone, bit for bit, and names the file in errors', () => {
    const m = buildModel(zooSpec('cnn'));
    const rng = new Rng(3);
    for (const [, t] of m.parameters()) for (let i = 0; i < t.size; i++) t.data[i] = rng.normal();
    const bytes = encodeModel(m, { note: 'x' });
    const back = decodeModel(bytes, 'mine.safetensors', 'load');
    expect(back.metadata.note).toBe('x');
    for (const [[n, a], [, b]] of m.stateDict().map((e, i) => [e, back.model.stateDict()[i]])) expect(Array.from(b.data), n).toEqual(Array.from(a.data));
    expect(() => decodeModel(bytes.subarray(0, 100), 'mine.safetensors', 'load')).toThrow(/^decodeSafetensors: mine\.safetensors: /);
  });

  it('instantiates the kernels from bytes; without a thread starter they stay on one thread', () => {
    const bytes = new Uint8Array(readFileSync(join(root, 'build', 'kernels.wasm')));
    const k = instantiateKernels(new WebAssembly.Module(bytes), { threads: 3 })!;
    expect(k.name).toBe('wasm-simd');
    expect(k.getThreads()).toBe(1);
    k.setThreads(2);
    expect(k.getThreads()).toBe(1);
    const A = Float32Array.from({ length: 12 }, (_, i) => i / 7), B = Float32Array.from({ length: 20 }, (_, i) => 1 - i / 9);
    const C1 = new Float32Array(15), C2 = new Float32Array(15);
    k.gemm(false, false, 3, 5, 4, A, 0, 4, B, 0, 5, C1, 0, 5, false);
    referenceKernels.gemm(false, false, 3, 5, 4, A, 0, 4, B, 0, 5, C2, 0, 5, false);
    for (let i = 0; i < 15; i++) expect(C1[i]).toBeCloseTo(C2[i], 5);
  });
});
