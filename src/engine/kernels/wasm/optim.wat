;; The optimiser's update in WebAssembly 128-bit SIMD: Adam over float32 parameters in float32 arithmetic, exactly as
;; the TypeScript loop (../reference.ts `adamUpdate`) computes it for float32 arrays, so the two give the same bits.
;; Host side: ../wasm-optim.ts. Functions only: scripts/build-wasm.mjs splices this file with the other families into
;; one module over one shared linear memory. All pointers are byte addresses; counts are in float32 elements.

  ;; One Adam update (Kingma & Ba 2015, Algorithm 1, with PyTorch's arrangement of the bias corrections) of n
  ;; float32 values in place: th (parameters), m and v (first and second moments), from g (gradients). The
  ;; constants are 8 float32 at k: β1, 1 − β1, β2, 1 − β2, weight decay λ, ε, step = lr / (1 − β1ᵗ) and
  ;; invSqrtC2 = 1 / √(1 − β2ᵗ). Per element, in float32 (each operation rounded once, in this order, as in the
  ;; host's loop; PyTorch's float32 Adam also runs its √ and ÷ in float32, in another order):
  ;;   g' = g + λ·θ;  m = β1·m + (1 − β1)·g';  v = β2·v + ((1 − β2)·g')·g';  θ = θ − (step·m) / (√v·invSqrtC2 + ε)
  ;; Four elements a step as f32x4, then one at a time: IEEE operations give the same bits in a lane as alone, so
  ;; a split among threads does not change the result. (In float64 the √ and ÷ bound the loop at ~7 cycles an
  ;; element; in float32 it runs at the speed of its memory traffic, ~2.2.)
  (func $adam (export "adam") (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32) (param $k i32)
    (local $e i32)
    (local $b1 v128) (local $a1 v128) (local $b2 v128) (local $a2 v128) (local $wd v128) (local $eps v128)
    (local $step v128) (local $isc v128)
    (local $t4 v128) (local $g4 v128) (local $m4 v128) (local $v4 v128)
    (local $sb1 f32) (local $sa1 f32) (local $sb2 f32) (local $sa2 f32) (local $swd f32) (local $seps f32)
    (local $sstep f32) (local $sisc f32)
    (local $st f32) (local $sg f32) (local $sm f32) (local $sv f32)
    (local.set $sb1 (f32.load offset=0 (local.get $k)))
    (local.set $sa1 (f32.load offset=4 (local.get $k)))
    (local.set $sb2 (f32.load offset=8 (local.get $k)))
    (local.set $sa2 (f32.load offset=12 (local.get $k)))
    (local.set $swd (f32.load offset=16 (local.get $k)))
    (local.set $seps (f32.load offset=20 (local.get $k)))
    (local.set $sstep (f32.load offset=24 (local.get $k)))
    (local.set $sisc (f32.load offset=28 (local.get $k)))
    (local.set $b1 (f32x4.splat (local.get $sb1)))
    (local.set $a1 (f32x4.splat (local.get $sa1)))
    (local.set $b2 (f32x4.splat (local.get $sb2)))
    (local.set $a2 (f32x4.splat (local.get $sa2)))
    (local.set $wd (f32x4.splat (local.get $swd)))
    (local.set $eps (f32x4.splat (local.get $seps)))
    (local.set $step (f32x4.splat (local.get $sstep)))
    (local.set $isc (f32x4.splat (local.get $sisc)))
    (local.set $e (i32.add (local.get $th) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $vs
        (br_if $v_done (i32.ge_u (local.get $th) (local.get $e)))
        (local.set $t4 (v128.load (local.get $th)))
        ;; g' = g + λ·θ
        (local.set $g4 (f32x4.add (v128.load (local.get $g)) (f32x4.mul (local.get $wd) (local.get $t4))))
        ;; m = β1·m + (1 − β1)·g'
        (local.set $m4 (f32x4.add (f32x4.mul (local.get $b1) (v128.load (local.get $m))) (f32x4.mul (local.get $a1) (local.get $g4))))
        ;; v = β2·v + ((1 − β2)·g')·g'
        (local.set $v4 (f32x4.add (f32x4.mul (local.get $b2) (v128.load (local.get $v)))
          (f32x4.mul (f32x4.mul (local.get $a2) (local.get $g4)) (local.get $g4))))
        (v128.store (local.get $m) (local.get $m4))
        (v128.store (local.get $v) (local.get $v4))
        ;; θ = θ − (step·m) / (√v·invSqrtC2 + ε)
        (v128.store (local.get $th) (f32x4.sub (local.get $t4) (f32x4.div (f32x4.mul (local.get $step) (local.get $m4))
          (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $v4)) (local.get $isc)) (local.get $eps)))))
        (local.set $th (i32.add (local.get $th) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (br $vs)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $s_done
      (loop $ss
        (br_if $s_done (i32.ge_u (local.get $th) (local.get $e)))
        (local.set $st (f32.load (local.get $th)))
        (local.set $sg (f32.add (f32.load (local.get $g)) (f32.mul (local.get $swd) (local.get $st))))
        (local.set $sm (f32.add (f32.mul (local.get $sb1) (f32.load (local.get $m))) (f32.mul (local.get $sa1) (local.get $sg))))
        (local.set $sv (f32.add (f32.mul (local.get $sb2) (f32.load (local.get $v)))
          (f32.mul (f32.mul (local.get $sa2) (local.get $sg)) (local.get $sg))))
        (f32.store (local.get $m) (local.get $sm))
        (f32.store (local.get $v) (local.get $sv))
        (f32.store (local.get $th) (f32.sub (local.get $st) (f32.div (f32.mul (local.get $sstep) (local.get $sm))
          (f32.add (f32.mul (f32.sqrt (local.get $sv)) (local.get $sisc)) (local.get $seps)))))
        (local.set $th (i32.add (local.get $th) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (br $ss))))

;; adam's n elements as blocks of 4·q, claimed by the threads of one call from the i32 counter at $ctr (zeroed by
  ;; the caller) until none is left, as gemm.wat's *_shared: a thread that starts late leaves its blocks to the
  ;; others. Each element is computed alone, so the same bits whichever thread takes it.
  (func $adam_shared (export "adam_shared") (param $ctr i32) (param $q i32)
    (param $th i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32) (param $k i32)
    (local $e0 i32) (local $len i32) (local $off i32)
    (local.set $len (i32.shl (local.get $q) (i32.const 2)))
    (block $done
      (loop $claim
        (local.set $e0 (i32.mul (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)) (local.get $len)))
        (br_if $done (i32.ge_u (local.get $e0) (local.get $n)))
        (local.set $off (i32.shl (local.get $e0) (i32.const 2)))
        (call $adam (i32.add (local.get $th) (local.get $off)) (i32.add (local.get $g) (local.get $off))
          (i32.add (local.get $m) (local.get $off)) (i32.add (local.get $v) (local.get $off))
          (select (local.get $len) (i32.sub (local.get $n) (local.get $e0))
            (i32.le_u (i32.add (local.get $e0) (local.get $len)) (local.get $n)))
          (local.get $k))
        (br $claim))))

;; APGD's L∞ iterate update (Croce & Hein 2020, Algorithm 1, lines 6–8; P the ε-ball ∩ [0, 1] box [lo, hi]) over
  ;; R rows of D float32 values, in place, computed in float64 exactly as the TypeScript loop
  ;; (../reference.ts `apgdLinfStep`) computes it, so the two give the same bits. Row r's step size η is the float64
  ;; at st + 8r; the constants at k are two float64: α and 1 − α. Per element, with x the iterate, x_old the previous
  ;; one and g the gradient:
  ;;   z = clip(x + (g > 0 ? η : g < 0 ? −η : 0));  w = clip(x + (z − x)·α + (x − x_old)·(1 − α));  x_old ← x;  x ← w
  ;; where clip(v) = v < lo ? lo : (v > hi ? hi : v), which f64x2.pmin then f64x2.pmax compute lane by lane without
  ;; a branch (lo ≤ hi). Two elements a step as one f64x2, then the odd one: both compute the same bits.
  (func (export "linf_step") (param $xa i32) (param $xo i32) (param $g i32) (param $lo i32) (param $hi i32)
    (param $st i32) (param $R i32) (param $D i32) (param $k i32)
    (local $r i32) (local $e i32) (local $ev i32)
    (local $a v128) (local $b v128) (local $s v128) (local $ns v128) (local $zero v128)
    (local $x v128) (local $l v128) (local $h v128) (local $z v128) (local $gv v128)
    (local $sa f64) (local $sb f64) (local $ss f64) (local $cur f64) (local $gs f64) (local $ls f64) (local $hs f64)
    (local $zs f64) (local $ws f64)
    (local.set $sa (f64.load offset=0 (local.get $k)))
    (local.set $sb (f64.load offset=8 (local.get $k)))
    (local.set $a (f64x2.splat (local.get $sa)))
    (local.set $b (f64x2.splat (local.get $sb)))
    (local.set $zero (f64x2.splat (f64.const 0)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $R)))
        (local.set $ss (f64.load (i32.add (local.get $st) (i32.shl (local.get $r) (i32.const 3)))))
        (local.set $s (f64x2.splat (local.get $ss)))
        (local.set $ns (f64x2.splat (f64.neg (local.get $ss))))
        (local.set $e (i32.add (local.get $xa) (i32.shl (local.get $D) (i32.const 2))))
        (local.set $ev (i32.add (local.get $xa) (i32.shl (i32.and (local.get $D) (i32.const -2)) (i32.const 2))))
        (block $v_done
          (loop $vs
            (br_if $v_done (i32.ge_u (local.get $xa) (local.get $ev)))
            (local.set $x (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $xa))))
            (local.set $gv (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))))
            (local.set $l (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $lo))))
            (local.set $h (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $hi))))
            ;; z = clip(x + (g > 0 ? η : g < 0 ? −η : 0)): the two masks are disjoint, and neither leaves +0
            (local.set $z (f64x2.add (local.get $x)
              (v128.or (v128.and (f64x2.gt (local.get $gv) (local.get $zero)) (local.get $s))
                       (v128.and (f64x2.lt (local.get $gv) (local.get $zero)) (local.get $ns)))))
            (local.set $z (f64x2.pmax (f64x2.pmin (local.get $z) (local.get $h)) (local.get $l)))
            ;; w = clip(x + (z − x)·α + (x − x_old)·(1 − α)); x_old ← x (its float32 bits as loaded)
            (local.set $z (f64x2.pmax (f64x2.pmin
              (f64x2.add (f64x2.add (local.get $x) (f64x2.mul (f64x2.sub (local.get $z) (local.get $x)) (local.get $a)))
                (f64x2.mul (f64x2.sub (local.get $x) (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $xo)))) (local.get $b)))
              (local.get $h)) (local.get $l)))
            (i64.store (local.get $xo) (i64.load (local.get $xa)))
            (v128.store64_lane 0 (local.get $xa) (f32x4.demote_f64x2_zero (local.get $z)))
            (local.set $xa (i32.add (local.get $xa) (i32.const 8)))
            (local.set $xo (i32.add (local.get $xo) (i32.const 8)))
            (local.set $g (i32.add (local.get $g) (i32.const 8)))
            (local.set $lo (i32.add (local.get $lo) (i32.const 8)))
            (local.set $hi (i32.add (local.get $hi) (i32.const 8)))
            (br $vs)))
        (if (i32.lt_u (local.get $xa) (local.get $e))
          (then
            (local.set $cur (f64.promote_f32 (f32.load (local.get $xa))))
            (local.set $gs (f64.promote_f32 (f32.load (local.get $g))))
            (local.set $ls (f64.promote_f32 (f32.load (local.get $lo))))
            (local.set $hs (f64.promote_f32 (f32.load (local.get $hi))))
            (local.set $zs (f64.add (local.get $cur)
              (select (local.get $ss) (select (f64.neg (local.get $ss)) (f64.const 0) (f64.lt (local.get $gs) (f64.const 0)))
                (f64.gt (local.get $gs) (f64.const 0)))))
            (local.set $zs (call $clip (local.get $zs) (local.get $ls) (local.get $hs)))
            (local.set $ws (f64.add (f64.add (local.get $cur) (f64.mul (f64.sub (local.get $zs) (local.get $cur)) (local.get $sa)))
              (f64.mul (f64.sub (local.get $cur) (f64.promote_f32 (f32.load (local.get $xo)))) (local.get $sb))))
            (f32.store (local.get $xo) (f32.load (local.get $xa)))
            (f32.store (local.get $xa) (f32.demote_f64 (call $clip (local.get $ws) (local.get $ls) (local.get $hs))))
            (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
            (local.set $xo (i32.add (local.get $xo) (i32.const 4)))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $lo (i32.add (local.get $lo) (i32.const 4)))
            (local.set $hi (i32.add (local.get $hi) (i32.const 4)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

  ;; clip(v) = v < l ? l : (v > h ? h : v) for one float64 (l ≤ h), as the host's ternaries.
  (func $clip (param $v f64) (param $l f64) (param $h f64) (result f64)
    (local.set $v (select (local.get $h) (local.get $v) (f64.gt (local.get $v) (local.get $h))))
    (select (local.get $l) (local.get $v) (f64.lt (local.get $v) (local.get $l))))
