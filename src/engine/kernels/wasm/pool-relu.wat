;; Pooling and elementwise kernels in WebAssembly 128-bit SIMD: ReLU forward and backward, 2×2/2 max pooling and
;; the max-pool backward's scatter; maxout forward and backward (scalar, branch-free). Host side: ../wasm-pool-relu.ts; reference: ../reference.ts.
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

;; Maxout (Goodfellow et al. 2013, eq. 1) over x as [R, K, S] (R = N·U units, K pieces, S positions per piece):
  ;; out[r, s] = the first maximum of x[r, 0…K−1, s], found by `v > best` (ties keep the first piece; a NaN piece is
  ;; never taken unless it comes first, then the result is NaN), as the reference's loop. Branch-free: the winner's
  ;; bits follow an integer mask (x ^ ((v ^ x) & −(v > best))), because on real activations a branch on v > best
  ;; mispredicts about half the time (the TypeScript loop took 4.5 ns an element) and V8 compiles a float select
  ;; to a branch.
  (func $maxout_fwd_scalar (param $x i32) (param $out i32) (param $R i32) (param $K i32) (param $S i32)
    (local $r i32) (local $s i32) (local $p i32) (local $a i32) (local $row i32) (local $SB i32) (local $KSB i32)
    (local $best i32) (local $v i32)
    (local.set $SB (i32.shl (local.get $S) (i32.const 2)))
    (local.set $KSB (i32.mul (local.get $K) (local.get $SB)))
    (local.set $row (local.get $x))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $R)))
        (local.set $s (i32.const 0))
        (loop $positions
          (local.set $a (i32.add (local.get $row) (i32.shl (local.get $s) (i32.const 2))))
          (local.set $best (i32.load (local.get $a)))
          (local.set $p (i32.const 1))
          (block $pieces_done
            (loop $pieces
              (br_if $pieces_done (i32.ge_u (local.get $p) (local.get $K)))
              (local.set $a (i32.add (local.get $a) (local.get $SB)))
              (local.set $v (i32.load (local.get $a)))
              (local.set $best (i32.xor (local.get $best)
                (i32.and (i32.xor (local.get $v) (local.get $best))
                  (i32.sub (i32.const 0) (f32.gt (f32.reinterpret_i32 (local.get $v)) (f32.reinterpret_i32 (local.get $best)))))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $pieces)))
          (i32.store (local.get $out) (local.get $best))
          (local.set $out (i32.add (local.get $out) (i32.const 4)))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (br_if $positions (i32.lt_u (local.get $s) (local.get $S))))
        (local.set $row (i32.add (local.get $row) (local.get $KSB)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; maxout's backward: dX[r, p, s] = 0 + dOut[r, s] for the piece p that maxout_fwd took (found again from x, the
  ;; same comparisons), +0 for the others; every element of dX written, branch-free as maxout_fwd. (0 + g: the
  ;; reference adds the gradient into zeros, which turns −0 into +0.)
  (func $maxout_bwd_scalar (param $dOut i32) (param $x i32) (param $dX i32) (param $R i32) (param $K i32) (param $S i32)
    (local $r i32) (local $s i32) (local $p i32) (local $a i32) (local $row i32) (local $SB i32) (local $KSB i32)
    (local $win i32) (local $d i32) (local $best f32) (local $v f32) (local $g i32) (local $gt i32)
    (local.set $SB (i32.shl (local.get $S) (i32.const 2)))
    (local.set $KSB (i32.mul (local.get $K) (local.get $SB)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $R)))
        (local.set $s (i32.const 0))
        (loop $positions
          ;; byte offset of x[r, 0, s] (and of dX[r, 0, s])
          (local.set $row (i32.add (i32.mul (local.get $r) (local.get $KSB)) (i32.shl (local.get $s) (i32.const 2))))
          (local.set $a (i32.add (local.get $x) (local.get $row)))
          (local.set $best (f32.load (local.get $a)))
          (local.set $win (i32.const 0))
          (local.set $p (i32.const 1))
          (block $pieces_done
            (loop $pieces
              (br_if $pieces_done (i32.ge_u (local.get $p) (local.get $K)))
              (local.set $a (i32.add (local.get $a) (local.get $SB)))
              (local.set $v (f32.load (local.get $a)))
              (local.set $gt (f32.gt (local.get $v) (local.get $best)))
              (local.set $win (select (local.get $p) (local.get $win) (local.get $gt)))
              ;; best = gt ? v : best, through the bits (a float select would be a branch)
              (local.set $best (f32.reinterpret_i32 (i32.xor (i32.reinterpret_f32 (local.get $best))
                (i32.and (i32.xor (i32.reinterpret_f32 (local.get $v)) (i32.reinterpret_f32 (local.get $best)))
                  (i32.sub (i32.const 0) (local.get $gt))))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $pieces)))
          (local.set $g (i32.reinterpret_f32 (f32.add (f32.const 0) (f32.load (local.get $dOut)))))
          (local.set $dOut (i32.add (local.get $dOut) (i32.const 4)))
          (local.set $d (i32.add (local.get $dX) (local.get $row)))
          (local.set $p (i32.const 0))
          (loop $writes
            ;; g's bits where p is the winner, +0 elsewhere
            (i32.store (local.get $d) (i32.and (local.get $g) (i32.sub (i32.const 0) (i32.eq (local.get $p) (local.get $win)))))
            (local.set $d (i32.add (local.get $d) (local.get $SB)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br_if $writes (i32.lt_u (local.get $p) (local.get $K))))
          (local.set $s (i32.add (local.get $s) (i32.const 1)))
          (br_if $positions (i32.lt_u (local.get $s) (local.get $S))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; maxout_fwd for any S; with S = 1 (after a dense layer: a unit's K pieces are consecutive) four units at a time
  ;; in vector lanes, each lane gathering its unit's pieces, the rest by the scalar loop: the same comparisons
  ;; (f32x4.gt, a bit-select), so the same bits.
  (func (export "maxout_fwd") (param $x i32) (param $out i32) (param $R i32) (param $K i32) (param $S i32)
    (local $g i32) (local $G i32) (local $p i32) (local $KB i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $best v128) (local $v v128)
    (if (i32.ne (local.get $S) (i32.const 1))
      (then (call $maxout_fwd_scalar (local.get $x) (local.get $out) (local.get $R) (local.get $K) (local.get $S)) (return)))
    (local.set $KB (i32.shl (local.get $K) (i32.const 2)))
    (local.set $G (i32.shr_u (local.get $R) (i32.const 2)))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $g) (local.get $G)))
        ;; lane i reads unit 4g + i, whose pieces start at a_i
        (local.set $a0 (i32.add (local.get $x) (i32.mul (i32.shl (local.get $g) (i32.const 2)) (local.get $KB))))
        (local.set $a1 (i32.add (local.get $a0) (local.get $KB)))
        (local.set $a2 (i32.add (local.get $a1) (local.get $KB)))
        (local.set $a3 (i32.add (local.get $a2) (local.get $KB)))
        (local.set $best (v128.load32_zero (local.get $a0)))
        (local.set $best (v128.load32_lane 1 (local.get $a1) (local.get $best)))
        (local.set $best (v128.load32_lane 2 (local.get $a2) (local.get $best)))
        (local.set $best (v128.load32_lane 3 (local.get $a3) (local.get $best)))
        (local.set $p (i32.const 1))
        (block $pieces_done
          (loop $pieces
            (br_if $pieces_done (i32.ge_u (local.get $p) (local.get $K)))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
            (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
            (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
            (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
            (local.set $v (v128.load32_zero (local.get $a0)))
            (local.set $v (v128.load32_lane 1 (local.get $a1) (local.get $v)))
            (local.set $v (v128.load32_lane 2 (local.get $a2) (local.get $v)))
            (local.set $v (v128.load32_lane 3 (local.get $a3) (local.get $v)))
            (local.set $best (v128.bitselect (local.get $v) (local.get $best) (f32x4.gt (local.get $v) (local.get $best))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pieces)))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $g) (i32.const 4))) (local.get $best))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $groups)))
    (call $maxout_fwd_scalar
      (i32.add (local.get $x) (i32.mul (i32.shl (local.get $G) (i32.const 2)) (local.get $KB)))
      (i32.add (local.get $out) (i32.shl (local.get $G) (i32.const 4)))
      (i32.and (local.get $R) (i32.const 3)) (local.get $K) (i32.const 1)))

  ;; maxout_bwd likewise: with S = 1, four units at a time (the winner as a lane mask, each piece's gradient
  ;; scattered to its lanes' addresses), the rest by the scalar loop.
  (func (export "maxout_bwd") (param $dOut i32) (param $x i32) (param $dX i32) (param $R i32) (param $K i32) (param $S i32)
    (local $g i32) (local $G i32) (local $p i32) (local $KB i32) (local $off i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32)
    (local $best v128) (local $v v128) (local $m v128) (local $win v128) (local $pv v128) (local $gv v128) (local $w v128)
    (if (i32.ne (local.get $S) (i32.const 1))
      (then (call $maxout_bwd_scalar (local.get $dOut) (local.get $x) (local.get $dX) (local.get $R) (local.get $K) (local.get $S)) (return)))
    (local.set $KB (i32.shl (local.get $K) (i32.const 2)))
    (local.set $G (i32.shr_u (local.get $R) (i32.const 2)))
    (block $groups_done
      (loop $groups
        (br_if $groups_done (i32.ge_u (local.get $g) (local.get $G)))
        (local.set $off (i32.mul (i32.shl (local.get $g) (i32.const 2)) (local.get $KB)))
        (local.set $a0 (i32.add (local.get $x) (local.get $off)))
        (local.set $a1 (i32.add (local.get $a0) (local.get $KB)))
        (local.set $a2 (i32.add (local.get $a1) (local.get $KB)))
        (local.set $a3 (i32.add (local.get $a2) (local.get $KB)))
        (local.set $best (v128.load32_zero (local.get $a0)))
        (local.set $best (v128.load32_lane 1 (local.get $a1) (local.get $best)))
        (local.set $best (v128.load32_lane 2 (local.get $a2) (local.get $best)))
        (local.set $best (v128.load32_lane 3 (local.get $a3) (local.get $best)))
        (local.set $win (v128.const i32x4 0 0 0 0))
        (local.set $pv (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.const 1))
        (block $pieces_done
          (loop $pieces
            (br_if $pieces_done (i32.ge_u (local.get $p) (local.get $K)))
            (local.set $pv (i32x4.add (local.get $pv) (v128.const i32x4 1 1 1 1)))
            (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
            (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
            (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
            (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
            (local.set $v (v128.load32_zero (local.get $a0)))
            (local.set $v (v128.load32_lane 1 (local.get $a1) (local.get $v)))
            (local.set $v (v128.load32_lane 2 (local.get $a2) (local.get $v)))
            (local.set $v (v128.load32_lane 3 (local.get $a3) (local.get $v)))
            (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
            (local.set $win (v128.bitselect (local.get $pv) (local.get $win) (local.get $m)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pieces)))
        ;; 0 + g per lane (−0 → +0, as the scalar loop), then piece p of each lane: g where p won, +0 elsewhere
        (local.set $gv (f32x4.add (v128.const i32x4 0 0 0 0) (v128.load (i32.add (local.get $dOut) (i32.shl (local.get $g) (i32.const 4))))))
        (local.set $a0 (i32.add (local.get $dX) (local.get $off)))
        (local.set $a1 (i32.add (local.get $a0) (local.get $KB)))
        (local.set $a2 (i32.add (local.get $a1) (local.get $KB)))
        (local.set $a3 (i32.add (local.get $a2) (local.get $KB)))
        (local.set $pv (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.const 0))
        (loop $writes
          (local.set $w (v128.and (local.get $gv) (i32x4.eq (local.get $win) (local.get $pv))))
          (v128.store32_lane 0 (local.get $a0) (local.get $w))
          (v128.store32_lane 1 (local.get $a1) (local.get $w))
          (v128.store32_lane 2 (local.get $a2) (local.get $w))
          (v128.store32_lane 3 (local.get $a3) (local.get $w))
          (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
          (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
          (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
          (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
          (local.set $pv (i32x4.add (local.get $pv) (v128.const i32x4 1 1 1 1)))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $writes (i32.lt_u (local.get $p) (local.get $K))))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $groups)))
    (local.set $off (i32.mul (i32.shl (local.get $G) (i32.const 2)) (local.get $KB)))
    (call $maxout_bwd_scalar
      (i32.add (local.get $dOut) (i32.shl (local.get $G) (i32.const 4)))
      (i32.add (local.get $x) (local.get $off)) (i32.add (local.get $dX) (local.get $off))
      (i32.and (local.get $R) (i32.const 3)) (local.get $K) (i32.const 1)))
