// The WebAssembly SIMD gemm against the TypeScript reference (the other kernels: wasm-nn-kernels.test.ts): seeded random shapes (edge blocks included),
// every transA/transB combination, offsets, padded leading dimensions, accumulate on/off, memory growth,
// and the Float64Array policies (exact reference fallback by default, float32 conversion on request).
// Every test runs on both builds: the default (fused multiply-adds where this Node and CPU can, see
// scripts/build-wasm.mjs) and the portable one (unfused, the same bits on every CPU).
// Builds build/kernels.wasm first when it is missing, so a fresh checkout can run this file alone.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/engine/kernels/kernels.js';
import { referenceKernels } from '../../src/engine/kernels/reference.js';
import { setParallelPack } from '../../src/engine/kernels/wasm.js';
import { loadWasmKernels } from '../../src/engine/kernels/wasm-node.js';
import { Rng } from '../../src/engine/random.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DIMS = [1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 64, 100];
const TRANS: Array<[boolean, boolean]> = [[false, false], [false, true], [true, false], [true, true]];

type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

interface Case {
  transA: boolean; transB: boolean; M: number; N: number; K: number;
  aOff: number; lda: number; bOff: number; ldb: number; cOff: number; ldc: number;
  accumulate: boolean;
}

/** A case with random offsets and leading dimensions padded by 0–5 (0 half the time, so tight is common). */
function randomCase(rng: Rng, transA: boolean, transB: boolean, M: number, N: number, K: number, accumulate: boolean): Case {
  const pad = () => (rng.uniform() < 0.5 ? 0 : 1 + rng.int(5));
  return {
    transA, transB, M, N, K, accumulate,
    aOff: rng.int(7), lda: (transA ? M : K) + pad(),
    bOff: rng.int(7), ldb: (transB ? K : N) + pad(),
    cOff: rng.int(7), ldc: N + pad(),
  };
}

interface Operands { A: Float32Array | Float64Array; B: Float32Array | Float64Array; C: Float32Array | Float64Array }

/** Random A and B (with junk in the gaps) and a C prefilled with values the gemm must keep or add to. */
function operands(c: Case, rng: Rng, types: [Ctor, Ctor, Ctor] = [Float32Array, Float32Array, Float32Array]): Operands {
  const aRows = c.transA ? c.K : c.M, bRows = c.transB ? c.N : c.K;
  const fill = (ctor: Ctor, n: number) => {
    const x = new ctor(n);
    for (let i = 0; i < n; i++) x[i] = rng.uniform(-1, 1);
    return x;
  };
  return {
    A: fill(types[0], c.aOff + aRows * c.lda + 3),
    B: fill(types[1], c.bOff + bRows * c.ldb + 3),
    C: fill(types[2], c.cOff + c.M * c.ldc + 3),
  };
}

function run(k: Kernels, c: Case, o: Operands): Float32Array | Float64Array {
  const C = o.C.slice();
  k.gemm(c.transA, c.transB, c.M, c.N, c.K, o.A, c.aOff, c.lda, o.B, c.bOff, c.ldb, C, c.cOff, c.ldc, c.accumulate);
  return C;
}

/** |C0| (when accumulating) + Σ_k |op(A)[i,k]·op(B)[k,j]|: the scale float32 rounding error grows with. */
function magnitude(c: Case, o: Operands, i: number, j: number): number {
  let s = c.accumulate ? Math.abs(o.C[c.cOff + i * c.ldc + j]) : 0;
  for (let k = 0; k < c.K; k++) {
    const a = o.A[c.aOff + (c.transA ? k * c.lda + i : i * c.lda + k)];
    const b = o.B[c.bOff + (c.transB ? j * c.ldb + k : k * c.ldb + j)];
    s += Math.abs(a * b);
  }
  return s;
}

/** Compare within float32 tolerance inside the M×N block; everything outside it must be untouched. */
function expectClose(c: Case, o: Operands, got: ArrayLike<number>, want: ArrayLike<number>): void {
  const label = `${c.transA ? 'T' : 'N'}${c.transB ? 'T' : 'N'} M=${c.M} N=${c.N} K=${c.K} acc=${c.accumulate}`;
  let bad = '';
  for (let p = 0; p < want.length && !bad; p++) {
    const q = p - c.cOff, i = Math.floor(q / c.ldc), j = q - i * c.ldc;
    const inside = q >= 0 && i < c.M && j < c.N;
    if (!inside) {
      if (got[p] !== o.C[p]) bad = `${label}: C[${p}] outside the M×N block changed`;
      continue;
    }
    const tol = 1e-5 * magnitude(c, o, i, j) + 1e-6;
    if (!(Math.abs(got[p] - want[p]) <= tol)) bad = `${label}: C[${i},${j}] = ${got[p]}, reference ${want[p]} (tol ${tol})`;
  }
  expect(bad).toBe('');
}

beforeAll(() => {
  if (!existsSync(join(root, 'build', 'kernels.wasm')) || !existsSync(join(root, 'build', 'kernels-fma.wasm'))) {
    execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs')], { cwd: root, stdio: 'pipe' });
  }
});

/** a·b + c with one rounding is 2⁻²⁴ here, with two roundings 0 (a² = 1 + 2⁻¹¹ + 2⁻²⁴ rounds to 1 + 2⁻¹¹). */
function roundsOnce(k: Kernels): boolean {
  const a = 1 + 2 ** -12;
  const C = new Float32Array(1);
  k.gemm(false, false, 1, 1, 2, new Float32Array([-(1 + 2 ** -11), a]), 0, 2, new Float32Array([1, a]), 0, 1, C, 0, 1, false);
  expect([0, 2 ** -24]).toContain(C[0]);
  return C[0] !== 0;
}

describe('choosing the build', () => {
  it('fma: false loads the portable build, which multiplies and adds separately', () => {
    const portable = loadWasmKernels({ fma: false })!;
    expect(portable.name).toBe('wasm-simd');
    expect(roundsOnce(portable)).toBe(false);
  });

  it('the fused build is built (Node ≥ 20 runs relaxed-simd), named for what the CPU does with it, and the default', () => {
    const fmaPath = join(root, 'build', 'kernels-fma.wasm');
    expect(existsSync(fmaPath)).toBe(true);
    const fused = loadWasmKernels({ path: fmaPath })!;
    expect(fused).not.toBeNull();
    expect(fused.name).toBe(roundsOnce(fused) ? 'wasm-simd-fma' : 'wasm-simd');
    expect(loadWasmKernels()!.name).toBe(fused.name); // the default prefers it
  });
});

for (const build of ['default', 'portable'] as const) describe(`wasm-simd kernels, ${build} build`, () => {
  let wasm: Kernels;
  beforeAll(() => {
    const k = loadWasmKernels(build === 'portable' ? { fma: false } : {});
    if (k === null) throw new Error('wasm-kernels.test: build/kernels.wasm does not load');
    wasm = k;
  });

  it('replace gemm, convolution, ReLU and max pooling, and keep the reference for average pooling', () => {
    expect(wasm.name).toMatch(build === 'portable' ? /^wasm-simd$/ : /^wasm-simd(-fma)?$/);
    for (const k of ['gemm', 'conv2dForward', 'conv2dBackward', 'reluForward', 'reluBackward', 'maxPoolForward', 'maxPoolBackward'] as const) {
      expect(wasm[k]).not.toBe(referenceKernels[k]);
    }
    expect(wasm.avgPoolForward).toBe(referenceKernels.avgPoolForward);
  });

  it('returns null for a missing or invalid module', () => {
    expect(loadWasmKernels({ path: join(root, 'build', 'no-such.wasm') })).toBeNull();
    expect(loadWasmKernels({ path: join(root, 'package.json') })).toBeNull();
  });

  for (const [transA, transB] of TRANS) {
    const op = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;

    it(`${op}: every M×N in the size set, random K, offsets, leading dims and accumulate`, () => {
      const rng = new Rng(1000 + (transA ? 2 : 0) + (transB ? 1 : 0));
      for (const M of DIMS) {
        for (const N of DIMS) {
          const K = DIMS[rng.int(DIMS.length)];
          const c = randomCase(rng, transA, transB, M, N, K, rng.uniform() < 0.5);
          const o = operands(c, rng);
          expectClose(c, o, run(wasm, c, o), run(referenceKernels, c, o));
        }
      }
    });

    it(`${op}: every K in the size set, with and without accumulate`, () => {
      const rng = new Rng(2000 + (transA ? 2 : 0) + (transB ? 1 : 0));
      for (const K of DIMS) {
        for (const accumulate of [false, true]) {
          const c = randomCase(rng, transA, transB, DIMS[rng.int(DIMS.length)], DIMS[rng.int(DIMS.length)], K, accumulate);
          const o = operands(c, rng);
          expectClose(c, o, run(wasm, c, o), run(referenceKernels, c, o));
        }
      }
    });
  }

  it('K = 0 zeroes C, or leaves it when accumulating', () => {
    const rng = new Rng(3);
    for (const accumulate of [false, true]) {
      const c = randomCase(rng, false, true, 5, 9, 0, accumulate);
      const o = operands(c, rng);
      expect(run(wasm, c, o)).toEqual(run(referenceKernels, c, o));
    }
  });

  it('grows linear memory for a big problem and stays right for small ones after', () => {
    const rng = new Rng(4);
    for (const [M, N, K] of [[3, 5, 7], [300, 260, 200], [13, 17, 31], [100, 100, 100]]) {
      const c = randomCase(rng, rng.uniform() < 0.5, rng.uniform() < 0.5, M, N, K, rng.uniform() < 0.5);
      const o = operands(c, rng);
      expectClose(c, o, run(wasm, c, o), run(referenceKernels, c, o));
    }
  });

  it('splits big products among threads: the same bits for 1, 2 and 3 threads, close to the reference', () => {
    const rng = new Rng(8);
    const byThreads = [1, 2, 3].map((threads) => loadWasmKernels({ threads, fma: build === 'default' })!);
    try {
      for (const [M, N, K] of [[128, 128, 512], [77, 203, 129], [256, 10, 512], [5, 999, 300]]) {
        for (const [transA, transB] of TRANS) {
          const c = randomCase(rng, transA, transB, M, N, K, rng.uniform() < 0.5);
          const o = operands(c, rng);
          const [one, ...more] = byThreads.map((k) => run(k, c, o));
          for (const other of more) expect(other).toEqual(one);
          expectClose(c, o, one, run(referenceKernels, c, o));
        }
      }
    } finally {
      for (const k of byThreads) k.setThreads(1); // stops their workers
    }
  });

  it('packs the operands of a threaded product on its threads: the same bytes as packing them on one', () => {
    const rng = new Rng(9);
    const two = loadWasmKernels({ threads: 2, fma: build === 'default' })!;
    try {
      for (const [M, N, K] of [[77, 203, 129], [128, 1024, 64], [5, 999, 300]]) {
        for (const [transA, transB] of TRANS) {
          const c = randomCase(rng, transA, transB, M, N, K, rng.uniform() < 0.5);
          const o = operands(c, rng);
          const split = run(two, c, o);
          const prev = setParallelPack(false);
          try {
            expect(run(two, c, o)).toEqual(split);
          } finally {
            setParallelPack(prev);
          }
        }
      }
    } finally {
      two.setThreads(1);
    }
  });

  it('reads an untransposed A in place (gemm_rows): the same bits as the same A stored transposed and packed', () => {
    const rng = new Rng(10);
    const byThreads = [1, 2].map((threads) => loadWasmKernels({ threads, fma: build === 'default' })!);
    try {
      for (const [M, N, K] of [[1, 9, 5], [2, 8, 1], [3, 17, 31], [5, 16, 64], [7, 100, 13], [77, 203, 129], [130, 64, 784]]) {
        for (const transB of [false, true]) {
          const c = randomCase(rng, false, transB, M, N, K, rng.uniform() < 0.5);
          const o = operands(c, rng);
          // the same op(A) stored K×M (transposed), which the host packs into 4-row panels
          const At = new Float32Array(M * K);
          for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) At[k * M + i] = o.A[c.aOff + i * c.lda + k];
          for (const k of byThreads) {
            const rows = run(k, c, o);
            const packed = run(k, { ...c, transA: true, aOff: 0, lda: M }, { ...o, A: At });
            expect(rows, `M=${M} N=${N} K=${K} ${k.getThreads()} threads`).toEqual(packed);
          }
        }
      }
    } finally {
      for (const k of byThreads) k.setThreads(1);
    }
  });

  it('copies row by row when the leading dimensions are much larger than the block', () => {
    const rng = new Rng(5);
    for (const [transA, transB] of TRANS) {
      const c = { ...randomCase(rng, transA, transB, 17, 13, 31, true) };
      c.lda += 500; c.ldb += 700; c.ldc += 300;
      const o = operands(c, rng);
      expectClose(c, o, run(wasm, c, o), run(referenceKernels, c, o));
    }
  });

  it('falls back to the exact reference when any operand is a Float64Array', () => {
    const rng = new Rng(6);
    const typeSets: Array<[Ctor, Ctor, Ctor]> = [
      [Float64Array, Float64Array, Float64Array],
      [Float64Array, Float32Array, Float32Array],
      [Float32Array, Float64Array, Float32Array],
      [Float32Array, Float32Array, Float64Array],
    ];
    for (const types of typeSets) {
      for (const [transA, transB] of TRANS) {
        const c = randomCase(rng, transA, transB, 13, 17, 31, rng.uniform() < 0.5);
        const o = operands(c, rng, types);
        expect(run(wasm, c, o)).toEqual(run(referenceKernels, c, o));
      }
    }
  });

  it("computes Float64Array operands in float32 with { float64: 'float32' }", () => {
    const fast = loadWasmKernels({ float64: 'float32', fma: build === 'default' });
    expect(fast).not.toBeNull();
    const rng = new Rng(7);
    for (const [transA, transB] of TRANS) {
      for (const accumulate of [false, true]) {
        const c = randomCase(rng, transA, transB, 17, 13, 64, accumulate);
        const o = operands(c, rng, [Float64Array, Float64Array, Float64Array]);
        // the reference is exact float64; the tolerance covers rounding the inputs to float32 as well
        expectClose(c, o, run(fast!, c, o), run(referenceKernels, c, o));
      }
    }
  });
});
