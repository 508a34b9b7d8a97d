;; The non-GEMM hot loops of a convolutional network in WebAssembly 128-bit SIMD: im2col/col2im for stride-1
;; convolutions, the channel/batch permutation around a batched convolution GEMM, bias and row sums, ReLU and
;; 2×2 max pooling. These are functions only: scripts/build-wasm.mjs splices them into the module of gemm.wat,
;; so they share its linear memory. All pointers are byte addresses; counts and strides are in float32 elements.
;; Plain JavaScript runs these loops at ~2.5 ns per element; here they run near memory bandwidth.

  ;; dst[0..n) = src[0..n) (non-overlapping), four at a time then one at a time.
  (func $copy_f32 (param $dst i32) (param $src i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $src) (local.get $e)))
        (v128.store (local.get $dst) (v128.load (local.get $src)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $v)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $s_done
      (loop $s
        (br_if $s_done (i32.ge_u (local.get $src) (local.get $e)))
        (f32.store (local.get $dst) (f32.load (local.get $src)))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $s))))

  ;; dst[0..n) += src[0..n).
  (func $add_f32 (export "add_f32") (param $dst i32) (param $src i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $src) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $src) (local.get $e)))
        (v128.store (local.get $dst) (f32x4.add (v128.load (local.get $dst)) (v128.load (local.get $src))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $v)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $s_done
      (loop $s
        (br_if $s_done (i32.ge_u (local.get $src) (local.get $e)))
        (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (f32.load (local.get $src))))
        (local.set $src (i32.add (local.get $src) (i32.const 4)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $s))))

  ;; dst[0..n) = 0.
  (func $zero_f32 (export "zero_f32") (param $dst i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $dst) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $dst) (local.get $e)))
        (v128.store (local.get $dst) (v128.const i32x4 0 0 0 0))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $v)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $s_done
      (loop $s
        (br_if $s_done (i32.ge_u (local.get $dst) (local.get $e)))
        (f32.store (local.get $dst) (f32.const 0))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $s))))

  ;; im2col of one C×H×W image for a stride-1 window KH×KW with zero padding `pad`:
  ;; dst[row·ldd + oh·OW + ow] = x[c, oh − pad + kh, ow − pad + kw] (0 outside), row = (c·KH + kh)·KW + kw.
  ;; For each (row, oh) the valid columns are one contiguous run of the input row: one vector copy.
  (func $im2col_s1
    (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32)
    (param $OH i32) (param $OW i32) (param $dst i32) (param $ldd i32) (param $nImg i32)
    (local $n i32) (local $xi i32) (local $ri i32) (local $CHW i32) (local $Lb i32)
    (local $c i32) (local $kh i32) (local $kw i32) (local $oh i32) (local $ih i32)
    (local $lo i32) (local $hi i32) (local $row i32) (local $seg i32)
    (local $s i32) (local $d i32) (local $e i32) (local $run4 i32) (local $runt i32)
    (local.set $CHW (i32.shl (i32.mul (i32.mul (local.get $C) (local.get $H)) (local.get $W)) (i32.const 2)))
    (local.set $Lb (i32.shl (i32.mul (local.get $OH) (local.get $OW)) (i32.const 2)))
    (local.set $row (local.get $dst))
    (loop $cs
      (local.set $kh (i32.const 0))
      (loop $khs
        (local.set $kw (i32.const 0))
        (loop $kws
          ;; valid ow: 0 ≤ ow − pad + kw < W  ⇔  pad − kw ≤ ow < W + pad − kw, clamped to [0, OW]
          (local.set $lo (i32.sub (local.get $pad) (local.get $kw)))
          (if (i32.lt_s (local.get $lo) (i32.const 0)) (then (local.set $lo (i32.const 0))))
          (if (i32.gt_s (local.get $lo) (local.get $OW)) (then (local.set $lo (local.get $OW))))
          (local.set $hi (i32.sub (i32.add (local.get $W) (local.get $pad)) (local.get $kw)))
          (if (i32.gt_s (local.get $hi) (local.get $OW)) (then (local.set $hi (local.get $OW))))
          (if (i32.lt_s (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))
          ;; bytes of the valid run in whole vectors, and the rest
          (local.set $run4 (i32.shl (i32.and (i32.sub (local.get $hi) (local.get $lo)) (i32.const -4)) (i32.const 2)))
          (local.set $runt (i32.shl (i32.and (i32.sub (local.get $hi) (local.get $lo)) (i32.const 3)) (i32.const 2)))
          ;; every image of the chunk for this row before the next row: dst is written row by row, in order
          (local.set $n (i32.const 0))
          (local.set $xi (local.get $x))
          (local.set $ri (local.get $row))
          (loop $ns
          (local.set $oh (i32.const 0))
          (loop $ohs
            (local.set $seg (i32.add (local.get $ri) (i32.shl (i32.mul (local.get $oh) (local.get $OW)) (i32.const 2))))
            (local.set $ih (i32.add (i32.sub (local.get $oh) (local.get $pad)) (local.get $kh)))
            (if (i32.or (i32.lt_s (local.get $ih) (i32.const 0)) (i32.ge_s (local.get $ih) (local.get $H)))
              (then (call $zero_f32 (local.get $seg) (local.get $OW)))
              (else
                (if (local.get $lo) (then (call $zero_f32 (local.get $seg) (local.get $lo))))
                ;; the valid run, copied inline (a call per run of OW = 8 floats would cost more than the copy)
                (local.set $s (i32.add (local.get $xi) (i32.shl
                  (i32.add (i32.mul (i32.add (i32.mul (local.get $c) (local.get $H)) (local.get $ih)) (local.get $W))
                           (i32.add (i32.sub (local.get $lo) (local.get $pad)) (local.get $kw)))
                  (i32.const 2))))
                (local.set $d (i32.add (local.get $seg) (i32.shl (local.get $lo) (i32.const 2))))
                (local.set $e (i32.add (local.get $s) (local.get $run4)))
                (block $v_done
                  (loop $v
                    (br_if $v_done (i32.ge_u (local.get $s) (local.get $e)))
                    (v128.store (local.get $d) (v128.load (local.get $s)))
                    (local.set $s (i32.add (local.get $s) (i32.const 16)))
                    (local.set $d (i32.add (local.get $d) (i32.const 16)))
                    (br $v)))
                (local.set $e (i32.add (local.get $e) (local.get $runt)))
                (block $t_done
                  (loop $t
                    (br_if $t_done (i32.ge_u (local.get $s) (local.get $e)))
                    (f32.store (local.get $d) (f32.load (local.get $s)))
                    (local.set $s (i32.add (local.get $s) (i32.const 4)))
                    (local.set $d (i32.add (local.get $d) (i32.const 4)))
                    (br $t)))
                (if (i32.lt_s (local.get $hi) (local.get $OW))
                  (then (call $zero_f32
                    (i32.add (local.get $seg) (i32.shl (local.get $hi) (i32.const 2)))
                    (i32.sub (local.get $OW) (local.get $hi)))))))
            (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
            (br_if $ohs (i32.lt_u (local.get $oh) (local.get $OH))))
          (local.set $xi (i32.add (local.get $xi) (local.get $CHW)))
          (local.set $ri (i32.add (local.get $ri) (local.get $Lb)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br_if $ns (i32.lt_u (local.get $n) (local.get $nImg))))
          ;; next row of dst: rows are ldd apart (a batch of images shares one wide cols matrix)
          (local.set $row (i32.add (local.get $row) (i32.shl (local.get $ldd) (i32.const 2))))
          (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
          (br_if $kws (i32.lt_u (local.get $kw) (local.get $KW))))
        (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
        (br_if $khs (i32.lt_u (local.get $kh) (local.get $KH))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $cs (i32.lt_u (local.get $c) (local.get $C)))))

  ;; The adjoint of im2col_s1: dx[n, c, ih, iw] += src[row·lds + n·L + oh·OW + ow] over the valid positions.
  ;; Per row (c, kh, kw) the valid ow form one run [lo, hi) and the valid oh one range [ohLo, ohHi), so each image
  ;; walks its runs with two pointer increments: no per-run multiplies or bounds tests (runs are OW = 8 floats
  ;; for the cnn's conv2, where the bookkeeping used to cost more than the adds).
  (func $col2im_s1
    (param $src i32) (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32)
    (param $OH i32) (param $OW i32) (param $dx i32) (param $lds i32) (param $nImg i32)
    (local $n i32) (local $CHW i32) (local $Lb i32) (local $Wb i32) (local $OWb i32)
    (local $c i32) (local $kh i32) (local $kw i32) (local $oh i32) (local $ohLo i32) (local $ohHi i32)
    (local $lo i32) (local $hi i32) (local $row i32) (local $d0 i32) (local $s0 i32)
    (local $s i32) (local $d i32) (local $e8 i32) (local $e i32) (local $run8 i32) (local $runb i32)
    (local.set $CHW (i32.shl (i32.mul (i32.mul (local.get $C) (local.get $H)) (local.get $W)) (i32.const 2)))
    (local.set $Lb (i32.shl (i32.mul (local.get $OH) (local.get $OW)) (i32.const 2)))
    (local.set $Wb (i32.shl (local.get $W) (i32.const 2)))
    (local.set $OWb (i32.shl (local.get $OW) (i32.const 2)))
    (local.set $row (local.get $src))
    (loop $cs
      (local.set $kh (i32.const 0))
      (loop $khs
        ;; valid oh: 0 ≤ oh − pad + kh < H
        (local.set $ohLo (i32.sub (local.get $pad) (local.get $kh)))
        (if (i32.lt_s (local.get $ohLo) (i32.const 0)) (then (local.set $ohLo (i32.const 0))))
        (local.set $ohHi (i32.sub (i32.add (local.get $H) (local.get $pad)) (local.get $kh)))
        (if (i32.gt_s (local.get $ohHi) (local.get $OH)) (then (local.set $ohHi (local.get $OH))))
        (local.set $kw (i32.const 0))
        (loop $kws
          (local.set $lo (i32.sub (local.get $pad) (local.get $kw)))
          (if (i32.lt_s (local.get $lo) (i32.const 0)) (then (local.set $lo (i32.const 0))))
          (if (i32.gt_s (local.get $lo) (local.get $OW)) (then (local.set $lo (local.get $OW))))
          (local.set $hi (i32.sub (i32.add (local.get $W) (local.get $pad)) (local.get $kw)))
          (if (i32.gt_s (local.get $hi) (local.get $OW)) (then (local.set $hi (local.get $OW))))
          (if (i32.lt_s (local.get $hi) (local.get $lo)) (then (local.set $hi (local.get $lo))))
          (local.set $runb (i32.shl (i32.sub (local.get $hi) (local.get $lo)) (i32.const 2)))
          (local.set $run8 (i32.and (local.get $runb) (i32.const -32)))
          (if (i32.and (i32.gt_s (local.get $ohHi) (local.get $ohLo)) (i32.gt_s (local.get $runb) (i32.const 0)))
            (then
              ;; dx[0, c, ohLo − pad + kh, lo − pad + kw] and src[row, 0, ohLo, lo]
              (local.set $d0 (i32.add (local.get $dx) (i32.shl
                (i32.add (i32.mul (i32.add (i32.mul (local.get $c) (local.get $H)) (i32.add (i32.sub (local.get $ohLo) (local.get $pad)) (local.get $kh)))
                                  (local.get $W))
                         (i32.add (i32.sub (local.get $lo) (local.get $pad)) (local.get $kw)))
                (i32.const 2))))
              (local.set $s0 (i32.add (local.get $row)
                (i32.shl (i32.add (i32.mul (local.get $ohLo) (local.get $OW)) (local.get $lo)) (i32.const 2))))
              ;; every image of the chunk for this row before the next row: dst is written row by row, in order
              (local.set $n (i32.const 0))
              (loop $ns
                (local.set $d (local.get $d0))
                (local.set $s (local.get $s0))
                (local.set $oh (local.get $ohLo))
                (loop $ohs
                  (local.set $e8 (i32.add (local.get $s) (local.get $run8)))
                  (local.set $e (i32.add (local.get $s) (local.get $runb)))
                  (block $v8_done
                    (loop $v8
                      (br_if $v8_done (i32.ge_u (local.get $s) (local.get $e8)))
                      (v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) (v128.load (local.get $s))))
                      (v128.store offset=16 (local.get $d) (f32x4.add (v128.load offset=16 (local.get $d)) (v128.load offset=16 (local.get $s))))
                      (local.set $s (i32.add (local.get $s) (i32.const 32)))
                      (local.set $d (i32.add (local.get $d) (i32.const 32)))
                      (br $v8)))
                  (if (i32.le_u (i32.add (local.get $s) (i32.const 16)) (local.get $e))
                    (then
                      (v128.store (local.get $d) (f32x4.add (v128.load (local.get $d)) (v128.load (local.get $s))))
                      (local.set $s (i32.add (local.get $s) (i32.const 16)))
                      (local.set $d (i32.add (local.get $d) (i32.const 16)))))
                  (block $t_done
                    (loop $t
                      (br_if $t_done (i32.ge_u (local.get $s) (local.get $e)))
                      (f32.store (local.get $d) (f32.add (f32.load (local.get $d)) (f32.load (local.get $s))))
                      (local.set $s (i32.add (local.get $s) (i32.const 4)))
                      (local.set $d (i32.add (local.get $d) (i32.const 4)))
                      (br $t)))
                  ;; next output row: back to the run's start, one row down in both
                  (local.set $s (i32.add (i32.sub (local.get $s) (local.get $runb)) (local.get $OWb)))
                  (local.set $d (i32.add (i32.sub (local.get $d) (local.get $runb)) (local.get $Wb)))
                  (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
                  (br_if $ohs (i32.lt_s (local.get $oh) (local.get $ohHi))))
                (local.set $d0 (i32.add (local.get $d0) (local.get $CHW)))
                (local.set $s0 (i32.add (local.get $s0) (local.get $Lb)))
                (local.set $n (i32.add (local.get $n) (i32.const 1)))
                (br_if $ns (i32.lt_u (local.get $n) (local.get $nImg))))))
          (local.set $row (i32.add (local.get $row) (i32.shl (local.get $lds) (i32.const 2))))
          (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
          (br_if $kws (i32.lt_u (local.get $kw) (local.get $KW))))
        (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
        (br_if $khs (i32.lt_u (local.get $kh) (local.get $KH))))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $cs (i32.lt_u (local.get $c) (local.get $C)))))

  ;; Swap the first two axes of an A×B×L array: dst[(b·A + a)·L + l] = src[(a·B + b)·L + l] (+ bias[a] when
  ;; $bias ≠ 0). Moves a batched convolution's GEMM output [OC, N·L] to NCHW and its upstream gradient back.
  (func $permute
    (param $src i32) (param $A i32) (param $B i32) (param $L i32) (param $dst i32) (param $bias i32)
    (local $a i32) (local $b i32) (local $s i32) (local $d i32) (local $e i32) (local $bv v128) (local $bs f32)
    (local.set $s (local.get $src))
    (loop $as
      (if (local.get $bias)
        (then
          (local.set $bs (f32.load (i32.add (local.get $bias) (i32.shl (local.get $a) (i32.const 2)))))
          (local.set $bv (f32x4.splat (local.get $bs)))))
      (local.set $b (i32.const 0))
      (loop $bs_
        (local.set $d (i32.add (local.get $dst)
          (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $A)) (local.get $a)) (local.get $L)) (i32.const 2))))
        (if (i32.eqz (local.get $bias))
          (then (call $copy_f32 (local.get $d) (local.get $s) (local.get $L)))
          (else
            (local.set $e (i32.add (local.get $s) (i32.shl (i32.and (local.get $L) (i32.const -4)) (i32.const 2))))
            (block $v_done
              (loop $v
                (br_if $v_done (i32.ge_u (local.get $s) (local.get $e)))
                (v128.store (local.get $d) (f32x4.add (v128.load (local.get $s)) (local.get $bv)))
                (local.set $s (i32.add (local.get $s) (i32.const 16)))
                (local.set $d (i32.add (local.get $d) (i32.const 16)))
                (br $v)))
            (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $L) (i32.const 3)) (i32.const 2))))
            (block $t_done
              (loop $t
                (br_if $t_done (i32.ge_u (local.get $s) (local.get $e)))
                (f32.store (local.get $d) (f32.add (f32.load (local.get $s)) (local.get $bs)))
                (local.set $s (i32.add (local.get $s) (i32.const 4)))
                (local.set $d (i32.add (local.get $d) (i32.const 4)))
                (br $t)))
            ;; the vector loop advanced s by L; undo so the common advance below applies to both branches
            (local.set $s (i32.sub (local.get $s) (i32.shl (local.get $L) (i32.const 2))))))
        (local.set $s (i32.add (local.get $s) (i32.shl (local.get $L) (i32.const 2))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br_if $bs_ (i32.lt_u (local.get $b) (local.get $B))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br_if $as (i32.lt_u (local.get $a) (local.get $A)))))

  ;; dst[m] += Σ_j src[m·N + j] for m < M (the bias gradient of a batched convolution).
  (func $row_sums (param $src i32) (param $M i32) (param $N i32) (param $dst i32)
    (local $m i32) (local $e i32) (local $acc v128) (local $s f32)
    (loop $ms
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (local.set $e (i32.add (local.get $src) (i32.shl (i32.and (local.get $N) (i32.const -4)) (i32.const 2))))
      (block $v_done
        (loop $v
          (br_if $v_done (i32.ge_u (local.get $src) (local.get $e)))
          (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $src))))
          (local.set $src (i32.add (local.get $src) (i32.const 16)))
          (br $v)))
      (local.set $s (f32.add
        (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
        (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
      (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $N) (i32.const 3)) (i32.const 2))))
      (block $t_done
        (loop $t
          (br_if $t_done (i32.ge_u (local.get $src) (local.get $e)))
          (local.set $s (f32.add (local.get $s) (f32.load (local.get $src))))
          (local.set $src (i32.add (local.get $src) (i32.const 4)))
          (br $t)))
      (f32.store (local.get $dst) (f32.add (f32.load (local.get $dst)) (local.get $s)))
      (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
      (local.set $m (i32.add (local.get $m) (i32.const 1)))
      (br_if $ms (i32.lt_u (local.get $m) (local.get $M)))))

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

  ;; dx = g where x > 0, else 0.
  (func (export "relu_bwd") (param $g i32) (param $x i32) (param $dx i32) (param $n i32)
    (local $e i32)
    (local.set $e (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $vl
        (br_if $v_done (i32.ge_u (local.get $x) (local.get $e)))
        (v128.store (local.get $dx)
          (v128.and (v128.load (local.get $g)) (f32x4.gt (v128.load (local.get $x)) (v128.const i32x4 0 0 0 0))))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
        (br $vl)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $n) (i32.const 3)) (i32.const 2))))
    (block $t_done
      (loop $t
        (br_if $t_done (i32.ge_u (local.get $x) (local.get $e)))
        (f32.store (local.get $dx)
          (select (f32.load (local.get $g)) (f32.const 0) (f32.gt (f32.load (local.get $x)) (f32.const 0))))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $dx (i32.add (local.get $dx) (i32.const 4)))
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

  ;; Row j = (c·KH + kh)·KW + kw of an unpadded window: the byte offset of its top-left input element
  ;; x[c, kh, kw] within an image; 0 for j ≥ CKK (a padding row of a packed panel).
  (func $window_row_offset (param $j i32) (param $CKK i32) (param $KH i32) (param $KW i32) (param $H i32) (param $W i32)
    (result i32)
    (local $KK i32) (local $c i32) (local $r i32) (local $kh i32)
    (if (i32.ge_u (local.get $j) (local.get $CKK)) (then (return (i32.const 0))))
    (local.set $KK (i32.mul (local.get $KH) (local.get $KW)))
    (local.set $c (i32.div_u (local.get $j) (local.get $KK)))
    (local.set $r (i32.sub (local.get $j) (i32.mul (local.get $c) (local.get $KK))))
    (local.set $kh (i32.div_u (local.get $r) (local.get $KW)))
    ;; ((c·H + kh)·W + kw)·4, kw = r − kh·KW
    (i32.shl
      (i32.add (i32.mul (i32.add (i32.mul (local.get $c) (local.get $H)) (local.get $kh)) (local.get $W))
               (i32.sub (local.get $r) (i32.mul (local.get $kh) (local.get $KW))))
      (i32.const 2)))

  ;; The transposed im2col of a chunk of images straight into the GEMM's packed B layout, for the weight gradient
  ;; dW = dY·colsᵀ of a stride-1, unpadded convolution with OW a multiple of 8: panel q holds rows j = 8q … 8q+7 of
  ;; cols (zero past C·KH·KW) for every column kk = (n, oh, ow) of the chunk: dst[(q·NL + kk)·8 + r] = cols[8q + r][kk]
  ;; = x[n, c, oh + kh, ow + kw] for j = 8q + r = (c·KH + kh)·KW + kw. For 8 neighbouring ow each row is one
  ;; contiguous 8-float run of x, so each 8×8 block is 16 loads (masked to zero for padding rows), a transpose by
  ;; shuffles and 16 sequential stores (instead of writing the im2col matrix and transposing it into panels after).
  (func $im2colT_pack_s1
    (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32)
    (param $OH i32) (param $OW i32) (param $dst i32) (param $nImg i32)
    (local $CKK i32) (local $j i32) (local $n i32) (local $oh i32) (local $ow i32) (local $s i32) (local $d i32)
    (local $img i32) (local $CHWB i32)
    (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32) (local $o4 i32) (local $o5 i32) (local $o6 i32) (local $o7 i32)
    (local $m0 v128) (local $m1 v128) (local $m2 v128) (local $m3 v128) (local $m4 v128) (local $m5 v128) (local $m6 v128) (local $m7 v128)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $v4 v128) (local $v5 v128) (local $v6 v128) (local $v7 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $CKK (i32.mul (i32.mul (local.get $C) (local.get $KH)) (local.get $KW)))
    (local.set $CHWB (i32.shl (i32.mul (local.get $C) (i32.mul (local.get $H) (local.get $W))) (i32.const 2)))
    (local.set $d (local.get $dst))
    ;; j: the panel's first row
    (loop $qs
      ;; each row's offset within an image, and a mask that zeroes the rows past CKK
      (local.set $o0 (call $window_row_offset (i32.add (local.get $j) (i32.const 0)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m0 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 0)) (local.get $CKK)))))
      (local.set $o1 (call $window_row_offset (i32.add (local.get $j) (i32.const 1)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m1 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 1)) (local.get $CKK)))))
      (local.set $o2 (call $window_row_offset (i32.add (local.get $j) (i32.const 2)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m2 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 2)) (local.get $CKK)))))
      (local.set $o3 (call $window_row_offset (i32.add (local.get $j) (i32.const 3)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m3 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 3)) (local.get $CKK)))))
      (local.set $o4 (call $window_row_offset (i32.add (local.get $j) (i32.const 4)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m4 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 4)) (local.get $CKK)))))
      (local.set $o5 (call $window_row_offset (i32.add (local.get $j) (i32.const 5)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m5 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 5)) (local.get $CKK)))))
      (local.set $o6 (call $window_row_offset (i32.add (local.get $j) (i32.const 6)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m6 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 6)) (local.get $CKK)))))
      (local.set $o7 (call $window_row_offset (i32.add (local.get $j) (i32.const 7)) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $m7 (i32x4.splat (i32.sub (i32.const 0) (i32.lt_u (i32.add (local.get $j) (i32.const 7)) (local.get $CKK)))))
      (local.set $n (i32.const 0))
      (local.set $img (local.get $x))
      (loop $ns
        (local.set $oh (i32.const 0))
        (loop $ohs
          (local.set $ow (i32.const 0))
          (loop $ows
            (local.set $s (i32.add (local.get $img)
              (i32.shl (i32.add (i32.mul (local.get $oh) (local.get $W)) (local.get $ow)) (i32.const 2))))
            (local.set $v0 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o0))) (local.get $m0)))
            (local.set $v1 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o1))) (local.get $m1)))
            (local.set $v2 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o2))) (local.get $m2)))
            (local.set $v3 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o3))) (local.get $m3)))
            (local.set $v4 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o4))) (local.get $m4)))
            (local.set $v5 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o5))) (local.get $m5)))
            (local.set $v6 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o6))) (local.get $m6)))
            (local.set $v7 (v128.and (v128.load offset=0 (i32.add (local.get $s) (local.get $o7))) (local.get $m7)))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
            (v128.store offset=0 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store offset=32 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store offset=64 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store offset=96 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v4) (local.get $v5)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v4) (local.get $v5)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v6) (local.get $v7)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v6) (local.get $v7)))
            (v128.store offset=16 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store offset=48 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store offset=80 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store offset=112 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $v0 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o0))) (local.get $m0)))
            (local.set $v1 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o1))) (local.get $m1)))
            (local.set $v2 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o2))) (local.get $m2)))
            (local.set $v3 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o3))) (local.get $m3)))
            (local.set $v4 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o4))) (local.get $m4)))
            (local.set $v5 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o5))) (local.get $m5)))
            (local.set $v6 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o6))) (local.get $m6)))
            (local.set $v7 (v128.and (v128.load offset=16 (i32.add (local.get $s) (local.get $o7))) (local.get $m7)))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
            (v128.store offset=128 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store offset=160 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store offset=192 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store offset=224 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v4) (local.get $v5)))
            (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v4) (local.get $v5)))
            (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v6) (local.get $v7)))
            (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v6) (local.get $v7)))
            (v128.store offset=144 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
            (v128.store offset=176 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
            (v128.store offset=208 (local.get $d) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
            (v128.store offset=240 (local.get $d) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
            (local.set $d (i32.add (local.get $d) (i32.const 256)))
            (local.set $ow (i32.add (local.get $ow) (i32.const 8)))
            (br_if $ows (i32.lt_u (local.get $ow) (local.get $OW))))
          (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
          (br_if $ohs (i32.lt_u (local.get $oh) (local.get $OH))))
        (local.set $img (i32.add (local.get $img) (local.get $CHWB)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $ns (i32.lt_u (local.get $n) (local.get $nImg))))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br_if $qs (i32.lt_u (local.get $j) (local.get $CKK)))))

  ;; The fused epilogue of conv_fwd for a convolution followed by ReLU and 2×2/2 max pooling, in one pass over a
  ;; chunk's GEMM output src [OC, nc, OH, OW]: per window, add the channel's bias to the four values as they are
  ;; loaded, keep the maximum and where in the window it is (first on ties, the order of maxpool2_fwd), apply ReLU
  ;; to it (max(relu(z)) = relu(max(z))) and store it and its route (one byte: 2·dy + dx, or 255 where the output is
  ;; not positive, see src/engine/kernels/pool-route.ts) straight at their [nc, OC, PH·PW] places in dst / route.
  ;; The same operations in the same order as adding the bias, pooling, ReLU and permuting in separate passes, so
  ;; the same bits, without writing and re-reading the chunk three times.
  (func $pool2_bias_relu
    (param $src i32) (param $OC i32) (param $nc i32) (param $OH i32) (param $OW i32)
    (param $dst i32) (param $route i32) (param $bias i32)
    (local $a i32) (local $b i32) (local $PH i32) (local $PW i32) (local $PL i32) (local $pw4 i32) (local $L i32)
    (local $plane i32) (local $d i32) (local $g i32) (local $oh i32) (local $ow i32) (local $r0 i32) (local $r1 i32)
    (local $bs f32) (local $fa f32) (local $f f32) (local $fi i32)
    (local $bv v128) (local $va v128) (local $vb v128) (local $m v128) (local $id v128)
    (local $v v128) (local $c v128)
    (local.set $PH (i32.shr_u (local.get $OH) (i32.const 1)))
    (local.set $PW (i32.shr_u (local.get $OW) (i32.const 1)))
    (local.set $PL (i32.mul (local.get $PH) (local.get $PW)))
    (local.set $pw4 (i32.and (local.get $PW) (i32.const -4)))
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (if (i32.eqz (local.get $PL)) (then (return)))
    (loop $as
      (local.set $bs (f32.load (i32.add (local.get $bias) (i32.shl (local.get $a) (i32.const 2)))))
      (local.set $bv (f32x4.splat (local.get $bs)))
      (local.set $b (i32.const 0))
      (loop $bs_
        (local.set $plane (i32.add (local.get $src)
          (i32.shl (i32.mul (i32.add (i32.mul (local.get $a) (local.get $nc)) (local.get $b)) (local.get $L)) (i32.const 2))))
        (local.set $g (i32.mul (i32.add (i32.mul (local.get $b) (local.get $OC)) (local.get $a)) (local.get $PL)))
        (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $g) (i32.const 2))))
        (local.set $g (i32.add (local.get $route) (local.get $g)))
        (local.set $oh (i32.const 0))
        (loop $ohs
          (local.set $r0 (i32.add (local.get $plane) (i32.shl (i32.mul (i32.shl (local.get $oh) (i32.const 1)) (local.get $OW)) (i32.const 2))))
          (local.set $r1 (i32.add (local.get $r0) (i32.shl (local.get $OW) (i32.const 2))))
          (local.set $ow (i32.const 0))
          (block $v_done
            (loop $vs
              (br_if $v_done (i32.ge_u (local.get $ow) (local.get $pw4)))
              (local.set $va (f32x4.add (v128.load (local.get $r0)) (local.get $bv)))
              (local.set $vb (f32x4.add (v128.load offset=16 (local.get $r0)) (local.get $bv)))
              (local.set $m (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $va) (local.get $vb)))
              (local.set $id (v128.const i32x4 0 0 0 0))
              ;; (0, 1)
              (local.set $v (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $va) (local.get $vb)))
              (local.set $c (f32x4.gt (local.get $v) (local.get $m)))
              (local.set $m (v128.bitselect (local.get $v) (local.get $m) (local.get $c)))
              (local.set $id (v128.bitselect (v128.const i32x4 1 1 1 1) (local.get $id) (local.get $c)))
              ;; (1, 0) and (1, 1)
              (local.set $va (f32x4.add (v128.load (local.get $r1)) (local.get $bv)))
              (local.set $vb (f32x4.add (v128.load offset=16 (local.get $r1)) (local.get $bv)))
              (local.set $v (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $va) (local.get $vb)))
              (local.set $c (f32x4.gt (local.get $v) (local.get $m)))
              (local.set $m (v128.bitselect (local.get $v) (local.get $m) (local.get $c)))
              (local.set $id (v128.bitselect (v128.const i32x4 2 2 2 2) (local.get $id) (local.get $c)))
              (local.set $v (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $va) (local.get $vb)))
              (local.set $c (f32x4.gt (local.get $v) (local.get $m)))
              (local.set $m (v128.bitselect (local.get $v) (local.get $m) (local.get $c)))
              (local.set $id (v128.bitselect (v128.const i32x4 3 3 3 3) (local.get $id) (local.get $c)))
              (v128.store (local.get $d) (f32x4.max (local.get $m) (v128.const i32x4 0 0 0 0)))
              ;; route 255 where the output is not positive, then the four routes as four bytes
              (local.set $id (v128.bitselect (local.get $id) (v128.const i32x4 255 255 255 255)
                (f32x4.gt (local.get $m) (v128.const i32x4 0 0 0 0))))
              (local.set $id (i16x8.narrow_i32x4_u (local.get $id) (local.get $id)))
              (v128.store32_lane 0 (local.get $g) (i8x16.narrow_i16x8_u (local.get $id) (local.get $id)))
              (local.set $d (i32.add (local.get $d) (i32.const 16)))
              (local.set $g (i32.add (local.get $g) (i32.const 4)))
              (local.set $r0 (i32.add (local.get $r0) (i32.const 32)))
              (local.set $r1 (i32.add (local.get $r1) (i32.const 32)))
              (local.set $ow (i32.add (local.get $ow) (i32.const 4)))
              (br $vs)))
          ;; the last PW mod 4 windows one at a time
          (block $t_done
            (loop $ts
              (br_if $t_done (i32.ge_u (local.get $ow) (local.get $PW)))
              (local.set $fi (i32.const 0))
              (local.set $fa (f32.add (f32.load (local.get $r0)) (local.get $bs)))
              (local.set $f (f32.add (f32.load offset=4 (local.get $r0)) (local.get $bs)))
              (if (f32.gt (local.get $f) (local.get $fa))
                (then (local.set $fa (local.get $f))
                      (local.set $fi (i32.const 1))))
              (local.set $f (f32.add (f32.load (local.get $r1)) (local.get $bs)))
              (if (f32.gt (local.get $f) (local.get $fa))
                (then (local.set $fa (local.get $f))
                      (local.set $fi (i32.const 2))))
              (local.set $f (f32.add (f32.load offset=4 (local.get $r1)) (local.get $bs)))
              (if (f32.gt (local.get $f) (local.get $fa))
                (then (local.set $fa (local.get $f))
                      (local.set $fi (i32.const 3))))
              (f32.store (local.get $d) (f32.max (local.get $fa) (f32.const 0)))
              (i32.store8 (local.get $g) (select (local.get $fi) (i32.const 255) (f32.gt (local.get $fa) (f32.const 0))))
              (local.set $d (i32.add (local.get $d) (i32.const 4)))
              (local.set $g (i32.add (local.get $g) (i32.const 1)))
              (local.set $r0 (i32.add (local.get $r0) (i32.const 8)))
              (local.set $r1 (i32.add (local.get $r1) (i32.const 8)))
              (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
              (br $ts)))
          (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
          (br_if $ohs (i32.lt_u (local.get $oh) (local.get $PH))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br_if $bs_ (i32.lt_u (local.get $b) (local.get $nc))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (br_if $as (i32.lt_u (local.get $a) (local.get $OC)))))

  ;; The upstream gradient of the convolution in a fused block, straight into conv_bwd's channel-major layout:
  ;; dyP [OC, nc·L] = 0 except, for each pooled output i = ((n0 + b)·OC + a)·PL + ph·PW + pw of images n0 … n0 + nc
  ;; whose route r (a byte, see pool2_bias_relu) is not 255, dyP[a, b·L + (2·ph + r/2)·OW + 2·pw + r%2] = g[i]
  ;; (pooling routes the gradient to the window's winner, ReLU passes it where the output was positive).
  ;; Four outputs of a row at a time and without branches: a route of 255 stores +0 inside its own window (windows
  ;; never overlap, and dyP was zeroed), so the sign of the output, a coin flip, never steers a branch.
  (func $unpool_relu
    (param $g i32) (param $route i32) (param $n0 i32) (param $nc i32) (param $OC i32) (param $OH i32) (param $OW i32)
    (param $dyP i32)
    (local $a i32) (local $b i32) (local $i i32) (local $row i32) (local $NL i32) (local $L i32) (local $PH i32)
    (local $PW i32) (local $ph i32) (local $pw i32) (local $top i32) (local $r i32) (local $pos i32)
    (local $rv v128) (local $keep v128) (local $v v128) (local $pv v128)
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $PH (i32.shr_u (local.get $OH) (i32.const 1)))
    (local.set $PW (i32.shr_u (local.get $OW) (i32.const 1)))
    (local.set $NL (i32.mul (local.get $nc) (local.get $L)))
    (call $zero_f32 (local.get $dyP) (i32.mul (local.get $OC) (local.get $NL)))
    (if (i32.eqz (i32.mul (local.get $PH) (local.get $PW))) (then (return)))
    ;; i: index of pooled output ((n0 + b)·OC + a)·PL + p (bytes into route, ×4 into g)
    (local.set $i (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (i32.mul (local.get $PH) (local.get $PW))))
    (block $b_done
      (loop $bs
        (br_if $b_done (i32.ge_u (local.get $b) (local.get $nc)))
        (local.set $a (i32.const 0))
        (loop $as
          ;; dyP row a, image b
          (local.set $row (i32.add (local.get $dyP)
            (i32.shl (i32.add (i32.mul (local.get $a) (local.get $NL)) (i32.mul (local.get $b) (local.get $L))) (i32.const 2))))
          (local.set $ph (i32.const 0))
          (loop $phs
            ;; top: the element offset of window (ph, 0)'s top-left corner in the plane
            (local.set $top (i32.mul (i32.shl (local.get $ph) (i32.const 1)) (local.get $OW)))
            (local.set $pw (i32.const 0))
            (block $v_done
              (loop $vs
                (br_if $v_done (i32.gt_u (i32.add (local.get $pw) (i32.const 4)) (local.get $PW)))
                ;; four routes (bytes) widened to i32 lanes
                (local.set $rv (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                  (v128.load32_zero (i32.add (local.get $route) (local.get $i))))))
                (local.set $keep (i32x4.ne (local.get $rv) (v128.const i32x4 255 255 255 255)))
                (local.set $v (v128.and (v128.load (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2)))) (local.get $keep)))
                (local.set $rv (v128.and (local.get $rv) (v128.const i32x4 3 3 3 3)))
                ;; byte offsets top + 2·pw + (0, 2, 4, 6) + (r/2)·OW + r%2, times 4
                (local.set $pv (i32x4.shl
                  (i32x4.add
                    (i32x4.add (i32x4.splat (i32.add (local.get $top) (i32.shl (local.get $pw) (i32.const 1)))) (v128.const i32x4 0 2 4 6))
                    (i32x4.add (i32x4.mul (i32x4.shr_u (local.get $rv) (i32.const 1)) (i32x4.splat (local.get $OW)))
                               (v128.and (local.get $rv) (v128.const i32x4 1 1 1 1))))
                  (i32.const 2)))
                (f32.store (i32.add (local.get $row) (i32x4.extract_lane 0 (local.get $pv))) (f32x4.extract_lane 0 (local.get $v)))
                (f32.store (i32.add (local.get $row) (i32x4.extract_lane 1 (local.get $pv))) (f32x4.extract_lane 1 (local.get $v)))
                (f32.store (i32.add (local.get $row) (i32x4.extract_lane 2 (local.get $pv))) (f32x4.extract_lane 2 (local.get $v)))
                (f32.store (i32.add (local.get $row) (i32x4.extract_lane 3 (local.get $pv))) (f32x4.extract_lane 3 (local.get $v)))
                (local.set $i (i32.add (local.get $i) (i32.const 4)))
                (local.set $pw (i32.add (local.get $pw) (i32.const 4)))
                (br $vs)))
            (block $t_done
              (loop $ts
                (br_if $t_done (i32.ge_u (local.get $pw) (local.get $PW)))
                (local.set $r (i32.load8_u (i32.add (local.get $route) (local.get $i))))
                (if (i32.ne (local.get $r) (i32.const 255))
                  (then
                    (local.set $pos (i32.add (i32.add (local.get $top) (i32.shl (local.get $pw) (i32.const 1)))
                      (i32.add (i32.mul (i32.shr_u (local.get $r) (i32.const 1)) (local.get $OW)) (i32.and (local.get $r) (i32.const 1)))))
                    (f32.store (i32.add (local.get $row) (i32.shl (local.get $pos) (i32.const 2)))
                      (f32.load (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2)))))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (local.set $pw (i32.add (local.get $pw) (i32.const 1)))
                (br $ts)))
            (local.set $ph (i32.add (local.get $ph) (i32.const 1)))
            (br_if $phs (i32.lt_u (local.get $ph) (local.get $PH))))
          (local.set $a (i32.add (local.get $a) (i32.const 1)))
          (br_if $as (i32.lt_u (local.get $a) (local.get $OC))))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bs))))

  ;; A stride-1, unpadded convolution of a chunk of images as an implicit GEMM: C[OC, nImg·L] = W · cols with cols
  ;; never written. With OW a multiple of 8, the 8 columns of a B panel (8 neighbouring ow of one output row) at
  ;; row k = (c·KH + kh)·KW + kw are one contiguous run x[n, c, oh + kh, ow0 + kw … ow0 + kw + 7], so the micro-kernel
  ;; (gemm_packed's 4×8, same accumulation order, so the same bits) loads its two B vectors straight from the image
  ;; at x + off[k] (a table of byte offsets built here at $off, CKK i32) and skips im2col and packing altogether.
  ;; wPack: W in 4-row panels (zero-padded rows); C rows past OC up to the next multiple of 4 are written too
  ;; (as zeros), so $c must have room for ⌈OC/4⌉·4 rows of ldc = nImg·L floats.
  (func $conv_implicit
    (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32)
    (param $OH i32) (param $OW i32) (param $OC i32) (param $wPack i32) (param $c i32) (param $nImg i32) (param $off i32)
    (local $CKK i32) (local $k i32) (local $L i32) (local $ldcB i32) (local $CHWB i32) (local $strideA i32)
    (local $n i32) (local $oh i32) (local $ow i32) (local $xb i32) (local $col i32) (local $i i32)
    (local $a i32) (local $aEnd i32) (local $aPanel i32) (local $t i32) (local $bo i32) (local $addr i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local.set $CKK (i32.mul (i32.mul (local.get $C) (local.get $KH)) (local.get $KW)))
    (loop $table
      (i32.store (i32.add (local.get $off) (i32.shl (local.get $k) (i32.const 2)))
        (call $window_row_offset (local.get $k) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $table (i32.lt_u (local.get $k) (local.get $CKK))))
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $ldcB (i32.shl (i32.mul (local.get $nImg) (local.get $L)) (i32.const 2)))
    (local.set $CHWB (i32.shl (i32.mul (i32.mul (local.get $C) (local.get $H)) (local.get $W)) (i32.const 2)))
    (local.set $strideA (i32.shl (local.get $CKK) (i32.const 4)))
    (loop $ns
      (local.set $oh (i32.const 0))
      (loop $ohs
        (local.set $ow (i32.const 0))
        (loop $ows
          ;; this B panel: image n, output row oh, columns ow … ow + 7
          (local.set $xb (i32.add (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $CHWB)))
            (i32.shl (i32.add (i32.mul (local.get $oh) (local.get $W)) (local.get $ow)) (i32.const 2))))
          (local.set $col (i32.add (local.get $c) (i32.shl
            (i32.add (i32.mul (local.get $n) (local.get $L)) (i32.add (i32.mul (local.get $oh) (local.get $OW)) (local.get $ow)))
            (i32.const 2))))
          (local.set $i (i32.const 0))
          (local.set $aPanel (local.get $wPack))
          (loop $iloop
            (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $a (local.get $aPanel))
            (local.set $aEnd (i32.add (local.get $aPanel) (local.get $strideA)))
            (local.set $t (local.get $off))
            (loop $kloop
              (local.set $bo (i32.add (local.get $xb) (i32.load (local.get $t))))
              (local.set $b0 (v128.load (local.get $bo)))
              (local.set $b1 (v128.load offset=16 (local.get $bo)))
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
              (local.set $t (i32.add (local.get $t) (i32.const 4)))
              (br_if $kloop (i32.lt_u (local.get $a) (local.get $aEnd))))
            (local.set $addr (i32.add (local.get $col) (i32.mul (local.get $i) (local.get $ldcB))))
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
            (v128.store offset=16 (local.get $addr) (local.get $c31))
            (local.set $i (i32.add (local.get $i) (i32.const 4)))
            (local.set $aPanel (i32.add (local.get $aPanel) (local.get $strideA)))
            (br_if $iloop (i32.lt_u (local.get $i) (local.get $OC))))
          (local.set $ow (i32.add (local.get $ow) (i32.const 8)))
          (br_if $ows (i32.lt_u (local.get $ow) (local.get $OW))))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br_if $ohs (i32.lt_u (local.get $oh) (local.get $OH))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $ns (i32.lt_u (local.get $n) (local.get $nImg)))))

  ;; A stride-1 convolution forward over images [n0, n1) of a batch, in chunks of nb images; each thread calls
  ;; this on its own image range with its own work buffers. x [N, C, H, W] and y [N, OC, OH, OW] at $x / $y;
  ;; wPack: W [OC, C·KH·KW] packed in 4-row panels; bias: OC floats. Work buffers: cols [CKK, nb·L],
  ;; bPack (its 8-column panels), cbuf [⌈OC/4⌉·4, nb·L], scr 128 bytes. Per chunk: im2col → pack (in one pass when
  ;; OW is a multiple of 8) → one GEMM, or, unpadded with OW a multiple of 8, conv_implicit (no im2col at all; cols
  ;; holds its offset table), → permute to NCHW adding the bias. With $arg ≠ 0 the epilogue is
  ;; pool2_bias_relu instead: y is the pooled output [N, OC, OH/2, OW/2] and arg (bytes) each output's route.
  ;; Every thread gets the whole range [n0, n1) and claims chunks of nb images from the i32 counter at $ctr (zeroed
  ;; by the caller) until none is left, so a thread slowed by a busy core does fewer chunks instead of holding the
  ;; others up. Each output depends only on its own image, so any split gives the same bits.
  (func (export "conv_fwd")
    (param $x i32) (param $y i32) (param $n0 i32) (param $n1 i32) (param $nb i32)
    (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32)
    (param $OH i32) (param $OW i32) (param $OC i32) (param $wPack i32) (param $bias i32)
    (param $cols i32) (param $bPack i32) (param $cbuf i32) (param $scr i32) (param $arg i32) (param $ctr i32)
    (local $L i32) (local $CKK i32) (local $CHW i32) (local $nc i32) (local $NL i32) (local $PL i32) (local $start i32)
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $PL (i32.mul (i32.shr_u (local.get $OH) (i32.const 1)) (i32.shr_u (local.get $OW) (i32.const 1))))
    (local.set $CKK (i32.mul (i32.mul (local.get $C) (local.get $KH)) (local.get $KW)))
    (local.set $CHW (i32.mul (i32.mul (local.get $C) (local.get $H)) (local.get $W)))
    (local.set $start (local.get $n0))
    (block $done
      (loop $chunks
        ;; claim the next chunk of the whole range
        (local.set $n0 (i32.add (local.get $start)
          (i32.mul (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)) (local.get $nb))))
        (br_if $done (i32.ge_u (local.get $n0) (local.get $n1)))
        (local.set $nc (i32.sub (local.get $n1) (local.get $n0)))
        (if (i32.gt_u (local.get $nc) (local.get $nb)) (then (local.set $nc (local.get $nb))))
        (local.set $NL (i32.mul (local.get $nc) (local.get $L)))
        (if (i32.or (local.get $pad) (i32.and (local.get $OW) (i32.const 7)))
          (then
            (if (i32.and (local.get $OW) (i32.const 7))
              (then
                (call $im2col_s1
                  (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2)))
                  (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW) (local.get $pad)
                  (local.get $OH) (local.get $OW) (local.get $cols) (local.get $NL) (local.get $nc))
                (call $pack (local.get $cols) (i32.const 1) (local.get $NL) (local.get $NL) (local.get $CKK) (local.get $bPack) (i32.const 8)))
              (else
                ;; OW a multiple of 8: straight into the packed layout
                (call $im2col_pack_s1
                  (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2)))
                  (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW) (local.get $pad)
                  (local.get $OH) (local.get $OW) (local.get $bPack) (local.get $nc))))
            (call $gemm_packed (local.get $OC) (local.get $NL) (local.get $CKK) (local.get $wPack) (local.get $bPack)
              (local.get $cbuf) (local.get $NL) (i32.const 0) (local.get $scr)))
          (else
            ;; unpadded with OW a multiple of 8: the GEMM reads the image itself (cols holds the offset table)
            (call $conv_implicit
              (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2)))
              (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW) (local.get $OH) (local.get $OW)
              (local.get $OC) (local.get $wPack) (local.get $cbuf) (local.get $nc) (local.get $cols))))
        (if (local.get $arg)
          (then
            (call $pool2_bias_relu (local.get $cbuf) (local.get $OC) (local.get $nc) (local.get $OH) (local.get $OW)
              (i32.add (local.get $y) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $PL)) (i32.const 2)))
              (i32.add (local.get $arg) (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $PL)))
              (local.get $bias)))
          (else
            (call $permute (local.get $cbuf) (local.get $OC) (local.get $nc) (local.get $L)
              (i32.add (local.get $y) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $L)) (i32.const 2)))
              (local.get $bias))))
        (local.set $n0 (i32.add (local.get $n0) (local.get $nc)))
        (br $chunks))))

  ;; The backward of conv_fwd over images [n0, n1): dy [N, OC, OH, OW] at $dy, or, for a fused block ($parg ≠ 0),
  ;; the pooled gradient [N, OC, OH/2·OW/2] at $pg and the routes (bytes) at $parg (see unpool_relu). Adds this
  ;; range's weight and bias gradients into dwAcc [OC, CKK] and dbAcc [OC] (pointer 0: not wanted) and writes dx for
  ;; its images (0: not wanted) using wtPack, Wᵀ packed in 4-row panels. Work buffers: cols [CKK, nb·L] (reused for dCols), dyP
  ;; [OC, nb·L], aPack, bPack, scr. dW = dY·colsᵀ and dCols = Wᵀ·dY per chunk, then col2im. Threads claim chunks
  ;; from the counter at $ctr as in conv_fwd; chunk c (the c-th of [n0, n1)) writes its own dW and db partial sums
  ;; to slot c, at dwAcc + c·slotB and dbAcc + c·slotB, which the caller adds in chunk order: the same bits
  ;; whichever thread did which chunk, and for any number of threads.
  (func (export "conv_bwd")
    (param $x i32) (param $dy i32) (param $n0 i32) (param $n1 i32) (param $nb i32)
    (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32)
    (param $OH i32) (param $OW i32) (param $OC i32) (param $wtPack i32)
    (param $dx i32) (param $dwAcc i32) (param $dbAcc i32)
    (param $cols i32) (param $dyP i32) (param $aPack i32) (param $bPack i32) (param $scr i32)
    (param $pg i32) (param $parg i32) (param $ctr i32) (param $slotB i32)
    (local $L i32) (local $CKK i32) (local $CHW i32) (local $nc i32) (local $NL i32) (local $dxn i32) (local $start i32)
    (local $c i32) (local $dwSlot i32) (local $dbSlot i32)
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $CKK (i32.mul (i32.mul (local.get $C) (local.get $KH)) (local.get $KW)))
    (local.set $CHW (i32.mul (i32.mul (local.get $C) (local.get $H)) (local.get $W)))
    (local.set $start (local.get $n0))
    (block $done
      (loop $chunks
        ;; claim the next chunk of the whole range
        (local.set $c (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)))
        (local.set $n0 (i32.add (local.get $start) (i32.mul (local.get $c) (local.get $nb))))
        (br_if $done (i32.ge_u (local.get $n0) (local.get $n1)))
        (local.set $nc (i32.sub (local.get $n1) (local.get $n0)))
        (if (i32.gt_u (local.get $nc) (local.get $nb)) (then (local.set $nc (local.get $nb))))
        (local.set $NL (i32.mul (local.get $nc) (local.get $L)))
        (local.set $dwSlot (i32.add (local.get $dwAcc) (i32.mul (local.get $c) (local.get $slotB))))
        (local.set $dbSlot (i32.add (local.get $dbAcc) (i32.mul (local.get $c) (local.get $slotB))))
        (if (local.get $parg)
          (then
            ;; a fused block: dY from the pooled gradient
            (call $unpool_relu (local.get $pg) (local.get $parg) (local.get $n0) (local.get $nc)
              (local.get $OC) (local.get $OH) (local.get $OW) (local.get $dyP)))
          (else
            ;; [nc, OC, L] → [OC, nc·L]
            (call $permute
              (i32.add (local.get $dy) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $L)) (i32.const 2)))
              (local.get $nc) (local.get $OC) (local.get $L) (local.get $dyP) (i32.const 0))))
        (if (local.get $dbAcc)
          (then
            (call $zero_f32 (local.get $dbSlot) (local.get $OC))
            (call $row_sums (local.get $dyP) (local.get $OC) (local.get $NL) (local.get $dbSlot))))
        (if (local.get $dwAcc)
          (then
            (if (i32.or (local.get $pad) (i32.and (local.get $OW) (i32.const 7)))
              (then
                (call $im2col_s1
                  (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2)))
                  (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW) (local.get $pad)
                  (local.get $OH) (local.get $OW) (local.get $cols) (local.get $NL) (local.get $nc))
                (call $pack (local.get $cols) (local.get $NL) (i32.const 1) (local.get $CKK) (local.get $NL) (local.get $bPack) (i32.const 8)))
              (else
                ;; no padding and OW a multiple of 8: colsᵀ straight into the packed layout
                (call $im2colT_pack_s1
                  (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2)))
                  (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW)
                  (local.get $OH) (local.get $OW) (local.get $bPack) (local.get $nc))))
            (call $pack (local.get $dyP) (local.get $NL) (i32.const 1) (local.get $OC) (local.get $NL) (local.get $aPack) (i32.const 4))
            (call $gemm_packed (local.get $OC) (local.get $CKK) (local.get $NL) (local.get $aPack) (local.get $bPack)
              (local.get $dwSlot) (local.get $CKK) (i32.const 0) (local.get $scr))))
        (if (local.get $dx)
          (then
            (call $pack (local.get $dyP) (i32.const 1) (local.get $NL) (local.get $NL) (local.get $OC) (local.get $bPack) (i32.const 8))
            (call $gemm_packed (local.get $CKK) (local.get $NL) (local.get $OC) (local.get $wtPack) (local.get $bPack)
              (local.get $cols) (local.get $NL) (i32.const 0) (local.get $scr))
            (local.set $dxn (i32.add (local.get $dx) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2))))
            (call $zero_f32 (local.get $dxn) (i32.mul (local.get $nc) (local.get $CHW)))
            (call $col2im_s1 (local.get $cols) (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW)
              (local.get $pad) (local.get $OH) (local.get $OW) (local.get $dxn) (local.get $NL) (local.get $nc))))
        (local.set $n0 (i32.add (local.get $n0) (local.get $nc)))
        (br $chunks))))

  ;; Max-pool backward: dx[arg[i]] += g[i] for i < n, in order (so overlapping windows sum as in the reference).
  (func (export "maxpool_bwd") (param $g i32) (param $arg i32) (param $n i32) (param $dx i32)
    (local $e i32) (local $a i32)
    (local.set $e (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $g) (local.get $e)))
        (local.set $a (i32.add (local.get $dx) (i32.shl (i32.load (local.get $arg)) (i32.const 2))))
        (f32.store (local.get $a) (f32.add (f32.load (local.get $a)) (f32.load (local.get $g))))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $arg (i32.add (local.get $arg) (i32.const 4)))
        (br $l))))

  ;; im2col straight into the GEMM's packed B layout (8-column panels, k-major) for a stride-1 window when OW is
  ;; a multiple of 8, so each panel's 8 columns are 8 neighbouring outputs of one image row:
  ;; dst[(p·K + k)·8 + r] = x[n, c, oh − pad + kh, ow0 + r − pad + kw], k = (c·KH + kh)·KW + kw, for the panel's
  ;; (n, oh, ow0). Saves writing the im2col matrix and reading it back to pack it. Writes are sequential.
  (func $im2col_pack_s1
    (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32)
    (param $OH i32) (param $OW i32) (param $dst i32) (param $nImg i32)
    (local $L i32) (local $P i32) (local $p i32) (local $n i32) (local $rem i32) (local $oh i32) (local $ow0 i32)
    (local $c i32) (local $kh i32) (local $kw i32) (local $ih i32) (local $iw i32) (local $src i32) (local $r i32)
    (local $plane i32) (local $rowOk i32) (local $v f32)
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $P (i32.shr_u (i32.mul (local.get $L) (local.get $nImg)) (i32.const 3)))
    (block $p_done
      (loop $ps
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $P)))
        (local.set $n (i32.div_u (i32.shl (local.get $p) (i32.const 3)) (local.get $L)))
        (local.set $rem (i32.sub (i32.shl (local.get $p) (i32.const 3)) (i32.mul (local.get $n) (local.get $L))))
        (local.set $oh (i32.div_u (local.get $rem) (local.get $OW)))
        (local.set $ow0 (i32.sub (local.get $rem) (i32.mul (local.get $oh) (local.get $OW))))
        (local.set $c (i32.const 0))
        (loop $cs
          ;; byte address of x[n, c, 0, 0]
          (local.set $plane (i32.add (local.get $x) (i32.shl
            (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (i32.mul (local.get $H) (local.get $W)))
            (i32.const 2))))
          (local.set $kh (i32.const 0))
          (loop $khs
            (local.set $ih (i32.add (i32.sub (local.get $oh) (local.get $pad)) (local.get $kh)))
            (local.set $rowOk (i32.and (i32.ge_s (local.get $ih) (i32.const 0)) (i32.lt_s (local.get $ih) (local.get $H))))
            (local.set $kw (i32.const 0))
            (loop $kws
              (local.set $iw (i32.add (i32.sub (local.get $ow0) (local.get $pad)) (local.get $kw)))
              (if (i32.and (local.get $rowOk)
                    (i32.and (i32.ge_s (local.get $iw) (i32.const 0)) (i32.le_s (i32.add (local.get $iw) (i32.const 8)) (local.get $W))))
                (then
                  (local.set $src (i32.add (local.get $plane)
                    (i32.shl (i32.add (i32.mul (local.get $ih) (local.get $W)) (local.get $iw)) (i32.const 2))))
                  (v128.store (local.get $dst) (v128.load (local.get $src)))
                  (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src))))
                (else
                  ;; at the border: element by element, zero outside the image
                  (local.set $r (i32.const 0))
                  (loop $rs
                    (local.set $v (f32.const 0))
                    (if (i32.and (local.get $rowOk)
                          (i32.and (i32.ge_s (i32.add (local.get $iw) (local.get $r)) (i32.const 0))
                                   (i32.lt_s (i32.add (local.get $iw) (local.get $r)) (local.get $W))))
                      (then (local.set $v (f32.load (i32.add (local.get $plane)
                        (i32.shl (i32.add (i32.mul (local.get $ih) (local.get $W)) (i32.add (local.get $iw) (local.get $r))) (i32.const 2)))))))
                    (f32.store (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2))) (local.get $v))
                    (local.set $r (i32.add (local.get $r) (i32.const 1)))
                    (br_if $rs (i32.lt_u (local.get $r) (i32.const 8))))))
              (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
              (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
              (br_if $kws (i32.lt_u (local.get $kw) (local.get $KW))))
            (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
            (br_if $khs (i32.lt_u (local.get $kh) (local.get $KH))))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br_if $cs (i32.lt_u (local.get $c) (local.get $C))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $ps))))

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

  ;; A strided 2-D block copy, in bytes: for each of `planes` planes and `rows` rows, `cols` bytes from
  ;; src + p·srcPlane + r·srcRow to dst + p·dstPlane + r·dstRow (16 bytes at a time, then byte by byte). Pads images
  ;; into a zeroed, wider buffer (dst strides larger) and crops outputs back out of one (src strides larger), for the
  ;; padded convolutions that run as unpadded implicit GEMMs (see wasm.ts); floats and route bytes alike.
  (func (export "copy2d")
    (param $src i32) (param $srcRow i32) (param $srcPlane i32) (param $dst i32) (param $dstRow i32) (param $dstPlane i32)
    (param $planes i32) (param $rows i32) (param $cols i32)
    (local $p i32) (local $r i32) (local $s i32) (local $d i32) (local $i i32) (local $v16 i32)
    (local.set $v16 (i32.and (local.get $cols) (i32.const -16)))
    (block $p_done
      (loop $ps
        (br_if $p_done (i32.ge_u (local.get $p) (local.get $planes)))
        (local.set $r (i32.const 0))
        (block $r_done
          (loop $rs
            (br_if $r_done (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $s (i32.add (i32.add (local.get $src) (i32.mul (local.get $p) (local.get $srcPlane)))
              (i32.mul (local.get $r) (local.get $srcRow))))
            (local.set $d (i32.add (i32.add (local.get $dst) (i32.mul (local.get $p) (local.get $dstPlane)))
              (i32.mul (local.get $r) (local.get $dstRow))))
            (local.set $i (i32.const 0))
            (block $v_done
              (loop $vs
                (br_if $v_done (i32.ge_u (local.get $i) (local.get $v16)))
                (v128.store (i32.add (local.get $d) (local.get $i)) (v128.load (i32.add (local.get $s) (local.get $i))))
                (local.set $i (i32.add (local.get $i) (i32.const 16)))
                (br $vs)))
            (block $b_done
              (loop $bs
                (br_if $b_done (i32.ge_u (local.get $i) (local.get $cols)))
                (i32.store8 (i32.add (local.get $d) (local.get $i)) (i32.load8_u (i32.add (local.get $s) (local.get $i))))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $bs)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $rs)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $ps))))
