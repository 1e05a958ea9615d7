;; WebSocket unmasking with 128-bit SIMD, over this module's own memory
;; (four 64 KiB pages that never grow). JavaScript XORs at most 32 bits at a
;; time; here 64 bytes go per loop turn. Compiled by scripts/build-wasm.mjs
;; into mask-wasm.ts; mask.ts calls it for payloads that lie in this memory.
(module
  (memory (export "memory") 4 4)

  ;; XORs memory[start, start + length) with `word`: the four key bytes in
  ;; memory order (little-endian), the first being the one that applies to
  ;; the byte at `start`.
  (func (export "unmask") (param $start i32) (param $length i32) (param $word i32)
    (local $p i32)
    (local $end i32)
    (local $key v128)
    (local.set $p (local.get $start))
    (local.set $end (i32.add (local.get $start) (local.get $length)))
    (local.set $key (i32x4.splat (local.get $word)))

    ;; 64 bytes per turn while 64 remain.
    (block $done64
      (loop $more64
        (br_if $done64 (i32.gt_s (i32.add (local.get $p) (i32.const 64)) (local.get $end)))
        (v128.store offset=0 (local.get $p) (v128.xor (v128.load offset=0 (local.get $p)) (local.get $key)))
        (v128.store offset=16 (local.get $p) (v128.xor (v128.load offset=16 (local.get $p)) (local.get $key)))
        (v128.store offset=32 (local.get $p) (v128.xor (v128.load offset=32 (local.get $p)) (local.get $key)))
        (v128.store offset=48 (local.get $p) (v128.xor (v128.load offset=48 (local.get $p)) (local.get $key)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $more64)))

    ;; Then 16 at a time.
    (block $done16
      (loop $more16
        (br_if $done16 (i32.gt_s (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $p) (v128.xor (v128.load (local.get $p)) (local.get $key)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $more16)))

    ;; Then 4 at a time: every step so far was a multiple of 4, so the key's phase is unchanged.
    (block $done4
      (loop $more4
        (br_if $done4 (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
        (i32.store (local.get $p) (i32.xor (i32.load (local.get $p)) (local.get $word)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $more4)))

    ;; The last 0-3 bytes, each with its own key byte.
    (block $done1
      (loop $more1
        (br_if $done1 (i32.ge_s (local.get $p) (local.get $end)))
        (i32.store8 (local.get $p) (i32.xor (i32.load8_u (local.get $p)) (local.get $word)))
        (local.set $word (i32.shr_u (local.get $word) (i32.const 8)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $more1))))

  ;; `unmask` for a text message: also returns 0 when every unmasked byte is
  ;; below 0x80, i.e. ASCII, so valid UTF-8 and in need of no other check.
  ;; Gathered in the same pass, at one OR per 16 bytes (kept out of `unmask`,
  ;; where binary payloads would pay for it).
  (func (export "unmaskText") (param $start i32) (param $length i32) (param $word i32) (result i32)
    (local $p i32)
    (local $end i32)
    (local $key v128)
    (local $x v128)
    (local $high v128)
    (local $tail i32)
    (local $b i32)
    (local.set $p (local.get $start))
    (local.set $end (i32.add (local.get $start) (local.get $length)))
    (local.set $key (i32x4.splat (local.get $word)))

    ;; 64 bytes per turn while 64 remain.
    (block $done64
      (loop $more64
        (br_if $done64 (i32.gt_s (i32.add (local.get $p) (i32.const 64)) (local.get $end)))
        (v128.store offset=0 (local.get $p) (local.tee $x (v128.xor (v128.load offset=0 (local.get $p)) (local.get $key))))
        (local.set $high (v128.or (local.get $high) (local.get $x)))
        (v128.store offset=16 (local.get $p) (local.tee $x (v128.xor (v128.load offset=16 (local.get $p)) (local.get $key))))
        (local.set $high (v128.or (local.get $high) (local.get $x)))
        (v128.store offset=32 (local.get $p) (local.tee $x (v128.xor (v128.load offset=32 (local.get $p)) (local.get $key))))
        (local.set $high (v128.or (local.get $high) (local.get $x)))
        (v128.store offset=48 (local.get $p) (local.tee $x (v128.xor (v128.load offset=48 (local.get $p)) (local.get $key))))
        (local.set $high (v128.or (local.get $high) (local.get $x)))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $more64)))

    ;; Then 16 at a time.
    (block $done16
      (loop $more16
        (br_if $done16 (i32.gt_s (i32.add (local.get $p) (i32.const 16)) (local.get $end)))
        (v128.store (local.get $p) (local.tee $x (v128.xor (v128.load (local.get $p)) (local.get $key))))
        (local.set $high (v128.or (local.get $high) (local.get $x)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $more16)))

    ;; Then 4 at a time: every step so far was a multiple of 4, so the key's phase is unchanged.
    (block $done4
      (loop $more4
        (br_if $done4 (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
        (i32.store (local.get $p) (local.tee $b (i32.xor (i32.load (local.get $p)) (local.get $word))))
        (local.set $tail (i32.or (local.get $tail) (local.get $b)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $more4)))

    ;; The last 0-3 bytes, each with its own key byte (the bits above the stored byte are the key's).
    (block $done1
      (loop $more1
        (br_if $done1 (i32.ge_s (local.get $p) (local.get $end)))
        (i32.store8 (local.get $p) (local.tee $b (i32.xor (i32.load8_u (local.get $p)) (local.get $word))))
        (local.set $tail (i32.or (local.get $tail) (i32.and (local.get $b) (i32.const 0x80))))
        (local.set $word (i32.shr_u (local.get $word) (i32.const 8)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $more1)))

    ;; The top bit of each byte: i8x16.bitmask gathers them from the 16-byte lanes.
    (i32.or
      (i8x16.bitmask (local.get $high))
      (i32.and (local.get $tail) (i32.const 0x80808080)))))
