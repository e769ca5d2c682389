#!/usr/bin/env bash
# The fuzz harnesses (tests/fuzz/, scripts/fuzz) replayed on their seeds and
# on every input that once made a parser crash, hang or allocate gigabytes
# (tests/fuzz/regress/): each must still be refused cleanly. No fuzzing here
# (that is `scripts/fuzz SECONDS`); this keeps the fixed bugs fixed.
. "$(dirname "$0")/lib.sh"

out=$T/fuzz.out
scripts/fuzz 0 >"$out" 2>"$T/fuzz.err" || { tail -n 40 "$out"; tail -n 20 "$T/fuzz.err"; fail "scripts/fuzz 0 failed"; }
summary=$(tail -n 1 "$out")
harnesses=$(ls tests/fuzz/fuzz-*.c | wc -l)
[ "$summary" = "$harnesses passed, 0 failed" ] || fail "expected all $harnesses harnesses to pass, got: $summary"
regress=$(find tests/fuzz/regress -type f | wc -l)
[ "$regress" -gt 0 ] || fail "no regression inputs in tests/fuzz/regress"
ok "$harnesses fuzz harnesses replay their seeds and $regress inputs that once failed, cleanly"
