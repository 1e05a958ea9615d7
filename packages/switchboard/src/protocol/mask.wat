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
        (br $more1)))))
