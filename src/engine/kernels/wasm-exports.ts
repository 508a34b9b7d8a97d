// What the assembled kernel module (build/kernels*.wasm, from the families in ./wasm/*.wat) exports, as the host
// calls it: every pointer is a byte address in the shared linear memory, every count an i32.
// conv_fwd, conv_bwd, conv_pool_dx and conv_pool_dw take 23, 29, 19 and 22 parameters; ./wasm-conv.ts builds them from named
// records (ConvFwdArgs, …) in the order of their `(param …)` lists, which test/engine/wasm-layout.test.ts checks against the .wat.

/** The module's exports, by family (the .wat file each comes from). */
export interface WasmExports {
  memory: WebAssembly.Memory;
  // memory.wat
  zero_f32(dst: number, n: number): void;
  add_f32(dst: number, src: number, n: number): void;
  col_sums(g: number, N: number, O: number, out: number): void;
  copy2d(src: number, srcRow: number, srcPlane: number, dst: number, dstRow: number, dstPlane: number, planes: number, rows: number, cols: number): void;
  // gemm.wat
  pack(src: number, rs: number, ks: number, n: number, K: number, dst: number, w: number): void;
  gemm_packed(M: number, N: number, K: number, pA: number, pB: number, pC: number, ldc: number, acc: number, scr: number): void;
  gemm_rows(M: number, N: number, K: number, pA: number, lda: number, pB: number, pC: number, ldc: number, acc: number, scr: number): void;
  // the same three, their threads claiming blocks of q panels from the i32 counter at ctr (the products pack B's as they go)
  pack_shared(ctr: number, q: number, src: number, rs: number, ks: number, n: number, K: number, dst: number, w: number): void;
  gemm_packed_shared(ctr: number, q: number, M: number, N: number, K: number, pA: number, bSrc: number, brs: number, bks: number, pB: number, pC: number, ldc: number, acc: number, scr: number): void;
  gemm_rows_shared(ctr: number, q: number, M: number, N: number, K: number, pA: number, lda: number, bSrc: number, brs: number, bks: number, pB: number, pC: number, ldc: number, acc: number, scr: number): void;
  // conv.wat (with im2col.wat and conv-relu-pool.wat behind them)
  conv_fwd(...args: number[]): void;
  conv_bwd(...args: number[]): void;
  conv_pool_dx(...args: number[]): void;
  conv_pool_dw(...args: number[]): void;
  // pool-relu.wat
  relu_fwd(x: number, out: number, n: number): void;
  relu_bwd(dOut: number, x: number, dX: number, n: number): void;
  maxpool2_fwd(x: number, NC: number, H: number, W: number, OH: number, OW: number, out: number, arg: number, base: number): void;
  maxpool_bwd(dOut: number, arg: number, n: number, dX: number): void;
  maxout_fwd(x: number, out: number, R: number, K: number, S: number): void;
  maxout_bwd(dOut: number, x: number, dX: number, R: number, K: number, S: number): void;
  // norm.wat
  bn_fwd(x: number, y: number, N: number, C: number, S: number, c0: number, c1: number, k: number, phase: number, W: number, out: number, route: number): void;
  bn_bwd(dy: number, x: number, dx: number, N: number, C: number, S: number, c0: number, c1: number, k: number, phase: number, W: number, g: number, route: number): void;
  // peak.wat
  peak_fma(iters: number, out: number): void;
  // optim.wat
  adam(th: number, g: number, m: number, v: number, n: number, k: number): void;
  adam_shared(ctr: number, q: number, th: number, g: number, m: number, v: number, n: number, k: number): void;
  linf_step(xa: number, xo: number, g: number, lo: number, hi: number, st: number, R: number, D: number, k: number): void;
  // fab-step.wat
  fab_rows(x1: number, x0: number, w: number, f: number, r0: number, r1: number, D: number, k: number, scr: number, l2: number): void;
}

/** Every function export the host needs: a module lacking one (a stale build) is refused. */
export const exportNames: readonly Exclude<keyof WasmExports, 'memory'>[] = [
  'pack', 'gemm_packed', 'gemm_rows', 'pack_shared', 'gemm_packed_shared', 'gemm_rows_shared', 'zero_f32', 'add_f32', 'relu_fwd', 'relu_bwd', 'maxpool2_fwd', 'maxpool_bwd', 'maxout_fwd', 'maxout_bwd', 'conv_fwd', 'conv_bwd', 'conv_pool_dx', 'conv_pool_dw', 'peak_fma', 'copy2d', 'col_sums', 'adam', 'adam_shared',
  'linf_step', 'fab_rows', 'bn_fwd', 'bn_bwd',
];

/**
 * A named argument record as the positional list a kernel export takes (and a worker thread receives).
 * @example
 *   positional(['x', 'n'] as const, { n: 3, x: 256 }); // [256, 3]
 */
export function positional<K extends string>(params: readonly K[], args: Readonly<Record<K, number>>): number[] {
  return params.map((k) => args[k]);
}
