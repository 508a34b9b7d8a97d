;; Batch normalisation (Ioffe & Szegedy 2015) in WebAssembly 128-bit SIMD over x [N, C, S] (S = H·W), per channel:
;; its statistics, its affine output, and its backward's two sums and input gradient. Host side: ../wasm-norm.ts;
;; reference: ../reference.ts (batchNormForward, batchNormBackward). A thread runs whole channels [c0, c1), each
;; channel's N planes in order, so the results are the same bits for any thread count. Sums run in float32 within a
;; plane (four 4-lane accumulators, then the lanes) and in float64 across planes.
;; Per channel c the host and the kernels share a 64-byte record at $k + 64·c: float64s at +0, +8, +32, +40, +48,
;; float32 coefficients at +16, +20, +24, +28, a float32 at +56 and an i32 at +60 (what each holds: bn_fwd, bn_bwd).
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts are in float32 elements.

;; The sums below keep four 4-lane accumulators over 16 elements a step (with two, each step waited on the adds'
;; latency: the statistics ran 1.4× slower), added as (a + b) + (c + d), then its lanes as (0 + 1) + (2 + 3),
;; then the last S mod 16 elements one at a time in order.

  ;; The four accumulators' sum, then its lanes.
  (func $bn_lanes (param $a v128) (param $b v128) (param $c v128) (param $d v128) (result f32)
    (local.set $a (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (f32x4.add (local.get $c) (local.get $d))))
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $a)) (f32x4.extract_lane 1 (local.get $a)))
      (f32.add (f32x4.extract_lane 2 (local.get $a)) (f32x4.extract_lane 3 (local.get $a)))))

  ;; Σ (p[i] − mu) over i ∈ [0, S) in float32. (The statistics pass shifts by the mean of the channel's first plane,
  ;; so that a mean far from 0 is not summed at its own magnitude.)
  (func $bn_sum (param $p i32) (param $S i32) (param $mu f32) (result f32)
    (local $e i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $m v128) (local $s f32)
    (local.set $m (f32x4.splat (local.get $mu)))
    (local.set $e (i32.add (local.get $p) (i32.shl (i32.and (local.get $S) (i32.const -16)) (i32.const 2))))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $a (f32x4.add (local.get $a) (f32x4.sub (v128.load (local.get $p)) (local.get $m))))
        (local.set $b (f32x4.add (local.get $b) (f32x4.sub (v128.load offset=16 (local.get $p)) (local.get $m))))
        (local.set $c (f32x4.add (local.get $c) (f32x4.sub (v128.load offset=32 (local.get $p)) (local.get $m))))
        (local.set $d (f32x4.add (local.get $d) (f32x4.sub (v128.load offset=48 (local.get $p)) (local.get $m))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $v)))
    (local.set $s (call $bn_lanes (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $S) (i32.const 15)) (i32.const 2))))
    (block $t_done
      (loop $t
        (br_if $t_done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $s (f32.add (local.get $s) (f32.sub (f32.load (local.get $p)) (local.get $mu))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $t)))
    (local.get $s))

  ;; Σ (p[i] − mu)² over i ∈ [0, S) in float32: each deviation computed once and squared.
  (func $bn_sq (param $p i32) (param $S i32) (param $mu f32) (result f32)
    (local $e i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $m v128) (local $v v128)
    (local $s f32) (local $f f32)
    (local.set $m (f32x4.splat (local.get $mu)))
    (local.set $e (i32.add (local.get $p) (i32.shl (i32.and (local.get $S) (i32.const -16)) (i32.const 2))))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $v (f32x4.sub (v128.load (local.get $p)) (local.get $m)))
        (local.set $a (f32x4.add (local.get $a) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $v (f32x4.sub (v128.load offset=16 (local.get $p)) (local.get $m)))
        (local.set $b (f32x4.add (local.get $b) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $v (f32x4.sub (v128.load offset=32 (local.get $p)) (local.get $m)))
        (local.set $c (f32x4.add (local.get $c) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $v (f32x4.sub (v128.load offset=48 (local.get $p)) (local.get $m)))
        (local.set $d (f32x4.add (local.get $d) (f32x4.mul (local.get $v) (local.get $v))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $v)))
    (local.set $s (call $bn_lanes (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $S) (i32.const 15)) (i32.const 2))))
    (block $t_done
      (loop $t
        (br_if $t_done (i32.ge_u (local.get $p) (local.get $e)))
        (local.set $f (f32.sub (f32.load (local.get $p)) (local.get $mu)))
        (local.set $s (f32.add (local.get $s) (f32.mul (local.get $f) (local.get $f))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $t)))
    (local.get $s))

  ;; The backward's two sums over i ∈ [0, S) in float32, in one pass: Σ dy[i] and Σ (x[i] − mu)·dy[i].
  (func $bn_dy_sums (param $dy i32) (param $x i32) (param $S i32) (param $mu f32) (result f32 f32)
    (local $e i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local $ta v128) (local $tb v128) (local $tc v128) (local $td v128) (local $m v128) (local $g v128)
    (local $s f32) (local $t f32) (local $f f32)
    (local.set $m (f32x4.splat (local.get $mu)))
    (local.set $e (i32.add (local.get $dy) (i32.shl (i32.and (local.get $S) (i32.const -16)) (i32.const 2))))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $dy) (local.get $e)))
        (local.set $g (v128.load (local.get $dy)))
        (local.set $a (f32x4.add (local.get $a) (local.get $g)))
        (local.set $ta (f32x4.add (local.get $ta) (f32x4.mul (f32x4.sub (v128.load (local.get $x)) (local.get $m)) (local.get $g))))
        (local.set $g (v128.load offset=16 (local.get $dy)))
        (local.set $b (f32x4.add (local.get $b) (local.get $g)))
        (local.set $tb (f32x4.add (local.get $tb) (f32x4.mul (f32x4.sub (v128.load offset=16 (local.get $x)) (local.get $m)) (local.get $g))))
        (local.set $g (v128.load offset=32 (local.get $dy)))
        (local.set $c (f32x4.add (local.get $c) (local.get $g)))
        (local.set $tc (f32x4.add (local.get $tc) (f32x4.mul (f32x4.sub (v128.load offset=32 (local.get $x)) (local.get $m)) (local.get $g))))
        (local.set $g (v128.load offset=48 (local.get $dy)))
        (local.set $d (f32x4.add (local.get $d) (local.get $g)))
        (local.set $td (f32x4.add (local.get $td) (f32x4.mul (f32x4.sub (v128.load offset=48 (local.get $x)) (local.get $m)) (local.get $g))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 64)))
        (local.set $x (i32.add (local.get $x) (i32.const 64)))
        (br $v)))
    (local.set $s (call $bn_lanes (local.get $a) (local.get $b) (local.get $c) (local.get $d)))
    (local.set $t (call $bn_lanes (local.get $ta) (local.get $tb) (local.get $tc) (local.get $td)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $S) (i32.const 15)) (i32.const 2))))
    (block $t_done
      (loop $tl
        (br_if $t_done (i32.ge_u (local.get $dy) (local.get $e)))
        (local.set $f (f32.load (local.get $dy)))
        (local.set $s (f32.add (local.get $s) (local.get $f)))
        (local.set $t (f32.add (local.get $t) (f32.mul (f32.sub (f32.load (local.get $x)) (local.get $mu)) (local.get $f))))
        (local.set $dy (i32.add (local.get $dy) (i32.const 4)))
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (br $tl)))
    (local.get $s) (local.get $t))

  ;; out[i] = k·(p[i] − mu) + β for i ∈ [0, S) (out may be p).
  (func $bn_scale_shift (param $p i32) (param $out i32) (param $S i32) (param $k f32) (param $beta f32) (param $mu f32)
    (local $e i32) (local $vk v128) (local $vb v128) (local $vm v128)
    (local.set $vk (f32x4.splat (local.get $k)))
    (local.set $vb (f32x4.splat (local.get $beta)))
    (local.set $vm (f32x4.splat (local.get $mu)))
    (local.set $e (i32.add (local.get $p) (i32.shl (i32.and (local.get $S) (i32.const -4)) (i32.const 2))))
    (block $v_done
      (loop $v
        (br_if $v_done (i32.ge_u (local.get $p) (local.get $e)))
        (v128.store (local.get $out)
          (f32x4.add (f32x4.mul (local.get $vk) (f32x4.sub (v128.load (local.get $p)) (local.get $vm))) (local.get $vb)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (br $v)))
    (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $S) (i32.const 3)) (i32.const 2))))
    (block $t_done
      (loop $t
        (br_if $t_done (i32.ge_u (local.get $p) (local.get $e)))
        (f32.store (local.get $out)
          (f32.add (f32.mul (local.get $k) (f32.sub (f32.load (local.get $p)) (local.get $mu))) (local.get $beta)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $out (i32.add (local.get $out) (i32.const 4)))
        (br $t))))

  ;; out[i] = a·g[i] + b·(p[i] − mu) + c for i ∈ [0, S), in that order of operations (out may be g or p).
  ;; With $useP 0: out[i] = a·g[i] (p is not read, so a non-finite p cannot leak in).
  (func $bn_affine (param $g i32) (param $p i32) (param $out i32) (param $S i32)
    (param $a f32) (param $b f32) (param $c f32) (param $mu f32) (param $useP i32)
    (local $e i32) (local $va v128) (local $vb v128) (local $vc v128) (local $vm v128)
    (local.set $va (f32x4.splat (local.get $a)))
    (local.set $vb (f32x4.splat (local.get $b)))
    (local.set $vc (f32x4.splat (local.get $c)))
    (local.set $vm (f32x4.splat (local.get $mu)))
    (local.set $e (i32.add (local.get $g) (i32.shl (i32.and (local.get $S) (i32.const -4)) (i32.const 2))))
    (if (local.get $useP)
      (then
        (block $v_done
          (loop $v
            (br_if $v_done (i32.ge_u (local.get $g) (local.get $e)))
            (v128.store (local.get $out)
              (f32x4.add
                (f32x4.add (f32x4.mul (local.get $va) (v128.load (local.get $g)))
                           (f32x4.mul (local.get $vb) (f32x4.sub (v128.load (local.get $p)) (local.get $vm))))
                (local.get $vc)))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (br $v)))
        (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $S) (i32.const 3)) (i32.const 2))))
        (block $t_done
          (loop $t
            (br_if $t_done (i32.ge_u (local.get $g) (local.get $e)))
            (f32.store (local.get $out)
              (f32.add
                (f32.add (f32.mul (local.get $a) (f32.load (local.get $g)))
                         (f32.mul (local.get $b) (f32.sub (f32.load (local.get $p)) (local.get $mu))))
                (local.get $c)))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $t))))
      (else
        (block $v_done
          (loop $v
            (br_if $v_done (i32.ge_u (local.get $g) (local.get $e)))
            (v128.store (local.get $out) (f32x4.mul (local.get $va) (v128.load (local.get $g))))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (br $v)))
        (local.set $e (i32.add (local.get $e) (i32.shl (i32.and (local.get $S) (i32.const 3)) (i32.const 2))))
        (block $t_done
          (loop $t
            (br_if $t_done (i32.ge_u (local.get $g) (local.get $e)))
            (f32.store (local.get $out) (f32.mul (local.get $a) (f32.load (local.get $g))))
            (local.set $g (i32.add (local.get $g) (i32.const 4)))
            (local.set $out (i32.add (local.get $out) (i32.const 4)))
            (br $t))))))

  ;; Whether an f64 is finite (not ±∞, not NaN).
  (func $finite64 (param $v f64) (result i32)
    (f64.lt (f64.abs (local.get $v)) (f64.const inf)))

  ;; Whether the four float32 coefficients of the record at $rec are finite.
  (func $finite_coeffs (param $rec i32) (result i32)
    (i32.and
      (i32.and (f32.lt (f32.abs (f32.load offset=16 (local.get $rec))) (f32.const inf))
               (f32.lt (f32.abs (f32.load offset=20 (local.get $rec))) (f32.const inf)))
      (i32.and (f32.lt (f32.abs (f32.load offset=24 (local.get $rec))) (f32.const inf))
               (f32.lt (f32.abs (f32.load offset=28 (local.get $rec))) (f32.const inf)))))

  ;; The output of channel c's N planes of x with the record's coefficients: y = k·(x − mu) + β at $y (may be $x),
  ;; or, $pooled, ReLU and 2×2/2 max pooling of each plane of H × W (H = S / W) of that y: conv-relu-pool.wat's
  ;; pool2_bias_relu on the plane of x, which computes y as it loads each value (y is not written), the pooled planes
  ;; [N, C, H/2, W/2] at $out and their routes at $route (none when $route is 0).
  (func $bn_output (param $x i32) (param $y i32) (param $N i32) (param $C i32) (param $S i32) (param $c i32) (param $rec i32)
    (param $pooled i32) (param $W i32) (param $out i32) (param $route i32)
    (local $n i32) (local $off i32) (local $H i32) (local $PL i32) (local $p i32)
    (if (local.get $pooled)
      (then
        (local.set $H (i32.div_u (local.get $S) (local.get $W)))
        (local.set $PL (i32.mul (i32.shr_u (local.get $H) (i32.const 1)) (i32.shr_u (local.get $W) (i32.const 1))))))
    (block $n_done
      (loop $nl
        (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
        (local.set $off (i32.shl (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $S)) (i32.const 2)))
        (if (local.get $pooled)
          (then
            ;; plane p = n·C + c: one channel of one image, normalised as it is loaded and pooled as
            ;; pool2_bias_relu's [1, 1, H, W] chunk (k·(x − mu) + β in bn_scale_shift's order of operations)
            (local.set $p (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $PL)))
            (call $pool2_bias_relu (i32.add (local.get $x) (local.get $off)) (i32.const 1) (i32.const 1)
              (local.get $H) (local.get $W) (i32.add (local.get $out) (i32.shl (local.get $p) (i32.const 2)))
              (select (i32.add (local.get $route) (local.get $p)) (i32.const 0) (local.get $route))
              (i32.add (local.get $rec) (i32.const 20)) (f32.load offset=16 (local.get $rec)) (f32.load offset=28 (local.get $rec))))
          (else
            (call $bn_scale_shift (i32.add (local.get $x) (local.get $off)) (i32.add (local.get $y) (local.get $off))
              (local.get $S) (f32.load offset=16 (local.get $rec)) (f32.load offset=20 (local.get $rec))
              (f32.load offset=28 (local.get $rec)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $nl))))

  ;; The forward over channels [c0, c1) of x at $x, with $mode's bit 0: pooled output (see $bn_output), bit 1:
  ;; training. Per channel, then its output while its planes are still in cache:
  ;;   training: its statistics: mean = x₀ + Σ (x − x₀) / M (M = N·S, x₀: the mean of the channel's first plane) at +0
  ;;   and Σ (x − hi)² at +8 (hi = f32(mean)), in float64 across planes; then, in float64, as ../wasm-norm.ts documents
  ;;   them, lo = mean − hi, sq = Σ (x − hi)² − M·lo·lo at +32 (Σ (x − mean)²) and invstd = 1 / √(sq / M + eps) at +40
  ;;   (eps: the float64 at +48); evaluation: the mean at +0 and invstd at +40 are the running statistics' (the host's);
  ;;   both: k = γ·invstd and the float32 coefficients k, β − k·lo and hi at +16, +20, +28 (γ and β: the float32s
  ;;   at +56 and +24);
  ;;   the i32 at +60 set to 1, and the channel's output skipped, where the host must run the reference instead: a
  ;;   mean or Σ (x − hi)²/M that is not finite, a variance in (0, 2⁻¹⁰⁰) (float32 squares of the deviations lose
  ;;   their precision to subnormals), or a coefficient that float32 cannot hold.
  (func $bn_fwd (export "bn_fwd")
    (param $x i32) (param $y i32) (param $N i32) (param $C i32) (param $S i32) (param $c0 i32) (param $c1 i32)
    (param $k i32) (param $mode i32) (param $W i32) (param $out i32) (param $route i32)
    (local $c i32) (local $n i32) (local $off i32) (local $rec i32) (local $plane i32) (local $s f64) (local $mu f32)
    (local $M f64) (local $lo f64) (local $sq f64) (local $v f64) (local $is f64) (local $kk f64) (local $bad i32)
    (local.set $plane (i32.shl (local.get $S) (i32.const 2)))
    (local.set $M (f64.convert_i32_u (i32.mul (local.get $N) (local.get $S))))
    (local.set $c (local.get $c0))
    (block $c_done
      (loop $cl
        (br_if $c_done (i32.ge_u (local.get $c) (local.get $c1)))
        (local.set $rec (i32.add (local.get $k) (i32.shl (local.get $c) (i32.const 6))))
        (local.set $bad (i32.const 0))
        (block $stats
          (br_if $stats (i32.eqz (i32.and (local.get $mode) (i32.const 2))))
          ;; the shift: the mean of the channel's first plane (image 0), in float32 (NaN there: NaN sums, flagged below)
          (local.set $mu (f32.div (call $bn_sum (i32.add (local.get $x) (i32.mul (local.get $c) (local.get $plane)))
            (local.get $S) (f32.const 0)) (f32.convert_i32_u (local.get $S))))
          (local.set $s (f64.const 0))
          (local.set $n (i32.const 0))
          (block $n_done
            (loop $nl
              (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
              (local.set $off (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $plane)))
              (local.set $s (f64.add (local.get $s)
                (f64.promote_f32 (call $bn_sum (i32.add (local.get $x) (local.get $off)) (local.get $S) (local.get $mu)))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $nl)))
          (local.set $s (f64.add (f64.promote_f32 (local.get $mu)) (f64.div (local.get $s) (local.get $M))))
          (f64.store (local.get $rec) (local.get $s))
          (local.set $mu (f32.demote_f64 (local.get $s)))
          (local.set $lo (f64.sub (local.get $s) (f64.promote_f32 (local.get $mu))))
          (local.set $s (f64.const 0))
          (local.set $n (i32.const 0))
          (block $n_done
            (loop $nl
              (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
              (local.set $off (i32.add (local.get $x)
                (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $plane))))
              (local.set $s (f64.add (local.get $s)
                (f64.promote_f32 (call $bn_sq (local.get $off) (local.get $S) (local.get $mu)))))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $nl)))
          (f64.store offset=8 (local.get $rec) (local.get $s))
          ;; Σ (x − mean)² and 1/σ, in ../wasm-norm.ts's order of operations
          (local.set $sq (f64.sub (local.get $s) (f64.mul (f64.mul (local.get $M) (local.get $lo)) (local.get $lo))))
          (local.set $is (f64.div (f64.const 1)
            (f64.sqrt (f64.add (f64.div (local.get $sq) (local.get $M)) (f64.load offset=48 (local.get $rec))))))
          (f64.store offset=32 (local.get $rec) (local.get $sq))
          (f64.store offset=40 (local.get $rec) (local.get $is))
          (local.set $v (f64.div (local.get $s) (local.get $M)))
          (local.set $bad (i32.or
            (i32.eqz (i32.and (call $finite64 (f64.load (local.get $rec))) (call $finite64 (local.get $v))))
            (i32.and (f64.gt (local.get $v) (f64.const 0)) (f64.lt (local.get $v) (f64.const 0x1p-100))))))
        ;; the float32 coefficients from the mean at +0 and 1/σ at +40 (training: just computed; evaluation: the
        ;; running statistics the host wrote there): k = γ·invstd, β − k·lo, hi
        (local.set $s (f64.load (local.get $rec)))
        (local.set $mu (f32.demote_f64 (local.get $s)))
        (local.set $lo (f64.sub (local.get $s) (f64.promote_f32 (local.get $mu))))
        (local.set $kk (f64.mul (f64.promote_f32 (f32.load offset=56 (local.get $rec))) (f64.load offset=40 (local.get $rec))))
        (f32.store offset=20 (local.get $rec) (f32.demote_f64
          (f64.sub (f64.promote_f32 (f32.load offset=24 (local.get $rec))) (f64.mul (local.get $kk) (local.get $lo)))))
        (f32.store offset=16 (local.get $rec) (f32.demote_f64 (local.get $kk)))
        (f32.store offset=24 (local.get $rec) (f32.const 0))
        (f32.store offset=28 (local.get $rec) (local.get $mu))
        (local.set $bad (i32.or (local.get $bad) (i32.eqz (call $finite_coeffs (local.get $rec)))))
        (i32.store offset=60 (local.get $rec) (local.get $bad))
        (if (i32.eqz (local.get $bad))
          (then
            (call $bn_output (local.get $x) (local.get $y) (local.get $N) (local.get $C) (local.get $S) (local.get $c) (local.get $rec)
              (i32.and (local.get $mode) (i32.const 1)) (local.get $W) (local.get $out) (local.get $route))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cl))))

  ;; The backward over channels [c0, c1) for input x at $x, with $mode's bit 0: dY built first, plane by plane at
  ;; $dy, from the pooled planes' gradient at $g and routes at $route (conv-relu-pool.wat's unpool_relu; planes of
  ;; H × W, H = S / W), else dY read at $dy; bit 1: training; bit 2: dX wanted (at $dx, which may be $dy). Per channel:
  ;;   Σ dY at +0 and Σ dY·(x − hi) at +8 (hi: the float32 of the channel's mean, the float64 at +40);
  ;;   in float64, as ../wasm-norm.ts documents them: lo = mean − hi, Σ dY·x̂ = (Σ dY·(x − hi) − lo·Σ dY)·invstd at +32
  ;;   (invstd: the float64 at +48); with dX, k = γ·invstd (γ: the float32 at +56) and the float32 coefficients a = k,
  ;;   b = (−k/M)·Σ dY·x̂·invstd, c = (−k/M)·Σ dY − b·lo (training; evaluation: b = c = 0) and hi at +16 … +28, then
  ;;   dX = a·dY + b·(x − hi) + c (evaluation: a·dY, x not read) while the channel's planes are still in cache;
  ;;   the i32 at +60 set to 1, and dX skipped, where the host must run the reference instead: sums that are not
  ;;   finite, or a coefficient that float32 cannot hold.
  (func $bn_bwd (export "bn_bwd")
    (param $dy i32) (param $x i32) (param $dx i32) (param $N i32) (param $C i32) (param $S i32) (param $c0 i32)
    (param $c1 i32) (param $k i32) (param $mode i32) (param $W i32) (param $g i32) (param $route i32)
    (local $c i32) (local $n i32) (local $off i32) (local $rec i32) (local $plane i32) (local $s f64) (local $t f64)
    (local $ps f32) (local $pt f32) (local $hi f32) (local $M f64) (local $lo f64) (local $is f64) (local $kk f64)
    (local $b f64) (local $sdyx f64) (local $train i32)
    (local.set $plane (i32.shl (local.get $S) (i32.const 2)))
    (local.set $M (f64.convert_i32_u (i32.mul (local.get $N) (local.get $S))))
    (local.set $train (i32.and (local.get $mode) (i32.const 2)))
    (local.set $c (local.get $c0))
    (block $c_done
      (loop $cl
        (br_if $c_done (i32.ge_u (local.get $c) (local.get $c1)))
        (local.set $rec (i32.add (local.get $k) (i32.shl (local.get $c) (i32.const 6))))
        (local.set $hi (f32.demote_f64 (f64.load offset=40 (local.get $rec))))
        (local.set $lo (f64.sub (f64.load offset=40 (local.get $rec)) (f64.promote_f32 (local.get $hi))))
        (local.set $is (f64.load offset=48 (local.get $rec)))
        (local.set $s (f64.const 0))
        (local.set $t (f64.const 0))
        (local.set $n (i32.const 0))
        (block $n_done
          (loop $nl
            (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
            (local.set $off (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $plane)))
            (if (i32.and (local.get $mode) (i32.const 1))
              (then
                (call $unpool_relu (local.get $g) (local.get $route) (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c))
                  (i32.const 1) (i32.const 1) (i32.div_u (local.get $S) (local.get $W)) (local.get $W)
                  (i32.add (local.get $dy) (local.get $off)))))
            (call $bn_dy_sums (i32.add (local.get $dy) (local.get $off)) (i32.add (local.get $x) (local.get $off))
              (local.get $S) (local.get $hi))
            (local.set $pt) (local.set $ps) ;; the results: Σ dy under Σ (x − hi)·dy
            (local.set $s (f64.add (local.get $s) (f64.promote_f32 (local.get $ps))))
            (local.set $t (f64.add (local.get $t) (f64.promote_f32 (local.get $pt))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $nl)))
        (f64.store (local.get $rec) (local.get $s))
        (f64.store offset=8 (local.get $rec) (local.get $t))
        (local.set $sdyx (f64.mul (f64.sub (local.get $t) (f64.mul (local.get $lo) (local.get $s))) (local.get $is)))
        (f64.store offset=32 (local.get $rec) (local.get $sdyx))
        (i32.store offset=60 (local.get $rec) (i32.const 0))
        (block $next
          (if (i32.eqz (i32.and (call $finite64 (local.get $s)) (call $finite64 (local.get $sdyx))))
            (then
              (i32.store offset=60 (local.get $rec) (i32.const 1))
              (br $next)))
          (br_if $next (i32.eqz (i32.and (local.get $mode) (i32.const 4))))
          (local.set $kk (f64.mul (f64.promote_f32 (f32.load offset=56 (local.get $rec))) (local.get $is)))
          (local.set $b (select
            (f64.mul (f64.mul (f64.div (f64.neg (local.get $kk)) (local.get $M)) (local.get $sdyx)) (local.get $is))
            (f64.const 0) (local.get $train)))
          (f32.store offset=16 (local.get $rec) (f32.demote_f64 (local.get $kk)))
          (f32.store offset=20 (local.get $rec) (f32.demote_f64 (local.get $b)))
          (f32.store offset=24 (local.get $rec) (f32.demote_f64 (select
            (f64.sub (f64.mul (f64.div (f64.neg (local.get $kk)) (local.get $M)) (local.get $s)) (f64.mul (local.get $b) (local.get $lo)))
            (f64.const 0) (local.get $train))))
          (f32.store offset=28 (local.get $rec) (local.get $hi))
          (if (i32.eqz (call $finite_coeffs (local.get $rec)))
            (then
              (i32.store offset=60 (local.get $rec) (i32.const 1))
              (br $next)))
          (local.set $n (i32.const 0))
          (block $n_done
            (loop $nl
              (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
              (local.set $off (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $plane)))
              (call $bn_affine (i32.add (local.get $dy) (local.get $off)) (i32.add (local.get $x) (local.get $off))
                (i32.add (local.get $dx) (local.get $off)) (local.get $S)
                (f32.load offset=16 (local.get $rec)) (f32.load offset=20 (local.get $rec))
                (f32.load offset=24 (local.get $rec)) (local.get $hi) (local.get $train))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br $nl))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cl))))
