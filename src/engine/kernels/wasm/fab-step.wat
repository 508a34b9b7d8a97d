;; FAB's iterate update (Croce & Hein, ICML 2020, Algorithm 1), L∞ and L2: per row, the box-constrained projections of
;; the iterate and of the original point onto the linearised boundary, the bias α toward the original point and the
;; extrapolation η. Scalar float64, the same operations in the same order as the TypeScript reference (fabStep,
;; projectLinf, projectL2 and solveBreakpoints in ../fab-projections.ts), so the same bits; rows are independent, so
;; the host splits them among the threads. Host side: ../wasm-fab.ts.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module.

  ;; Solve F(λ) = c for F(λ) = Σ_j min(λ, key_j)·lin_j over the n coordinates listed at $src (i32), as
  ;; solveBreakpoints: each round takes the middle listed coordinate's key as pivot p and, in one pass without a
  ;; branch per coordinate, sums F's parts at p and writes each coordinate to both ends of the other list ($dst),
  ;; advancing only its side's end; returns λ ≥ 0, or −1 when F(∞) = $total < c. key, lin: f64 [D].
  (func $fab_solve (param $key i32) (param $lin i32) (param $src i32) (param $dst i32) (param $n i32) (param $D i32)
    (param $c f64) (param $total f64) (result f64)
    (local $sat f64) (local $slope f64) (local $off i32) (local $m i32) (local $p f64)
    (local $lo i32) (local $hi i32) (local $belowKL f64) (local $eqKL f64) (local $restL f64)
    (local $k i32) (local $end i32) (local $j i32) (local $kj f64) (local $lj f64) (local $kl f64)
    (local $ib i32) (local $ia i32) (local $below f64) (local $above f64) (local $tmp i32)
    (if (f64.lt (local.get $total) (local.get $c)) (then (return (f64.const -1))))
    (local.set $m (local.get $n))
    (block $done
      (loop $round
        (br_if $done (i32.le_s (local.get $m) (i32.const 0)))
        (local.set $p (f64.load (i32.add (local.get $key) (i32.shl
          (i32.load (i32.add (local.get $src) (i32.shl (i32.add (local.get $off) (i32.shr_u (local.get $m) (i32.const 1))) (i32.const 2))))
          (i32.const 3)))))
        (local.set $lo (i32.const 0))
        (local.set $hi (i32.sub (local.get $D) (i32.const 1)))
        (local.set $belowKL (f64.const 0))
        (local.set $eqKL (f64.const 0))
        (local.set $restL (f64.const 0))
        (local.set $k (local.get $off))
        (local.set $end (i32.add (local.get $off) (local.get $m)))
        (block $pass_done
          (loop $pass
            (br_if $pass_done (i32.ge_u (local.get $k) (local.get $end)))
            (local.set $j (i32.load (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 2)))))
            (local.set $kj (f64.load (i32.add (local.get $key) (i32.shl (local.get $j) (i32.const 3)))))
            (local.set $lj (f64.load (i32.add (local.get $lin) (i32.shl (local.get $j) (i32.const 3)))))
            (local.set $ib (f64.lt (local.get $kj) (local.get $p)))
            (local.set $ia (f64.gt (local.get $kj) (local.get $p)))
            (local.set $below (f64.convert_i32_u (local.get $ib)))
            (local.set $above (f64.convert_i32_u (local.get $ia)))
            (i32.store (i32.add (local.get $dst) (i32.shl (local.get $lo) (i32.const 2))) (local.get $j))
            (i32.store (i32.add (local.get $dst) (i32.shl (local.get $hi) (i32.const 2))) (local.get $j))
            (local.set $lo (i32.add (local.get $lo) (local.get $ib)))
            (local.set $hi (i32.sub (local.get $hi) (local.get $ia)))
            ;; belowKL += kj·lj·below;  eqKL += kj·lj·(1 − below − above);  restL += lj·(1 − below)
            (local.set $kl (f64.mul (local.get $kj) (local.get $lj)))
            (local.set $belowKL (f64.add (local.get $belowKL) (f64.mul (local.get $kl) (local.get $below))))
            (local.set $eqKL (f64.add (local.get $eqKL)
              (f64.mul (local.get $kl) (f64.sub (f64.sub (f64.const 1) (local.get $below)) (local.get $above)))))
            (local.set $restL (f64.add (local.get $restL) (f64.mul (local.get $lj) (f64.sub (f64.const 1) (local.get $below)))))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $pass)))
        ;; F(p) = sat + slope·p + belowKL + p·restL ≥ c: λ ≤ p, else λ > p
        (if (f64.ge
              (f64.add (f64.add (f64.add (local.get $sat) (f64.mul (local.get $slope) (local.get $p))) (local.get $belowKL))
                (f64.mul (local.get $p) (local.get $restL)))
              (local.get $c))
          (then
            (local.set $slope (f64.add (local.get $slope) (local.get $restL)))
            (local.set $off (i32.const 0))
            (local.set $m (local.get $lo)))
          (else
            (local.set $sat (f64.add (local.get $sat) (f64.add (local.get $belowKL) (local.get $eqKL))))
            (local.set $off (i32.add (local.get $hi) (i32.const 1)))
            (local.set $m (i32.sub (i32.sub (local.get $D) (i32.const 1)) (local.get $hi)))))
        (local.set $tmp (local.get $src))
        (local.set $src (local.get $dst))
        (local.set $dst (local.get $tmp))
        (br $round)))
    (if (result f64) (f64.gt (local.get $slope) (f64.const 0))
      (then (f64.max (f64.div (f64.sub (local.get $c) (local.get $sat)) (local.get $slope)) (f64.const 0)))
      (else (f64.const 0))))

  ;; The L∞ projection of the float32 point t [D] onto {z : w·z = b} ∩ [0,1]ᴰ as projectLinf: d (f64 [D] at $out)
  ;; with d_j = −sign(w_j)·min(λ, p_j). Scratch: key, lin (f64 [D]), idx, idx2 (i32 [D]).
  (func $fab_project_linf (param $t i32) (param $w i32) (param $b f64) (param $out i32) (param $D i32)
    (param $key i32) (param $lin i32) (param $idx i32) (param $idx2 i32)
    (local $c f64) (local $sg f64) (local $j i32) (local $wj f64) (local $tj f64) (local $neg f64) (local $n i32)
    (local $total f64) (local $kj f64) (local $lambda f64) (local $p f64) (local $m f64)
    ;; c = w·t − b, in coordinate order
    (local.set $c (f64.neg (local.get $b)))
    (local.set $j (i32.const 0))
    (block $d0
      (loop $l0
        (br_if $d0 (i32.ge_u (local.get $j) (local.get $D)))
        (local.set $c (f64.add (local.get $c)
          (f64.mul (f64.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))
            (f64.promote_f32 (f32.load (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 2))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $l0)))
    (local.set $sg (select (f64.const 1) (f64.const -1) (f64.ge (local.get $c) (f64.const 0))))
    (local.set $c (f64.mul (local.get $c) (local.get $sg)))
    ;; key_j = how far coordinate j can move in its descending direction, lin_j = |w_j|; w_j ≠ 0 listed
    (local.set $j (i32.const 0))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $D)))
        (local.set $wj (f64.mul (local.get $sg) (f64.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))))
        (local.set $tj (f64.promote_f32 (f32.load (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 2))))))
        (local.set $neg (f64.convert_i32_u (f64.lt (local.get $wj) (f64.const 0))))
        (local.set $kj (f64.add (f64.mul (local.get $neg) (f64.sub (f64.const 1) (local.get $tj)))
          (f64.mul (f64.sub (f64.const 1) (local.get $neg)) (local.get $tj))))
        (f64.store (i32.add (local.get $key) (i32.shl (local.get $j) (i32.const 3))) (local.get $kj))
        (f64.store (i32.add (local.get $lin) (i32.shl (local.get $j) (i32.const 3))) (f64.abs (local.get $wj)))
        (i32.store (i32.add (local.get $idx) (i32.shl (local.get $n) (i32.const 2))) (local.get $j))
        (local.set $n (i32.add (local.get $n) (f64.ne (local.get $wj) (f64.const 0))))
        (local.set $total (f64.add (local.get $total) (f64.mul (local.get $kj) (f64.abs (local.get $wj)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $l1)))
    (local.set $lambda (call $fab_solve (local.get $key) (local.get $lin) (local.get $idx) (local.get $idx2)
      (local.get $n) (local.get $D) (local.get $c) (local.get $total)))
    ;; d_j = (−1, 1 or 0)·min(λ, p_j), or p_j itself when unreachable (λ < 0); + 0 turns −0 into 0
    (local.set $j (i32.const 0))
    (block $d2
      (loop $l2
        (br_if $d2 (i32.ge_u (local.get $j) (local.get $D)))
        (local.set $wj (f64.mul (local.get $sg) (f64.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))))
        (local.set $p (f64.load (i32.add (local.get $key) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $m (select (local.get $p) (f64.min (local.get $lambda) (local.get $p)) (f64.lt (local.get $lambda) (f64.const 0))))
        (f64.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 3)))
          (f64.add
            (f64.mul
              (f64.sub (f64.convert_i32_u (f64.lt (local.get $wj) (f64.const 0))) (f64.convert_i32_u (f64.gt (local.get $wj) (f64.const 0))))
              (local.get $m))
            (f64.const 0)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $l2))))

  ;; The L2 projection of the float32 point t [D] onto {z : w·z = b} ∩ [0,1]ᴰ as projectL2: d_j = clip(−λ·w_j, −t_j,
  ;; 1 − t_j), λ from the breakpoints r_j where coordinate j saturates; |w_j| < 1e-8 never moves. Scratch as above.
  (func $fab_project_l2 (param $t i32) (param $w i32) (param $b f64) (param $out i32) (param $D i32)
    (param $key i32) (param $lin i32) (param $idx i32) (param $idx2 i32)
    (local $c f64) (local $sg f64) (local $j i32) (local $wj f64) (local $tj f64) (local $n i32) (local $k i32)
    (local $total f64) (local $lambda f64) (local $r f64) (local $sat f64) (local $at i32) (local $d f64)
    ;; c = w·t − b, in coordinate order
    (local.set $c (f64.neg (local.get $b)))
    (block $d0
      (loop $l0
        (br_if $d0 (i32.ge_u (local.get $j) (local.get $D)))
        (local.set $c (f64.add (local.get $c)
          (f64.mul (f64.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))
            (f64.promote_f32 (f32.load (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 2))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $l0)))
    (local.set $sg (select (f64.const 1) (f64.const -1) (f64.ge (local.get $c) (f64.const 0))))
    (local.set $c (f64.mul (local.get $c) (local.get $sg)))
    ;; key_j = r_j = max(t_j / w_j, (t_j − 1) / w_j) (∞ where |w_j| < 1e-8, unlisted), lin_j = w_j²
    (local.set $j (i32.const 0))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $j) (local.get $D)))
        (local.set $wj (f64.mul (local.get $sg) (f64.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))))
        (local.set $at (i32.add (local.get $key) (i32.shl (local.get $j) (i32.const 3))))
        (if (f64.lt (f64.abs (local.get $wj)) (f64.const 1e-8))
          (then (f64.store (local.get $at) (f64.const inf)))
          (else
            (local.set $tj (f64.promote_f32 (f32.load (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 2))))))
            (f64.store (local.get $at)
              (select
                (f64.div (local.get $tj) (local.get $wj))
                (f64.div (f64.sub (local.get $tj) (f64.const 1)) (local.get $wj))
                (f64.gt (local.get $wj) (f64.const 0))))
            (f64.store (i32.add (local.get $lin) (i32.shl (local.get $j) (i32.const 3))) (f64.mul (local.get $wj) (local.get $wj)))
            (i32.store (i32.add (local.get $idx) (i32.shl (local.get $n) (i32.const 2))) (local.get $j))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $l1)))
    ;; F(∞) = Σ key·lin over the listed coordinates, in list order
    (block $d2
      (loop $l2
        (br_if $d2 (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $j (i32.load (i32.add (local.get $idx) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $total (f64.add (local.get $total)
          (f64.mul (f64.load (i32.add (local.get $key) (i32.shl (local.get $j) (i32.const 3))))
            (f64.load (i32.add (local.get $lin) (i32.shl (local.get $j) (i32.const 3)))))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $l2)))
    (local.set $lambda (call $fab_solve (local.get $key) (local.get $lin) (local.get $idx) (local.get $idx2)
      (local.get $n) (local.get $D) (local.get $c) (local.get $total)))
    ;; d_j = 0 (never moves), the box's face (λ unreachable or past r_j), else −λ·w_j
    (local.set $j (i32.const 0))
    (block $d3
      (loop $l3
        (br_if $d3 (i32.ge_u (local.get $j) (local.get $D)))
        (local.set $wj (f64.mul (local.get $sg) (f64.load (i32.add (local.get $w) (i32.shl (local.get $j) (i32.const 3))))))
        (local.set $r (f64.load (i32.add (local.get $key) (i32.shl (local.get $j) (i32.const 3)))))
        (local.set $tj (f64.promote_f32 (f32.load (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 2))))))
        (if (f64.eq (local.get $r) (f64.const inf))
          (then (local.set $d (f64.const 0)))
          (else
            (local.set $sat (select (f64.neg (local.get $tj)) (f64.sub (f64.const 1) (local.get $tj)) (f64.gt (local.get $wj) (f64.const 0))))
            (local.set $d (select (local.get $sat) (f64.mul (f64.neg (local.get $lambda)) (local.get $wj))
              (i32.or (f64.lt (local.get $lambda) (f64.const 0)) (f64.ge (local.get $lambda) (local.get $r)))))))
        (f64.store (i32.add (local.get $out) (i32.shl (local.get $j) (i32.const 3))) (local.get $d))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $l3))))

  ;; √(Σ_j d_j²) over d (f64 [D]), summed in order, as the reference's ‖d‖₂.
  (func $fab_norm_l2 (param $d i32) (param $D i32) (result f64)
    (local $s f64) (local $e i32) (local $v f64)
    (local.set $e (i32.add (local.get $d) (i32.shl (local.get $D) (i32.const 3))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $d) (local.get $e)))
        (local.set $v (f64.load (local.get $d)))
        (local.set $s (f64.add (local.get $s) (f64.mul (local.get $v) (local.get $v))))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (br $l)))
    (f64.sqrt (local.get $s)))

  ;; max(m, |d_j|) over d (f64 [D]) in order, from 0 (NaN propagates), as the reference's ‖d‖∞.
  (func $fab_max_abs (param $d i32) (param $D i32) (result f64)
    (local $m f64) (local $e i32)
    (local.set $e (i32.add (local.get $d) (i32.shl (local.get $D) (i32.const 3))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $d) (local.get $e)))
        (local.set $m (f64.max (local.get $m) (f64.abs (f64.load (local.get $d)))))
        (local.set $d (i32.add (local.get $d) (i32.const 8)))
        (br $l)))
    (local.get $m))

  ;; FAB's step for rows [r0, r1) of x1 (f32 [R, D], overwritten), x0 (f32 [R, D]), w (f64 [R, D]) and f (f64 [R]),
  ;; as fabStep: b = w·x⁽ⁱ⁾ − f, d₁ and d₂ the projections of x⁽ⁱ⁾ and x, α = min(max(‖d₁‖/(‖d₁‖ + ‖d₂‖), 0), α_max)
  ;; (norms at least 1e-8), x⁽ⁱ⁺¹⁾ = clip[0,1]((x⁽ⁱ⁾ + η·d₁)(1 − α) + (x + η·d₂)α). $k: f64 [η, α_max]. $scr, this
  ;; thread's scratch: key, lin, d1, d2 (f64 [D] each), then idx, idx2 (i32 [D] each), 40·D bytes. $l2: 0 for the
  ;; L∞ projection and ‖·‖∞, 1 for the L2 projection and ‖·‖₂.
  (func (export "fab_rows") (param $x1 i32) (param $x0 i32) (param $w i32) (param $f i32) (param $r0 i32) (param $r1 i32)
    (param $D i32) (param $k i32) (param $scr i32) (param $l2 i32)
    (local $eta f64) (local $amax f64) (local $key i32) (local $lin i32) (local $d1 i32) (local $d2 i32) (local $idx i32) (local $idx2 i32)
    (local $r i32) (local $xi i32) (local $o i32) (local $wr i32) (local $b f64) (local $j i32)
    (local $a1 f64) (local $a2 f64) (local $alpha f64) (local $oneMinus f64) (local $v f64)
    (local.set $eta (f64.load (local.get $k)))
    (local.set $amax (f64.load offset=8 (local.get $k)))
    (local.set $key (local.get $scr))
    (local.set $lin (i32.add (local.get $key) (i32.shl (local.get $D) (i32.const 3))))
    (local.set $d1 (i32.add (local.get $lin) (i32.shl (local.get $D) (i32.const 3))))
    (local.set $d2 (i32.add (local.get $d1) (i32.shl (local.get $D) (i32.const 3))))
    (local.set $idx (i32.add (local.get $d2) (i32.shl (local.get $D) (i32.const 3))))
    (local.set $idx2 (i32.add (local.get $idx) (i32.shl (local.get $D) (i32.const 2))))
    (local.set $r (local.get $r0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $r1)))
        (local.set $xi (i32.add (local.get $x1) (i32.shl (i32.mul (local.get $r) (local.get $D)) (i32.const 2))))
        (local.set $o (i32.add (local.get $x0) (i32.shl (i32.mul (local.get $r) (local.get $D)) (i32.const 2))))
        (local.set $wr (i32.add (local.get $w) (i32.shl (i32.mul (local.get $r) (local.get $D)) (i32.const 3))))
        ;; b = −f + Σ_j w_j·x⁽ⁱ⁾_j, in order
        (local.set $b (f64.neg (f64.load (i32.add (local.get $f) (i32.shl (local.get $r) (i32.const 3))))))
        (local.set $j (i32.const 0))
        (block $bd
          (loop $bl
            (br_if $bd (i32.ge_u (local.get $j) (local.get $D)))
            (local.set $b (f64.add (local.get $b)
              (f64.mul (f64.load (i32.add (local.get $wr) (i32.shl (local.get $j) (i32.const 3))))
                (f64.promote_f32 (f32.load (i32.add (local.get $xi) (i32.shl (local.get $j) (i32.const 2))))))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $bl)))
        (if (local.get $l2)
          (then
            (call $fab_project_l2 (local.get $xi) (local.get $wr) (local.get $b) (local.get $d1) (local.get $D)
              (local.get $key) (local.get $lin) (local.get $idx) (local.get $idx2))
            (call $fab_project_l2 (local.get $o) (local.get $wr) (local.get $b) (local.get $d2) (local.get $D)
              (local.get $key) (local.get $lin) (local.get $idx) (local.get $idx2))
            (local.set $a1 (f64.max (call $fab_norm_l2 (local.get $d1) (local.get $D)) (f64.const 1e-8)))
            (local.set $a2 (f64.max (call $fab_norm_l2 (local.get $d2) (local.get $D)) (f64.const 1e-8))))
          (else
            (call $fab_project_linf (local.get $xi) (local.get $wr) (local.get $b) (local.get $d1) (local.get $D)
              (local.get $key) (local.get $lin) (local.get $idx) (local.get $idx2))
            (call $fab_project_linf (local.get $o) (local.get $wr) (local.get $b) (local.get $d2) (local.get $D)
              (local.get $key) (local.get $lin) (local.get $idx) (local.get $idx2))
            (local.set $a1 (f64.max (call $fab_max_abs (local.get $d1) (local.get $D)) (f64.const 1e-8)))
            (local.set $a2 (f64.max (call $fab_max_abs (local.get $d2) (local.get $D)) (f64.const 1e-8)))))
        (local.set $alpha (f64.min (f64.max (f64.div (local.get $a1) (f64.add (local.get $a1) (local.get $a2))) (f64.const 0)) (local.get $amax)))
        (local.set $oneMinus (f64.sub (f64.const 1) (local.get $alpha)))
        (local.set $j (i32.const 0))
        (block $ud
          (loop $ul
            (br_if $ud (i32.ge_u (local.get $j) (local.get $D)))
            (local.set $v (f64.add
              (f64.mul
                (f64.add (f64.promote_f32 (f32.load (i32.add (local.get $xi) (i32.shl (local.get $j) (i32.const 2)))))
                  (f64.mul (local.get $eta) (f64.load (i32.add (local.get $d1) (i32.shl (local.get $j) (i32.const 3))))))
                (local.get $oneMinus))
              (f64.mul
                (f64.add (f64.promote_f32 (f32.load (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2)))))
                  (f64.mul (local.get $eta) (f64.load (i32.add (local.get $d2) (i32.shl (local.get $j) (i32.const 3))))))
                (local.get $alpha))))
            (f32.store (i32.add (local.get $xi) (i32.shl (local.get $j) (i32.const 2)))
              (f32.demote_f64 (f64.min (f64.const 1) (f64.max (f64.const 0) (local.get $v)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $ul)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows)))
  )
