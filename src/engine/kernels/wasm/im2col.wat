;; The layout transforms of a stride-1 convolution in WebAssembly 128-bit SIMD: im2col and its adjoint col2im, and
;; im2col straight into the GEMM's packed panels (forward) or transposed panels (the weight gradient). Plain
;; JavaScript runs these loops at ~2.5 ns per element; here they run near memory bandwidth. Callers: conv.wat.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts and strides are in float32 elements.

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
