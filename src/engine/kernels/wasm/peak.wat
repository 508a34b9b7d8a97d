;; The machine's multiply-add ceiling for `nablax bench` (Kernels.peakGflops). Host side: ../wasm-peak.ts.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts and strides are in float32 elements.

  ;; The machine's multiply-add ceiling, for `nablax bench`: `iters` rounds of 10 independent f32x4 multiply-adds
  ;; (10 dependency chains cover a 4-cycle latency on 2 pipes), nothing loaded or stored inside the loop. The
  ;; chains converge (a·0.999 + 1e-7) so no value overflows or goes subnormal. The lanes' sum goes to out (16 bytes)
  ;; so the work is not dead. In the portable build each multiply-add is a multiply then an add, like its GEMM.
  ;; FLOPs: iters · 10 · 4 lanes · 2.
  (func (export "peak_fma") (param $iters i32) (param $out i32)
    (local $m v128) (local $c v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128)
    (local $a5 v128) (local $a6 v128) (local $a7 v128) (local $a8 v128) (local $a9 v128)
    (local.set $m (f32x4.splat (f32.const 0.999)))
    (local.set $c (f32x4.splat (f32.const 1e-7)))
    (local.set $a0 (f32x4.splat (f32.const 1)))
    (local.set $a1 (local.get $a0)) (local.set $a2 (local.get $a0)) (local.set $a3 (local.get $a0))
    (local.set $a4 (local.get $a0)) (local.set $a5 (local.get $a0)) (local.set $a6 (local.get $a0))
    (local.set $a7 (local.get $a0)) (local.set $a8 (local.get $a0)) (local.set $a9 (local.get $a0))
    (if (i32.gt_s (local.get $iters) (i32.const 0))
      (then
        (loop $it
          (local.set $a0 (f32x4.relaxed_madd (local.get $a0) (local.get $m) (local.get $c)))
          (local.set $a1 (f32x4.relaxed_madd (local.get $a1) (local.get $m) (local.get $c)))
          (local.set $a2 (f32x4.relaxed_madd (local.get $a2) (local.get $m) (local.get $c)))
          (local.set $a3 (f32x4.relaxed_madd (local.get $a3) (local.get $m) (local.get $c)))
          (local.set $a4 (f32x4.relaxed_madd (local.get $a4) (local.get $m) (local.get $c)))
          (local.set $a5 (f32x4.relaxed_madd (local.get $a5) (local.get $m) (local.get $c)))
          (local.set $a6 (f32x4.relaxed_madd (local.get $a6) (local.get $m) (local.get $c)))
          (local.set $a7 (f32x4.relaxed_madd (local.get $a7) (local.get $m) (local.get $c)))
          (local.set $a8 (f32x4.relaxed_madd (local.get $a8) (local.get $m) (local.get $c)))
          (local.set $a9 (f32x4.relaxed_madd (local.get $a9) (local.get $m) (local.get $c)))
          (local.set $iters (i32.sub (local.get $iters) (i32.const 1)))
          (br_if $it (local.get $iters)))))
    (v128.store (local.get $out)
      (f32x4.add
        (f32x4.add (f32x4.add (f32x4.add (local.get $a0) (local.get $a1)) (f32x4.add (local.get $a2) (local.get $a3)))
                   (f32x4.add (f32x4.add (local.get $a4) (local.get $a5)) (f32x4.add (local.get $a6) (local.get $a7))))
        (f32x4.add (local.get $a8) (local.get $a9)))))
