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

# ---- helpers added for the store tests ----------------------------------

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() {
  [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
}

# assert_not_contains HAYSTACK NEEDLE
assert_not_contains() {
  case $1 in
    *"$2"*) fail "did not expect '$2' in: $1" ;;
  esac
}

# sha256_of [FILE]: the hex SHA-256 of FILE (or stdin).
sha256_of() {
  sha256sum "${1:--}" | cut -d' ' -f1
}

# test_seed NAME: sets SEED from ISLE_TEST_SEED or at random, and says so.
test_seed() {
  SEED=${ISLE_TEST_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
  echo "# $1: seed $SEED (set ISLE_TEST_SEED to replay)"
}

# packs_bytes STORE: total length of the pack files.
packs_bytes() {
  find "$1/packs" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

# json_eval EXPR: parses stdin as JSON (as python3 -m json.tool would;
# failing if it is not) into d and prints the Python expression EXPR.
json_eval() {
  python3 -c '
import json, sys
d = json.load(sys.stdin)
r = eval(sys.argv[1])
print(json.dumps(r) if isinstance(r, (dict, list, tuple, bool)) or r is None else r)
' "$1"
}

# The text that gen_tree and gen_mixed copy: files from /usr/share in a fixed
# order (the same on every run on one machine).
ISLE_GEN_PY='
import os, random, shutil, sys

def sources():
    srcs = []
    for top in ("/usr/share/vim", "/usr/share/perl", "/usr/share/i18n", "/usr/share/doc", "/usr/share/man"):
        for root, dirs, files in os.walk(top):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                if os.path.isfile(p) and not os.path.islink(p) and os.access(p, os.R_OK):
                    srcs.append(p)
    return srcs

def text_pool(srcs, rng):
    text = bytearray()
    for p in rng.sample(srcs, min(400, len(srcs))):
        with open(p, "rb") as f:
            b = f.read(65536)
        if b[:2] != b"\x1f\x8b":
            text += b
    return bytes(text) or b"some text\n" * 10000

def mixed(path, size, rng, text):
    """Alternating runs of text and random bytes, 64 KiB .. 1 MiB each,
    starting with text (a file whose first MiB is noise is chunked coarse)."""
    with open(path, "wb") as f:
        f.write(b"MIX\n")
        left = size
        first = True
        while left > 0:
            n = min(left, rng.randint(64 << 10, 1 << 20))
            if first or rng.random() < 0.5:
                first = False
                o = rng.randrange(len(text))
                chunk = text[o:o + n]
                while len(chunk) < n:
                    chunk += text[: n - len(chunk)]
            else:
                chunk = rng.randbytes(n)
            f.write(chunk)
            left -= n
'

# gen_tree DIR MIB SEED [RANDOM_PERCENT]: a deterministic tree of about MIB
# MiB under DIR: text and already-compressed (.gz) files copied from
# /usr/share under share/, random files under random/ (RANDOM_PERCENT of
# the total, default 30), and big.bin (1/8 of the total, text and random
# runs mixed).
gen_tree() {
  python3 -c "$ISLE_GEN_PY"'
out, mib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rshare = int(sys.argv[4]) if len(sys.argv) > 4 else 30
rng = random.Random(seed)
total = mib << 20
os.makedirs(out, exist_ok=True)
srcs = sources()
text = text_pool(srcs, rng)
rng.shuffle(srcs)
big = total // 8
rnd = total * rshare // 100
budget = total - big - rnd
done = 0
for p in srcs:
    if done >= budget:
        break
    n = os.path.getsize(p)
    if n == 0 or n > 4 << 20:
        continue
    dst = os.path.join(out, "share", os.path.relpath(p, "/usr/share"))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(p, dst)
    done += n
os.makedirs(os.path.join(out, "random"), exist_ok=True)
i = 0
while rnd > 0:
    n = min(rnd, rng.randint(4 << 10, 4 << 20))
    with open(os.path.join(out, "random", "r%03d.bin" % i), "wb") as f:
        f.write(rng.randbytes(n))
    rnd -= n
    i += 1
mixed(os.path.join(out, "big.bin"), big, rng, text)
' "$@"
}

# gen_mixed FILE MIB SEED: one file of MIB MiB, text and random runs mixed.
gen_mixed() {
  python3 -c "$ISLE_GEN_PY"'
rng = random.Random(int(sys.argv[3]))
mixed(sys.argv[1], int(sys.argv[2]) << 20, rng, text_pool(sources(), rng))
' "$@"
}

# check_files STORE SPEC DIR PREFIX: every regular file under DIR, cat from
# SPEC at PREFIX/relative-path, must hash to the source's SHA-256. Sets
# CHECKED to the number of files compared.
check_files() {
  local store=$1 spec=$2 dir=$3 prefix=$4 p want got
  CHECKED=0
  while IFS= read -r -d '' p; do
    want=$(sha256_of "$dir/$p")
    got=$("$ISLE" --store "$store" cat "$spec:$prefix/$p" 2>"$T/.cat.err" | sha256_of) ||
      fail "isle cat $spec:$prefix/$p failed: $(cat "$T/.cat.err")"
    [ "$got" = "$want" ] || fail "$spec:$prefix/$p: sha256 $got, expected $want"
    CHECKED=$((CHECKED + 1))
  done < <(cd "$dir" && find . -type f -printf '%P\0')
}

# fail_later MSG: report a failure but go on testing (for a known product
# bug, so the checks after it still run); finish then exits non-zero.
FAILED_LATER=0
fail_later() {
  echo "not ok - $*"
  FAILED_LATER=$((FAILED_LATER + 1))
}

# finish: ends a test that used fail_later.
finish() {
  if [ "$FAILED_LATER" -gt 0 ]; then
    echo "# $FAILED_LATER check(s) failed (see 'not ok' above)"
    exit 1
  fi
}

# now_ms: milliseconds since the epoch.
now_ms() {
  echo $(($(date +%s%N) / 1000000))
}
