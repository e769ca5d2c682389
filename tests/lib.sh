# Sourced by tests/test-*.sh, which scripts/test runs with
#   ISLE           the isle binary under test (the sanitizer build)
#   ISLE_TEST_TMP  a fresh directory of its own, removed afterwards
# Start a test with:  . "$(dirname "$0")/lib.sh"
set -euo pipefail

: "${ISLE:?ISLE must name the isle binary (scripts/test sets it)}"
: "${ISLE_TEST_TMP:?ISLE_TEST_TMP must name a fresh directory (scripts/test sets it)}"
T=$ISLE_TEST_TMP
ERR=

# fail MSG: report and end the test. Inside $(…) it ends only the subshell.
fail() {
  echo "not ok - $*"
  exit 1
}

ok() {
  echo "ok - $*"
}

# expect_fail CMD…: CMD must exit non-zero with a clean refusal, not a crash or
# a sanitizer report. Its stderr is left in $ERR for assert_contains.
expect_fail() {
  local rc=0
  "$@" 2>"$T/.stderr" || rc=$?
  ERR=$(cat "$T/.stderr")
  [ "$rc" -ne 0 ] || fail "expected failure, got success: $*"
  [ "$rc" -lt 128 ] || fail "crashed (exit $rc): $*: $ERR"
  case $ERR in
    *Sanitizer*|*"runtime error:"*) fail "sanitizer report from: $*: $ERR" ;;
  esac
}

# assert_contains HAYSTACK NEEDLE
assert_contains() {
  case $1 in
    *"$2"*) ;;
    *) fail "expected '$2' in: $1" ;;
  esac
}

# store_fingerprint STORE: `isle ls` plus the sha256 of every file under packs/
# and index/. Equal fingerprints before and after a refused operation prove it
# changed nothing. LMDB's lock.mdb is left out: it is the reader table, which
# every read (this `isle ls` included) writes.
store_fingerprint() {
  local store=$1
  ISLE_STORE=$store "$ISLE" ls
  (cd "$store" && find packs index -type f ! -name lock.mdb -print0 | sort -z | xargs -0r sha256sum)
}
