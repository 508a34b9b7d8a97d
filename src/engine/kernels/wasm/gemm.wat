;; Single-precision GEMM in hand-written WebAssembly 128-bit SIMD, the hot loop behind ../wasm-gemm.ts.
;; The host copies op(A) and op(B) into linear memory as float32; `pack` lays them out in panels (A: 4 rows,
;; B: 8 columns, both k-major, zero-padded) and `gemm_packed` runs a 4×8 micro-kernel: 8 f32x4 accumulators,
;; 2 B vectors and 4 broadcast A values (TurboFan loads all 4 up front). Measured on Zen 3: 5×8, 6×8, 4×12,
;; 3×16, 8×4 spill and run slower; 2×16 ties 4×8.
;;
;; The multiply-adds are relaxed-simd `f32x4.relaxed_madd`, which V8 compiles to one fused vfmadd231ps where the
;; CPU has FMA3. scripts/build-wasm.mjs assembles this file twice: build/kernels-fma.wasm as written, and the
;; portable build/kernels.wasm with every relaxed_madd(a, b, c) rewritten to add(c, mul(a, b)) (unfused, the same
;; bits on every CPU, and valid where relaxed-simd is not). The fused loop issues 8 FMAs + 6 loads per k-step
;; instead of 8 mul + 8 add + 6 loads and measured 47–50 vs 28–35 GFLOP/s per core (peak 51 at 3.2 GHz): the
;; unfused kernel is limited by issuing its 24 instructions per k-step, not by the FP pipes.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses.

  ;; Pack an n×K operand into panels of w ∈ {4, 8} rows: dst[(p·K + k)·w + r] = src[(p·w + r)·rs + k·ks],
  ;; zero where p·w + r ≥ n. rs/ks are element strides (A: rs = lda, ks = 1, or rs = 1, ks = lda when
  ;; transposed; B likewise with columns as the panel rows). All pointers are byte addresses.
  (func $pack (export "pack")
    (param $src i32) (param $rs i32) (param $ks i32) (param $n i32) (param $K i32) (param $dst i32) (param $w i32)
    (local $p0 i32) (local $k i32) (local $r i32) (local $idx i32) (local $g i32)
    (local $s i32) (local $d i32) (local $dp i32) (local $rsB i32) (local $ksB i32) (local $wB i32)
    (local $s0 i32) (local $s1 i32) (local $s2 i32) (local $s3 i32) (local $k4 i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rsB (i32.shl (local.get $rs) (i32.const 2)))
    (local.set $ksB (i32.shl (local.get $ks) (i32.const 2)))
    (local.set $wB (i32.shl (local.get $w) (i32.const 2)))
    (local.set $d (local.get $dst))
    (if (i32.eqz (local.get $K)) (then (return)))
    (block $panels_done
      (loop $panels
        (br_if $panels_done (i32.ge_u (local.get $p0) (local.get $n)))
        (local.set $dp (local.get $d))
        (if (i32.and (i32.le_u (i32.add (local.get $p0) (local.get $w)) (local.get $n))
                     (i32.eq (local.get $rs) (i32.const 1)))
          (then
            ;; Full panel, contiguous along the panel: each k-slot is one (w = 4) or two (w = 8) vector copies.
            (local.set $s (i32.add (local.get $src) (i32.shl (local.get $p0) (i32.const 2))))
            (local.set $k (local.get $K))
            (if (i32.eq (local.get $w) (i32.const 8))
              (then
                (loop $copy8
                  (v128.store (local.get $d) (v128.load (local.get $s)))
                  (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $s)))
                  (local.set $s (i32.add (local.get $s) (local.get $ksB)))
                  (local.set $d (i32.add (local.get $d) (i32.const 32)))
                  (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                  (br_if $copy8 (local.get $k))))
              (else
                (loop $copy4
                  (v128.store (local.get $d) (v128.load (local.get $s)))
                  (local.set $s (i32.add (local.get $s) (local.get $ksB)))
                  (local.set $d (i32.add (local.get $d) (i32.const 16)))
                  (local.set $k (i32.sub (local.get $k) (i32.const 1)))
                  (br_if $copy4 (local.get $k))))))
          (else
            (if (i32.and (i32.le_u (i32.add (local.get $p0) (local.get $w)) (local.get $n))
                         (i32.eq (local.get $ks) (i32.const 1)))
              (then
                ;; Full panel, contiguous along k: transpose 4 rows × 4 k at a time with shuffles
                ;; (unpcklps/unpckhps/movlhps/movhlps on x64) instead of 16 scalar loads and stores.
                (local.set $g (i32.const 0))
                (loop $groups
                  (local.set $s0 (i32.add (local.get $src)
                    (i32.mul (i32.add (local.get $p0) (local.get $g)) (local.get $rsB))))
                  (local.set $s1 (i32.add (local.get $s0) (local.get $rsB)))
                  (local.set $s2 (i32.add (local.get $s1) (local.get $rsB)))
                  (local.set $s3 (i32.add (local.get $s2) (local.get $rsB)))
                  ;; d walks the k-slots of this panel at byte offset g·4 within each slot
                  (local.set $d (i32.add (local.get $dp) (i32.shl (local.get $g) (i32.const 2))))
                  (local.set $k (i32.const 0))
                  (local.set $k4 (i32.and (local.get $K) (i32.const -4)))
                  (block $quads_done
                    (loop $quads
                      (br_if $quads_done (i32.ge_u (local.get $k) (local.get $k4)))
                      (local.set $v0 (v128.load (local.get $s0)))
                      (local.set $v1 (v128.load (local.get $s1)))
                      (local.set $v2 (v128.load (local.get $s2)))
                      (local.set $v3 (v128.load (local.get $s3)))
                      ;; t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3, t2 = c0 d0 c1 d1, t3 = c2 d2 c3 d3
                      (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
                      (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
                      (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
                      (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
                      (v128.store (local.get $d)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                      (local.set $d (i32.add (local.get $d) (local.get $wB)))
                      (v128.store (local.get $d)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                      (local.set $d (i32.add (local.get $d) (local.get $wB)))
                      (v128.store (local.get $d)
                        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                      (local.set $d (i32.add (local.get $d) (local.get $wB)))
                      (v128.store (local.get $d)
                        (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                      (local.set $d (i32.add (local.get $d) (local.get $wB)))
                      (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
                      (local.set $s1 (i32.add (local.get $s1) (i32.const 16)))
                      (local.set $s2 (i32.add (local.get $s2) (i32.const 16)))
                      (local.set $s3 (i32.add (local.get $s3) (i32.const 16)))
                      (local.set $k (i32.add (local.get $k) (i32.const 4)))
                      (br $quads)))
                  ;; K mod 4 leftover k-slots, one scalar per row
                  (block $rest_done
                    (loop $rest
                      (br_if $rest_done (i32.ge_u (local.get $k) (local.get $K)))
                      (f32.store (local.get $d) (f32.load (local.get $s0)))
                      (f32.store offset=4 (local.get $d) (f32.load (local.get $s1)))
                      (f32.store offset=8 (local.get $d) (f32.load (local.get $s2)))
                      (f32.store offset=12 (local.get $d) (f32.load (local.get $s3)))
                      (local.set $d (i32.add (local.get $d) (local.get $wB)))
                      (local.set $s0 (i32.add (local.get $s0) (i32.const 4)))
                      (local.set $s1 (i32.add (local.get $s1) (i32.const 4)))
                      (local.set $s2 (i32.add (local.get $s2) (i32.const 4)))
                      (local.set $s3 (i32.add (local.get $s3) (i32.const 4)))
                      (local.set $k (i32.add (local.get $k) (i32.const 1)))
                      (br $rest)))
                  (local.set $g (i32.add (local.get $g) (i32.const 4)))
                  (br_if $groups (i32.lt_u (local.get $g) (local.get $w))))
                (local.set $d (i32.add (local.get $dp) (i32.mul (local.get $K) (local.get $wB)))))
              (else
                ;; Edge panel (or odd strides): element by element, zero past the last row.
                (local.set $k (i32.const 0))
                (loop $ks_loop
                  (local.set $r (i32.const 0))
                  (loop $rs_loop
                    (local.set $idx (i32.add (local.get $p0) (local.get $r)))
                    (f32.store (local.get $d)
                      (if (result f32) (i32.lt_u (local.get $idx) (local.get $n))
                        (then (f32.load (i32.add (local.get $src)
                          (i32.add (i32.mul (local.get $idx) (local.get $rsB))
                                   (i32.mul (local.get $k) (local.get $ksB))))))
                        (else (f32.const 0))))
                    (local.set $d (i32.add (local.get $d) (i32.const 4)))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br_if $rs_loop (i32.lt_u (local.get $r) (local.get $w))))
                  (local.set $k (i32.add (local.get $k) (i32.const 1)))
                  (br_if $ks_loop (i32.lt_u (local.get $k) (local.get $K))))))))
        (local.set $p0 (i32.add (local.get $p0) (local.get $w)))
        (br $panels))))

;; The shared forms of pack, gemm_packed and gemm_rows that threads run together: each claims the next block of
  ;; $q panels from the i32 counter at $ctr (zeroed by the caller) until none is left, so a thread that starts late
  ;; (descheduled, or woken from sleep) leaves its blocks to the others instead of making them wait, and the caller,
  ;; which claims too, may withdraw a call no worker has started (../thread-control.ts). A block's panels are
  ;; computed exactly as the plain function computes them, whichever thread claims it: the same bits.

  ;; pack's n rows as blocks of $q panels of w rows.
  (func $pack_shared (export "pack_shared")
    (param $ctr i32) (param $q i32)
    (param $src i32) (param $rs i32) (param $ks i32) (param $n i32) (param $K i32) (param $dst i32) (param $w i32)
    (local $r0 i32) (local $rows i32)
    (local.set $rows (i32.mul (local.get $q) (local.get $w)))
    (block $done
      (loop $claim
        ;; the block's first row
        (local.set $r0 (i32.mul (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)) (local.get $rows)))
        (br_if $done (i32.ge_u (local.get $r0) (local.get $n)))
        (call $pack
          (i32.add (local.get $src) (i32.shl (i32.mul (local.get $r0) (local.get $rs)) (i32.const 2)))
          (local.get $rs) (local.get $ks)
          (select (local.get $rows) (i32.sub (local.get $n) (local.get $r0))
            (i32.le_u (i32.add (local.get $r0) (local.get $rows)) (local.get $n)))
          (local.get $K)
          (i32.add (local.get $dst) (i32.shl (i32.mul (local.get $r0) (local.get $K)) (i32.const 2)))
          (local.get $w))
        (br $claim))))

;; gemm_packed's N columns as blocks of $q B panels (8·q columns), each block's panels packed by the thread that
  ;; multiplies them (so they are in its own cache) from B at $bSrc with element strides $brs/$bks as `pack` reads them.
  (func $gemm_packed_shared (export "gemm_packed_shared")
    (param $ctr i32) (param $q i32)
    (param $M i32) (param $N i32) (param $K i32) (param $pA i32)
    (param $bSrc i32) (param $brs i32) (param $bks i32) (param $pB i32) (param $pC i32)
    (param $ldc i32) (param $acc i32) (param $scr i32)
    (local $j i32) (local $cols i32) (local $n i32) (local $b i32)
    (local.set $cols (i32.shl (local.get $q) (i32.const 3)))
    (block $done
      (loop $claim
        (local.set $j (i32.mul (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)) (local.get $cols)))
        (br_if $done (i32.ge_u (local.get $j) (local.get $N)))
        (local.set $n (select (local.get $cols) (i32.sub (local.get $N) (local.get $j))
          (i32.le_u (i32.add (local.get $j) (local.get $cols)) (local.get $N))))
        (local.set $b (i32.add (local.get $pB) (i32.shl (i32.mul (local.get $j) (local.get $K)) (i32.const 2))))
        (call $pack (i32.add (local.get $bSrc) (i32.shl (i32.mul (local.get $j) (local.get $brs)) (i32.const 2)))
          (local.get $brs) (local.get $bks) (local.get $n) (local.get $K) (local.get $b) (i32.const 8))
        (call $gemm_packed (local.get $M) (local.get $n) (local.get $K) (local.get $pA) (local.get $b)
          (i32.add (local.get $pC) (i32.shl (local.get $j) (i32.const 2)))
          (local.get $ldc) (local.get $acc) (local.get $scr))
        (br $claim))))

  ;; gemm_rows' N columns likewise, B's panels packed block by block as gemm_packed_shared's.
  (func $gemm_rows_shared (export "gemm_rows_shared")
    (param $ctr i32) (param $q i32)
    (param $M i32) (param $N i32) (param $K i32) (param $pA i32) (param $lda i32)
    (param $bSrc i32) (param $brs i32) (param $bks i32) (param $pB i32) (param $pC i32)
    (param $ldc i32) (param $acc i32) (param $scr i32)
    (local $j i32) (local $cols i32) (local $n i32) (local $b i32)
    (local.set $cols (i32.shl (local.get $q) (i32.const 3)))
    (block $done
      (loop $claim
        (local.set $j (i32.mul (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)) (local.get $cols)))
        (br_if $done (i32.ge_u (local.get $j) (local.get $N)))
        (local.set $n (select (local.get $cols) (i32.sub (local.get $N) (local.get $j))
          (i32.le_u (i32.add (local.get $j) (local.get $cols)) (local.get $N))))
        (local.set $b (i32.add (local.get $pB) (i32.shl (i32.mul (local.get $j) (local.get $K)) (i32.const 2))))
        (call $pack (i32.add (local.get $bSrc) (i32.shl (i32.mul (local.get $j) (local.get $brs)) (i32.const 2)))
          (local.get $brs) (local.get $bks) (local.get $n) (local.get $K) (local.get $b) (i32.const 8))
        (call $gemm_rows (local.get $M) (local.get $n) (local.get $K) (local.get $pA) (local.get $lda) (local.get $b)
          (i32.add (local.get $pC) (i32.shl (local.get $j) (i32.const 2)))
          (local.get $ldc) (local.get $acc) (local.get $scr))
        (br $claim))))

  ;; C[M×N] (=|+=) packedA · packedB, C row-major float32 at pC with leading dimension ldc (elements);
  ;; $scr: 128 bytes the edge tiles may use (each thread passes its own).
  ;; pA holds ceil(M/4) panels of 4×K, pB ceil(N/8) panels of K×8 (as written by `pack`); K ≥ 1.
  ;; Loop order: B panel outer (K·32 bytes, stays in L1 while the A panels, 16 bytes per k-step, stream past
  ;; it). The other order streams B's 32 bytes per k-step from L2 and measured a third slower; blocking M
  ;; to keep A in L2 measured no gain up to 1024³, so there is none.
  (func $gemm_packed (export "gemm_packed")
    (param $M i32) (param $N i32) (param $K i32) (param $pA i32) (param $pB i32) (param $pC i32)
    (param $ldc i32) (param $acc i32) (param $scr i32)
    (call $gemm_tiles (local.get $M) (local.get $N) (local.get $K) (local.get $pA) (local.get $pB) (local.get $pC)
      (local.get $ldc) (local.get $acc) (local.get $scr) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))

  ;; gemm_packed's loops, and with $rowOff ≠ 0 the tiles of an unpadded convolution's dX = col2im(Wᵀ·dY) added straight
  ;; into dX at $pC (zeroed by the caller; $ldc and $acc unused) instead of stored: row i of the product is the tap
  ;; (c, kh, kw), whose offset (c·H + kh)·W + kw the caller lists at $rowOff (an i32 per row); column j is the output
  ;; position (image b, row oh, column ow) of a [nc, OH, OW] chunk with OW a multiple of 8, so the 8 columns of a tile
  ;; are one run of an output row and each tile row is two vectors added at pC + b·CHW + oh·W + ow + rowOff[i]
  ;; (CHW: floats per image of dX, W its width). Rows past M (the last panel's padding) are skipped; N is a
  ;; multiple of 8. col2im's adds, without writing the product out and reading it back (conv.wat conv_bwd).
  (func $gemm_tiles
    (param $M i32) (param $N i32) (param $K i32) (param $pA i32) (param $pB i32) (param $pC i32)
    (param $ldc i32) (param $acc i32) (param $scr i32)
    (param $rowOff i32) (param $CHW i32) (param $W i32) (param $OH i32) (param $OW i32)
    (local $col i32) (local $ow i32) (local $oh i32)
    (local $i i32) (local $j i32) (local $a i32) (local $b i32) (local $aEnd i32)
    (local $aPanel i32) (local $bPanel i32) (local $c i32) (local $ldcB i32) (local $strideA i32) (local $strideB i32)
    (local $addr i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local.set $strideA (i32.shl (local.get $K) (i32.const 4)))
    (local.set $strideB (i32.shl (local.get $K) (i32.const 5)))
    (local.set $ldcB (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $bPanel (local.get $pB))
    (local.set $col (local.get $pC))
    (loop $jloop
      (local.set $i (i32.const 0))
      (local.set $aPanel (local.get $pA))
      (loop $iloop
        (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
        (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
        (local.set $a (local.get $aPanel))
        (local.set $b (local.get $bPanel))
        (local.set $aEnd (i32.add (local.get $aPanel) (local.get $strideA)))
        ;; One k-step per trip: 2 B loads, 4 broadcast loads, 8 multiply-adds. Do not unroll by hand: TurboFan
        ;; then hoists all 8 broadcasts ahead of the math, runs out of xmm registers and spills 4 accumulators
        ;; (measured 26 vs 36 GFLOP/s); it peels/unrolls this loop itself without spilling.
        (loop $kloop
          (local.set $b0 (v128.load (local.get $b)))
          (local.set $b1 (v128.load offset=16 (local.get $b)))
          (local.set $av (v128.load32_splat (local.get $a)))
          (local.set $c00 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c01)))
          (local.set $av (v128.load32_splat offset=4 (local.get $a)))
          (local.set $c10 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c10)))
          (local.set $c11 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c11)))
          (local.set $av (v128.load32_splat offset=8 (local.get $a)))
          (local.set $c20 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c20)))
          (local.set $c21 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c21)))
          (local.set $av (v128.load32_splat offset=12 (local.get $a)))
          (local.set $c30 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c30)))
          (local.set $c31 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c31)))
          (local.set $a (i32.add (local.get $a) (i32.const 16)))
          (local.set $b (i32.add (local.get $b) (i32.const 32)))
          (br_if $kloop (i32.lt_u (local.get $a) (local.get $aEnd))))
        (if (local.get $rowOff)
          (then
            ;; a dX tile: its four rows added at their taps' offsets (those past M skipped), inline (a call per row
            ;; measured 3% slower on smallcnn's ∇x)
            (local.set $addr (i32.add (local.get $col)
              (i32.shl (i32.load offset=0 (i32.add (local.get $rowOff) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
            (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c00)))
            (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c01)))
            (if (i32.lt_u (i32.add (local.get $i) (i32.const 1)) (local.get $M))
              (then
            (local.set $addr (i32.add (local.get $col)
              (i32.shl (i32.load offset=4 (i32.add (local.get $rowOff) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
            (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c10)))
            (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c11)))))
            (if (i32.lt_u (i32.add (local.get $i) (i32.const 2)) (local.get $M))
              (then
            (local.set $addr (i32.add (local.get $col)
              (i32.shl (i32.load offset=8 (i32.add (local.get $rowOff) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
            (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c20)))
            (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c21)))))
            (if (i32.lt_u (i32.add (local.get $i) (i32.const 3)) (local.get $M))
              (then
            (local.set $addr (i32.add (local.get $col)
              (i32.shl (i32.load offset=12 (i32.add (local.get $rowOff) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
            (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c30)))
            (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c31))))))
          (else
        (local.set $c (i32.add (local.get $pC)
          (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
        (if (i32.and (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $M))
                     (i32.le_u (i32.add (local.get $j) (i32.const 8)) (local.get $N)))
          (then
            ;; Full tile: straight vector stores (adding what is there when accumulating).
            (if (local.get $acc)
              (then
                (local.set $addr (local.get $c))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c00)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c01)))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c10)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c11)))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c20)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c21)))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c30)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c31))))
              (else
                (local.set $addr (local.get $c))
                (v128.store (local.get $addr) (local.get $c00))
                (v128.store offset=16 (local.get $addr) (local.get $c01))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (local.get $c10))
                (v128.store offset=16 (local.get $addr) (local.get $c11))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (local.get $c20))
                (v128.store offset=16 (local.get $addr) (local.get $c21))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (local.get $c30))
                (v128.store offset=16 (local.get $addr) (local.get $c31)))))
          (else
            ;; Edge tile: only the rows/columns inside C, so nothing past M×N is touched.
            (call $edge_tile (local.get $c) (local.get $scr) (i32.sub (local.get $M) (local.get $i))
              (i32.sub (local.get $N) (local.get $j)) (local.get $ldcB) (local.get $acc)
              (local.get $c00) (local.get $c01) (local.get $c10) (local.get $c11)
              (local.get $c20) (local.get $c21) (local.get $c30) (local.get $c31))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (local.set $aPanel (i32.add (local.get $aPanel) (local.get $strideA)))
        (br_if $iloop (i32.lt_u (local.get $i) (local.get $M))))
      (if (local.get $rowOff)
        (then
          ;; dX: the next 8 columns are ow + 8, else the next output row, else the next image
          (local.set $ow (i32.add (local.get $ow) (i32.const 8)))
          (local.set $col (i32.add (local.get $col) (i32.const 32)))
          (if (i32.ge_u (local.get $ow) (local.get $OW))
            (then
              (local.set $ow (i32.const 0))
              (local.set $col (i32.add (local.get $col) (i32.shl (i32.sub (local.get $W) (local.get $OW)) (i32.const 2))))
              (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
              (if (i32.ge_u (local.get $oh) (local.get $OH))
                (then
                  (local.set $oh (i32.const 0))
                  ;; from row OH of image b to row 0 of image b + 1
                  (local.set $col (i32.add (local.get $col)
                    (i32.shl (i32.sub (local.get $CHW) (i32.mul (local.get $OH) (local.get $W))) (i32.const 2))))))))))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (local.set $bPanel (i32.add (local.get $bPanel) (local.get $strideB)))
      (br_if $jloop (i32.lt_u (local.get $j) (local.get $N)))))

  ;; An edge tile of C at $c (leading dimension $ldcB bytes): the 4×8 accumulators, spilled to the 128-byte scratch
  ;; tile at $scr (one per thread, row-major), of which only min(rows, 4) × min(cols, 8) are inside C; stored, or
  ;; added to what is there when $acc. Nothing past M×N is touched.
  (func $edge_tile (param $c i32) (param $scr i32) (param $rows i32) (param $cols i32) (param $ldcB i32) (param $acc i32)
    (param $c00 v128) (param $c01 v128) (param $c10 v128) (param $c11 v128)
    (param $c20 v128) (param $c21 v128) (param $c30 v128) (param $c31 v128)
    (local $r i32) (local $q i32) (local $addr i32) (local $v f32)
    (v128.store offset=0 (local.get $scr) (local.get $c00))
    (v128.store offset=16 (local.get $scr) (local.get $c01))
    (v128.store offset=32 (local.get $scr) (local.get $c10))
    (v128.store offset=48 (local.get $scr) (local.get $c11))
    (v128.store offset=64 (local.get $scr) (local.get $c20))
    (v128.store offset=80 (local.get $scr) (local.get $c21))
    (v128.store offset=96 (local.get $scr) (local.get $c30))
    (v128.store offset=112 (local.get $scr) (local.get $c31))
    (if (i32.gt_u (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
    (if (i32.gt_u (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
    (loop $erows
      (local.set $q (i32.const 0))
      (loop $ecols
        (local.set $addr (i32.add (local.get $c)
          (i32.add (i32.mul (local.get $r) (local.get $ldcB)) (i32.shl (local.get $q) (i32.const 2)))))
        (local.set $v (f32.load (i32.add (local.get $scr)
          (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $q)) (i32.const 2)))))
        (if (local.get $acc) (then (local.set $v (f32.add (f32.load (local.get $addr)) (local.get $v)))))
        (f32.store (local.get $addr) (local.get $v))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br_if $ecols (i32.lt_u (local.get $q) (local.get $cols))))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br_if $erows (i32.lt_u (local.get $r) (local.get $rows)))))

  ;; C[M×N] (=|+=) A · packedB with A row-major float32 at $pA, leading dimension $lda (elements), read in place: no
  ;; packed copy of A. Each 4-row tile reads its rows through four pointers (rows past M repeat row M − 1; their sums
  ;; are never stored). pB, pC, $ldc, $acc, $scr as gemm_packed. Every element of C is the same chain of
  ;; multiply-adds in the same k order as gemm_packed's, so the same bits; the micro-kernel ran at the packed one's
  ;; speed (48.4 against 48.5 GFLOP/s on one thread at 256 × 256 × 784; 47.0 against 48.0 at 128 × 1024 × 3136) and
  ;; the pass that packs A is saved.
  (func $gemm_rows (export "gemm_rows")
    (param $M i32) (param $N i32) (param $K i32) (param $pA i32) (param $lda i32) (param $pB i32) (param $pC i32)
    (param $ldc i32) (param $acc i32) (param $scr i32)
    (local $i i32) (local $j i32) (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $last i32)
    (local $b i32) (local $bEnd i32) (local $bPanel i32) (local $c i32) (local $addr i32)
    (local $ldaB i32) (local $ldcB i32) (local $strideB i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local.set $strideB (i32.shl (local.get $K) (i32.const 5)))
    (local.set $ldcB (i32.shl (local.get $ldc) (i32.const 2)))
    (local.set $ldaB (i32.shl (local.get $lda) (i32.const 2)))
    ;; the first byte of row M − 1
    (local.set $last (i32.add (local.get $pA) (i32.mul (i32.sub (local.get $M) (i32.const 1)) (local.get $ldaB))))
    (local.set $bPanel (local.get $pB))
    (loop $jloop
      (local.set $i (i32.const 0))
      (local.set $a0 (local.get $pA))
      (loop $iloop
        (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
        (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
        ;; this tile's rows, from $a0 (row i): the next three, or row M − 1 past the end
        (local.set $a1 (i32.add (local.get $a0) (local.get $ldaB)))
        (if (i32.gt_u (local.get $a1) (local.get $last)) (then (local.set $a1 (local.get $last))))
        (local.set $a2 (i32.add (local.get $a1) (local.get $ldaB)))
        (if (i32.gt_u (local.get $a2) (local.get $last)) (then (local.set $a2 (local.get $last))))
        (local.set $a3 (i32.add (local.get $a2) (local.get $ldaB)))
        (if (i32.gt_u (local.get $a3) (local.get $last)) (then (local.set $a3 (local.get $last))))
        (local.set $b (local.get $bPanel))
        (local.set $bEnd (i32.add (local.get $bPanel) (local.get $strideB)))
        ;; one k-step per trip, as gemm_tiles: 2 B loads, 4 broadcast loads (one per row), 8 multiply-adds
        (loop $kloop
          (local.set $b0 (v128.load (local.get $b)))
          (local.set $b1 (v128.load offset=16 (local.get $b)))
          (local.set $av (v128.load32_splat (local.get $a0)))
          (local.set $c00 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c01)))
          (local.set $av (v128.load32_splat (local.get $a1)))
          (local.set $c10 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c10)))
          (local.set $c11 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c11)))
          (local.set $av (v128.load32_splat (local.get $a2)))
          (local.set $c20 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c20)))
          (local.set $c21 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c21)))
          (local.set $av (v128.load32_splat (local.get $a3)))
          (local.set $c30 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c30)))
          (local.set $c31 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c31)))
          (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
          (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
          (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
          (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
          (local.set $b (i32.add (local.get $b) (i32.const 32)))
          (br_if $kloop (i32.lt_u (local.get $b) (local.get $bEnd))))
        (local.set $c (i32.add (local.get $pC)
          (i32.shl (i32.add (i32.mul (local.get $i) (local.get $ldc)) (local.get $j)) (i32.const 2))))
        (if (i32.and (i32.le_u (i32.add (local.get $i) (i32.const 4)) (local.get $M))
                     (i32.le_u (i32.add (local.get $j) (i32.const 8)) (local.get $N)))
          (then
            (if (local.get $acc)
              (then
                (local.set $addr (local.get $c))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c00)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c01)))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c10)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c11)))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c20)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c21)))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (f32x4.add (v128.load (local.get $addr)) (local.get $c30)))
                (v128.store offset=16 (local.get $addr) (f32x4.add (v128.load offset=16 (local.get $addr)) (local.get $c31))))
              (else
                (local.set $addr (local.get $c))
                (v128.store (local.get $addr) (local.get $c00))
                (v128.store offset=16 (local.get $addr) (local.get $c01))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (local.get $c10))
                (v128.store offset=16 (local.get $addr) (local.get $c11))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (local.get $c20))
                (v128.store offset=16 (local.get $addr) (local.get $c21))
                (local.set $addr (i32.add (local.get $addr) (local.get $ldcB)))
                (v128.store (local.get $addr) (local.get $c30))
                (v128.store offset=16 (local.get $addr) (local.get $c31)))))
          (else
            (call $edge_tile (local.get $c) (local.get $scr) (i32.sub (local.get $M) (local.get $i))
              (i32.sub (local.get $N) (local.get $j)) (local.get $ldcB) (local.get $acc)
              (local.get $c00) (local.get $c01) (local.get $c10) (local.get $c11)
              (local.get $c20) (local.get $c21) (local.get $c30) (local.get $c31))))
        ;; the next tile's first row: a0 advanced K floats along row i, so 4 rows on is 4·lda − K floats further
        (local.set $a0 (i32.add (local.get $a0)
          (i32.sub (i32.shl (local.get $ldaB) (i32.const 2)) (i32.shl (local.get $K) (i32.const 2)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $iloop (i32.lt_u (local.get $i) (local.get $M))))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (local.set $bPanel (i32.add (local.get $bPanel) (local.get $strideB)))
      (br_if $jloop (i32.lt_u (local.get $j) (local.get $N)))))
