;; The plughost kernel: the memory behind Extism handles and every byte-moving function of
;; `extism:host/env`. Its guest-facing exports are linked straight into the plug-in's imports,
;; so a plug-in moving bytes never enters JavaScript and never creates a BigInt.
;;
;; Every mutable global is exported ("global:<name>"): where the engine has multi-memory, a
;; copy of this code is merged into the plug-in's module (wasm/kernel-merge.ts) and imports
;; these globals and this memory, so the copy and this instance are one kernel.
;;
;; Layout of the kernel memory (separate from the plug-in's linear memory):
;;   [0, 128)          free-list heads, one u32 per size class (class k holds blocks whose
;;                     capacity is in [2^k, 2^(k+1))); a head is valid only while its bit
;;                     in $nonempty is set
;;   [128, 140)        the call's outcome, where the host reads it without a call into wasm:
;;                     +128 i32 bits: 1 output set (maybe empty), 2 error set, 4 the output
;;                     range was invalid; +132 u32 output offset; +136 u32 output length.
;;                     Below HEAP_BASE, so the guest's load_*/store_* never reach it.
;;   [140, HEAP_BASE)  unused, so that no handle below HEAP_BASE is ever valid (0 = none)
;;   [HEAP_BASE, bump) blocks, each a 16-byte header followed by its data; a handle is the
;;                     offset of the data, always 16-aligned
;; Block header (at handle - 16):
;;   +0 u32 length    bytes requested
;;   +4 u32 capacity  bytes usable, a multiple of 16
;;   +8 u32 tag       handle ^ LIVE_MAGIC ^ epoch when live, handle ^ FREE_MAGIC ^ epoch when free
;;   +12 u32 next     next block of the same free list (free blocks on one only)
;; The epoch changes at every call, so a stale handle from an earlier call never validates,
;; and header bytes left behind in reused memory are never mistaken for a live block.
;;
;; Reuse policy. A handle is an offset, so once a freed block's space is handed out again, a
;; second free of the old handle frees the new block. Real PDKs free again what the host already
;; freed for them (the Haskell PDK frees the key after config_get/var_get, the Go PDK frees the
;; request after http_request returns), and the block handed out next is the host function's
;; result. So:
;;   - a free of anything that is not a live block (0, a freed block, garbage) does nothing;
;;   - a block the host frees (an argument of config_get, var_*, http_request, log_*, or a
;;     CallContext.free) is quarantined: tagged free but put on no free list, so its space is
;;     handed out again only once fresh space runs out, that is when the heap would have to
;;     grow and the quarantine holds a quarter of it or more, or when it cannot grow (the memory
;;     limit). Then a sweep walks the heap and puts every free block on the free lists, merging
;;     neighbours. A second free that comes before then finds no live block and does nothing;
;;   - a block the guest frees itself is reused at once (its own double free is its own bug,
;;     as with any allocator), except one that holds the error message or part of the output:
;;     that one stays live while it does (see `free`).
;; A loop of host calls therefore reuses its arguments' space and the heap stays bounded: it
;; only grows while the quarantine is under a quarter of it.
(module
  (memory (export "memory") 1)

  (global $HEAP_BASE i32 (i32.const 256))
  (global $LIVE_MAGIC i32 (i32.const 0x4c495645))
  (global $FREE_MAGIC i32 (i32.const 0x46524545))

  (global $epoch (export "global:epoch") (mut i32) (i32.const 0x2545f491))
  (global $bump (export "global:bump") (mut i32) (i32.const 256))
  ;; bump - HEAP_BASE and bump - HEAP_BASE - 7 (clamped at 0) as i64, kept in step with $bump
  ;; so that the guest load/store bounds check is one subtraction and one comparison.
  (global $span1 (export "global:span1") (mut i64) (i64.const 0))
  (global $span8 (export "global:span8") (mut i64) (i64.const 0))
  (global $max_pages (export "global:max_pages") (mut i32) (i32.const 65536))
  ;; bit k set when the free list of class k may be non-empty: allocation skips empty classes
  ;; with one ctz instead of visiting 32 list heads
  (global $nonempty (export "global:nonempty") (mut i32) (i32.const 0))
  ;; the highest bump of the kernel's life since the last scrub: what a scrub must clear
  (global $high_water (export "global:high_water") (mut i32) (i32.const 256))
  ;; How far load_*/store_* reach past HEAP_BASE: up to the high-water mark, not the bump
  ;; pointer, so a block the guest freed on top of the heap still reads back until its space is
  ;; handed out again (the Rust PDK's #[host_fn] frees its argument, then reads the result,
  ;; which a host function may have answered with that very handle). Everything below the mark
  ;; is this plug-in's own, and the scrub zeroes it before another plug-in gets the kernel.
  (global $reach1 (export "global:reach1") (mut i64) (i64.const 0))
  (global $reach8 (export "global:reach8") (mut i64) (i64.const 0))

  (global $input_handle (export "global:input_handle") (mut i32) (i32.const 0))
  (global $input_length (export "global:input_length") (mut i64) (i64.const 0))
  (global $input_span8 (export "global:input_span8") (mut i64) (i64.const 0))
  ;; The outcome words (see the layout above). Bit 1 ("output set") is set by every
  ;; output_set, valid or not, also an empty one: "no output" differs from "empty output".
  (global $OUTCOME i32 (i32.const 128))
  (global $OUTPUT_OFFSET i32 (i32.const 132))
  (global $OUTPUT_LENGTH i32 (i32.const 136))
  (global $error_handle (export "global:error_handle") (mut i64) (i64.const 0))
  ;; Blocks the guest freed while they held the error or part of the output (see `free`): each
  ;; released once it no longer does. Two, since two blocks hold a result in every PDK's
  ;; sequence (the output's and the error's); a third such block waits for the call's end.
  (global $kept_a (export "global:kept_a") (mut i32) (i32.const 0))
  (global $kept_b (export "global:kept_b") (mut i32) (i32.const 0))

  ;; bytes (headers included) of the blocks the host freed since the last sweep: the quarantine
  ;; (see the reuse policy above)
  (global $quarantine_bytes (export "global:quarantine_bytes") (mut i32) (i32.const 0))
  ;; anything freed since the last sweep: at the memory limit, a sweep could find room
  (global $freed_since_sweep (export "global:freed_since_sweep") (mut i32) (i32.const 0))
  ;; sweeps so far, in the kernel's life (for the tests' model)
  (global $sweeps (export "global:sweeps") (mut i32) (i32.const 0))
  ;; the largest allocation of this call the memory limit refused, in bytes (0: none)
  (global $refused (export "global:refused") (mut i64) (i64.const 0))

  ;; ---------------------------------------------------------------- internals

  (func $set_high_water (param $mark i32)
    (global.set $high_water (local.get $mark))
    (global.set $reach1 (i64.extend_i32_u (i32.sub (local.get $mark) (global.get $HEAP_BASE))))
    (global.set $reach8
      (select
        (i64.sub (global.get $reach1) (i64.const 7))
        (i64.const 0)
        (i64.gt_u (global.get $reach1) (i64.const 7)))))

  (func $set_bump (param $b i32)
    (global.set $bump (local.get $b))
    (if (i32.gt_u (local.get $b) (global.get $high_water)) (then (call $set_high_water (local.get $b))))
    (global.set $span1 (i64.extend_i32_u (i32.sub (local.get $b) (global.get $HEAP_BASE))))
    (global.set $span8
      (select
        (i64.sub (global.get $span1) (i64.const 7))
        (i64.const 0)
        (i64.gt_u (global.get $span1) (i64.const 7)))))

  (func $set_input (param $h i32) (param $n i32)
    (global.set $input_handle (local.get $h))
    (global.set $input_length (i64.extend_i32_u (local.get $n)))
    (global.set $input_span8
      (select
        (i64.sub (global.get $input_length) (i64.const 7))
        (i64.const 0)
        (i64.gt_u (global.get $input_length) (i64.const 7)))))

  ;; size class of a capacity: floor(log2(cap))
  (func $class_of (param $cap i32) (result i32)
    (i32.sub (i32.const 31) (i32.clz (local.get $cap))))

  (func $free_tag (param $h i32) (result i32)
    (i32.xor (i32.xor (local.get $h) (global.get $FREE_MAGIC)) (global.get $epoch)))

  ;; Is $h a handle whose header lies inside the heap, whatever its tag?
  (func $in_heap (param $h i32) (result i32)
    (i32.and
      (i32.and
        (i32.ge_u (local.get $h) (i32.add (global.get $HEAP_BASE) (i32.const 16)))
        (i32.lt_u (local.get $h) (global.get $bump)))
      (i32.eqz (i32.and (local.get $h) (i32.const 15)))))

;; A live block: its tag matches, and its header still makes sense — the guest may have
  ;; scribbled over it, and no length the host trusts may reach past the heap. It runs for
  ;; every handle handed in, so $in_heap and $live_tag are written out here: V8 before 12
  ;; (Node 20) does not inline one wasm function into another.
  (func $is_live (param $h i32) (result i32)
    (local $header i32) (local $cap i32)
    (if (i32.eqz
          (i32.and
            (i32.and
              (i32.ge_u (local.get $h) (i32.add (global.get $HEAP_BASE) (i32.const 16)))
              (i32.lt_u (local.get $h) (global.get $bump)))
            (i32.eqz (i32.and (local.get $h) (i32.const 15)))))
      (then (return (i32.const 0))))
    (local.set $header (i32.sub (local.get $h) (i32.const 16)))
    (if (i32.ne
          (i32.load offset=8 (local.get $header))
          (i32.xor (i32.xor (local.get $h) (global.get $LIVE_MAGIC)) (global.get $epoch)))
      (then (return (i32.const 0))))
    (local.set $cap (i32.load offset=4 (local.get $header)))
    ;; a capacity of 0 would put the block in no size class
    (i32.and
      (i32.and
        (i32.le_u (i32.load (local.get $header)) (local.get $cap))
        (i32.ne (local.get $cap) (i32.const 0)))
      (i64.le_u
        (i64.add (i64.extend_i32_u (local.get $h)) (i64.extend_i32_u (local.get $cap)))
        (i64.extend_i32_u (global.get $bump)))))

  ;; a 64-bit guest handle as a 32-bit live handle, or 0
  (func $live_handle (param $h i64) (result i32)
    (if (result i32) (i64.gt_u (local.get $h) (i64.const 0xffffffff))
      (then (i32.const 0))
      (else
        (if (result i32) (call $is_live (i32.wrap_i64 (local.get $h)))
          (then (i32.wrap_i64 (local.get $h)))
          (else (i32.const 0))))))

  ;; Grow the memory so that [0, $end) is addressable, within $max_pages (which a pooled kernel
  ;; may already exceed: its memory grew for an earlier owner).
  (func $ensure (param $end i64) (result i32)
    (local $have i32) (local $need i32) (local $want i32)
    (if (i64.gt_u (local.get $end) (call $limit_bytes)) (then (return (i32.const 0))))
    (local.set $have (memory.size))
    (if (i64.le_u (local.get $end) (i64.shl (i64.extend_i32_u (local.get $have)) (i64.const 16)))
      (then (return (i32.const 1))))
    (if (i64.gt_u (local.get $end) (i64.const 0x100000000)) (then (return (i32.const 0))))
    (local.set $need
      (i32.wrap_i64 (i64.shr_u (i64.add (local.get $end) (i64.const 0xffff)) (i64.const 16))))
    (if (i32.gt_u (local.get $need) (global.get $max_pages)) (then (return (i32.const 0))))
    ;; grow by at least half of what we have, to keep the number of grows logarithmic
    (local.set $want (i32.add (local.get $have) (i32.shr_u (local.get $have) (i32.const 1))))
    (if (i32.lt_u (local.get $want) (local.get $need)) (then (local.set $want (local.get $need))))
    (if (i32.gt_u (local.get $want) (global.get $max_pages)) (then (local.set $want (global.get $max_pages))))
    (if (i32.ne (memory.grow (i32.sub (local.get $want) (local.get $have))) (i32.const -1))
      (then (return (i32.const 1))))
    (i32.ne (memory.grow (i32.sub (local.get $need) (local.get $have))) (i32.const -1)))

  (func $limit_bytes (result i64)
    (i64.shl (i64.extend_i32_u (global.get $max_pages)) (i64.const 16)))

  ;; Forget the free list of class $k.
  (func $drop_list (param $k i32)
    (i32.store (i32.shl (local.get $k) (i32.const 2)) (i32.const 0))
    (global.set $nonempty (i32.and (global.get $nonempty) (i32.xor (i32.shl (i32.const 1) (local.get $k)) (i32.const -1)))))

  ;; Take a block of capacity >= $cap from the free list of class $k, or return 0.
  (func $pop_free (param $k i32) (param $cap i32) (result i32)
    (local $head_at i32) (local $h i32) (local $next i32)
    (local.set $head_at (i32.shl (local.get $k) (i32.const 2)))
    (local.set $h (i32.load (local.get $head_at)))
    (if (i32.eqz (local.get $h)) (then (call $drop_list (local.get $k)) (return (i32.const 0))))
    (if (i32.eqz (call $in_heap (local.get $h)))
      (then (call $drop_list (local.get $k)) (return (i32.const 0))))
    (if (i32.ne (i32.load offset=8 (i32.sub (local.get $h) (i32.const 16))) (call $free_tag (local.get $h)))
      ;; the list was scribbled over by the guest: forget it rather than follow it
      (then (call $drop_list (local.get $k)) (return (i32.const 0))))
    (if (i32.lt_u (i32.load offset=4 (i32.sub (local.get $h) (i32.const 16))) (local.get $cap))
      (then (return (i32.const 0))))
    (local.set $next (i32.load offset=12 (i32.sub (local.get $h) (i32.const 16))))
    (i32.store (local.get $head_at) (local.get $next))
    (if (i32.eqz (local.get $next)) (then (call $drop_list (local.get $k))))
    (local.get $h))

  ;; Put the free block $h (its header already tagged free) on the free list of its class.
  (func $push_free (param $h i32) (param $cap i32)
    (local $k i32)
    (local.set $k (call $class_of (local.get $cap)))
    (i32.store offset=12 (i32.sub (local.get $h) (i32.const 16))
      (if (result i32) (i32.and (global.get $nonempty) (i32.shl (i32.const 1) (local.get $k)))
        (then (i32.load (i32.shl (local.get $k) (i32.const 2))))
        (else (i32.const 0))))
    (i32.store (i32.shl (local.get $k) (i32.const 2)) (local.get $h))
    (global.set $nonempty (i32.or (global.get $nonempty) (i32.shl (i32.const 1) (local.get $k)))))

  ;; Make [$header, $end) one free block on the free lists.
  (func $free_run (param $header i32) (param $end i32)
    (local $h i32) (local $cap i32)
    (local.set $h (i32.add (local.get $header) (i32.const 16)))
    (local.set $cap (i32.sub (local.get $end) (local.get $h)))
    (i32.store offset=4 (local.get $header) (local.get $cap))
    (i32.store offset=8 (local.get $header) (call $free_tag (local.get $h)))
    (call $push_free (local.get $h) (local.get $cap)))

  ;; A free block of capacity >= $cap from the free lists, or 0. A block much larger than
  ;; asked is split, its tail going back to the free lists.
  (func $from_free_lists (param $cap i32) (result i32)
    (local $k i32) (local $h i32) (local $have i32)
    (if (i32.eqz (global.get $nonempty)) (then (return (i32.const 0))))
    ;; the block's own class may hold a block big enough; every class above it surely does
    (local.set $k (call $class_of (local.get $cap)))
    (if (i32.and (global.get $nonempty) (i32.shl (i32.const 1) (local.get $k)))
      (then (local.set $h (call $pop_free (local.get $k) (local.get $cap)))))
    (block $found
      (loop $classes
        (br_if $found (local.get $h))
        ;; the lowest non-empty class above $k
        (local.set $k (i32.ctz (i32.and (global.get $nonempty)
          (i32.shl (i32.const -2) (local.get $k)))))
        (br_if $found (i32.ge_u (local.get $k) (i32.const 32)))
        ;; (a head the guest shrank is left where it is)
        (local.set $h (call $pop_free (local.get $k) (local.get $cap)))
        (br $classes)))
    (if (i32.eqz (local.get $h)) (then (return (i32.const 0))))
    (local.set $have (i32.load offset=4 (i32.sub (local.get $h) (i32.const 16))))
    ;; room for a header and 16 bytes after what was asked, inside the heap: split
    (if (i32.and
          (i32.ge_u (i32.sub (local.get $have) (local.get $cap)) (i32.const 32))
          (i64.le_u
            (i64.add (i64.extend_i32_u (local.get $h)) (i64.extend_i32_u (local.get $have)))
            (i64.extend_i32_u (global.get $bump))))
      (then
        (call $free_run (i32.add (local.get $h) (local.get $cap)) (i32.add (local.get $h) (local.get $have)))
        (i32.store offset=4 (i32.sub (local.get $h) (i32.const 16)) (local.get $cap))))
    (local.get $h))

  ;; Fresh space ran out: walk the heap block by block and rebuild the free lists from every
  ;; free block (quarantined ones included), neighbours merged into one; a free run at the top
  ;; goes back to the bump pointer. A header that no longer makes sense (the guest scribbled
  ;; over it) ends the walk: the free space above it is lost, to this call only.
  (func $sweep
    (local $at i32) (local $h i32) (local $cap i32) (local $run i32)
    (global.set $nonempty (i32.const 0))
    (global.set $quarantine_bytes (i32.const 0))
    (global.set $freed_since_sweep (i32.const 0))
    (global.set $sweeps (i32.add (global.get $sweeps) (i32.const 1)))
    (local.set $at (global.get $HEAP_BASE))
    (block $done
      (loop $blocks
        (br_if $done (i32.ge_u (local.get $at) (global.get $bump)))
        (local.set $h (i32.add (local.get $at) (i32.const 16)))
        (local.set $cap (i32.load offset=4 (local.get $at)))
        (br_if $done (i32.or (i32.eqz (local.get $cap)) (i32.and (local.get $cap) (i32.const 15))))
        (br_if $done (i64.gt_u
          (i64.add (i64.extend_i32_u (local.get $h)) (i64.extend_i32_u (local.get $cap)))
          (i64.extend_i32_u (global.get $bump))))
        (if (i32.eq (i32.load offset=8 (local.get $at)) (call $free_tag (local.get $h)))
          (then (if (i32.eqz (local.get $run)) (then (local.set $run (local.get $at)))))
          (else
            (if (local.get $run)
              (then (call $free_run (local.get $run) (local.get $at)) (local.set $run (i32.const 0))))))
        (local.set $at (i32.add (local.get $h) (local.get $cap)))
        (br $blocks)))
    (if (local.get $run)
      (then
        (if (i32.eq (local.get $at) (global.get $bump))
          (then (call $set_bump (local.get $run)))
          (else (call $free_run (local.get $run) (local.get $at)))))))

  ;; Allocate $n bytes (0 allowed, for host-made empty blocks). Returns the handle or 0 (and
  ;; remembers the request in $refused when the memory limit was the reason).
  (func $allocate (param $n i32) (result i32)
    (local $cap i32) (local $h i32) (local $end i64)
    (local.set $cap (i32.and (i32.add (local.get $n) (i32.const 15)) (i32.const -16)))
    (if (i32.eqz (local.get $cap)) (then (local.set $cap (i32.const 16))))
    (if (i32.lt_u (local.get $cap) (local.get $n)) (then (return (i32.const 0))))
    (block $got
      ;; at most twice round: a sweep clears what lets it run again
      (loop $try
        ;; (every list empty, as after host_begin: no call)
        (if (global.get $nonempty) (then (local.set $h (call $from_free_lists (local.get $cap)))))
        (br_if $got (local.get $h))
        (local.set $end
          (i64.add (i64.extend_i32_u (global.get $bump)) (i64.extend_i32_u (i32.add (local.get $cap) (i32.const 16)))))
        (if (i32.or
              (i64.gt_u (local.get $end) (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)))
              (i64.gt_u (local.get $end) (i64.shl (i64.extend_i32_u (global.get $max_pages)) (i64.const 16))))
          (then
            ;; the heap would have to grow: first reuse what the host freed, when that is a
            ;; quarter of the heap or more
            (if (i32.and
                  (i32.ne (global.get $quarantine_bytes) (i32.const 0))
                  (i64.ge_u
                    (i64.shl (i64.extend_i32_u (global.get $quarantine_bytes)) (i64.const 2))
                    (global.get $span1)))
              (then (call $sweep) (br $try)))
            (if (i32.eqz (call $ensure (local.get $end)))
              (then
                ;; at the limit: every free block, merged, is the last reserve
                (if (global.get $freed_since_sweep) (then (call $sweep) (br $try)))
                (call $note_refused (i64.extend_i32_u (local.get $n)))
                (return (i32.const 0))))))
        (local.set $h (i32.add (global.get $bump) (i32.const 16)))
        (i32.store offset=4 (global.get $bump) (local.get $cap))
        (call $set_bump (i32.wrap_i64 (local.get $end)))))
    (i32.store (i32.sub (local.get $h) (i32.const 16)) (local.get $n))
    (i32.store offset=8 (i32.sub (local.get $h) (i32.const 16))
      (i32.xor (i32.xor (local.get $h) (global.get $LIVE_MAGIC)) (global.get $epoch)))
    (local.get $h))

  (func $note_refused (param $n i64)
    (if (i64.gt_u (local.get $n) (global.get $refused)) (then (global.set $refused (local.get $n)))))

  ;; Free a live block (anything else is ignored). $by_host: the host frees it for the guest,
  ;; so it is quarantined: tagged free but on no free list, found again only by a sweep (see the
  ;; reuse policy at the top).
  (func $release (param $h i32) (param $by_host i32)
    (if (call $is_live (local.get $h)) (then (call $release_live (local.get $h) (local.get $by_host)))))

  ;; $release of a block known to be live.
  (func $release_live (param $h i32) (param $by_host i32)
    (local $header i32) (local $cap i32)
    (local.set $header (i32.sub (local.get $h) (i32.const 16)))
    (local.set $cap (i32.load offset=4 (local.get $header)))
    (i32.store offset=8 (local.get $header) (call $free_tag (local.get $h)))
    (global.set $freed_since_sweep (i32.const 1))
    ;; whoever frees a kept block, it is kept no longer: its address may soon be another block's
    (if (i32.eq (local.get $h) (global.get $kept_a)) (then (global.set $kept_a (i32.const 0))))
    (if (i32.eq (local.get $h) (global.get $kept_b)) (then (global.set $kept_b (i32.const 0))))
    (if (i32.eq (local.get $h) (global.get $input_handle))
      (then (call $set_input (i32.const 0) (i32.const 0))))
    (if (local.get $by_host)
      (then
        (global.set $quarantine_bytes
          (i32.add (global.get $quarantine_bytes) (i32.add (local.get $cap) (i32.const 16))))
        (return)))
    (if (i32.eq (i32.add (local.get $h) (local.get $cap)) (global.get $bump))
      ;; the topmost block: give its space back to the bump pointer
      (then (call $set_bump (local.get $header)) (return)))
    (call $push_free (local.get $h) (local.get $cap)))

    ;; Forget every block at once: a new epoch makes every handle handed out so far stale.
  (func $release_all
    (global.set $epoch (i32.add (global.get $epoch) (i32.const 0x9e3779b9)))
    (global.set $nonempty (i32.const 0))
    (global.set $quarantine_bytes (i32.const 0))
    (global.set $freed_since_sweep (i32.const 0))
    (global.set $refused (i64.const 0))
    ;; set_bump(HEAP_BASE) and set_input(0, 0), written out: this runs at the start of every
    ;; call, and V8 before 12 does not inline wasm calls (the high-water mark is never below
    ;; HEAP_BASE, so it stays)
    (global.set $bump (global.get $HEAP_BASE))
    (global.set $span1 (i64.const 0))
    (global.set $span8 (i64.const 0))
    (global.set $input_handle (i32.const 0))
    (global.set $input_length (i64.const 0))
    (global.set $input_span8 (i64.const 0))
    (i32.store (global.get $OUTCOME) (i32.const 0))
    (i32.store (global.get $OUTPUT_OFFSET) (i32.const 0))
    (i32.store (global.get $OUTPUT_LENGTH) (i32.const 0))
    (global.set $error_handle (i64.const 0))
    (global.set $kept_a (i32.const 0))
    (global.set $kept_b (i32.const 0)))

  ;; The error bit of the outcome follows $error_handle.
  (func $set_error (param $h i64)
    (global.set $error_handle (local.get $h))
    (i32.store (global.get $OUTCOME)
      (i32.or
        (i32.and (i32.load (global.get $OUTCOME)) (i32.const -3))
        (i32.shl (i64.ne (local.get $h) (i64.const 0)) (i32.const 1))))
    (call $release_kept))

  ;; Record the output range and the outcome bits that go with it (the error bit kept).
  (func $set_output (param $offset i32) (param $length i32) (param $invalid i32)
    (i32.store (global.get $OUTPUT_OFFSET) (local.get $offset))
    (i32.store (global.get $OUTPUT_LENGTH) (local.get $length))
    (i32.store (global.get $OUTCOME)
      (i32.or
        (i32.or (i32.and (i32.load (global.get $OUTCOME)) (i32.const 2)) (i32.const 1))
        (i32.shl (local.get $invalid) (i32.const 2))))
    (call $release_kept))

  ;; The result moved: a kept block that no longer holds any of it is freed, as the guest asked.
  (func $release_kept
    (if (global.get $kept_a)
      (then (if (i32.eqz (call $holds_result (global.get $kept_a)))
        (then (call $release_live (global.get $kept_a) (i32.const 0))))))
    (if (global.get $kept_b)
      (then (if (i32.eqz (call $holds_result (global.get $kept_b)))
        (then (call $release_live (global.get $kept_b) (i32.const 0)))))))

  ;; ---------------------------------------------------------------- extism:host/env

  (func (export "alloc") (param $n i64) (result i64)
    (if (i64.eqz (local.get $n)) (then (return (i64.const 0))))
    (if (i64.gt_u (local.get $n) (i64.const 0xffffffef))
      (then (call $note_refused (local.get $n)) (return (i64.const 0))))
    (i64.extend_i32_u (call $allocate (i32.wrap_i64 (local.get $n)))))

  ;; A block that holds the call's error message or part of its output stays live while it
  ;; does: go-pdk 1.0.3 to 1.0.5 free the output block right after output_set (and 1.0.3,
  ;; 1.0.4 the error block after error_set), then allocate again; the reference host never
  ;; reuses that space within the call, so the output still reads back there. It is kept, and
  ;; freed when the output or error moves off it (a loop of outputs reuses its space).
  (func (export "free") (param $h i64)
    (local $live i32)
    (local.set $live (call $live_handle (local.get $h)))
    (if (call $holds_result (local.get $live))
      (then
        (if (i32.or (i32.eq (local.get $live) (global.get $kept_a)) (i32.eq (local.get $live) (global.get $kept_b)))
          (then (return)))
        (if (i32.eqz (global.get $kept_a)) (then (global.set $kept_a (local.get $live)) (return)))
        (if (i32.eqz (global.get $kept_b)) (then (global.set $kept_b (local.get $live))))
        (return)))
    (call $release (local.get $live) (i32.const 0)))

  ;; Does live block $h (0: none) hold the error message or any byte of the output range?
  (func $holds_result (param $h i32) (result i32)
    (local $offset i32) (local $length i32)
    (if (i32.eqz (local.get $h)) (then (return (i32.const 0))))
    (if (i64.eq (i64.extend_i32_u (local.get $h)) (global.get $error_handle)) (then (return (i32.const 1))))
    (local.set $offset (i32.load (global.get $OUTPUT_OFFSET)))
    (local.set $length (i32.load (global.get $OUTPUT_LENGTH)))
    ;; [offset, offset + length) meets [h, h + capacity)
    (i32.and
      (i32.ne (local.get $length) (i32.const 0))
      (i32.and
        (i32.lt_u (local.get $offset) (i32.add (local.get $h) (i32.load offset=4 (i32.sub (local.get $h) (i32.const 16)))))
        (i32.gt_u (i32.add (local.get $offset) (local.get $length)) (local.get $h)))))

  (func $length (export "length") (param $h i64) (result i64)
    (local $live i32)
    (local.set $live (call $live_handle (local.get $h)))
    (if (result i64) (local.get $live)
      (then (i64.extend_i32_u (i32.load (i32.sub (local.get $live) (i32.const 16)))))
      (else (i64.const 0))))

  ;; Validation is O(1) here, so the unsafe variant costs nothing extra to keep safe.
  (func (export "length_unsafe") (param $h i64) (result i64)
    (call $length (local.get $h)))

  (func (export "load_u8") (param $p i64) (result i32)
    (if (result i32) (i64.lt_u (i64.sub (local.get $p) (i64.const 256)) (global.get $reach1))
      (then (i32.load8_u (i32.wrap_i64 (local.get $p))))
      (else (i32.const 0))))

  (func (export "load_u64") (param $p i64) (result i64)
    (if (result i64) (i64.lt_u (i64.sub (local.get $p) (i64.const 256)) (global.get $reach8))
      (then (i64.load (i32.wrap_i64 (local.get $p))))
      (else (i64.const 0))))

  (func (export "store_u8") (param $p i64) (param $v i32)
    (if (i64.lt_u (i64.sub (local.get $p) (i64.const 256)) (global.get $reach1))
      (then (i32.store8 (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "store_u64") (param $p i64) (param $v i64)
    (if (i64.lt_u (i64.sub (local.get $p) (i64.const 256)) (global.get $reach8))
      (then (i64.store (i32.wrap_i64 (local.get $p)) (local.get $v)))))

  (func (export "input_length") (result i64)
    (global.get $input_length))

  (func (export "input_offset") (result i64)
    (i64.extend_i32_u (global.get $input_handle)))

  (func (export "input_load_u8") (param $offset i64) (result i32)
    (if (result i32) (i64.lt_u (local.get $offset) (global.get $input_length))
      (then (i32.load8_u (i32.add (global.get $input_handle) (i32.wrap_i64 (local.get $offset)))))
      (else (i32.const 0))))

  (func (export "input_load_u64") (param $offset i64) (result i64)
    (if (result i64) (i64.lt_u (local.get $offset) (global.get $input_span8))
      (then (i64.load (i32.add (global.get $input_handle) (i32.wrap_i64 (local.get $offset)))))
      (else (i64.const 0))))

  ;; Any range inside the heap is accepted (some PDKs output part of a block); anything
  ;; else is remembered as invalid and fails the call on the host side.
  ;; (0, 0) is an empty output, as is any (h, 0) in the heap.
  (func (export "output_set") (param $h i64) (param $n i64)
    (if (i32.and (i64.eqz (local.get $h)) (i64.eqz (local.get $n)))
      (then (call $set_output (i32.const 0) (i32.const 0) (i32.const 0)) (return)))
    (if (i32.and
          (i64.lt_u (i64.sub (local.get $h) (i64.const 256)) (global.get $span1))
          (i64.le_u (local.get $n) (i64.sub (global.get $span1) (i64.sub (local.get $h) (i64.const 256)))))
      (then (call $set_output (i32.wrap_i64 (local.get $h)) (i32.wrap_i64 (local.get $n)) (i32.const 0)))
      (else (call $set_output (i32.const 0) (i32.const 0) (i32.const 1)))))

  (func (export "error_set") (param $h i64)
    (call $set_error (local.get $h)))

  (func (export "error_get") (result i64)
    (global.get $error_handle))

  ;; ---------------------------------------------------------------- host side (i32 only)

  ;; Start a call: release everything of the previous call and place an input of $n bytes.
  ;; Returns the input's offset (1 for an empty input), or 0 when the kernel memory cannot
  ;; hold it.
  (func (export "host_begin") (param $n i32) (result i32)
    (local $h i32)
    (call $release_all)
    ;; no input: no block (input_offset is 0); 1 only tells the host all is well
    (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
    (local.set $h (call $allocate (local.get $n)))
    (call $set_input (local.get $h) (if (result i32) (local.get $h) (then (local.get $n)) (else (i32.const 0))))
    (local.get $h))

  ;; Shrink the input to its first $n bytes (the host reserved room for a UTF-8 encoding of
  ;; unknown length, then wrote $n bytes).
  (func (export "host_set_input_length") (param $n i32)
    (if (i32.eqz (global.get $input_handle)) (then (return)))
    (i32.store (i32.sub (global.get $input_handle) (i32.const 16)) (local.get $n))
    (call $set_input (global.get $input_handle) (local.get $n)))

  (func (export "host_alloc") (param $n i32) (result i32)
    (call $allocate (local.get $n)))

  ;; The host frees a block it was handed: into the quarantine (see the reuse policy).
  (func (export "host_free") (param $h i32)
    (call $release (local.get $h) (i32.const 1)))

  ;; The host frees a block it made and never handed out: reused at once, as a guest's free.
  (func (export "host_discard") (param $h i32)
    (call $release (local.get $h) (i32.const 0)))

  ;; Length of a live block, 0 for handle 0 (the empty block), or -1 when $h is neither.
  (func $host_length (export "host_length") (param $h i32) (result i32)
    (if (i32.eqz (local.get $h)) (then (return (i32.const 0))))
    (if (result i32) (call $is_live (local.get $h))
      (then (i32.load (i32.sub (local.get $h) (i32.const 16))))
      (else (i32.const -1))))

  ;; Length of a live block, which is freed into the quarantine (-1, and nothing freed, when $h
  ;; is not one; 0 for handle 0). Its bytes stay as they are until fresh space runs out: the
  ;; host reads a key or a value it takes over with one call instead of two. (Freeing writes
  ;; only the block's header.)
  (func (export "host_take") (param $h i32) (result i32)
    (local $n i32)
    (if (i32.eqz (local.get $h)) (then (return (i32.const 0))))
    (if (i32.eqz (call $is_live (local.get $h))) (then (return (i32.const -1))))
    (local.set $n (i32.load (i32.sub (local.get $h) (i32.const 16))))
    (call $release_live (local.get $h) (i32.const 1))
    (local.get $n))

  ;; reset(): every block of the calls before is dropped at once.
  (func (export "host_release_all") (call $release_all))

  ;; Bytes of heap in use (blocks and their headers, free or not): 0 after host_release_all.
  (func (export "host_heap_bytes") (result i32)
    (i32.sub (global.get $bump) (global.get $HEAP_BASE)))

  (func (export "host_sweeps") (result i32) (global.get $sweeps))

  ;; The largest allocation of this call the memory limit refused, in bytes (0: none); an f64
  ;; because a guest may ask for up to 2^64 - 1 bytes, and the host side makes no BigInt.
  (func (export "host_refused") (result f64) (f64.convert_i64_u (global.get $refused)))

  ;; The error block set by the guest: its handle, and its length: -2 when there is none,
  ;; -1 when the guest set a handle that is not a live block.
  (func (export "host_error_handle") (result i32)
    (if (result i32) (i64.gt_u (global.get $error_handle) (i64.const 0xffffffff))
      (then (i32.const -1))
      (else (i32.wrap_i64 (global.get $error_handle)))))
  (func (export "host_error_length") (result i32)
    (if (i64.eqz (global.get $error_handle)) (then (return (i32.const -2))))
    (if (result i32) (i64.gt_u (global.get $error_handle) (i64.const 0xffffffff))
      (then (i32.const -1))
      (else (call $host_length (i32.wrap_i64 (global.get $error_handle))))))
  (func (export "host_error_clear") (call $set_error (i64.const 0)))
  (func (export "host_error_set") (param $h i32) (call $set_error (i64.extend_i32_u (local.get $h))))

  ;; Zero everything the kernel ever handed out, before it serves another plug-in: one
  ;; plug-in must never read what another left behind.
  (func (export "host_scrub")
    (memory.fill (i32.const 0) (i32.const 0) (global.get $high_water))
    (call $set_high_water (global.get $HEAP_BASE))
    (call $release_all))

  (func (export "host_set_max_pages") (param $pages i32)
    (global.set $max_pages (local.get $pages)))
)
