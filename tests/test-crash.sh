#!/usr/bin/env bash
# Crash safety and damage: kill -9 at random moments during a large
# `isle add` and during `isle gc`; after each kill `isle fsck` is clean and
# every earlier revision is byte-exact. A flipped byte in a pack makes
# `isle cat` fail without writing wrong bytes and `isle fsck` name the
# object and the path; a deleted index is rebuilt from the packs with every
# bundle, revision and generation as before.
#
# ISLE_TEST_SEED replays the data and the kill moments; ISLE_CRASH_KILLS
# (default 20) sets the number of kills in each of the add and gc phases.
. "$(dirname "$0")/lib.sh"
test_seed test-crash
start=$SECONDS
KILLS=${ISLE_CRASH_KILLS:-20}

S=$T/store
isle() { "$ISLE" --store "$S" "$@"; }

# rand N: a pseudo-random number in [0, N), from the seed.
RANDOM=$((SEED % 32768))
rand() { echo $(((RANDOM * 32768 + RANDOM) % $1)); }

# ---- data -------------------------------------------------------------------------
# A: the earlier revisions that must survive every crash: a few mixed
# files (text runs compress, random runs do not), small files, a symlink.
A=$T/in/A
mkdir -p "$A/sub"
for i in 1 2 3 4 5; do gen_mixed "$A/m$i.bin" 5 $((SEED + i)); done
printf 'small\n' >"$A/small"
: >"$A/empty"
printf 'below\n' >"$A/sub/below"
ln -s m1.bin "$A/link"
# B: the large add that gets killed: 240 MiB in 8 files.
B=$T/in/B
mkdir -p "$B"
for i in 1 2 3 4 5 6 7 8; do gen_mixed "$B/b$i.bin" 30 $((SEED + 100 + i)); done

# K: live data that gc has to copy when it rewrites the pack.
K=$T/in/K
mkdir -p "$K"
for i in 1 2 3 4; do gen_mixed "$K/k$i.bin" 25 $((SEED + 200 + i)); done
declare -A KSUMS
for i in 1 2 3 4; do KSUMS[k$i.bin]=$(sha256_of "$K/k$i.bin"); done

isle init >/dev/null
isle add file "$A" -m "A" >/dev/null
printf 'changed\n' >"$T/in/changed"
isle add file "$T/in/changed" --prefix A -m "A changed" >/dev/null
isle activate default@2 >/dev/null

# same_sum WHAT SPEC:PATH SHA256: isle cat of it must hash to SHA256.
same_sum() {
  local got
  got=$(isle cat "$2" 2>"$T/cat.err" | sha256_of) || fail "$1: isle cat $2 failed: $(cat "$T/cat.err")"
  [ "$got" = "$3" ] || fail "$1: $2 is not byte-exact (sha256 $got, expected $3)"
}

# verify_earlier: default@1 and default@2 byte-exact, the generation intact.
verify_earlier() {
  local f
  for f in m1.bin m2.bin m3.bin m4.bin m5.bin small empty sub/below; do
    same_sum "$1" "default@1:A/$f" "${SUMS[$f]}"
  done
  same_sum "$1" default@2:A/m3.bin "${SUMS[m3.bin]}"
  same_sum "$1" default@2:A/changed "$(printf 'changed\n' | sha256_of)"
  isle ls default@1 | grep -q 'files/A/link -> m1.bin' || fail "$1: default@1 lost its symlink"
  [ "$(isle --json generations | json_eval '[(g["generation"], g["current"]) for g in d]')" = '[[1, true]]' ] ||
    fail "$1: generations changed: $(isle --json generations)"
}
declare -A SUMS
for f in m1.bin m2.bin m3.bin m4.bin m5.bin small empty sub/below; do SUMS[$f]=$(sha256_of "$A/$f"); done
declare -A BSUMS
for i in 1 2 3 4 5 6 7 8; do BSUMS[b$i.bin]=$(sha256_of "$B/b$i.bin"); done

# verify_big SPEC: the complete add of B.
verify_big() {
  local i
  for i in 1 2 3 4 5 6 7 8; do
    same_sum "the add of B" "$1:B/b$i.bin" "${BSUMS[b$i.bin]}"
  done
}

# fsck_clean WHAT: fsck must exit 0.
fsck_clean() {
  local out rc=0
  out=$(isle fsck 2>&1) || rc=$?
  [ "$rc" -eq 0 ] || fail "$1: fsck is not clean (exit $rc): $out"
  case $out in *Sanitizer*|*"runtime error"*) fail "$1: fsck: $out" ;; esac
}

# forget_big: forget every revision of bundle big.
forget_big() {
  local r log
  log=$(isle --json log big 2>/dev/null) || return 0
  for r in $(json_eval '" ".join(str(e["revision"]) for e in d)' <<<"$log"); do
    isle forget "big@$r" >/dev/null
  done
}

verify_earlier "before any kill"
fsck_clean "before any kill"
ok "setup: default@1 (A, $(du -sm "$A" | cut -f1) MiB), default@2, generation 1; B is $(du -sm "$B" | cut -f1) MiB"

# kill_at MS ARGS…: runs `isle ARGS…` in the background and kills it with
# SIGKILL after MS milliseconds. Sets KILLED_RUNNING to 1 if
# it was still running when killed, else 0 (and then it must have
# succeeded).
kill_at() {
  local ms=$1 pid rc=0
  shift
  "$ISLE" --store "$S" "$@" >"$T/run.out" 2>"$T/run.err" &
  pid=$!
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    KILLED_RUNNING=1
  else
    KILLED_RUNNING=0
  fi
  wait "$pid" 2>/dev/null || rc=$?
  if [ "$KILLED_RUNNING" -eq 1 ] && [ "$rc" -ne 137 ]; then
    # It ended on its own between the check and the kill.
    KILLED_RUNNING=0
  fi
  if [ "$KILLED_RUNNING" -eq 0 ] && [ "$rc" -ne 0 ]; then
    fail "isle $* ended with $rc before the kill: $(cat "$T/run.err")"
  fi
}

# ---- kill -9 during add -----------------------------------------------------------------
# How long a whole add takes, on a copy of the store.
cp -a "$S" "$T/scratch"
t0=$(now_ms)
"$ISLE" --store "$T/scratch" add file "$B" --bundle big >/dev/null
add_ms=$(($(now_ms) - t0))
rm -rf "$T/scratch"
echo "# a whole add of B takes $add_ms ms"

mid=0
completed=0
iter=0
while [ "$mid" -lt "$KILLS" ]; do
  iter=$((iter + 1))
  [ "$iter" -le $((KILLS * 2)) ] || fail "only $mid of $iter kills hit a running add"
  # Mostly inside the add, some near its end (the commit) or just after.
  ms=$((30 + $(rand $((add_ms * 21 / 20)))))
  kill_at "$ms" add file "$B" --bundle big -m "attempt $iter"
  fsck_clean "add killed at $ms ms"
  verify_earlier "add killed at $ms ms"
  revs=0
  if log=$(isle --json log big 2>/dev/null); then revs=$(json_eval 'len(d)' <<<"$log"); fi
  if [ "$KILLED_RUNNING" -eq 1 ]; then
    mid=$((mid + 1))
    # Killed: either nothing is visible, or (killed after the commit, while
    # exiting) the whole revision is.
    if [ "$revs" -gt 0 ]; then
      verify_big big
      echo "# kill $iter at $ms ms: after the commit; big is complete"
    else
      echo "# kill $iter at $ms ms: nothing visible"
    fi
  else
    completed=$((completed + 1))
    [ "$revs" -gt 0 ] || fail "the add finished but big has no revision"
    verify_big big
    echo "# run $iter at $ms ms: the add had finished; big is complete"
  fi
  if [ "$revs" -gt 0 ]; then
    forget_big
    isle gc >/dev/null
    fsck_clean "gc after a completed add"
  fi
done
ok "$mid kills -9 during a $((add_ms / 1000)) s add (and $completed completed runs): fsck clean and every earlier revision byte-exact after each"

# A killed add leaves nothing behind for long: the next writer cuts the
# torn tail, and a full add then works.
isle add file "$B" --bundle big -m final >/dev/null
verify_big big
fsck_clean "after the crashed adds"
ok "after the crashes a full add succeeds and is byte-exact"

# ---- kill -9 during gc --------------------------------------------------------------------
# Work for gc: big@N forgotten, so the pack is mostly dead and gets
# rewritten (its live records, A and K, copied to a new pack) and the dead
# objects dropped from the index.
isle add file "$K" --bundle keep >/dev/null
verify_keep() {
  local i
  for i in "$@"; do
    same_sum "keep" "keep@1:K/k$i.bin" "${KSUMS[k$i.bin]}"
  done
}
forget_big
cp -a "$S" "$T/scratch"
t0=$(now_ms)
gc_out=$("$ISLE" --store "$T/scratch" gc)
gc_ms=$(($(now_ms) - t0))
rm -rf "$T/scratch"
echo "# a whole gc takes $gc_ms ms: $gc_out"
packs_full=$(packs_bytes "$S")

mid=0
completed=0
iter=0
while [ "$mid" -lt "$KILLS" ]; do
  iter=$((iter + 1))
  [ "$iter" -le $((KILLS * 3)) ] || fail "only $mid of $iter kills hit a running gc"
  # Within the shortest time a whole gc has been seen to take.
  ms=$((5 + $(rand "$gc_ms")))
  kill_at "$ms" gc
  fsck_clean "gc killed at $ms ms"
  verify_earlier "gc killed at $ms ms"
  verify_keep $((1 + $(rand 4)))
  if [ "$KILLED_RUNNING" -eq 1 ]; then
    mid=$((mid + 1))
    echo "# kill $iter at $ms ms: packs $(packs_bytes "$S") bytes"
  else
    completed=$((completed + 1))
    echo "# run $iter at $ms ms: gc had finished"
    [ "$ms" -ge "$gc_ms" ] || gc_ms=$ms
  fi
  # Once gc has nothing left to do, give it the same work again.
  if [ "$(packs_bytes "$S")" -lt $((packs_full / 2)) ]; then
    isle add file "$B" --bundle big >/dev/null
    forget_big
  fi
done
isle gc >/dev/null
fsck_clean "after the crashed gcs"
verify_earlier "after the crashed gcs"
verify_keep 1 2 3 4
left=$(packs_bytes "$S")
[ "$left" -lt $((packs_full / 2)) ] || fail "after the interrupted gcs a full gc left $left of $packs_full bytes"
ok "$mid kills -9 during a $gc_ms ms gc ($completed completed runs): fsck clean, every revision byte-exact; a final gc finishes the job"

# ---- a flipped byte in a pack -------------------------------------------------------------
# Find a record that stores raw bytes of A/m2.bin (a random run of it),
# and flip a byte in the middle of its payload.
read -r pack rec_off file_off rec_size < <(python3 - "$S/packs" "$A/m2.bin" <<'PY'
import os, struct, sys
packs, path = sys.argv[1], sys.argv[2]
f = open(path, "rb").read()
for name in sorted(os.listdir(packs)):
    data = open(os.path.join(packs, name), "rb").read()
    off = 32
    while off + 64 <= len(data):
        magic, typ, comp, flags, ss, rs = struct.unpack_from("<IBBHII", data, off)
        if magic != 0x524C5349:
            break
        # A chunk stored raw: PAGED (2), its raw bytes and then a page table.
        payload = data[off + 64: off + 64 + rs]
        if typ == 1 and comp == 2 and rs > 4096:
            pos = f.find(payload[:256])
            if pos > 0 and f[pos:pos + rs] == payload:
                print(name, off, pos, rs)
                sys.exit(0)
        off += 64 + ss
sys.exit(1)
PY
) || fail "no raw chunk of A/m2.bin found in the packs"
flip_at=$((rec_off + 64 + rec_size / 2))
flip() {
  chmod u+w "$S/packs/$pack"
  python3 -c '
import sys
p, o = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(o); b = f.read(1); f.seek(o); f.write(bytes([b[0] ^ 0x40]))
' "$S/packs/$pack" "$flip_at"
  chmod a-w "$S/packs/$pack"
}
flip
rc=0
isle cat default@1:A/m2.bin >"$T/m2.out" 2>"$T/cat.err" || rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] || fail "cat of a damaged file: exit $rc (expected a clean failure)"
assert_contains "$(cat "$T/cat.err")" "damaged"
assert_contains "$(cat "$T/cat.err")" "A/m2.bin"
written=$(stat -c %s "$T/m2.out")
[ "$written" -le "$file_off" ] || fail "cat wrote $written bytes, past the damaged chunk at $file_off"
cmp -s "$T/m2.out" <(head -c "$written" "$A/m2.bin") || fail "cat wrote bytes that differ from the original"
ok "cat of a file with a flipped byte fails ($(cat "$T/cat.err")) and writes only the $written correct bytes before the damage"
isle cat default@1:A/m1.bin | cmp - "$A/m1.bin" || fail "an undamaged file is unreadable next to the damage"
ok "the other files still read"

rc=0
isle fsck >"$T/fsck.out" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "fsck of a damaged store: exit $rc, expected 1: $(cat "$T/fsck.out")"
fsck_out=$(cat "$T/fsck.out")
assert_contains "$fsck_out" "damaged chunk"
assert_contains "$fsck_out" "default@1: files/A/m2.bin"
assert_contains "$fsck_out" "default@2: files/A/m2.bin"
assert_contains "$fsck_out" "$pack at $rec_off"
isle --json fsck >"$T/fsck.json" || true
python3 - "$T/fsck.json" "$rec_off" <<'PY' || fail "fsck --json does not describe the damage: $(cat "$T/fsck.json")"
import json, sys
d = json.load(open(sys.argv[1]))
off = int(sys.argv[2])
p = [x for x in d["problems"] if x.get("offset") == off]
assert d["clean"] is False
assert len(p) == 1 and p[0]["type"] == "chunk", p
assert "default@1: files/A/m2.bin" in p[0]["touches"], p
PY
ok "fsck exits 1 naming the damaged chunk, its pack offset and the paths it touches (default@1 and @2: files/A/m2.bin)"
flip
fsck_clean "after flipping the byte back"

# ---- a lost index --------------------------------------------------------------------------
isle add file "$T/in/changed" --bundle other -m other >/dev/null
isle activate other >/dev/null
isle rollback >/dev/null
snapshot() {
  isle ls
  for b in $(isle --json ls | json_eval '" ".join(e["bundle"] for e in d)'); do
    isle log "$b"
    for r in $(isle --json log "$b" | json_eval '" ".join(str(e["revision"]) for e in d)'); do
      isle --json ls "$b@$r"
    done
  done
  isle --json generations
  isle cat default@1:A/m4.bin | sha256_of
  isle cat other:changed
}
before=$(snapshot)
rm -rf "$S/index"
expect_fail isle ls
case $ERR in
  *index*) ok "without its index the store refuses to list and says why ($ERR)" ;;
  # BUG (reported): store_open() maps the missing index/ to -ENOENT, and
  # the CLI then says "not an isle store (create one with isle init)".
  *) fail_later "BUG: with index/ deleted, isle ls says '$ERR': it is a store, its index is missing (fsck --rebuild-index)" ;;
esac
out=$(isle fsck --rebuild-index 2>&1) || fail "fsck --rebuild-index failed: $out"
after=$(snapshot)
[ "$before" = "$after" ] || fail "the rebuilt index differs:
$(diff <(echo "$before") <(echo "$after") | head -n 20)"
fsck_clean "after the rebuild"
assert_eq "$(isle --json generations | json_eval '[(g["generation"], g["current"]) for g in d]')" \
  '[[1, true], [2, false]]' "generations after the rebuild"
ok "fsck --rebuild-index restores every bundle, revision, log, listing, generation and current"
isle add file "$T/in/changed" --prefix after-rebuild >/dev/null
isle cat default:after-rebuild/changed | grep -qx changed || fail "add after the rebuild"
fsck_clean "after an add on the rebuilt index"
ok "the rebuilt store takes new revisions ($((SECONDS - start))s)"

# An index in an older format (the catalog's meta "format" set back to 1,
# as an isle before format numbers would have left it): readers refuse it
# and say how to rebuild; a writer changes no pack; the rebuild restores
# everything.
before=$(snapshot)
packs_before=$(cat "$S"/packs/* | sha256_of)
printf 'VERSION=3\nformat=print\ndatabase=meta\ntype=btree\nHEADER=END\n format\n \\01\\00\\00\\00\\00\\00\\00\\00\nDATA=END\n' |
  mdb_load -s meta "$S/index" || fail "cannot set the index format back with mdb_load"
expect_fail isle ls
case $ERR in
  *"older isle"*"fsck --rebuild-index"*) ;;
  *) fail "isle ls on an index in an older format says '$ERR'" ;;
esac
expect_fail isle add file "$T/in/changed" --prefix old-format
[ "$(cat "$S"/packs/* | sha256_of)" = "$packs_before" ] || fail "a writer on an old-format index changed the packs"
out=$(isle fsck --rebuild-index 2>&1) || fail "fsck --rebuild-index of an old-format index failed: $out"
[ "$before" = "$(snapshot)" ] || fail "the index rebuilt from an old format differs"
fsck_clean "after rebuilding an old-format index"
ok "an index in an older format is refused with how to rebuild it; add changes nothing; the rebuild restores it"
finish
