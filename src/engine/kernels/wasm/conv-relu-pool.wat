;; The fused convolution → ReLU → 2×2 max-pool block's epilogue (forward) and prologue (backward), called by
;; conv.wat's conv_fwd / conv_bwd. Reference: ../reference.ts conv2dReluPoolForward / conv2dReluPoolBackward.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts and strides are in float32 elements.

  ;; The fused epilogue of conv_fwd for a convolution followed by ReLU and 2×2/2 max pooling, in one pass over a
  ;; chunk's GEMM output src [OC, nc, OH, OW]: per window, take the four values v as they are loaded to
  ;; k·(v − mu) + the channel's bias (conv_fwd passes k = 1 and mu = 0, which is v plus its bias, the same bits;
  ;; norm.wat's bn_fwd passes a channel's batch-norm coefficients and β as the bias, bn_scale_shift's operations),
  ;; take their maximum in the order (0, 0), (0, 1), (1, 0), (1, 1) with f32x4.pmax (pmax(m, v) = m < v ? v : m:
  ;; the first on ties, the order of maxpool2_fwd, signed zeros and NaN included), apply ReLU to it
  ;; (max(relu(z)) = relu(max(z))) and store it straight at its [nc, OC, PH·PW] place in dst. With $route ≠ 0 also
  ;; each output's route there (one byte: 2·dy + dx, where the maximum was, found with the same strict compares, or
  ;; 255 where the output is not positive, see src/engine/kernels/pool-route.ts); a forward that no backward follows
  ;; passes 0 and skips that work. The same operations in the same order as adding the bias, pooling, ReLU and
  ;; permuting in separate passes, so the same bits, without writing and re-reading the chunk three times.
  (func $pool2_bias_relu
    (param $src i32) (param $OC i32) (param $nc i32) (param $OH i32) (param $OW i32)
    (param $dst i32) (param $route i32) (param $bias i32) (param $k f32) (param $mu f32)
    (local $a i32) (local $b i32) (local $PH i32) (local $PW i32) (local $PL i32) (local $pw4 i32) (local $L i32)
    (local $plane i32) (local $d i32) (local $g i32) (local $oh i32) (local $ow i32) (local $r0 i32) (local $r1 i32)
    (local $bs f32) (local $fa f32) (local $f f32) (local $fi i32)
    (local $bv v128) (local $va v128) (local $vb v128) (local $v00 v128) (local $v01 v128) (local $v10 v128)
    (local $v11 v128) (local $m01 v128) (local $m2 v128) (local $m v128) (local $id v128) (local $kv v128) (local $mv v128)
    (local.set $PH (i32.shr_u (local.get $OH) (i32.const 1)))
    (local.set $PW (i32.shr_u (local.get $OW) (i32.const 1)))
    (local.set $PL (i32.mul (local.get $PH) (local.get $PW)))
    (local.set $pw4 (i32.and (local.get $PW) (i32.const -4)))
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (if (i32.eqz (local.get $PL)) (then (return)))
    (local.set $kv (f32x4.splat (local.get $k)))
    (local.set $mv (f32x4.splat (local.get $mu)))
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
              (local.set $va (f32x4.add (f32x4.mul (local.get $kv) (f32x4.sub (v128.load (local.get $r0)) (local.get $mv))) (local.get $bv)))
              (local.set $vb (f32x4.add (f32x4.mul (local.get $kv) (f32x4.sub (v128.load offset=16 (local.get $r0)) (local.get $mv))) (local.get $bv)))
              (local.set $v00 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $va) (local.get $vb)))
              (local.set $v01 (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $va) (local.get $vb)))
              (local.set $va (f32x4.add (f32x4.mul (local.get $kv) (f32x4.sub (v128.load (local.get $r1)) (local.get $mv))) (local.get $bv)))
              (local.set $vb (f32x4.add (f32x4.mul (local.get $kv) (f32x4.sub (v128.load offset=16 (local.get $r1)) (local.get $mv))) (local.get $bv)))
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
              (local.set $fa (f32.add (f32.mul (local.get $k) (f32.sub (f32.load (local.get $r0)) (local.get $mu))) (local.get $bs)))
              (local.set $f (f32.add (f32.mul (local.get $k) (f32.sub (f32.load offset=4 (local.get $r0)) (local.get $mu))) (local.get $bs)))
              (if (f32.gt (local.get $f) (local.get $fa))
                (then (local.set $fa (local.get $f))
                      (local.set $fi (i32.const 1))))
              (local.set $f (f32.add (f32.mul (local.get $k) (f32.sub (f32.load (local.get $r1)) (local.get $mu))) (local.get $bs)))
              (if (f32.gt (local.get $f) (local.get $fa))
                (then (local.set $fa (local.get $f))
                      (local.set $fi (i32.const 2))))
              (local.set $f (f32.add (f32.mul (local.get $k) (f32.sub (f32.load offset=4 (local.get $r1)) (local.get $mu))) (local.get $bs)))
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
  ;; Every element is written once, row pair by row pair: four windows at a time, each window's two values in a row
  ;; are its gradient where the route names that position and +0 elsewhere (a route of 255 names none), as masks
  ;; without branches, so the sign of the output, a coin flip, never steers a branch; then the windows left one at a
  ;; time, and the column and row that an odd width or height leaves outside every window, as zeros.
  (func $unpool_relu
    (param $g i32) (param $route i32) (param $n0 i32) (param $nc i32) (param $OC i32) (param $OH i32) (param $OW i32)
    (param $dyP i32)
    (local $a i32) (local $b i32) (local $i i32) (local $row i32) (local $NL i32) (local $L i32) (local $PH i32)
    (local $PW i32) (local $ph i32) (local $pw i32) (local $r0 i32) (local $r1 i32) (local $r i32) (local $rowB i32)
    (local $f f32) (local $rv v128) (local $gv v128) (local $rp v128) (local $gp v128)
    (local.set $L (i32.mul (local.get $OH) (local.get $OW)))
    (local.set $PH (i32.shr_u (local.get $OH) (i32.const 1)))
    (local.set $PW (i32.shr_u (local.get $OW) (i32.const 1)))
    (local.set $NL (i32.mul (local.get $nc) (local.get $L)))
    (local.set $rowB (i32.shl (local.get $OW) (i32.const 2)))
    ;; i: index of pooled output ((n0 + b)·OC + a)·PL + p (bytes into route, ×4 into g)
    (local.set $i (i32.mul (i32.mul (local.get $n0) (local.get $OC)) (i32.mul (local.get $PH) (local.get $PW))))
    (block $b_done
      (loop $bs
        (br_if $b_done (i32.ge_u (local.get $b) (local.get $nc)))
        (local.set $a (i32.const 0))
        (block $a_done
          (loop $as
            (br_if $a_done (i32.ge_u (local.get $a) (local.get $OC)))
            ;; dyP row a, image b
            (local.set $row (i32.add (local.get $dyP)
              (i32.shl (i32.add (i32.mul (local.get $a) (local.get $NL)) (i32.mul (local.get $b) (local.get $L))) (i32.const 2))))
            (local.set $ph (i32.const 0))
            (block $ph_done
              (loop $phs
                (br_if $ph_done (i32.ge_u (local.get $ph) (local.get $PH)))
                ;; r0, r1: the row pair's two rows (byte addresses); four windows write 8 floats of each
                (local.set $r0 (local.get $row))
                (local.set $r1 (i32.add (local.get $row) (local.get $rowB)))
                (local.set $pw (i32.const 0))
                (block $v_done
                  (loop $vs
                    (br_if $v_done (i32.gt_u (i32.add (local.get $pw) (i32.const 4)) (local.get $PW)))
                    ;; four routes widened to i32 lanes, four gradients
                    (local.set $rv (i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u
                      (v128.load32_zero (i32.add (local.get $route) (local.get $i))))))
                    (local.set $gv (v128.load (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2)))))
                    ;; windows 0 and 1: routes (r0 r0 r1 r1), gradients (g0 g0 g1 g1); row 0 keeps routes 0 1 0 1, row 1 2 3 2 3
                    (local.set $rp (i8x16.shuffle 0 1 2 3 0 1 2 3 4 5 6 7 4 5 6 7 (local.get $rv) (local.get $rv)))
                    (local.set $gp (i8x16.shuffle 0 1 2 3 0 1 2 3 4 5 6 7 4 5 6 7 (local.get $gv) (local.get $gv)))
                    (v128.store (local.get $r0) (v128.and (local.get $gp) (i32x4.eq (local.get $rp) (v128.const i32x4 0 1 0 1))))
                    (v128.store (local.get $r1) (v128.and (local.get $gp) (i32x4.eq (local.get $rp) (v128.const i32x4 2 3 2 3))))
                    ;; windows 2 and 3
                    (local.set $rp (i8x16.shuffle 8 9 10 11 8 9 10 11 12 13 14 15 12 13 14 15 (local.get $rv) (local.get $rv)))
                    (local.set $gp (i8x16.shuffle 8 9 10 11 8 9 10 11 12 13 14 15 12 13 14 15 (local.get $gv) (local.get $gv)))
                    (v128.store offset=16 (local.get $r0) (v128.and (local.get $gp) (i32x4.eq (local.get $rp) (v128.const i32x4 0 1 0 1))))
                    (v128.store offset=16 (local.get $r1) (v128.and (local.get $gp) (i32x4.eq (local.get $rp) (v128.const i32x4 2 3 2 3))))
                    (local.set $i (i32.add (local.get $i) (i32.const 4)))
                    (local.set $r0 (i32.add (local.get $r0) (i32.const 32)))
                    (local.set $r1 (i32.add (local.get $r1) (i32.const 32)))
                    (local.set $pw (i32.add (local.get $pw) (i32.const 4)))
                    (br $vs)))
                (block $t_done
                  (loop $ts
                    (br_if $t_done (i32.ge_u (local.get $pw) (local.get $PW)))
                    (local.set $r (i32.load8_u (i32.add (local.get $route) (local.get $i))))
                    (local.set $f (f32.load (i32.add (local.get $g) (i32.shl (local.get $i) (i32.const 2)))))
                    (f32.store (local.get $r0) (select (local.get $f) (f32.const 0) (i32.eqz (local.get $r))))
                    (f32.store offset=4 (local.get $r0) (select (local.get $f) (f32.const 0) (i32.eq (local.get $r) (i32.const 1))))
                    (f32.store (local.get $r1) (select (local.get $f) (f32.const 0) (i32.eq (local.get $r) (i32.const 2))))
                    (f32.store offset=4 (local.get $r1) (select (local.get $f) (f32.const 0) (i32.eq (local.get $r) (i32.const 3))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (local.set $r0 (i32.add (local.get $r0) (i32.const 8)))
                    (local.set $r1 (i32.add (local.get $r1) (i32.const 8)))
                    (local.set $pw (i32.add (local.get $pw) (i32.const 1)))
                    (br $ts)))
                ;; an odd width: the last column of both rows is in no window
                (if (i32.and (local.get $OW) (i32.const 1))
                  (then
                    (f32.store (local.get $r0) (f32.const 0))
                    (f32.store (local.get $r1) (f32.const 0))))
                (local.set $row (i32.add (local.get $row) (i32.shl (local.get $rowB) (i32.const 1))))
                (local.set $ph (i32.add (local.get $ph) (i32.const 1)))
                (br $phs)))
            ;; an odd height: the last row is in no window
            (if (i32.and (local.get $OH) (i32.const 1))
              (then (call $zero_f32 (local.get $row) (local.get $OW))))
            (local.set $a (i32.add (local.get $a) (i32.const 1)))
            (br $as)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $bs))))

  ;; dX of a fused block straight from its routes, without the full-size upstream gradient: pooling passes each
  ;; output's gradient to one position of its 2×2 window (route r: row 2·ph + r/2, column 2·pw + r%2), so of the
  ;; convolution's OH·OW upstream values per channel at most one in four is not zero, and a GEMM over all of them
  ;; (conv_bwd's dCols = Wᵀ·dY) spends three quarters of its multiply-adds on zeros. Here each pooled cell (ph, pw)
  ;; instead adds, for every channel a whose route at the cell is not 255, g·T[c][a][r] into the (KH+1) × (KW+1)
  ;; patch of dX[c] whose top-left corner is (2·ph − pad, 2·pw − pad): T[c][a][r] is W[a, c] shifted down r/2 rows and
  ;; right r%2 columns inside that patch (zeros elsewhere), 36 floats (9 vectors) per row of the table, which the
  ;; host builds. Per image n of [n0, n1) (claimed one at a time from the counter at $ctr, so any thread may do any
  ;; image and its bits do not depend on which): the active (g, row) pairs of every cell are listed once at $list
  ;; (cell p's at $list + p·OC·8, its count at $list + PL·OC·8 + 4·p), dX[n] is zeroed, then for each input channel c
  ;; (whose table slice, OC·4 rows, stays in cache) and each cell in row-major order three passes over the cell's
  ;; list each sum three of the patch's nine vectors (the even-numbered channels of the list and the odd ones apart,
  ;; then added), which go to the scratch at $scr (144 bytes) and are added into dX[n, c] row by row, clipped to the
  ;; image (an unpadded 5 × 5 kernel's patch never leaves the image: each pass's two rows go straight from the
  ;; accumulators, $patch_rows). A g that is ±∞ or NaN sets the i32 at $flag to 1 (the host then takes the GEMM path:
  ;; here the table's zeros would spread it). Needs (KH+1)·(KW+1) ≤ 36. g [N, OC, PH·PW] floats, route [N, OC, PH·PW]
  ;; bytes, dX [N, C, H, W].

  ;; Two rows of a 6 × 6 patch held in three vectors (p0 = floats 0–3, p1 = 4–7, p2 = 8–11: row 0 is p0 and p1's
  ;; low half, row 1 p1's high half and p2) added into the rows at $row and $row + $rowB (bytes).
  (func $patch_rows (param $row i32) (param $rowB i32) (param $p0 v128) (param $p1 v128) (param $p2 v128)
    (local $r1 i32)
    (v128.store (local.get $row) (f32x4.add (v128.load (local.get $row)) (local.get $p0)))
    (v128.store64_lane offset=16 0 (local.get $row)
      (f32x4.add (v128.load64_zero offset=16 (local.get $row)) (local.get $p1)))
    (local.set $r1 (i32.add (local.get $row) (local.get $rowB)))
    (v128.store (local.get $r1) (f32x4.add (v128.load (local.get $r1))
      (i8x16.shuffle 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 (local.get $p1) (local.get $p2))))
    (v128.store64_lane offset=16 1 (local.get $r1)
      (f32x4.add (v128.load64_lane offset=16 1 (local.get $r1) (v128.const i32x4 0 0 0 0)) (local.get $p2))))

  (func (export "conv_pool_dx")
    (param $g i32) (param $route i32) (param $n0 i32) (param $n1 i32) (param $C i32) (param $H i32) (param $W i32)
    (param $KH i32) (param $KW i32) (param $pad i32) (param $OH i32) (param $OW i32) (param $OC i32)
    (param $table i32) (param $dX i32) (param $list i32) (param $scr i32) (param $ctr i32) (param $flag i32)
    (local $n i32) (local $PH i32) (local $PW i32) (local $PL i32) (local $HW i32) (local $p i32) (local $a i32)
    (local $k i32) (local $r i32) (local $gi i32) (local $ri i32) (local $e i32) (local $end i32) (local $cnt i32)
    (local $c i32) (local $tc i32) (local $dxn i32) (local $dxc i32) (local $ph i32) (local $pw i32) (local $t i32)
    (local $top i32) (local $left i32) (local $i i32) (local $j i32) (local $j0 i32) (local $j1 i32) (local $ih i32)
    (local $PWd i32) (local $row i32) (local $s i32) (local $sliceB i32) (local $fast i32) (local $ta i32) (local $tb i32) (local $tq i32) (local $q i32)
    (local $gv v128) (local $hv v128) (local $w0 v128) (local $w1 v128) (local $w2 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128)
    (local.set $PH (i32.shr_u (local.get $OH) (i32.const 1)))
    (local.set $PW (i32.shr_u (local.get $OW) (i32.const 1)))
    (local.set $PL (i32.mul (local.get $PH) (local.get $PW)))
    (local.set $HW (i32.mul (local.get $H) (local.get $W)))
    (local.set $PWd (i32.add (local.get $KW) (i32.const 1)))
    (local.set $cnt (i32.add (local.get $list) (i32.shl (i32.mul (local.get $PL) (local.get $OC)) (i32.const 3))))
    (local.set $sliceB (i32.mul (local.get $OC) (i32.const 576))) ;; OC·4 rows of 144 bytes
    (local.set $fast (i32.and (i32.and (i32.eq (local.get $KH) (i32.const 5)) (i32.eq (local.get $KW) (i32.const 5))) (i32.eqz (local.get $pad))))
    (block $done
      (loop $images
        (local.set $n (i32.add (local.get $n0) (i32.atomic.rmw.add (local.get $ctr) (i32.const 1))))
        (br_if $done (i32.ge_u (local.get $n) (local.get $n1)))
        ;; the cells' lists: (g, byte offset of row a·4 + r in a slice) for each channel whose route is not 255
        (local.set $gi (i32.shl (i32.mul (i32.mul (local.get $n) (local.get $OC)) (local.get $PL)) (i32.const 2)))
        (local.set $ri (i32.add (local.get $route) (i32.shr_u (local.get $gi) (i32.const 2))))
        (local.set $gi (i32.add (local.get $g) (local.get $gi)))
        ;; a g that is not finite (g − g is NaN exactly for ±∞ and NaN): the table's zeros would turn it into NaN
        ;; outside its KH × KW footprint, where the GEMM path leaves 0, so the host takes that path instead
        (local.set $t (local.get $gi))
        (local.set $end (i32.add (local.get $gi) (i32.shl (i32.mul (local.get $OC) (local.get $PL)) (i32.const 2))))
        (local.set $gv (v128.const i32x4 0 0 0 0))
        (block $f_done
          (loop $fs
            (br_if $f_done (i32.gt_u (i32.add (local.get $t) (i32.const 16)) (local.get $end)))
            (local.set $w0 (f32x4.sub (v128.load (local.get $t)) (v128.load (local.get $t))))
            (local.set $gv (v128.or (local.get $gv) (f32x4.ne (local.get $w0) (local.get $w0))))
            (local.set $t (i32.add (local.get $t) (i32.const 16)))
            (br $fs)))
        (block $f1_done
          (loop $f1s
            (br_if $f1_done (i32.ge_u (local.get $t) (local.get $end)))
            (local.set $w0 (f32x4.sub (v128.load32_splat (local.get $t)) (v128.load32_splat (local.get $t))))
            (local.set $gv (v128.or (local.get $gv) (f32x4.ne (local.get $w0) (local.get $w0))))
            (local.set $t (i32.add (local.get $t) (i32.const 4)))
            (br $f1s)))
        (if (v128.any_true (local.get $gv)) (then (i32.store (local.get $flag) (i32.const 1))))
        (local.set $p (i32.const 0))
        (block $p_done
          (loop $ps
            (br_if $p_done (i32.ge_u (local.get $p) (local.get $PL)))
            (local.set $e (i32.add (local.get $list) (i32.shl (i32.mul (local.get $p) (local.get $OC)) (i32.const 3))))
            (local.set $k (i32.const 0))
            (local.set $a (i32.const 0))
            ;; without branches: every channel's pair is written, and the next one overwrites it unless its route is
            ;; not 255 (a route of 255, ReLU's zero, is a coin flip a branch would mispredict)
            (loop $as
              (local.set $r (i32.load8_u (i32.add (local.get $ri) (i32.add (i32.mul (local.get $a) (local.get $PL)) (local.get $p)))))
              (f32.store (i32.add (local.get $e) (i32.shl (local.get $k) (i32.const 3)))
                (f32.load (i32.add (local.get $gi) (i32.shl (i32.add (i32.mul (local.get $a) (local.get $PL)) (local.get $p)) (i32.const 2)))))
              (i32.store offset=4 (i32.add (local.get $e) (i32.shl (local.get $k) (i32.const 3)))
                (i32.mul (i32.add (i32.shl (local.get $a) (i32.const 2)) (i32.and (local.get $r) (i32.const 3))) (i32.const 144)))
              (local.set $k (i32.add (local.get $k) (i32.ne (local.get $r) (i32.const 255))))
              (local.set $a (i32.add (local.get $a) (i32.const 1)))
              (br_if $as (i32.lt_u (local.get $a) (local.get $OC))))
            (i32.store (i32.add (local.get $cnt) (i32.shl (local.get $p) (i32.const 2))) (local.get $k))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $ps)))
        (local.set $dxn (i32.add (local.get $dX) (i32.shl (i32.mul (i32.mul (local.get $n) (local.get $C)) (local.get $HW)) (i32.const 2))))
        (call $zero_f32 (local.get $dxn) (i32.mul (local.get $C) (local.get $HW)))
        (local.set $c (i32.const 0))
        (block $c_done
          (loop $cs
            (br_if $c_done (i32.ge_u (local.get $c) (local.get $C)))
            (local.set $tc (i32.add (local.get $table) (i32.mul (local.get $c) (local.get $sliceB))))
            (local.set $dxc (i32.add (local.get $dxn) (i32.shl (i32.mul (local.get $c) (local.get $HW)) (i32.const 2))))
            (local.set $p (i32.const 0))
            (local.set $ph (i32.const 0))
            (block $ph_done
              (loop $phs
                (br_if $ph_done (i32.ge_u (local.get $ph) (local.get $PH)))
                (local.set $pw (i32.const 0))
                (loop $pws
                  (local.set $e (i32.add (local.get $list) (i32.shl (i32.mul (local.get $p) (local.get $OC)) (i32.const 3))))
                  (local.set $end (i32.add (local.get $e)
                    (i32.shl (i32.load (i32.add (local.get $cnt) (i32.shl (local.get $p) (i32.const 2)))) (i32.const 3))))
                  (local.set $top (i32.sub (i32.shl (local.get $ph) (i32.const 1)) (local.get $pad)))
                  (local.set $left (i32.sub (i32.shl (local.get $pw) (i32.const 1)) (local.get $pad)))
                  ;; three passes over the cell's list, each for three of the patch's nine vectors (two of its rows),
                  ;; the even entries into a0–a2 and the odd into a3–a5, summed at the end: six independent chains of
                  ;; multiply-adds keep the FMA pipes busy where nine chained through one entry after another could
                  ;; not, and six accumulators with their operands fit the 15 vector registers V8 allocates
                  (local.set $q (i32.const 0))
                  (loop $qs
                    (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
                    (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
                    (local.set $a4 (v128.const i32x4 0 0 0 0)) (local.set $a5 (v128.const i32x4 0 0 0 0))
                    (local.set $tq (i32.add (local.get $tc) (local.get $q)))
                    (local.set $t (local.get $e))
                    (block $e_done
                      (loop $es
                        (br_if $e_done (i32.gt_u (i32.add (local.get $t) (i32.const 16)) (local.get $end)))
                        (local.set $gv (v128.load32_splat (local.get $t)))
                        (local.set $ta (i32.add (local.get $tq) (i32.load offset=4 (local.get $t))))
                        (local.set $hv (v128.load32_splat offset=8 (local.get $t)))
                        (local.set $tb (i32.add (local.get $tq) (i32.load offset=12 (local.get $t))))
                        (local.set $w0 (v128.load offset=0 (local.get $ta)))
                        (local.set $a0 (f32x4.relaxed_madd (local.get $gv) (local.get $w0) (local.get $a0)))
                        (local.set $w1 (v128.load offset=0 (local.get $tb)))
                        (local.set $a3 (f32x4.relaxed_madd (local.get $hv) (local.get $w1) (local.get $a3)))
                        (local.set $w2 (v128.load offset=16 (local.get $ta)))
                        (local.set $a1 (f32x4.relaxed_madd (local.get $gv) (local.get $w2) (local.get $a1)))
                        (local.set $w0 (v128.load offset=16 (local.get $tb)))
                        (local.set $a4 (f32x4.relaxed_madd (local.get $hv) (local.get $w0) (local.get $a4)))
                        (local.set $w1 (v128.load offset=32 (local.get $ta)))
                        (local.set $a2 (f32x4.relaxed_madd (local.get $gv) (local.get $w1) (local.get $a2)))
                        (local.set $w2 (v128.load offset=32 (local.get $tb)))
                        (local.set $a5 (f32x4.relaxed_madd (local.get $hv) (local.get $w2) (local.get $a5)))
                        (local.set $t (i32.add (local.get $t) (i32.const 16)))
                        (br $es)))
                    (if (i32.lt_u (local.get $t) (local.get $end))
                      (then
                        (local.set $gv (v128.load32_splat (local.get $t)))
                        (local.set $ta (i32.add (local.get $tq) (i32.load offset=4 (local.get $t))))
                        (local.set $w0 (v128.load offset=0 (local.get $ta)))
                        (local.set $a0 (f32x4.relaxed_madd (local.get $gv) (local.get $w0) (local.get $a0)))
                        (local.set $w1 (v128.load offset=16 (local.get $ta)))
                        (local.set $a1 (f32x4.relaxed_madd (local.get $gv) (local.get $w1) (local.get $a1)))
                        (local.set $w2 (v128.load offset=32 (local.get $ta)))
                        (local.set $a2 (f32x4.relaxed_madd (local.get $gv) (local.get $w2) (local.get $a2)))))
                    (local.set $a0 (f32x4.add (local.get $a0) (local.get $a3)))
                    (local.set $a1 (f32x4.add (local.get $a1) (local.get $a4)))
                    (local.set $a2 (f32x4.add (local.get $a2) (local.get $a5)))
                    (if (local.get $fast)
                      (then
                        ;; 5 × 5, unpadded: the 6 × 6 patch never leaves the image; the pass's two rows (floats 12q/48 …
                        ;; of the patch) straight from the accumulators into dX
                        (local.set $row (i32.add (local.get $dxc) (i32.shl (i32.add (i32.mul (local.get $top) (local.get $W)) (local.get $left)) (i32.const 2))))
                        (local.set $s (i32.shl (local.get $W) (i32.const 2)))
                        (call $patch_rows (i32.add (local.get $row) (i32.mul (local.get $s) (i32.div_u (local.get $q) (i32.const 24))))
                          (local.get $s) (local.get $a0) (local.get $a1) (local.get $a2)))
                      (else
                        (v128.store offset=0 (i32.add (local.get $scr) (local.get $q)) (local.get $a0))
                        (v128.store offset=16 (i32.add (local.get $scr) (local.get $q)) (local.get $a1))
                        (v128.store offset=32 (i32.add (local.get $scr) (local.get $q)) (local.get $a2))))
                    (local.set $q (i32.add (local.get $q) (i32.const 48)))
                    (br_if $qs (i32.lt_u (local.get $q) (i32.const 144))))
                  (if (i32.eqz (local.get $fast))
                    (then
                  ;; add the patch into dX[n, c], rows and columns clipped to the image
                  (local.set $j0 (i32.const 0))
                  (if (i32.lt_s (local.get $left) (i32.const 0)) (then (local.set $j0 (i32.sub (i32.const 0) (local.get $left)))))
                  (local.set $j1 (local.get $PWd))
                  (if (i32.gt_s (i32.add (local.get $left) (local.get $j1)) (local.get $W))
                    (then (local.set $j1 (i32.sub (local.get $W) (local.get $left)))))
                  (local.set $i (i32.const 0))
                  (loop $is
                    (local.set $ih (i32.add (local.get $top) (local.get $i)))
                    (if (i32.and (i32.ge_s (local.get $ih) (i32.const 0)) (i32.lt_s (local.get $ih) (local.get $H)))
                      (then
                        (local.set $row (i32.add (local.get $dxc) (i32.shl (i32.add (i32.mul (local.get $ih) (local.get $W)) (local.get $left)) (i32.const 2))))
                        (local.set $s (i32.add (local.get $scr) (i32.shl (i32.mul (local.get $i) (local.get $PWd)) (i32.const 2))))
                        (local.set $j (local.get $j0))
                        (block $v_done
                          (loop $vs
                            (br_if $v_done (i32.gt_s (i32.add (local.get $j) (i32.const 4)) (local.get $j1)))
                            (v128.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
                              (f32x4.add (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                                         (v128.load (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))))))
                            (local.set $j (i32.add (local.get $j) (i32.const 4)))
                            (br $vs)))
                        (block $t_done
                          (loop $ts
                            (br_if $t_done (i32.ge_s (local.get $j) (local.get $j1)))
                            (f32.store (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))
                              (f32.add (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
                                       (f32.load (i32.add (local.get $s) (i32.shl (local.get $j) (i32.const 2))))))
                            (local.set $j (i32.add (local.get $j) (i32.const 1)))
                            (br $ts)))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $is (i32.le_u (local.get $i) (local.get $KH))))))
                  (local.set $p (i32.add (local.get $p) (i32.const 1)))
                  (local.set $pw (i32.add (local.get $pw) (i32.const 1)))
                  (br_if $pws (i32.lt_u (local.get $pw) (local.get $PW))))
                (local.set $ph (i32.add (local.get $ph) (i32.const 1)))
                (br $phs)))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cs)))
        (br $images))))

  ;; dW and dB of a fused block straight from its routes, as conv_pool_dx does dX: of the convolution's OH·OW
  ;; upstream values per channel at most one in four is not zero (pooling passed each output's gradient g to one
  ;; position of its 2×2 window, route r: row 2·ph + r/2, column 2·pw + r%2), and the GEMM over all of them (conv_bwd's
  ;; dW = dY·colsᵀ) spends three quarters of its multiply-adds on zeros. Here, for each pooled cell (ph, pw), the
  ;; (KH+1) × (KW+1) patch of x[c] whose top-left corner is (2·ph − pad, 2·pw − pad) (zeros outside the image) holds
  ;; every input that any of the four routed positions multiplies, so
  ;;   dW[a, c, i, j] = Σ_r Σ_{cells with route r for a} g · patch[c][(i + r/2)·(KW+1) + j + r%2]:
  ;; per channel a and route r the patches of the cells routed there are summed, weighted by g (36 multiply-adds per
  ;; channel pair and cell instead of the GEMM's 4·KH·KW), then the four route sums are folded into the KH × KW kernel.
  ;; Threads claim chunks of nb images of [n0, n1) from the i32 counter at $ctr; chunk k writes its dW [OC, C·KH·KW]
  ;; and dB [OC] (dB[a]: the sum of the routed g) to its own slot at $slots + k·$slotB (dB right after dW), which the
  ;; host adds in chunk order: the same bits for any thread count. Per chunk: the patches at $patches (channel c's at
  ;; + c·cap·144, cell (n − chunk start)·PL + ph·PW + pw at + cell·144, cap = nb·PL, each 36 floats with zeros past the
  ;; patch), the cells of each (a, r) listed as (g, patch offset) at $list + ((a·5 + r)·cap)·8 with their counts at
  ;; $cnt + (a·5 + r)·4 (r = 4: cells whose route is 255, ReLU's zero, listed to keep the loop free of branches and
  ;; never summed), then for each channel c and each a the route sums in three passes of three vectors (the even
  ;; and the odd entries of a list apart, as in conv_pool_dx) to the scratch at $scr (576 bytes), folded into the
  ;; slot. Needs (KH+1)·(KW+1) ≤ 36. x [N, C, H, W] floats, g [N, OC, PH·PW] floats, route [N, OC, PH·PW] bytes.
  (func (export "conv_pool_dw")
    (param $x i32) (param $g i32) (param $route i32) (param $n0 i32) (param $n1 i32) (param $nb i32)
    (param $C i32) (param $H i32) (param $W i32) (param $KH i32) (param $KW i32) (param $pad i32) (param $OH i32)
    (param $OW i32) (param $OC i32) (param $slots i32) (param $slotB i32) (param $patches i32) (param $list i32)
    (param $cnt i32) (param $scr i32) (param $ctr i32)
    (local $k i32) (local $s i32) (local $nc i32) (local $PH i32) (local $PW i32) (local $PL i32) (local $PWd i32)
    (local $KK i32) (local $cap i32) (local $capB i32) (local $slot i32) (local $dBs i32) (local $fast i32)
    (local $n i32) (local $c i32) (local $ph i32) (local $pw i32) (local $p i32) (local $dst i32) (local $src i32)
    (local $i i32) (local $j i32) (local $ih i32) (local $iw i32) (local $top i32) (local $left i32) (local $rowB i32)
    (local $a i32) (local $r i32) (local $ri i32) (local $idx i32) (local $ca i32) (local $m i32) (local $sum f32)
    (local $gf f32) (local $pc i32) (local $e i32) (local $end i32) (local $t i32) (local $q i32) (local $tq i32)
    (local $ta i32) (local $tb i32) (local $dw i32) (local $u i32)
    (local $gv v128) (local $hv v128) (local $w0 v128) (local $w1 v128) (local $w2 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128)
    (local.set $PH (i32.shr_u (local.get $OH) (i32.const 1)))
    (local.set $PW (i32.shr_u (local.get $OW) (i32.const 1)))
    (local.set $PL (i32.mul (local.get $PH) (local.get $PW)))
    (local.set $PWd (i32.add (local.get $KW) (i32.const 1)))
    (local.set $KK (i32.mul (local.get $KH) (local.get $KW)))
    (local.set $cap (i32.mul (local.get $nb) (local.get $PL)))
    (local.set $capB (i32.mul (local.get $cap) (i32.const 144)))
    (local.set $rowB (i32.shl (local.get $W) (i32.const 2)))
    (local.set $fast (i32.and (i32.and (i32.eq (local.get $KH) (i32.const 5)) (i32.eq (local.get $KW) (i32.const 5))) (i32.eqz (local.get $pad))))
    (block $done
      (loop $chunks
        (local.set $k (i32.atomic.rmw.add (local.get $ctr) (i32.const 1)))
        (local.set $s (i32.add (local.get $n0) (i32.mul (local.get $k) (local.get $nb))))
        (br_if $done (i32.ge_u (local.get $s) (local.get $n1)))
        (local.set $nc (i32.sub (local.get $n1) (local.get $s)))
        (if (i32.gt_u (local.get $nc) (local.get $nb)) (then (local.set $nc (local.get $nb))))
        (local.set $slot (i32.add (local.get $slots) (i32.mul (local.get $k) (local.get $slotB))))
        (local.set $dBs (i32.add (local.get $slot) (i32.shl (i32.mul (i32.mul (local.get $OC) (local.get $C)) (local.get $KK)) (i32.const 2))))
        ;; the chunk's patches
        (local.set $n (i32.const 0))
        (block $pn_done
          (loop $pns
            (br_if $pn_done (i32.ge_u (local.get $n) (local.get $nc)))
            (local.set $c (i32.const 0))
            (loop $pcs
              (local.set $src (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (i32.add (local.get $s) (local.get $n)) (local.get $C)) (local.get $c))
                (i32.mul (local.get $H) (local.get $W))) (i32.const 2))))
              (local.set $dst (i32.add (i32.add (local.get $patches) (i32.mul (local.get $c) (local.get $capB)))
                (i32.mul (i32.mul (local.get $n) (local.get $PL)) (i32.const 144))))
              (local.set $ph (i32.const 0))
              (loop $pphs
                (local.set $pw (i32.const 0))
                (loop $ppws
                  (local.set $top (i32.sub (i32.shl (local.get $ph) (i32.const 1)) (local.get $pad)))
                  (local.set $left (i32.sub (i32.shl (local.get $pw) (i32.const 1)) (local.get $pad)))
                  (if (local.get $fast)
                    (then
                      ;; unpadded 5 × 5: the 6 × 6 patch lies inside the image, six rows of six floats
                      (local.set $t (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $top) (local.get $W)) (local.get $left)) (i32.const 2))))
                      (local.set $i (i32.const 0))
                      (loop $frs
                        (v128.store (local.get $dst) (v128.load (local.get $t)))
                        (v128.store64_lane offset=16 0 (local.get $dst) (v128.load64_zero offset=16 (local.get $t)))
                        (local.set $t (i32.add (local.get $t) (local.get $rowB)))
                        (local.set $dst (i32.add (local.get $dst) (i32.const 24)))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (br_if $frs (i32.lt_u (local.get $i) (i32.const 6)))))
                    (else
                      (call $zero_f32 (local.get $dst) (i32.const 36))
                      (local.set $i (i32.const 0))
                      (loop $grs
                        (local.set $ih (i32.add (local.get $top) (local.get $i)))
                        (if (i32.and (i32.ge_s (local.get $ih) (i32.const 0)) (i32.lt_s (local.get $ih) (local.get $H)))
                          (then
                            (local.set $j (i32.const 0))
                            (loop $gcs
                              (local.set $iw (i32.add (local.get $left) (local.get $j)))
                              (if (i32.and (i32.ge_s (local.get $iw) (i32.const 0)) (i32.lt_s (local.get $iw) (local.get $W)))
                                (then
                                  (f32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $PWd)) (local.get $j)) (i32.const 2)))
                                    (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $ih) (local.get $W)) (local.get $iw)) (i32.const 2)))))))
                              (local.set $j (i32.add (local.get $j) (i32.const 1)))
                              (br_if $gcs (i32.le_u (local.get $j) (local.get $KW))))))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (br_if $grs (i32.le_u (local.get $i) (local.get $KH))))
                      (local.set $dst (i32.add (local.get $dst) (i32.const 144)))))
                  (local.set $pw (i32.add (local.get $pw) (i32.const 1)))
                  (br_if $ppws (i32.lt_u (local.get $pw) (local.get $PW))))
                (local.set $ph (i32.add (local.get $ph) (i32.const 1)))
                (br_if $pphs (i32.lt_u (local.get $ph) (local.get $PH))))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br_if $pcs (i32.lt_u (local.get $c) (local.get $C))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $pns)))
        ;; the lists of each channel a's cells by route, without branches (a route is a coin flip a branch would
        ;; mispredict), and dB[a] the sum of the routed g in image and cell order
        (local.set $a (i32.const 0))
        (loop $las
          (local.set $ca (i32.add (local.get $cnt) (i32.mul (local.get $a) (i32.const 20))))
          (v128.store (local.get $ca) (v128.const i32x4 0 0 0 0))
          (i32.store offset=16 (local.get $ca) (i32.const 0))
          (local.set $sum (f32.const 0))
          (local.set $n (i32.const 0))
          (block $ln_done
            (loop $lns
              (br_if $ln_done (i32.ge_u (local.get $n) (local.get $nc)))
              (local.set $idx (i32.mul (i32.add (i32.mul (i32.add (local.get $s) (local.get $n)) (local.get $OC)) (local.get $a)) (local.get $PL)))
              (local.set $p (i32.const 0))
              (loop $lps
                (local.set $r (i32.load8_u (i32.add (local.get $route) (i32.add (local.get $idx) (local.get $p)))))
                (local.set $gf (f32.load (i32.add (local.get $g) (i32.shl (i32.add (local.get $idx) (local.get $p)) (i32.const 2)))))
                (local.set $ri (select (i32.const 4) (i32.and (local.get $r) (i32.const 3)) (i32.eq (local.get $r) (i32.const 255))))
                (local.set $t (i32.add (local.get $ca) (i32.shl (local.get $ri) (i32.const 2))))
                (local.set $m (i32.load (local.get $t)))
                (local.set $e (i32.add (local.get $list)
                  (i32.shl (i32.add (i32.mul (i32.add (i32.mul (local.get $a) (i32.const 5)) (local.get $ri)) (local.get $cap)) (local.get $m)) (i32.const 3))))
                (f32.store (local.get $e) (local.get $gf))
                (i32.store offset=4 (local.get $e) (i32.mul (i32.add (i32.mul (local.get $n) (local.get $PL)) (local.get $p)) (i32.const 144)))
                (i32.store (local.get $t) (i32.add (local.get $m) (i32.const 1)))
                (local.set $sum (f32.add (local.get $sum) (select (f32.const 0) (local.get $gf) (i32.eq (local.get $r) (i32.const 255)))))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br_if $lps (i32.lt_u (local.get $p) (local.get $PL))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $lns)))
          (f32.store (i32.add (local.get $dBs) (i32.shl (local.get $a) (i32.const 2))) (local.get $sum))
          (local.set $a (i32.add (local.get $a) (i32.const 1)))
          (br_if $las (i32.lt_u (local.get $a) (local.get $OC))))
        ;; for each input channel (its patches stay in cache) and output channel: the four route sums, then the fold
        (local.set $c (i32.const 0))
        (loop $ccs
          (local.set $pc (i32.add (local.get $patches) (i32.mul (local.get $c) (local.get $capB))))
          (local.set $a (i32.const 0))
          (loop $cas
            (local.set $r (i32.const 0))
            (loop $crs
              (local.set $e (i32.add (local.get $list) (i32.shl (i32.mul (i32.add (i32.mul (local.get $a) (i32.const 5)) (local.get $r)) (local.get $cap)) (i32.const 3))))
              (local.set $end (i32.add (local.get $e)
                (i32.shl (i32.load (i32.add (local.get $cnt) (i32.shl (i32.add (i32.mul (local.get $a) (i32.const 5)) (local.get $r)) (i32.const 2)))) (i32.const 3))))
              (local.set $q (i32.const 0))
              (loop $qs
                (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
                (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
                (local.set $a4 (v128.const i32x4 0 0 0 0)) (local.set $a5 (v128.const i32x4 0 0 0 0))
                (local.set $tq (i32.add (local.get $pc) (local.get $q)))
                (local.set $t (local.get $e))
                (block $e_done
                  (loop $es
                    (br_if $e_done (i32.gt_u (i32.add (local.get $t) (i32.const 16)) (local.get $end)))
                    (local.set $gv (v128.load32_splat (local.get $t)))
                    (local.set $ta (i32.add (local.get $tq) (i32.load offset=4 (local.get $t))))
                    (local.set $hv (v128.load32_splat offset=8 (local.get $t)))
                    (local.set $tb (i32.add (local.get $tq) (i32.load offset=12 (local.get $t))))
                    (local.set $w0 (v128.load offset=0 (local.get $ta)))
                    (local.set $a0 (f32x4.relaxed_madd (local.get $gv) (local.get $w0) (local.get $a0)))
                    (local.set $w1 (v128.load offset=0 (local.get $tb)))
                    (local.set $a3 (f32x4.relaxed_madd (local.get $hv) (local.get $w1) (local.get $a3)))
                    (local.set $w2 (v128.load offset=16 (local.get $ta)))
                    (local.set $a1 (f32x4.relaxed_madd (local.get $gv) (local.get $w2) (local.get $a1)))
                    (local.set $w0 (v128.load offset=16 (local.get $tb)))
                    (local.set $a4 (f32x4.relaxed_madd (local.get $hv) (local.get $w0) (local.get $a4)))
                    (local.set $w1 (v128.load offset=32 (local.get $ta)))
                    (local.set $a2 (f32x4.relaxed_madd (local.get $gv) (local.get $w1) (local.get $a2)))
                    (local.set $w2 (v128.load offset=32 (local.get $tb)))
                    (local.set $a5 (f32x4.relaxed_madd (local.get $hv) (local.get $w2) (local.get $a5)))
                    (local.set $t (i32.add (local.get $t) (i32.const 16)))
                    (br $es)))
                (if (i32.lt_u (local.get $t) (local.get $end))
                  (then
                    (local.set $gv (v128.load32_splat (local.get $t)))
                    (local.set $ta (i32.add (local.get $tq) (i32.load offset=4 (local.get $t))))
                    (local.set $w0 (v128.load offset=0 (local.get $ta)))
                    (local.set $a0 (f32x4.relaxed_madd (local.get $gv) (local.get $w0) (local.get $a0)))
                    (local.set $w1 (v128.load offset=16 (local.get $ta)))
                    (local.set $a1 (f32x4.relaxed_madd (local.get $gv) (local.get $w1) (local.get $a1)))
                    (local.set $w2 (v128.load offset=32 (local.get $ta)))
                    (local.set $a2 (f32x4.relaxed_madd (local.get $gv) (local.get $w2) (local.get $a2)))))
                (local.set $u (i32.add (i32.add (local.get $scr) (i32.mul (local.get $r) (i32.const 144))) (local.get $q)))
                (v128.store offset=0 (local.get $u) (f32x4.add (local.get $a0) (local.get $a3)))
                (v128.store offset=16 (local.get $u) (f32x4.add (local.get $a1) (local.get $a4)))
                (v128.store offset=32 (local.get $u) (f32x4.add (local.get $a2) (local.get $a5)))
                (local.set $q (i32.add (local.get $q) (i32.const 48)))
                (br_if $qs (i32.lt_u (local.get $q) (i32.const 144))))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br_if $crs (i32.lt_u (local.get $r) (i32.const 4))))
            ;; fold: dW[a, c, i, j] = Σ_r sum_r[(i + r/2)·(KW+1) + j + r%2]
            (local.set $dw (i32.add (local.get $slot) (i32.shl (i32.mul (i32.add (i32.mul (local.get $a) (local.get $C)) (local.get $c)) (local.get $KK)) (i32.const 2))))
            (local.set $i (i32.const 0))
            (loop $fis
              (local.set $j (i32.const 0))
              (local.set $u (i32.add (local.get $scr) (i32.shl (i32.mul (local.get $i) (local.get $PWd)) (i32.const 2))))
              (local.set $t (i32.shl (local.get $PWd) (i32.const 2)))
              (loop $fjs
                (f32.store (local.get $dw)
                  (f32.add
                    (f32.add (f32.load offset=0 (local.get $u)) (f32.load offset=148 (local.get $u)))
                    (f32.add (f32.load offset=288 (i32.add (local.get $u) (local.get $t)))
                             (f32.load offset=436 (i32.add (local.get $u) (local.get $t))))))
                (local.set $dw (i32.add (local.get $dw) (i32.const 4)))
                (local.set $u (i32.add (local.get $u) (i32.const 4)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br_if $fjs (i32.lt_u (local.get $j) (local.get $KW))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br_if $fis (i32.lt_u (local.get $i) (local.get $KH))))
            (local.set $a (i32.add (local.get $a) (i32.const 1)))
            (br_if $cas (i32.lt_u (local.get $a) (local.get $OC))))
          (local.set $c (i32.add (local.get $c) (i32.const 1)))
          (br_if $ccs (i32.lt_u (local.get $c) (local.get $C))))
        (br $chunks))))
