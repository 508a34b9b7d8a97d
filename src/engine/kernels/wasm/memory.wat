;; Memory helpers in WebAssembly 128-bit SIMD: copy, add and zero float32 runs, and a strided 2-D block copy
;; (the padding and cropping around the widened convolutions). Host side: ../wasm-memory.ts.
;; Functions only: scripts/build-wasm.mjs splices this file with the other families into one module over one
;; shared linear memory. All pointers are byte addresses; counts and strides are in float32 elements.

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

  ;; out[o] = Σₙ g[n·O + o] over n = 0 … N−1 in order, each add rounded to float32 (a dense layer's bias gradient, as
  ;; the reference's loop adds into zeros): sixteen columns a pass down the rows, then four, then one.
  (func (export "col_sums") (param $g i32) (param $N i32) (param $O i32) (param $out i32)
    (local $o i32) (local $n i32) (local $p i32) (local $rowB i32) (local $s f32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $rowB (i32.shl (local.get $O) (i32.const 2)))
    (block $wide_done
      (loop $wide
        (br_if $wide_done (i32.gt_u (i32.add (local.get $o) (i32.const 16)) (local.get $O)))
        (local.set $a0 (v128.const i32x4 0 0 0 0)) (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0)) (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $g) (i32.shl (local.get $o) (i32.const 2))))
        (local.set $n (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
            (local.set $a0 (f32x4.add (local.get $a0) (v128.load (local.get $p))))
            (local.set $a1 (f32x4.add (local.get $a1) (v128.load offset=16 (local.get $p))))
            (local.set $a2 (f32x4.add (local.get $a2) (v128.load offset=32 (local.get $p))))
            (local.set $a3 (f32x4.add (local.get $a3) (v128.load offset=48 (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $rowB)))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $rows)))
        (local.set $p (i32.add (local.get $out) (i32.shl (local.get $o) (i32.const 2))))
        (v128.store (local.get $p) (local.get $a0))
        (v128.store offset=16 (local.get $p) (local.get $a1))
        (v128.store offset=32 (local.get $p) (local.get $a2))
        (v128.store offset=48 (local.get $p) (local.get $a3))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $wide)))
    (block $quad_done
      (loop $quad
        (br_if $quad_done (i32.gt_u (i32.add (local.get $o) (i32.const 4)) (local.get $O)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $p (i32.add (local.get $g) (i32.shl (local.get $o) (i32.const 2))))
        (local.set $n (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
            (local.set $a0 (f32x4.add (local.get $a0) (v128.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $rowB)))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $rows)))
        (v128.store (i32.add (local.get $out) (i32.shl (local.get $o) (i32.const 2))) (local.get $a0))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $quad)))
    (block $one_done
      (loop $one
        (br_if $one_done (i32.ge_u (local.get $o) (local.get $O)))
        (local.set $s (f32.const 0))
        (local.set $p (i32.add (local.get $g) (i32.shl (local.get $o) (i32.const 2))))
        (local.set $n (i32.const 0))
        (block $rows_done
          (loop $rows
            (br_if $rows_done (i32.ge_u (local.get $n) (local.get $N)))
            (local.set $s (f32.add (local.get $s) (f32.load (local.get $p))))
            (local.set $p (i32.add (local.get $p) (local.get $rowB)))
            (local.set $n (i32.add (local.get $n) (i32.const 1)))
            (br $rows)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $o) (i32.const 2))) (local.get $s))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $one))))
