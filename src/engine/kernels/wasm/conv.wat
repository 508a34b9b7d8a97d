;; The batched stride-1 convolution in WebAssembly 128-bit SIMD: the forward (im2col + GEMM, or the implicit GEMM)
;; and backward over a chunk of images per call, with the channel/batch permutation and bias sums around them.
;; Host side: ../wasm-conv.ts; reference: ../reference.ts conv2dForward / conv2dBackward.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts and strides are in float32 elements.

  ;; Swap the first two axes of an A×B×L array: dst[(b·A + a)·L + l] = src[(a·B + b)·L + l] (+ bias[a] when
  ;; $bias ≠ 0, then, with $relu ≠ 0 too, max(·, 0): relu_fwd's f32x4.max, so the same bits as a ReLU pass after it;
  ;; without, max(·, −∞), which changes no number). Moves a batched convolution's GEMM output [OC, N·L] to NCHW and
  ;; its upstream gradient back.
  (func $permute
    (param $src i32) (param $A i32) (param $B i32) (param $L i32) (param $dst i32) (param $bias i32) (param $relu i32)
    (local $a i32) (local $b i32) (local $s i32) (local $d i32) (local $e i32) (local $bv v128) (local $bs f32)
    (local $lo v128) (local $flo f32)
    (local.set $flo (select (f32.const 0) (f32.const -inf) (local.get $relu)))
    (local.set $lo (f32x4.splat (local.get $flo)))
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
                (v128.store (local.get $d) (f32x4.max (f32x4.add (v128.load (local.get $s)) (local.get $bv)) (local.get $lo)))
                (local.set $s (i32.add (local.get $s) (i32.const 16)))
                (local.set $d (i32.add (local.get $d) (i32.const 16)))
                (br $v)))
            (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $L) (i32.const 3)) (i32.const 2))))
            (block $t_done
              (loop $t
                (br_if $t_done (i32.ge_u (local.get $s) (local.get $e)))
                (f32.store (local.get $d) (f32.max (f32.add (f32.load (local.get $s)) (local.get $bs)) (local.get $flo)))
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

  ;; permute's [A, B, L] → [B, A, L] swap for the upstream gradient of a convolution followed by a ReLU: dst gets
  ;; src where the ReLU's output (mask, in src's layout) is positive, else +0 (relu_bwd's operations: v128.and with
  ;; f32x4.gt, and select in the tail, so the same bits as relu_bwd then permute).
  (func $permute_relu_mask
    (param $src i32) (param $mask i32) (param $A i32) (param $B i32) (param $L i32) (param $dst i32)
    (local $a i32) (local $b i32) (local $s i32) (local $m i32) (local $d i32) (local $e i32) (local $tail i32)
    (local.set $s (local.get $src))
    (local.set $m (local.get $mask))
    (local.set $tail (i32.shl (i32.and (local.get $L) (i32.const 3)) (i32.const 2)))
    (loop $as
      (local.set $b (i32.const 0))
      (loop $bs_
        (local.set $d (i32.add (local.get $dst)
          (i32.shl (i32.mul (i32.add (i32.mul (local.get $b) (local.get $A)) (local.get $a)) (local.get $L)) (i32.const 2))))
        (local.set $e (i32.add (local.get $s) (i32.shl (i32.and (local.get $L) (i32.const -4)) (i32.const 2))))
        (block $v_done
          (loop $v
            (br_if $v_done (i32.ge_u (local.get $s) (local.get $e)))
            (v128.store (local.get $d)
              (v128.and (v128.load (local.get $s)) (f32x4.gt (v128.load (local.get $m)) (v128.const i32x4 0 0 0 0))))
            (local.set $s (i32.add (local.get $s) (i32.const 16)))
            (local.set $m (i32.add (local.get $m) (i32.const 16)))
            (local.set $d (i32.add (local.get $d) (i32.const 16)))
            (br $v)))
        (local.set $e (i32.add (local.get $e) (local.get $tail)))
        (block $t_done
          (loop $t
            (br_if $t_done (i32.ge_u (local.get $s) (local.get $e)))
            (f32.store (local.get $d)
              (select (f32.load (local.get $s)) (f32.const 0) (f32.gt (f32.load (local.get $m)) (f32.const 0))))
            (local.set $s (i32.add (local.get $s) (i32.const 4)))
            (local.set $m (i32.add (local.get $m) (i32.const 4)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (br $t)))
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

  ;; The byte offsets of the first n taps k = (c·KH + kh)·KW + kw of a window from its top-left input, as i32 at $off
  ;; (window_row_offset: 0 for k ≥ CKK, so a table padded past CKK reads a harmless in-range input).
  (func $tap_table (param $off i32) (param $n i32) (param $CKK i32) (param $KH i32) (param $KW i32) (param $H i32) (param $W i32)
    (local $k i32)
    (loop $table
      (i32.store (i32.add (local.get $off) (i32.shl (local.get $k) (i32.const 2)))
        (call $window_row_offset (local.get $k) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $table (i32.lt_u (local.get $k) (local.get $n)))))

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
    (local $CKK i32) (local $L i32) (local $ldcB i32) (local $CHWB i32) (local $strideA i32)
    (local $n i32) (local $oh i32) (local $ow i32) (local $xb i32) (local $col i32) (local $i i32)
    (local $a i32) (local $aEnd i32) (local $aPanel i32) (local $t i32) (local $bo i32) (local $addr i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local.set $CKK (i32.mul (i32.mul (local.get $C) (local.get $KH)) (local.get $KW)))
    (call $tap_table (local.get $off) (local.get $CKK) (local.get $CKK) (local.get $KH) (local.get $KW) (local.get $H) (local.get $W))
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
  ;; holds its offset table), → the epilogue: $epilogue 0 permutes to NCHW adding the bias, 2 also applies ReLU (a
  ;; convolution followed by a ReLU), 1 is pool2_bias_relu (the fused block): y is the pooled output [N, OC, OH/2, OW/2]
  ;; and, when $route ≠ 0, route (bytes) each output's route.
  ;; Every thread gets the whole range [n0, n1) and claims chunks of nb images from the i32 counter at $ctr (zeroed
  ;; by the caller) until none is left, so a thread slowed by a busy core does fewer chunks instead of holding the
  ;; others up. Each output depends only on its own image, so any split gives the same bits.
  (func (export "conv_fwd")
    (param $x i32) (param $y i32) (param $n0 i32) (param $n1 i32) (param $nb i32)
    (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32)
    (param $OH i32) (param $OW i32) (param $OC i32) (param $wPack i32) (param $bias i32)
    (param $cols i32) (param $bPack i32) (param $cbuf i32) (param $scr i32) (param $route i32) (param $ctr i32)
    (param $epilogue i32)
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
        (if (i32.eq (local.get $epilogue) (i32.const 1))
          (then
            (call $pool2_bias_relu (local.get $cbuf) (local.get $OC) (local.get $nc) (local.get $OH) (local.get $OW)
              (i32.add (local.get $y) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $PL)) (i32.const 2)))
              (select (i32.add (local.get $route) (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $PL))) (i32.const 0) (local.get $route))
              (local.get $bias) (f32.const 1) (f32.const 0)))
          (else
            (call $permute (local.get $cbuf) (local.get $OC) (local.get $nc) (local.get $L)
              (i32.add (local.get $y) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $L)) (i32.const 2)))
              (local.get $bias) (i32.eq (local.get $epilogue) (i32.const 2)))))
        (local.set $n0 (i32.add (local.get $n0) (local.get $nc)))
        (br $chunks))))

  ;; A small-K weight gradient without im2col (the first layer's dW, C·KH·KW ≤ 32 taps, stride 1, no padding): dW[oc][j]
  ;; = Σ_k dY[oc][k] · x[k + off_j] over the chunk's positions k = (n, oh, ow) in order, off_j the byte offset of tap
  ;; j = (c·KH + kh)·KW + kw. A tile is 4 taps × 8 channels: the 4 taps' inputs are broadcast straight from the images
  ;; (the offset table at $off, taps past CKK read offset 0 and are dropped) and the 8 channels' dY come from dYP packed
  ;; in 8-row panels, k-major ($bPack: [(p·NL + k)·8 + r] = dY[8p + r][k]). Each dW element is the same chain of
  ;; multiply-adds in the same k order as gemm_packed's dY·colsᵀ (a·b = b·a, one rounding either way), so the same
  ;; bits as the im2col path, without writing the 32 × NL transposed im2col panels it streams. dW goes to $dW
  ;; ([OC, CKK], overwritten) through the 128-byte scratch tile at $scr.
  (func $conv_dw_taps
    (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32)
    (param $OH i32) (param $OW i32) (param $OC i32) (param $bPack i32) (param $dW i32) (param $nImg i32) (param $off i32)
    (param $scr i32)
    (local $CKK i32) (local $NLB i32) (local $CHWB i32) (local $WB i32) (local $OWB i32)
    (local $j i32) (local $p i32) (local $o0 i32) (local $o1 i32) (local $o2 i32) (local $o3 i32)
    (local $n i32) (local $oh i32) (local $xi i32) (local $xr i32) (local $xp i32) (local $xe i32) (local $b i32)
    (local $r i32) (local $q i32) (local $tap i32) (local $oc i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (local.set $CKK (i32.mul (i32.mul (local.get $C) (local.get $KH)) (local.get $KW)))
    ;; the offset table, padded to a multiple of 4 taps with offset 0
    (call $tap_table (local.get $off) (i32.and (i32.add (local.get $CKK) (i32.const 3)) (i32.const -4)) (local.get $CKK)
      (local.get $KH) (local.get $KW) (local.get $H) (local.get $W))
    (local.set $NLB (i32.shl (i32.mul (i32.mul (local.get $nImg) (local.get $OH)) (local.get $OW)) (i32.const 5)))
    (local.set $CHWB (i32.shl (i32.mul (i32.mul (local.get $C) (local.get $H)) (local.get $W)) (i32.const 2)))
    (local.set $WB (i32.shl (local.get $W) (i32.const 2)))
    (local.set $OWB (i32.shl (local.get $OW) (i32.const 2)))
    (loop $taps
      (local.set $o0 (i32.load offset=0 (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $o1 (i32.load offset=4 (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $o2 (i32.load offset=8 (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $o3 (i32.load offset=12 (i32.add (local.get $off) (i32.shl (local.get $j) (i32.const 2)))))
      (local.set $p (i32.const 0))
      (loop $panels
        (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
        (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
        (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
        (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
        (local.set $b (i32.add (local.get $bPack) (i32.mul (i32.shr_u (local.get $p) (i32.const 3)) (local.get $NLB))))
        (local.set $n (i32.const 0))
        (loop $ns
          (local.set $xi (i32.add (local.get $x) (i32.mul (local.get $n) (local.get $CHWB))))
          (local.set $oh (i32.const 0))
          (loop $ohs
            (local.set $xp (i32.add (local.get $xi) (i32.mul (local.get $oh) (local.get $WB))))
            (local.set $xe (i32.add (local.get $xp) (local.get $OWB)))
            ;; one k-step per output position of this row: 2 dY loads, 4 broadcasts from the image, 8 multiply-adds
            (loop $k_
              (local.set $b0 (v128.load (local.get $b)))
              (local.set $b1 (v128.load offset=16 (local.get $b)))
              (local.set $av (v128.load32_splat (i32.add (local.get $xp) (local.get $o0))))
              (local.set $c00 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c00)))
              (local.set $c01 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c01)))
              (local.set $av (v128.load32_splat (i32.add (local.get $xp) (local.get $o1))))
              (local.set $c10 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c10)))
              (local.set $c11 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c11)))
              (local.set $av (v128.load32_splat (i32.add (local.get $xp) (local.get $o2))))
              (local.set $c20 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c20)))
              (local.set $c21 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c21)))
              (local.set $av (v128.load32_splat (i32.add (local.get $xp) (local.get $o3))))
              (local.set $c30 (f32x4.relaxed_madd (local.get $av) (local.get $b0) (local.get $c30)))
              (local.set $c31 (f32x4.relaxed_madd (local.get $av) (local.get $b1) (local.get $c31)))
              (local.set $b (i32.add (local.get $b) (i32.const 32)))
              (local.set $xp (i32.add (local.get $xp) (i32.const 4)))
              (br_if $k_ (i32.lt_u (local.get $xp) (local.get $xe))))
            (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
            (br_if $ohs (i32.lt_u (local.get $oh) (local.get $OH))))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br_if $ns (i32.lt_u (local.get $n) (local.get $nImg))))
        ;; the tile: rows are taps j … j+3, lanes channels p … p+7; keep those inside [CKK] × [OC]
        (v128.store offset=0 (local.get $scr) (local.get $c00))
        (v128.store offset=16 (local.get $scr) (local.get $c01))
        (v128.store offset=32 (local.get $scr) (local.get $c10))
        (v128.store offset=48 (local.get $scr) (local.get $c11))
        (v128.store offset=64 (local.get $scr) (local.get $c20))
        (v128.store offset=80 (local.get $scr) (local.get $c21))
        (v128.store offset=96 (local.get $scr) (local.get $c30))
        (v128.store offset=112 (local.get $scr) (local.get $c31))
        (local.set $r (i32.const 0))
        (loop $rows
          (local.set $tap (i32.add (local.get $j) (local.get $r)))
          (if (i32.lt_u (local.get $tap) (local.get $CKK))
            (then
              (local.set $q (i32.const 0))
              (loop $lanes
                (local.set $oc (i32.add (local.get $p) (local.get $q)))
                (if (i32.lt_u (local.get $oc) (local.get $OC))
                  (then
                    (f32.store
                      (i32.add (local.get $dW) (i32.shl (i32.add (i32.mul (local.get $oc) (local.get $CKK)) (local.get $tap)) (i32.const 2)))
                      (f32.load (i32.add (local.get $scr) (i32.shl (i32.add (i32.shl (local.get $r) (i32.const 3)) (local.get $q)) (i32.const 2)))))))
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (br_if $lanes (i32.lt_u (local.get $q) (i32.const 8))))))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $rows (i32.lt_u (local.get $r) (i32.const 4))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br_if $panels (i32.lt_u (local.get $p) (local.get $OC))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br_if $taps (i32.lt_u (local.get $j) (local.get $CKK)))))

  ;; The backward of conv_fwd over images [n0, n1): dY [N, OC, OH, OW] at $dY, or, for a fused block ($route ≠ 0),
  ;; the block's upstream gradient dOut [N, OC, OH/2·OW/2] and the routes (bytes) at $route (see unpool_relu), or,
  ;; for a convolution followed by a ReLU ($mask ≠ 0), the ReLU's upstream gradient at $dY and its output at $mask
  ;; (dY where that output is positive: permute_relu_mask). Adds
  ;; this range's weight and bias gradients into dWAcc [OC, CKK] and dBAcc [OC] (pointer 0: not wanted) and writes dX
  ;; for its images (0: not wanted) using wtPack, Wᵀ packed in 4-row panels. Work buffers: cols [CKK, nb·L] (reused
  ;; for dCols), dYP [OC, nb·L], aPack, bPack, scr. dW = dY·colsᵀ and dCols = Wᵀ·dY per chunk, then col2im (with
  ;; $rowOff ≠ 0, for an unpadded convolution whose OW is a multiple of 8: gemm.wat's gemm_tiles, the product's tiles added
  ;; straight into dX, the taps' offsets listed at $rowOff). Threads
  ;; claim chunks from the counter at $ctr as in conv_fwd; chunk c (the c-th of [n0, n1)) writes its own dW and dB
  ;; partial sums to slot c, at dWAcc + c·slotB and dBAcc + c·slotB, which the caller adds in chunk order: the same
  ;; bits whichever thread did which chunk, and for any number of threads.
  (func (export "conv_bwd")
    (param $x i32) (param $dY i32) (param $n0 i32) (param $n1 i32) (param $nb i32)
    (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32)
    (param $OH i32) (param $OW i32) (param $OC i32) (param $wtPack i32)
    (param $dX i32) (param $dWAcc i32) (param $dBAcc i32)
    (param $cols i32) (param $dYP i32) (param $aPack i32) (param $bPack i32) (param $scr i32)
    (param $dOut i32) (param $route i32) (param $ctr i32) (param $slotB i32) (param $mask i32) (param $rowOff i32)
    (local $L i32) (local $CKK i32) (local $CHW i32) (local $nc i32) (local $NL i32) (local $dXn i32) (local $start i32)
    (local $c i32) (local $dWSlot i32) (local $dBSlot i32)
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
        (local.set $dWSlot (i32.add (local.get $dWAcc) (i32.mul (local.get $c) (local.get $slotB))))
        (local.set $dBSlot (i32.add (local.get $dBAcc) (i32.mul (local.get $c) (local.get $slotB))))
        (if (local.get $route)
          (then
            ;; a fused block: dY from the pooled gradient
            (call $unpool_relu (local.get $dOut) (local.get $route) (local.get $n0) (local.get $nc)
              (local.get $OC) (local.get $OH) (local.get $OW) (local.get $dYP)))
          (else (if (local.get $mask)
          (then
            ;; a convolution followed by a ReLU: [nc, OC, L] → [OC, nc·L] where the ReLU's output is positive
            (call $permute_relu_mask
              (i32.add (local.get $dY) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $L)) (i32.const 2)))
              (i32.add (local.get $mask) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $L)) (i32.const 2)))
              (local.get $nc) (local.get $OC) (local.get $L) (local.get $dYP)))
          (else
            ;; [nc, OC, L] → [OC, nc·L]
            (call $permute
              (i32.add (local.get $dY) (i32.shl (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (local.get $L)) (i32.const 2)))
              (local.get $nc) (local.get $OC) (local.get $L) (local.get $dYP) (i32.const 0) (i32.const 0))))))
        (if (local.get $dBAcc)
          (then
            (call $zero_f32 (local.get $dBSlot) (local.get $OC))
            (call $row_sums (local.get $dYP) (local.get $OC) (local.get $NL) (local.get $dBSlot))))
        (if (local.get $dWAcc)
          (then
            (if (i32.and (i32.eqz (local.get $pad)) (i32.le_u (local.get $CKK) (i32.const 32)))
              (then
                ;; few taps (a first layer): dW straight from the images, dY packed in 8-channel panels
                (call $pack (local.get $dYP) (local.get $NL) (i32.const 1) (local.get $OC) (local.get $NL) (local.get $bPack) (i32.const 8))
                (call $conv_dw_taps
                  (i32.add (local.get $x) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2)))
                  (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW) (local.get $OH) (local.get $OW)
                  (local.get $OC) (local.get $bPack) (local.get $dWSlot) (local.get $nc) (local.get $cols) (local.get $scr)))
              (else
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
            (call $pack (local.get $dYP) (local.get $NL) (i32.const 1) (local.get $OC) (local.get $NL) (local.get $aPack) (i32.const 4))
            (call $gemm_packed (local.get $OC) (local.get $CKK) (local.get $NL) (local.get $aPack) (local.get $bPack)
              (local.get $dWSlot) (local.get $CKK) (i32.const 0) (local.get $scr))))))
        (if (local.get $dX)
          (then
            (call $pack (local.get $dYP) (i32.const 1) (local.get $NL) (local.get $NL) (local.get $OC) (local.get $bPack) (i32.const 8))
            (local.set $dXn (i32.add (local.get $dX) (i32.shl (i32.mul (local.get $n0) (local.get $CHW)) (i32.const 2))))
            (call $zero_f32 (local.get $dXn) (i32.mul (local.get $nc) (local.get $CHW)))
            (if (local.get $rowOff)
              (then
                ;; unpadded, OW a multiple of 8: the product's tiles added straight into dX (gemm.wat gemm_tiles)
                (call $gemm_tiles (local.get $CKK) (local.get $NL) (local.get $OC) (local.get $wtPack) (local.get $bPack)
                  (local.get $dXn) (i32.const 0) (i32.const 0) (local.get $scr)
                  (local.get $rowOff) (local.get $CHW) (local.get $W) (local.get $OH) (local.get $OW)))
              (else
                (call $gemm_packed (local.get $CKK) (local.get $NL) (local.get $OC) (local.get $wtPack) (local.get $bPack)
                  (local.get $cols) (local.get $NL) (i32.const 0) (local.get $scr))
                (call $col2im_s1 (local.get $cols) (local.get $C) (local.get $H) (local.get $W) (local.get $KH) (local.get $KW)
                  (local.get $pad) (local.get $OH) (local.get $OW) (local.get $dXn) (local.get $NL) (local.get $nc))))))
        (local.set $n0 (i32.add (local.get $n0) (local.get $nc)))
        (br $chunks))))
