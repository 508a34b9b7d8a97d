;; Batch normalisation (Ioffe & Szegedy 2015) in WebAssembly 128-bit SIMD over x [N, C, S] (S = H·W), per channel:
;; its statistics, its affine output, and its backward's two sums and input gradient. Host side: ../wasm-norm.ts;
;; reference: ../reference.ts (batchNormForward, batchNormBackward). A thread runs whole channels [c0, c1), each
;; channel's N planes in order, so the results are the same bits for any thread count. Sums run in float32 within a
;; plane (four 4-lane accumulators, then the lanes) and in float64 across planes.
;; Per channel c the host and the kernels share a 32-byte record at $k + 32·c: two float64s at +0 and +8 (what a
;; sum phase writes) and four float32s at +16, +20, +24, +28 (the coefficients a phase reads).
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

  ;; The forward over channels [c0, c1) of x at $x:
  ;; phase 0 (statistics): mean = x₀ + Σ (x − x₀) / (N·S) (x₀: the mean of the channel's first plane) into the record's first
  ;; float64, Σ (x − f32(mean))² into its second;
  ;; phase 1 (output): y = k·(x − mu) + β with the record's float32s (+16 k, +20 β, +28 mu), y at $y (may be $x);
  ;; phase 2 (ReLU and 2×2/2 max pooling of each plane of H × W, H = S / W, of phase 1's y): conv-relu-pool.wat's
  ;; pool2_bias_relu on the plane of x, which computes y as phase 1 does as it loads each value (y is not written, $y
  ;; is not used), the pooled planes [N, C, H/2, W/2] at $out and their routes at $route (none when $route is 0).
  (func $bn_fwd (export "bn_fwd")
    (param $x i32) (param $y i32) (param $N i32) (param $C i32) (param $S i32) (param $c0 i32) (param $c1 i32)
    (param $k i32) (param $phase i32) (param $W i32) (param $out i32) (param $route i32)
    (local $c i32) (local $n i32) (local $off i32) (local $rec i32) (local $plane i32) (local $s f64) (local $mu f32)
    (local $H i32) (local $PL i32) (local $p i32)
    (local.set $plane (i32.shl (local.get $S) (i32.const 2)))
    (if (i32.eq (local.get $phase) (i32.const 2))
      (then
        (local.set $H (i32.div_u (local.get $S) (local.get $W)))
        (local.set $PL (i32.mul (i32.shr_u (local.get $H) (i32.const 1)) (i32.shr_u (local.get $W) (i32.const 1))))))
    (local.set $c (local.get $c0))
    (block $c_done
      (loop $cl
        (br_if $c_done (i32.ge_u (local.get $c) (local.get $c1)))
        (local.set $rec (i32.add (local.get $k) (i32.shl (local.get $c) (i32.const 5))))
        (if (i32.eqz (local.get $phase))
          (then
            ;; the shift: the mean of the channel's first plane (image 0), in float32 (NaN there: the host sees NaN sums)
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
            (local.set $s (f64.add (f64.promote_f32 (local.get $mu))
              (f64.div (local.get $s) (f64.convert_i32_u (i32.mul (local.get $N) (local.get $S))))))
            (f64.store (local.get $rec) (local.get $s))
            (local.set $mu (f32.demote_f64 (local.get $s)))
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
            (f64.store offset=8 (local.get $rec) (local.get $s)))
          (else
            (local.set $n (i32.const 0))
            (block $n_done
              (loop $nl
                (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
                (local.set $off (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $plane)))
                (if (i32.eq (local.get $phase) (i32.const 2))
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
                (br $nl)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cl))))

  ;; The backward over channels [c0, c1) for upstream dY at $dy and input x at $x:
  ;; phase 0 (sums): Σ dY into the record's first float64, Σ dY·(x − mu) into its second (mu: the float32 at +28);
  ;; phase 1 (training dX): dX = a·dY + b·(x − mu) + c with the record's float32s (+16 a, +20 b, +24 c, +28 mu);
  ;; phase 2 (evaluation dX): dX = a·dY. dX at $dx (may be $dy);
  ;; phase 3 (sums after ReLU and 2×2/2 max pooling): first each plane of dY (H × W, H = S / W) from the pooled
  ;; planes' gradient at $g and routes at $route (conv-relu-pool.wat's unpool_relu), then as phase 0.
  (func $bn_bwd (export "bn_bwd")
    (param $dy i32) (param $x i32) (param $dx i32) (param $N i32) (param $C i32) (param $S i32) (param $c0 i32)
    (param $c1 i32) (param $k i32) (param $phase i32) (param $W i32) (param $g i32) (param $route i32)
    (local $c i32) (local $n i32) (local $off i32) (local $rec i32) (local $plane i32) (local $s f64) (local $t f64)
    (local $ps f32) (local $pt f32)
    (local.set $plane (i32.shl (local.get $S) (i32.const 2)))
    (local.set $c (local.get $c0))
    (block $c_done
      (loop $cl
        (br_if $c_done (i32.ge_u (local.get $c) (local.get $c1)))
        (local.set $rec (i32.add (local.get $k) (i32.shl (local.get $c) (i32.const 5))))
        (local.set $s (f64.const 0))
        (local.set $t (f64.const 0))
        (local.set $n (i32.const 0))
        (block $n_done
          (loop $nl
            (br_if $n_done (i32.ge_u (local.get $n) (local.get $N)))
            (local.set $off (i32.mul (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c)) (local.get $plane)))
            (if (i32.eq (local.get $phase) (i32.const 3))
              (then
                (call $unpool_relu (local.get $g) (local.get $route) (i32.add (i32.mul (local.get $n) (local.get $C)) (local.get $c))
                  (i32.const 1) (i32.const 1) (i32.div_u (local.get $S) (local.get $W)) (local.get $W)
                  (i32.add (local.get $dy) (local.get $off)))))
            (if (i32.or (i32.eqz (local.get $phase)) (i32.eq (local.get $phase) (i32.const 3)))
              (then
                (call $bn_dy_sums (i32.add (local.get $dy) (local.get $off)) (i32.add (local.get $x) (local.get $off))
                  (local.get $S) (f32.load offset=28 (local.get $rec)))
                (local.set $pt) (local.set $ps) ;; the results: Σ dy under Σ (x − mu)·dy
                (local.set $s (f64.add (local.get $s) (f64.promote_f32 (local.get $ps))))
                (local.set $t (f64.add (local.get $t) (f64.promote_f32 (local.get $pt)))))
              (else
                (call $bn_affine (i32.add (local.get $dy) (local.get $off)) (i32.add (local.get $x) (local.get $off))
                  (i32.add (local.get $dx) (local.get $off)) (local.get $S)
                  (f32.load offset=16 (local.get $rec)) (f32.load offset=20 (local.get $rec))
                  (f32.load offset=24 (local.get $rec)) (f32.load offset=28 (local.get $rec))
                  (i32.eq (local.get $phase) (i32.const 1)))))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $nl)))
        (if (i32.or (i32.eqz (local.get $phase)) (i32.eq (local.get $phase) (i32.const 3)))
          (then
            (f64.store (local.get $rec) (local.get $s))
            (f64.store offset=8 (local.get $rec) (local.get $t))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cl))))
