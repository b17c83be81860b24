;; The request head's field lines, scanned sixteen bytes at a time (WebAssembly SIMD).
;;
;; `npm run build:wasm` assembles this file into src/wire/field-scan-wasm.ts (the bytes, base64);
;; src/wire/field-scan.ts loads it and copies the head into this module's memory. This is only the
;; fast check of well-formed heads: any line that is not plainly well-formed answers -1, and the
;; JavaScript parser (parser.ts) then applies the exact rules, which say what is wrong.
;;
;; Memory (one 64 KiB page), laid out by field-scan.ts:
;;   [0, 256)          1 for each tchar byte (RFC 9110 §5.6.2), 0 for every other byte
;;   [input, ...)      the bytes to scan
;;   [out, out + 8)    after a successful scan: where the empty line ends (minus $base), and the
;;                     name lengths seen (bit n: a name of n bytes; bit 31: 31 or more). In memory
;;                     rather than globals, which cost JavaScript a call each to read
;;   [out + 8, ...)    five i32 per field line: name start, colon, value start, value end
;;                     (positions minus $base, so the caller's offsets), and the name's hash:
;;                     h = h * 31 + (byte | 0x20) over its bytes, in i32 arithmetic, so that the
;;                     caller recognises the few names it reads itself without comparing bytes
(module
  (memory (export "memory") 1)


  ;; Scans field lines, field-line = field-name ":" OWS field-value OWS CRLF (RFC 9112 §5), from $pos up
  ;; to the empty line. Returns the number of lines, -1 for a line that needs the exact rules (or more
  ;; than $max lines), -2 when $len is reached before the empty line.
  (func (export "scan")
    (param $pos i32) (param $len i32) (param $max i32) (param $out i32) (param $base i32)
    (result i32)
    (local $p i32) (local $colon i32) (local $valueStart i32) (local $valueEnd i32)
    (local $count i32) (local $byte i32) (local $stops i32) (local $chunk v128)
    (local $hash i32) (local $lengths i32) (local $nameLength i32) (local $results i32)
    (local.set $results (local.get $out))
    (local.set $out (i32.add (local.get $out) (i32.const 8)))
    (block $needsExactRules
      (block $outOfInput
        (loop $line
          (br_if $outOfInput (i32.ge_u (i32.add (local.get $pos) (i32.const 1)) (local.get $len)))
          ;; The empty line (CRLF) ends the head.
          (if (i32.eq (i32.load8_u (local.get $pos)) (i32.const 13))
            (then
              (br_if $needsExactRules
                (i32.ne (i32.load8_u (i32.add (local.get $pos) (i32.const 1))) (i32.const 10)))
              (i32.store offset=0 (local.get $results)
                (i32.sub (i32.add (local.get $pos) (i32.const 2)) (local.get $base)))
              (i32.store offset=4 (local.get $results) (local.get $lengths))
              (return (local.get $count))))
          (br_if $needsExactRules (i32.ge_u (local.get $count) (local.get $max)))

          ;; field-name = token, then the colon with no whitespace before it.
          (local.set $p (local.get $pos))
          (local.set $hash (i32.const 0))
          (block $nameEnd
            (loop $name
              (br_if $outOfInput (i32.ge_u (local.get $p) (local.get $len)))
              (local.set $byte (i32.load8_u (local.get $p)))
              (br_if $nameEnd (i32.eqz (i32.load8_u (local.get $byte))))
              (local.set $hash
                (i32.add
                  (i32.mul (local.get $hash) (i32.const 31))
                  (i32.or (local.get $byte) (i32.const 32))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $name)))
          (br_if $needsExactRules (i32.eq (local.get $p) (local.get $pos)))
          (br_if $needsExactRules (i32.ne (i32.load8_u (local.get $p)) (i32.const 58)))
          (local.set $nameLength (i32.sub (local.get $p) (local.get $pos)))
          (local.set $lengths
            (i32.or
              (local.get $lengths)
              (i32.shl
                (i32.const 1)
                (select (local.get $nameLength) (i32.const 31) (i32.lt_u (local.get $nameLength) (i32.const 31))))))
          (local.set $colon (local.get $p))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))

          ;; OWS before the value.
          (block $owsEnd
            (loop $ows
              (br_if $outOfInput (i32.ge_u (local.get $p) (local.get $len)))
              (local.set $byte (i32.load8_u (local.get $p)))
              (br_if $owsEnd
                (i32.and (i32.ne (local.get $byte) (i32.const 32)) (i32.ne (local.get $byte) (i32.const 9))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $ows)))
          (local.set $valueStart (local.get $p))

          ;; field-value bytes (HTAB, SP, VCHAR, obs-text; RFC 9110 §5.5), sixteen at a time while
          ;; sixteen remain: a lane stops the run when it is below 0x20 and not HTAB, or is DEL.
          (block $runEnd
            (loop $run
              (br_if $runEnd (i32.gt_u (i32.add (local.get $p) (i32.const 16)) (local.get $len)))
              (local.set $chunk (v128.load (local.get $p)))
              (local.set $stops
                (i8x16.bitmask
                  (v128.or
                    (v128.andnot
                      (i8x16.lt_u (local.get $chunk) (i8x16.splat (i32.const 32)))
                      (i8x16.eq (local.get $chunk) (i8x16.splat (i32.const 9))))
                    (i8x16.eq (local.get $chunk) (i8x16.splat (i32.const 127))))))
              (if (local.get $stops)
                (then
                  (local.set $p (i32.add (local.get $p) (i32.ctz (local.get $stops))))
                  (br $runEnd)))
              (local.set $p (i32.add (local.get $p) (i32.const 16)))
              (br $run)))
          ;; The last few bytes one at a time, up to the byte that stopped the run: only a CR may.
          (block $valueEnd
            (loop $tail
              (br_if $outOfInput (i32.ge_u (local.get $p) (local.get $len)))
              (local.set $byte (i32.load8_u (local.get $p)))
              (br_if $valueEnd (i32.eq (local.get $byte) (i32.const 13)))
              (br_if $needsExactRules (i32.eq (local.get $byte) (i32.const 127)))
              (br_if $needsExactRules
                (i32.and (i32.lt_u (local.get $byte) (i32.const 32)) (i32.ne (local.get $byte) (i32.const 9))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $tail)))
          (br_if $outOfInput (i32.ge_u (i32.add (local.get $p) (i32.const 1)) (local.get $len)))
          (br_if $needsExactRules (i32.ne (i32.load8_u (i32.add (local.get $p) (i32.const 1))) (i32.const 10)))

          ;; OWS after the value is not part of it.
          (local.set $valueEnd (local.get $p))
          (block $trimmed
            (loop $trim
              (br_if $trimmed (i32.le_u (local.get $valueEnd) (local.get $valueStart)))
              (local.set $byte (i32.load8_u (i32.sub (local.get $valueEnd) (i32.const 1))))
              (br_if $trimmed
                (i32.and (i32.ne (local.get $byte) (i32.const 32)) (i32.ne (local.get $byte) (i32.const 9))))
              (local.set $valueEnd (i32.sub (local.get $valueEnd) (i32.const 1)))
              (br $trim)))

          (i32.store offset=0 (local.get $out) (i32.sub (local.get $pos) (local.get $base)))
          (i32.store offset=4 (local.get $out) (i32.sub (local.get $colon) (local.get $base)))
          (i32.store offset=8 (local.get $out) (i32.sub (local.get $valueStart) (local.get $base)))
          (i32.store offset=12 (local.get $out) (i32.sub (local.get $valueEnd) (local.get $base)))
          (i32.store offset=16 (local.get $out) (local.get $hash))
          (local.set $out (i32.add (local.get $out) (i32.const 20)))
          (local.set $count (i32.add (local.get $count) (i32.const 1)))
          (local.set $pos (i32.add (local.get $p) (i32.const 2)))
          (br $line)))
      (return (i32.const -2)))
    (i32.const -1))
)
