;; Pooling and elementwise kernels in WebAssembly 128-bit SIMD: ReLU forward and backward, 2×2/2 max pooling and
;; the max-pool backward's scatter. Host side: ../wasm-pool-relu.ts; reference: ../reference.ts.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts and strides are in float32 elements.

  ;; out = max(x, 0) (NaN stays NaN, as in the reference).
  (func $relu_fwd (export "relu_fwd") (param $x i32) (param $out i32) (param $n i32)
    (local $e i32) (local $v f32)
    (local.set $e (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $vl
        (br_if $v_done (i32.ge_u (local.get $x) (local.get $e)))
        (v128.store (local.get $out) (f32x4.max (v128.load (local.get $x)) (v128.const i32x4 0 0 0 0)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $vl)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $t_done
      (loop $t
        (br_if $t_done (i32.ge_u (local.get $x) (local.get $e)))
        (f32.store (local.get $out) (f32.max (f32.load (local.get $x)) (f32.const 0)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $t))))

  ;; dX = dOut where x > 0, else 0 (reference: reluBackward).
  (func (export "relu_bwd") (param $dOut i32) (param $x i32) (param $dX i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $vl
        (br_if $v_done (i32.ge_u (local.get $x) (local.get $e)))
        (v128.store (local.get $dX)
          (v128.and (v128.load (local.get $dOut)) (f32x4.gt (v128.load (local.get $x)) (v128.const i32x4 0 0 0 0))))
        (local.set $dOut (i32.add (local.get $dOut) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $dX (i32.add (local.get $dX) (i32.const 16)))
        (br $vl)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $t_done
      (loop $t
        (br_if $t_done (i32.ge_u (local.get $x) (local.get $e)))
        (f32.store (local.get $dX)
          (select (f32.load (local.get $dOut)) (f32.const 0) (f32.gt (f32.load (local.get $x)) (f32.const 0))))
        (local.set $dOut (i32.add (local.get $dOut) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $dX (i32.add (local.get $dX) (i32.const 4)))
        (br $t))))

  ;; 2×2 max pooling, stride 2, no padding, over NC planes of H×W: out[p, oh, ow] and arg = base + the flat index
  ;; into x of the window's maximum, first in row-major order on ties (strict >).
  ;; Four outputs per step: two 8-float loads per input row, split into even and odd columns by shuffles.
  (func $maxpool2_fwd (export "maxpool2_fwd")
    (param $x i32) (param $NC i32) (param $H i32) (param $W i32) (param $OH i32) (param $OW i32)
    (param $out i32) (param $arg i32) (param $base i32)
    (local $p i32) (local $oh i32) (local $ow i32) (local $ow4 i32) (local $r0 i32) (local $r1 i32) (local $i0 i32)
    (local $a v128) (local $b v128) (local $m v128) (local $id v128) (local $iv v128) (local $c v128) (local $v v128)
    (local $fa f32) (local $fi i32) (local $f f32)
    (local.set $ow4 (i32.and (local.get $OW) (i32.const -4)))
    (block $p_done
      (loop $ps
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $NC)))
        (local.set $oh (i32.const 0))
        (block $oh_done
          (loop $ohs
            (br_if $oh_done (i32.ge_u (local.get $oh) (local.get $OH)))
            ;; i0: flat index of the window's top-left element for ow = 0
            (local.set $r0 (i32.add (local.get $x) (i32.shl
              (i32.add (i32.mul (local.get $p) (i32.mul (local.get $H) (local.get $W)))
                       (i32.mul (i32.shl (local.get $oh) (i32.const 1)) (local.get $W)))
              (i32.const 2))))
            (local.set $i0 (i32.add (local.get $base)
              (i32.add (i32.mul (local.get $p) (i32.mul (local.get $H) (local.get $W)))
                       (i32.mul (i32.shl (local.get $oh) (i32.const 1)) (local.get $W)))))
            (local.set $r1 (i32.add (local.get $r0) (i32.shl (local.get $W) (i32.const 2))))
            (local.set $ow (i32.const 0))
            (block $v_done
              (loop $vs
                (br_if $v_done (i32.ge_u (local.get $ow) (local.get $ow4)))
                ;; indices of the four windows' top-left elements: i0 + 2·ow + (0, 2, 4, 6)
                (local.set $iv (i32x4.add
                  (i32x4.splat (i32.add (local.get $i0) (i32.shl (local.get $ow) (i32.const 1))))
                  (v128.const i32x4 0 2 4 6)))
                (local.set $a (v128.load (local.get $r0)))
                (local.set $b (v128.load offset=16 (local.get $r0)))
                (local.set $m (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $b)))
                (local.set $id (local.get $iv))
                ;; (0, 1)
                (local.set $v (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $b)))
                (local.set $c (f32x4.gt (local.get $v) (local.get $m)))
                (local.set $m (v128.bitselect (local.get $v) (local.get $m) (local.get $c)))
                (local.set $id (v128.bitselect (i32x4.add (local.get $iv) (v128.const i32x4 1 1 1 1)) (local.get $id) (local.get $c)))
                ;; (1, 0) and (1, 1)
                (local.set $a (v128.load (local.get $r1)))
                (local.set $b (v128.load offset=16 (local.get $r1)))
                (local.set $v (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a) (local.get $b)))
                (local.set $c (f32x4.gt (local.get $v) (local.get $m)))
                (local.set $m (v128.bitselect (local.get $v) (local.get $m) (local.get $c)))
                (local.set $id (v128.bitselect (i32x4.add (local.get $iv) (i32x4.splat (local.get $W))) (local.get $id) (local.get $c)))
                (local.set $v (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a) (local.get $b)))
                (local.set $c (f32x4.gt (local.get $v) (local.get $m)))
                (local.set $m (v128.bitselect (local.get $v) (local.get $m) (local.get $c)))
                (local.set $id (v128.bitselect
                  (i32x4.add (local.get $iv) (i32x4.splat (i32.add (local.get $W) (i32.const 1)))) (local.get $id) (local.get $c)))
                (v128.store (local.get $out) (local.get $m))
                (v128.store (local.get $arg) (local.get $id))
                (local.set $out (i32.add (local.get $out) (i32.const 16)))
                (local.set $arg (i32.add (local.get $arg) (i32.const 16)))
                (local.set $r0 (i32.add (local.get $r0) (i32.const 32)))
                (local.set $r1 (i32.add (local.get $r1) (i32.const 32)))
                (local.set $ow (i32.add (local.get $ow) (i32.const 4)))
                (br $vs)))
            ;; the last OW mod 4 windows one at a time
            (block $t_done
              (loop $ts
                (br_if $t_done (i32.ge_u (local.get $ow) (local.get $OW)))
                (local.set $fa (f32.load (local.get $r0)))
                (local.set $fi (i32.add (local.get $i0) (i32.shl (local.get $ow) (i32.const 1))))
                (local.set $f (f32.load offset=4 (local.get $r0)))
                (if (f32.gt (local.get $f) (local.get $fa))
                  (then (local.set $fa (local.get $f))
                        (local.set $fi (i32.add (i32.add (local.get $i0) (i32.shl (local.get $ow) (i32.const 1))) (i32.const 1)))))
                (local.set $f (f32.load (local.get $r1)))
                (if (f32.gt (local.get $f) (local.get $fa))
                  (then (local.set $fa (local.get $f))
                        (local.set $fi (i32.add (i32.add (local.get $i0) (i32.shl (local.get $ow) (i32.const 1))) (local.get $W)))))
                (local.set $f (f32.load offset=4 (local.get $r1)))
                (if (f32.gt (local.get $f) (local.get $fa))
                  (then (local.set $fa (local.get $f))
                        (local.set $fi (i32.add (i32.add (i32.add (local.get $i0) (i32.shl (local.get $ow) (i32.const 1))) (local.get $W)) (i32.const 1)))))
                (f32.store (local.get $out) (local.get $fa))
                (i32.store (local.get $arg) (local.get $fi))
                (local.set $out (i32.add (local.get $out) (i32.const 4)))
                (local.set $arg (i32.add (local.get $arg) (i32.const 4)))
                (local.set $r0 (i32.add (local.get $r0) (i32.const 8)))
                (local.set $r1 (i32.add (local.get $r1) (i32.const 8)))
                (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
                (br $ts)))
            (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
            (br $ohs)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $ps))))

  ;; Max-pool backward: dX[arg[i]] += dOut[i] for i < n, in order (so overlapping windows sum as in the reference).
  (func (export "maxpool_bwd") (param $dOut i32) (param $arg i32) (param $n i32) (param $dX i32)
    (local $e i32) (local $a i32)
    (local.set $e (i32.add (local.get $dOut) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $dOut) (local.get $e)))
        (local.set $a (i32.add (local.get $dX) (i32.shl (i32.load (local.get $arg)) (i32.const 2))))
        (f32.store (local.get $a) (f32.add (f32.load (local.get $a)) (f32.load (local.get $dOut))))
        (local.set $dOut (i32.add (local.get $dOut) (i32.const 4)))
        (local.set $arg (i32.add (local.get $arg) (i32.const 4)))
        (br $l))))
