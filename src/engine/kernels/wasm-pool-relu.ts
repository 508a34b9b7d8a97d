// The pooling and elementwise family of the WebAssembly kernels, host side (wasm/pool-relu.wat): ReLU forward and
// backward and 2×2/stride-2 max pooling as vector loops over cache-sized chunks, and the max-pool backward's scatter.
// Each equals its namesake in ./reference.ts; float64 operands and other pooling windows run the reference itself.
import type { Data } from '../nd.js';
import type { Kernels, Window2d } from './types.js';
import { referenceKernels } from './reference.js';
import type { WasmExports } from './wasm-exports.js';
import { carve, isF32, type LinearMemory } from './wasm-memory.js';

/** Elements per chunk of the streaming kernels (ReLU, pooling): 64 Ki floats = 256 KiB, which stays in L2. */
const STREAM = 1 << 16;

/**
 * The ReLU and max-pooling kernels over one instance.
 * @example
 *   const { reluForward } = makePoolReluKernels(ex, mem); reluForward(x, out);
 */
export function makePoolReluKernels(ex: WasmExports, mem: LinearMemory): Pick<Kernels,
  'reluForward' | 'reluBackward' | 'maxPoolForward' | 'maxPoolBackward' | 'maxoutForward' | 'maxoutBackward' | 'columnSums'> {
  const ref = referenceKernels;

  // out = max(x, 0), as referenceKernels.reluForward
  function reluForward(x: Data, out: Data): void {
    if (!isF32(x, out)) return ref.reluForward(x, out);
    const n = x.length;
    const ax = mem.addressOf(x), aOut = mem.outputAddress(out, x);
    if (ax >= 0 && aOut >= 0) return ex.relu_fwd(ax, aOut, n); // both in linear memory (the arena): in place
    const at = carve({ buf: Math.min(n, STREAM) }, mem.base);
    if (!mem.ensure(at.end)) return ref.reluForward(x, out);
    const f32 = mem.f32;
    for (let i = 0; i < n; i += STREAM) {
      const m = Math.min(STREAM, n - i);
      f32.set(x.subarray(i, i + m), at.buf / 4);
      ex.relu_fwd(at.buf, at.buf, m);
      out.set(f32.subarray(at.buf / 4, at.buf / 4 + m), i);
    }
  }

  // dX = dOut where x > 0, else 0, as referenceKernels.reluBackward
  function reluBackward(dOut: Data, x: Data, dX: Data): void {
    if (!isF32(dOut, x, dX)) return ref.reluBackward(dOut, x, dX);
    const n = x.length;
    const ag = mem.addressOf(dOut), ax = mem.addressOf(x), adx = mem.outputAddress(dX, dOut, x);
    if (ag >= 0 && ax >= 0 && adx >= 0) return ex.relu_bwd(ag, ax, adx, n); // all in linear memory (the arena): in place
    const at = carve({ dOut: Math.min(n, STREAM), x: Math.min(n, STREAM) }, mem.base);
    if (!mem.ensure(at.end)) return ref.reluBackward(dOut, x, dX);
    const f32 = mem.f32;
    for (let i = 0; i < n; i += STREAM) {
      const m = Math.min(STREAM, n - i);
      f32.set(dOut.subarray(i, i + m), at.dOut / 4);
      f32.set(x.subarray(i, i + m), at.x / 4);
      ex.relu_bwd(at.dOut, at.x, at.dOut, m); // dX overwrites dOut's copy
      dX.set(f32.subarray(at.dOut / 4, at.dOut / 4 + m), i);
    }
  }

  // out = the window's maximum, argmax = its flat index into x, as referenceKernels.maxPoolForward (2×2/2 windows only)
  function maxPoolForward(x: Data, N: number, g: Window2d, out: Data, argmax: Int32Array): void {
    const { C, H, W, KH, KW, stride, pad, OH, OW } = g;
    if (KH !== 2 || KW !== 2 || stride !== 2 || pad !== 0 || !isF32(x, out)) return ref.maxPoolForward(x, N, g, out, argmax);
    const planes = N * C, HW = H * W, OHW = OH * OW;
    const per = Math.max(1, Math.floor(STREAM / HW)); // planes per chunk
    const at = carve({ x: per * HW, out: per * OHW, argmax: per * OHW }, mem.base);
    if (!mem.ensure(at.end)) return ref.maxPoolForward(x, N, g, out, argmax);
    const { f32, i32 } = mem;
    for (let p0 = 0; p0 < planes; p0 += per) {
      const np = Math.min(per, planes - p0);
      f32.set(x.subarray(p0 * HW, (p0 + np) * HW), at.x / 4);
      ex.maxpool2_fwd(at.x, np, H, W, OH, OW, at.out, at.argmax, p0 * HW);
      out.set(f32.subarray(at.out / 4, at.out / 4 + np * OHW), p0 * OHW);
      argmax.set(i32.subarray(at.argmax / 4, at.argmax / 4 + np * OHW), p0 * OHW);
    }
  }

  // dX = 0, then dX[argmax[o]] += dOut[o]: a scatter, in the reference's order (referenceKernels.maxPoolBackward).
  function maxPoolBackward(dOut: Data, argmax: Int32Array, dX: Data): void {
    if (!isF32(dOut, dX)) return ref.maxPoolBackward(dOut, argmax, dX);
    const n = dOut.length;
    const at = carve({ dOut: n, argmax: n, dX: dX.length }, mem.base);
    if (!mem.ensure(at.end)) return ref.maxPoolBackward(dOut, argmax, dX);
    const { f32, i32 } = mem;
    f32.set(dOut, at.dOut / 4);
    i32.set(argmax, at.argmax / 4);
    ex.zero_f32(at.dX, dX.length);
    ex.maxpool_bwd(at.dOut, at.argmax, n, at.dX);
    dX.set(f32.subarray(at.dX / 4, at.dX / 4 + dX.length));
  }

  /**
   * Run a kernel on whole float32 arrays: an input that lives in linear memory is read where it is, else copied into
   * a work region; an output is written in place unless it overlaps an input, else into a work region and copied out.
   * `run` gets the byte addresses, inputs first. False when linear memory has no room (the caller runs the reference).
   */
  function staged(inputs: Data[], outputs: Data[], run: (...at: number[]) => void): boolean {
    const home = [...inputs.map((a) => mem.addressOf(a)), ...outputs.map((a) => mem.outputAddress(a, ...inputs))];
    const arrays = [...inputs, ...outputs];
    const floats: Record<string, number> = {};
    arrays.forEach((a, i) => { floats[i] = home[i] < 0 ? a.length : 0; });
    const at = carve(floats, mem.base);
    if (!mem.ensure(at.end)) return false;
    const addr = arrays.map((_, i) => (home[i] >= 0 ? home[i] : at[i]));
    inputs.forEach((a, i) => { if (home[i] < 0) mem.f32.set(a, addr[i] / 4); });
    run(...addr);
    outputs.forEach((a, j) => {
      const i = inputs.length + j;
      if (home[i] < 0) a.set(mem.f32.subarray(addr[i] / 4, addr[i] / 4 + a.length));
    });
    return true;
  }

  // as referenceKernels.maxoutForward, maxoutBackward and columnSums, on operands where they live (staged)
  function maxoutForward(x: Data, R: number, K: number, S: number, out: Data): void {
    if (!isF32(x, out) || out.length === 0 || !staged([x], [out], (ax, ao) => ex.maxout_fwd(ax, ao, R, K, S))) {
      ref.maxoutForward(x, R, K, S, out);
    }
  }

  function maxoutBackward(dOut: Data, x: Data, R: number, K: number, S: number, dX: Data): void {
    if (!isF32(dOut, x, dX) || dOut.length === 0 || !staged([dOut, x], [dX], (ag, ax, adx) => ex.maxout_bwd(ag, ax, adx, R, K, S))) {
      ref.maxoutBackward(dOut, x, R, K, S, dX);
    }
  }

  function columnSums(g: Data, N: number, O: number, out: Data): void {
    if (!isF32(g, out) || N * O === 0 || !staged([g.subarray(0, N * O)], [out], (ag, ao) => ex.col_sums(ag, N, O, ao))) {
      ref.columnSums(g, N, O, out);
    }
  }

  return { reluForward, reluBackward, maxPoolForward, maxPoolBackward, maxoutForward, maxoutBackward, columnSums };
}
