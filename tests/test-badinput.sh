#!/usr/bin/env bash
# Bad input: each case must be refused with a clear message (asserted on a
# distinctive part of stderr), a non-zero exit that is not a crash, and the
# store exactly as it was (same `isle ls`, same bytes in packs/ and index/)
# and still sound (`isle fsck` clean).
. "$(dirname "$0")/lib.sh"
start=$SECONDS

S=$T/store
isle() { "$ISLE" --store "$S" "$@"; }

SMALL=$T/small
cleanup() {
  [ -z "${holder:-}" ] || kill "$holder" 2>/dev/null || true
  mountpoint -q "$SMALL" 2>/dev/null && umount "$SMALL" 2>/dev/null || true
}
trap cleanup EXIT

isle init >/dev/null
mkdir -p "$T/in/base"
printf 'base\n' >"$T/in/base/file"
head -c 300000 /dev/urandom >"$T/in/base/random"
isle add file "$T/in/base" -m base >/dev/null
isle activate default >/dev/null

# refused WHAT NEEDLE CMD…: CMD fails cleanly, says NEEDLE, changes nothing.
refused() {
  local what=$1 needle=$2 before after
  shift 2
  before=$(store_fingerprint "$S")
  expect_fail "$@"
  assert_contains "$ERR" "$needle"
  after=$(store_fingerprint "$S")
  [ "$before" = "$after" ] || fail "$what: the store changed:
--- before
$before
--- after
$after"
  # (fsck takes the writer lock: while another process holds it, later.)
  [ -n "${holder:-}" ] || isle fsck >/dev/null 2>&1 || fail "$what: fsck is not clean afterwards: $(isle fsck 2>&1 | tail -n 3)"
  ok "$what: refused ($ERR)"
}

# ---- sources --------------------------------------------------------------------------
refused "missing path" "$T/in/nope: No such file or directory" isle add file "$T/in/nope"
refused "missing path among good ones" "$T/in/nope" isle add file "$T/in/base/file" "$T/in/nope"
mkdir -p "$T/in/notdir"
printf x >"$T/in/notdir/plain"
refused "a path through a regular file" "$T/in/notdir/plain/x: Not a directory" isle add file "$T/in/notdir/plain/x"

refused "a character device (/dev/null)" "is a character device" isle add file /dev/null --prefix dev
mkfifo "$T/in/fifo"
refused "a fifo" "$T/in/fifo: is a fifo" isle add file "$T/in/fifo"
mkdir -p "$T/in/withfifo/sub"
printf 'fine\n' >"$T/in/withfifo/a"
mkfifo "$T/in/withfifo/sub/pipe"
refused "a fifo deep in a directory" "$T/in/withfifo/sub/pipe: is a fifo" isle add file "$T/in/withfifo"
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$T/in/sock"
refused "a socket" "is a socket" isle add file "$T/in/sock"

# Unreadable: as root every file is readable, so run isle as nobody on a
# store nobody owns, adding a file (and a directory) nobody may read.
chmod 0755 "$T" "$T/in"
mkdir -p "$T/u"
chown 65534:65534 "$T/u"
U=$T/u/store
asnobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$ISLE" --store "$U" "$@"; }
asnobody init >/dev/null || fail "nobody cannot init a store in a directory it owns"
mkdir -p "$T/in/locked/open" "$T/in/closed"
printf 'secret\n' >"$T/in/locked/secret"
printf 'fine\n' >"$T/in/locked/open/fine"
chmod 0000 "$T/in/locked/secret"
printf 'inside\n' >"$T/in/closed/inside"
chmod 0000 "$T/in/closed"
setpriv --reuid=65534 --regid=65534 --clear-groups cat "$T/in/locked/secret" >/dev/null 2>&1 &&
  fail "nobody can read a mode 0000 file: the unreadable case would prove nothing"
S_SAVE=$S
S=$U
refused "an unreadable file (EACCES, as nobody)" "$T/in/locked/secret: Permission denied" asnobody add file "$T/in/locked/secret"
refused "an unreadable file inside a directory" "$T/in/locked/secret: Permission denied" asnobody add file "$T/in/locked"
refused "an unreadable directory" "$T/in/closed: Permission denied" asnobody add file "$T/in/closed"
S=$S_SAVE
# The control: nobody can add what it may read, and keep adding.
asnobody add file "$T/in/base/file" >/dev/null || fail "nobody cannot add a readable file to its own store"
asnobody cat default:file | cmp - "$T/in/base/file" || fail "nobody's add is not byte-exact"
if asnobody add file "$T/in/base/random" 2>"$T/u.err" >/dev/null; then
  ok "a store owned by a normal user takes a second add"
else
  # BUG (reported): pack_create() makes packs 0444 and pack_writer_open()
  # reopens the current pack O_RDWR, which only root may do.
  fail_later "BUG: a normal user's second add to its own store fails: $(cat "$T/u.err")"
fi

# ---- where the sources go -----------------------------------------------------------
refused "--prefix ../x" "--prefix ../x" isle add file "$T/in/base/file" --prefix ../x
refused "--prefix /abs" "--prefix /abs" isle add file "$T/in/base/file" --prefix /abs
refused "--prefix a/../../b" "--prefix a/../../b" isle add file "$T/in/base/file" --prefix a/../../b
refused "--prefix ./x" "--prefix ./x" isle add file "$T/in/base/file" --prefix ./x
refused "a file given as a directory (file/)" "$T/in/base/file/: Not a directory" isle add file "$T/in/base/file/"
refused "an invalid bundle name" "not a valid bundle name" isle add file "$T/in/base/file" --bundle ../evil
refused "an unknown kind" "unknown kind 'tarball'" isle add tarball "$T/in/base/file"

# ---- the store ------------------------------------------------------------------------
mkdir -p "$T/empty"
for cmd in "add file $T/in/base/file" ls "log default" "cat default:base/file" fsck gc stats; do
  # shellcheck disable=SC2086
  expect_fail "$ISLE" --store "$T/nostore" $cmd
  assert_contains "$ERR" "$T/nostore is not an isle store"
  # shellcheck disable=SC2086
  expect_fail "$ISLE" --store "$T/empty" $cmd
  assert_contains "$ERR" "$T/empty is not an isle store"
done
[ ! -e "$T/nostore" ] || fail "a command on a missing store created $T/nostore"
[ -z "$(ls -A "$T/empty")" ] || fail "a command on an empty directory wrote into it: $(ls -A "$T/empty")"
ok "every verb on a store that is not initialised: 'is not an isle store', nothing created"

# Locked: another process holds the writer lock.
python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)
' "$S/lock" "$T/locked.ready" &
holder=$!
for _ in $(seq 1 100); do [ -e "$T/locked.ready" ] && break; sleep 0.1; done
[ -e "$T/locked.ready" ] || fail "the lock holder did not start"
refused "store locked by another process (add)" "in use by another isle process" isle add file "$T/in/base/file" --prefix x
refused "store locked by another process (activate)" "in use by another isle process" isle activate default
refused "store locked by another process (gc)" "in use by another isle process" isle gc
out=$(timeout 10 "$ISLE" --store "$S" ls) || fail "isle ls fails (or blocks) while another process holds the writer lock"
assert_contains "$out" default
isle cat default:base/file | cmp - "$T/in/base/file" || fail "cat fails while the store is locked"
ok "readers (ls, cat) work while the writer lock is held"
expect_fail isle fsck
assert_contains "$ERR" "in use by another isle process"
kill "$holder"
wait "$holder" 2>/dev/null || true
holder=
isle fsck >/dev/null || fail "fsck after the locked attempts is not clean"
isle add file "$T/in/base/file" --prefix afterlock >/dev/null || fail "add fails after the lock holder is gone"
ok "once the holder is gone, add works again"

# ---- disk full ----------------------------------------------------------------------
mkdir -p "$SMALL"
mount -t tmpfs -o size=8m tmpfs "$SMALL" || fail "cannot mount a tmpfs (needs root)"
D=$SMALL/store
"$ISLE" --store "$D" init >/dev/null
printf 'small\n' >"$T/in/small"
"$ISLE" --store "$D" add file "$T/in/small" >/dev/null
head -c $((20 << 20)) /dev/urandom >"$T/in/huge"
S_SAVE=$S
S=$D
refused "disk full (20 MiB into an 8 MiB tmpfs)" "No space left on device" isle add file "$T/in/huge"
# Near the limit the failure can come at any step: the pack append, its
# fsync, the state record, the index commit. With a fresh store each time
# and a filler file leaving AVAIL bytes free, add a random file of AVAIL -
# DELTA bytes: each must either succeed byte-exact or be refused with the
# store unchanged, and the store must stay usable.
S=$D
fits=0
refusals=0
eio_msg=
kept_bytes=
for delta_kib in 0 4 12 24 40 64 96 128 192 256 384; do
  rm -rf "$D" "$SMALL/filler"
  "$ISLE" --store "$D" init >/dev/null
  "$ISLE" --store "$D" add file "$T/in/small" >/dev/null
  avail=$(df --output=avail -B1 "$SMALL" | tail -n1)
  size=$((avail - (delta_kib << 10) - (256 << 10)))
  head -c $((256 << 10)) /dev/zero >"$SMALL/filler"
  head -c "$size" /dev/urandom >"$T/in/near"
  before=$(store_fingerprint "$D")
  rc=0
  isle add file "$T/in/near" 2>"$T/near.err" >/dev/null || rc=$?
  [ "$rc" -lt 128 ] || fail "add leaving $delta_kib KiB free crashed: $(cat "$T/near.err")"
  if [ "$rc" -eq 0 ]; then
    isle cat default:near | cmp - "$T/in/near" || fail "$delta_kib KiB: added but not byte-exact"
    fits=$((fits + 1))
  else
    err=$(cat "$T/near.err")
    refusals=$((refusals + 1))
    echo "# $delta_kib KiB free beyond the file: refused: $err"
    case $err in
      *"No space left on device"*) ;;
      # BUG (reported): LMDB reports a short write as EIO; on a full disk
      # the user reads "Input/output error".
      *"Input/output error"*) eio_msg=$err ;;
      *) fail "$delta_kib KiB: refused without saying the disk is full: $err" ;;
    esac
    after=$(store_fingerprint "$D")
    if [ "$before" != "$after" ]; then
      # The refs must be unchanged whatever happened to the bytes.
      lsonly() { grep -vE '^[0-9a-f]{64}  (packs|index)/' <<<"$1"; }
      [ "$(lsonly "$before")" = "$(lsonly "$after")" ] || fail "$delta_kib KiB: isle ls changed"
      # BUG (reported): when the index commit fails, store_txn_commit()
      # has already synced the pack, so the abort no longer cuts it back:
      # the pack keeps the uncommitted bytes (the disk stays full) until
      # the next writer opens the store.
      kept_bytes="$kept_bytes $delta_kib KiB ($err): $( (diff <(echo "$before") <(echo "$after") || true) | grep '^>' | grep -o ' [a-z]*/[a-z0-9.-]*$' | tr -d '\n');"
    fi
  fi
  isle fsck >/dev/null 2>&1 || fail "$delta_kib KiB: fsck not clean: $(isle fsck 2>&1 | tail -n 5)"
  rm -f "$SMALL/filler"
  isle add file "$T/in/small" --prefix again >/dev/null 2>"$T/near.err" ||
    fail "$delta_kib KiB: the store is not usable afterwards: $(cat "$T/near.err")"
  [ "$rc" -ne 0 ] || echo "# $delta_kib KiB free beyond the file: fits"
done
[ "$fits" -gt 0 ] && [ "$refusals" -gt 0 ] || fail "the near-full cases did not cover both outcomes ($fits fit, $refusals refused)"
# BUG (reported): LMDB reports a short write as EIO; on a full disk the
# user reads "Input/output error".
[ -z "$eio_msg" ] || fail_later "BUG: disk full at the index commit says '$eio_msg', not 'No space left on device'"
# BUG (reported): when the index commit fails, store_txn_commit() has
# already synced the pack, so the abort no longer cuts it back: the pack
# keeps the uncommitted bytes (and the disk stays full) until the next
# writer opens the store.
[ -z "$kept_bytes" ] || fail_later "BUG: a refused add left the store's files changed:$kept_bytes"
ok "adds near the limit of a full disk either succeed byte-exact or are refused with isle ls unchanged, fsck clean"
isle cat default:small | cmp - "$T/in/small" || fail "the full store lost its file"
printf 'still usable\n' >"$T/in/after"
isle add file "$T/in/after" >/dev/null || fail "the store is not usable after disk full: add fails"
isle cat default:after | cmp - "$T/in/after" || fail "cat after disk full"
isle fsck >/dev/null || fail "fsck after disk full is not clean"
ok "after disk full the store is still usable (add, cat, fsck)"
S=$S_SAVE
umount "$SMALL"

isle fsck >/dev/null || fail "final fsck"
ok "all bad input refused cleanly ($((SECONDS - start))s)"
finish
