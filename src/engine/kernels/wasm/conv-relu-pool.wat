;; The fused convolution → ReLU → 2×2 max-pool block's epilogue (forward) and prologue (backward), called by
;; conv.wat's conv_fwd / conv_bwd. Reference: ../reference.ts conv2dReluPoolForward / conv2dReluPoolBackward.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts and strides are in float32 elements.

  ;; The fused epilogue of conv_fwd for a convolution followed by ReLU and 2×2/2 max pooling, in one pass over a
  ;; chunk's GEMM output src [OC, nc, OH, OW]: per window, add the channel's bias to the four values as they are
  ;; loaded, take their maximum in the order (0, 0), (0, 1), (1, 0), (1, 1) with f32x4.pmax (pmax(m, v) = m < v ? v : m:
  ;; the first on ties, the order of maxpool2_fwd, signed zeros and NaN included), apply ReLU to it
  ;; (max(relu(z)) = relu(max(z))) and store it straight at its [nc, OC, PH·PW] place in dst. With $route ≠ 0 also
  ;; each output's route there (one byte: 2·dy + dx, where the maximum was, found with the same strict compares, or
  ;; 255 where the output is not positive, see src/engine/kernels/pool-route.ts); a forward that no backward follows
  ;; passes 0 and skips that work. The same operations in the same order as adding the bias, pooling, ReLU and
  ;; permuting in separate passes, so the same bits, without writing and re-reading the chunk three times.
  (func $pool2_bias_relu
    (param $src i32) (param $OC i32) (param $nc i32) (param $OH i32) (param $OW i32)
    (param $dst i32) (param $route i32) (param $bias i32)
    (local $a i32) (local $b i32) (local $PH i32) (local $PW i32) (local $PL i32) (local $pw4 i32) (local $L i32)
    (local $plane i32) (local $d i32) (local $g i32) (local $oh i32) (local $ow i32) (local $r0 i32) (local $r1 i32)
    (local $bs f32) (local $fa f32) (local $f f32) (local $fi i32)
    (local $bv v128) (local $va v128) (local $vb v128) (local $v00 v128) (local $v01 v128) (local $v10 v128)
    (local $v11 v128) (local $m01 v128) (local $m2 v128) (local $m v128) (local $id v128)
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
              ;; four windows: their (0, 0), (0, 1), (1, 0) and (1, 1) values as four vectors
              (local.set $va (f32x4.add (v128.load (local.get $r0)) (local.get $bv)))
              (local.set $vb (f32x4.add (v128.load offset=16 (local.get $r0)) (local.get $bv)))
              (local.set $v00 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $va) (local.get $vb)))
              (local.set $v01 (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $va) (local.get $vb)))
              (local.set $va (f32x4.add (v128.load (local.get $r1)) (local.get $bv)))
              (local.set $vb (f32x4.add (v128.load offset=16 (local.get $r1)) (local.get $bv)))
              (local.set $v10 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $va) (local.get $vb)))
              (local.set $v11 (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $va) (local.get $vb)))
              (local.set $m01 (f32x4.pmax (local.get $v00) (local.get $v01)))
              (local.set $m2 (f32x4.pmax (local.get $m01) (local.get $v10)))
              (local.set $m (f32x4.pmax (local.get $m2) (local.get $v11)))
              (v128.store (local.get $d) (f32x4.max (local.get $m) (v128.const i32x4 0 0 0 0)))
              (if (local.get $route)
                (then
                  ;; where the maximum was: the last strict improvement, as pmax took it
                  (local.set $id (v128.and (f32x4.gt (local.get $v01) (local.get $v00)) (v128.const i32x4 1 1 1 1)))
                  (local.set $id (v128.bitselect (v128.const i32x4 2 2 2 2) (local.get $id) (f32x4.gt (local.get $v10) (local.get $m01))))
                  (local.set $id (v128.bitselect (v128.const i32x4 3 3 3 3) (local.get $id) (f32x4.gt (local.get $v11) (local.get $m2))))
                  ;; route 255 where the output is not positive, then the four routes as four bytes
                  (local.set $id (v128.bitselect (local.get $id) (v128.const i32x4 255 255 255 255)
                    (f32x4.gt (local.get $m) (v128.const i32x4 0 0 0 0))))
                  (local.set $id (i16x8.narrow_i32x4_u (local.get $id) (local.get $id)))
                  (v128.store32_lane 0 (local.get $g) (i8x16.narrow_i16x8_u (local.get $id) (local.get $id)))))
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
              (if (local.get $route)
                (then (i32.store8 (local.get $g) (select (local.get $fi) (i32.const 255) (f32.gt (local.get $fa) (f32.const 0))))))
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
