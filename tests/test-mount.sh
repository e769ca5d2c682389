#!/usr/bin/env bash
# isle mount: a real FUSE mount of a real store.
#   layout, bytes (sha256 of every file), modes, symlinks, sorted readdir,
#   statfs, xattr; live update (new content within a second, an open file
#   keeps its bytes); 8 parallel readers while `isle add` runs; gc while
#   mounted (deleted packs let go, moved chunks still read); a flipped
#   byte in a pack is EIO (never wrong bytes) and the rest still reads;
#   memory bounded by the cache over 5 GiB of reads; refusals (non-empty
#   dir, missing store, second mount); clean unmounts by `isle umount` and
#   SIGTERM.
# Every mount is waited on by `isle mount` itself (it returns once the mount
# answers); the trap unmounts whatever is left, even on failure.
. "$(dirname "$0")/lib.sh"

[ -c /dev/fuse ] || fail "/dev/fuse is missing: this test needs FUSE"
command -v fusermount3 >/dev/null || fail "fusermount3 is missing (package fuse3)"

S=$T/store
M=$T/mnt
SRC=$T/src
LOG=$T/daemon.log
isle() { "$ISLE" --store "$S" "$@"; }

cleanup() {
  local m
  # Background readers first, then every mount under $T, deepest first.
  kill $(jobs -p) 2>/dev/null || true
  findmnt -rn -o TARGET 2>/dev/null | awk -v d="$T" 'index($0, d "/") == 1' | sort -r |
    while read -r m; do
      fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
trap cleanup EXIT

# No sanitizer report, no crash, in any daemon's log.
check_logs() {
  local f
  for f in "$T"/*.log; do
    if grep -qE 'Sanitizer|runtime error:|AddressSanitizer|LeakSanitizer' "$f"; then
      cat "$f"
      fail "sanitizer report in $f"
    fi
  done
}

daemon_pid() { pgrep -f -- "mount $1( |\$)" | head -1; }

# wait_until SECONDS CMD...: polls CMD (a condition, not a guess) until true.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.05
  done
}

now_ms() { date +%s%3N; }

# --- a source tree with everything a tree can hold ---------------------------
seed=${ISLE_TEST_SEED:-$RANDOM}
echo "# seed $seed (set ISLE_TEST_SEED to repeat)"
python3 - "$SRC" "$seed" <<'EOF'
import os, random, sys, gzip
root, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
def w(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
    os.chmod(path, mode)
words = [bytes(rnd.choice(b'abcdefghijklmnopqrstuvwxyz') for _ in range(rnd.randint(2, 9))) for _ in range(3000)]
def text(n):
    out = bytearray()
    while len(out) < n:
        out += b' '.join(rnd.choice(words) for _ in range(10)) + b'\n'
    return bytes(out[:n])
a = os.path.join(root, 'app')
w(f'{a}/README', b'hello from isle\n')
w(f'{a}/empty', b'')
w(f'{a}/bin/run.sh', b'#!/bin/sh\necho run\n', 0o755)
w(f'{a}/bin/owner-exec', b'x' * 100, 0o700)
w(f'{a}/secret', b'only the owner could read this\n', 0o600)
w(f'{a}/live.txt', b'v1\n')
# Names whose order tells bytewise sorting apart from others.
for name in ['B', 'a', 'Z', '_x', '-dash', 'with space', 'caf\u00e9', '10', '9', 'a.b', 'a-b']:
    w(f'{a}/names/{name}', name.encode() + b'\n')
os.makedirs(f'{a}/emptydir', exist_ok=True)
os.symlink('../README', f'{a}/bin/readme-link')
os.symlink('does/not/exist', f'{a}/dangling')
os.symlink('bin', f'{a}/bindir-link')
# Big files: compressible text (zstd chunks), random (raw chunks), gzip
# (cut large, stored raw), several chunks each.
w(f'{a}/big/text.txt', text(6 << 20))
w(f'{a}/big/random.bin', os.urandom(6 << 20))
w(f'{a}/big/layer.tar.gz', gzip.compress(os.urandom(3 << 20), compresslevel=1))
w(f'{a}/big/open-me.bin', os.urandom(4 << 20))
for i in range(4):
    w(f'{a}/par/file{i}.bin', os.urandom(3 << 20))
w(f'{a}/par/shared.bin', text(8 << 20))
# Not read through the mount before the corruption check, so nothing of
# them is cached yet.
v = os.path.join(root, 'victim')
w(f'{v}/big.bin', os.urandom(9 << 20))  # noise: coarse chunks of 256 KiB-1 MiB, at least nine
w(f'{v}/small.txt', text(3000))
w(f'{v}/neighbour.txt', text(5000))
for d in range(20):
    for f in range(10):
        w(f'{a}/many/d{d:02}/f{f}', text(rnd.randint(0, 3000)))
d = os.path.join(root, 'data')
w(f'{d}/table.csv', text(200000))
w(f'{d}/same-as-readme', b'hello from isle\n')
m = os.path.join(root, 'more')
for i in range(6):
    w(f'{m}/m{i}.bin', os.urandom(4 << 20))
EOF

"$ISLE" --store "$S" init >/dev/null
isle add file "$SRC/app/" --prefix app --bundle app -m "app 1" --activate >/dev/null
isle add file "$SRC/data/" --prefix data --bundle data -m "data 1" --activate >/dev/null
isle add file "$SRC/victim/" --prefix victim --bundle victim -m "victim 1" >/dev/null
ok "store with bundles app@1, data@1 (active, generation 2 current) and victim@1"

# --- refusals that need no mount --------------------------------------------
mkdir -p "$T/nonempty" "$T/empty"
touch "$T/nonempty/file"
expect_fail isle mount "$T/nonempty"
assert_contains "$ERR" "not empty"
expect_fail "$ISLE" --store "$T/no-store" mount "$T/empty"
assert_contains "$ERR" "not an isle store"
mkdir -p "$T/not-a-store"
expect_fail "$ISLE" --store "$T/not-a-store" mount "$T/empty"
assert_contains "$ERR" "not an isle store"
expect_fail isle mount "$T/missing-dir"
assert_contains "$ERR" "does not exist"
expect_fail isle mount "$T/nonempty/file"
assert_contains "$ERR" "not a directory"
expect_fail isle umount "$T/empty"
assert_contains "$ERR" "not mounted"
mountpoint -q "$T/empty" && fail "a refused mount left a mount behind"
ok "refusals: non-empty, missing store, missing or non-directory mount point, umount of nothing"

# --- mount --------------------------------------------------------------------
mkdir -p "$M"
start=$(now_ms)
isle mount "$M" --log "$LOG" >/dev/null
echo "# mount returned after $(($(now_ms) - start)) ms"
# isle mount returned: the mount answers now, without waiting.
[ "$(stat -f -c %t "$M")" = 65735546 ] || fail "$M is not a FUSE mount right after isle mount returned"
mount_line=$(findmnt -rn -o FSTYPE,OPTIONS "$M")
assert_contains "$mount_line" "fuse.isle"
assert_contains "$mount_line" "ro"
ok "isle mount returned with the mount answering ($mount_line)"

expect_fail isle mount "$M"
assert_contains "$ERR" "already mounted"
ok "second mount of the same point refused: $ERR"

# --- layout -----------------------------------------------------------------------
[ "$(readlink "$M/current")" = generations/2 ] || fail "current -> $(readlink "$M/current"), expected generations/2"
[ "$(ls "$M")" = "$(printf 'blobs\nbundles\ncurrent\ngenerations')" ] || fail "top level: $(ls "$M")"
[ "$(ls "$M/generations")" = "$(printf '1\n2')" ] || fail "generations: $(ls "$M/generations")"
[ "$(ls "$M/bundles")" = "$(printf 'app\ndata\nvictim')" ] || fail "bundles: $(ls "$M/bundles")"
[ "$(readlink "$M/bundles/app/latest")" = 1 ] || fail "bundles/app/latest -> $(readlink "$M/bundles/app/latest")"
[ -z "$(ls -A "$M/blobs/sha256")" ] || fail "blobs/sha256 lists something"
[ ! -e "$M/generations/3" ] && [ ! -e "$M/generations/02" ] && [ ! -e "$M/bundles/nope" ] ||
  fail "names that do not exist resolve"
ok "layout: current -> generations/2, generations/{1,2}, bundles/{app,data,victim}/, latest, blobs/sha256/"

# --- random reads: pieces of raw chunks, page by page -----------------------------
# Before anything reads big/random.bin (noise: cut coarse, stored PAGED):
# reads at random offsets, each through a fresh descriptor that says it is
# random, come back exact; the daemon serves them from the pages they
# touch (counted in its exit line, checked at unmount).
python3 - "$M/current/files/app/big/random.bin" "$SRC/app/big/random.bin" <<'EOF2' || fail "random reads of big/random.bin"
import os, random, sys
mnt, src = sys.argv[1:]
want = open(src, 'rb').read()
rng = random.Random(7)
for i in range(200):
    n = rng.choice([1, 4096, 4096, 5000, 20000, 70000])
    off = rng.randrange(2 << 20, len(want) - n)
    if i % 2:
        off -= off % 4096
    fd = os.open(mnt, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    got = os.pread(fd, n, off)
    os.close(fd)
    if got != want[off:off + n]:
        sys.exit(f"pread({n}, {off}) through the mount differs from the source")
EOF2
ok "200 random reads (1 B to 70 KiB, aligned and not) of a raw-stored file read back exactly"

# --- bytes: every file, under current/, generations/ and bundles/ ----------------
sums() { (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum); }
sums "$SRC/app" >"$T/app.sums"
sums "$SRC/data" >"$T/data.sums"
for d in current generations/2 bundles/app/1 bundles/app/latest; do
  sums "$M/$d/files/app" | cmp -s - "$T/app.sums" || fail "$d/files/app differs from the source"
done
for d in current bundles/data/1; do
  sums "$M/$d/files/data" | cmp -s - "$T/data.sums" || fail "$d/files/data differs from the source"
done
[ ! -e "$M/generations/1/files/data" ] || fail "generation 1 has data/ but data was activated after it"
ok "every file byte-exact (sha256) under current/, generations/2, bundles/app/{1,latest}, bundles/data/1"

# --- attributes, symlinks, order, xattr, statfs ---------------------------------
python3 - "$SRC/app" "$M/current/files/app" "$(id -u)" "$(id -g)" <<'EOF' || fail "attributes differ (see above)"
import errno, hashlib, os, stat, sys
src, mnt, uid, gid = sys.argv[1].encode(), sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
bad = []
def expect(cond, what):
    if not cond:
        bad.append(what)
for dirpath, dirnames, filenames in os.walk(src):
    rel = os.path.relpath(dirpath, src)
    mdir = os.path.normpath(os.path.join(mnt, rel))
    # Listing order as readdir gives it: bytewise sorted.
    listed = os.listdir(mdir)
    expect(listed == sorted(listed), f'{mdir!r} lists {listed!r}: not sorted')
    expect(sorted(listed) == sorted(dirnames + filenames), f'{mdir!r}: entries differ')
    st = os.lstat(mdir)
    expect(stat.S_IMODE(st.st_mode) == 0o555 and stat.S_ISDIR(st.st_mode), f'{mdir!r}: mode {oct(st.st_mode)}')
    for name in dirnames + filenames:
        s, m = os.path.join(dirpath, name), os.path.join(mdir, name)
        ss, ms = os.lstat(s), os.lstat(m)
        expect((ms.st_uid, ms.st_gid) == (uid, gid), f'{m!r}: owner {ms.st_uid}:{ms.st_gid}')
        expect(stat.S_IFMT(ss.st_mode) == stat.S_IFMT(ms.st_mode), f'{m!r}: type differs')
        if stat.S_ISLNK(ss.st_mode):
            expect(os.readlink(s) == os.readlink(m), f'{m!r}: target {os.readlink(m)!r}')
            expect(ms.st_size == len(os.readlink(s)), f'{m!r}: symlink size {ms.st_size}')
        elif stat.S_ISREG(ss.st_mode):
            want = 0o555 if ss.st_mode & 0o111 else 0o444
            expect(stat.S_IMODE(ms.st_mode) == want, f'{m!r}: mode {oct(ms.st_mode)}, want {oct(want)}')
            expect(ms.st_size == ss.st_size, f'{m!r}: size {ms.st_size} != {ss.st_size}')
            digest = 'sha256:' + hashlib.sha256(open(s, 'rb').read()).hexdigest()
            expect(os.listxattr(m) == ['user.isle.digest'], f'{m!r}: xattrs {os.listxattr(m)}')
            expect(os.getxattr(m, 'user.isle.digest') == digest.encode(), f'{m!r}: digest xattr')
    expect(os.listxattr(mdir) == [], f'{mdir!r}: a directory has xattrs')
# Name spaces other than user. are not supported (so `ls -l` stops asking),
# and POSIX ACLs are not either: the kernel answers for them.
for name in ('security.selinux', 'system.posix_acl_access', 'trusted.x'):
    try:
        os.getxattr(os.path.join(mnt, b'README'), name)
        expect(False, f'getxattr {name} answered')
    except OSError as e:
        expect(e.errno == errno.EOPNOTSUPP, f'getxattr {name}: {e}, want EOPNOTSUPP')
# Symlinks resolve through the mount.
expect(open(os.path.join(mnt, b'bin/readme-link'), 'rb').read() == b'hello from isle\n', 'bin/readme-link')
expect(os.path.isdir(os.path.join(mnt, b'bindir-link')), 'bindir-link')
expect(not os.path.exists(os.path.join(mnt, b'dangling')), 'dangling resolves')
# Writes are refused.
for flags in (os.O_WRONLY, os.O_RDWR, os.O_WRONLY | os.O_CREAT):
    try:
        os.close(os.open(os.path.join(mnt, b'README'), flags))
        bad.append(f'open flags {flags} succeeded')
    except OSError:
        pass
for line in bad:
    print('  ' + repr(line))
sys.exit(1 if bad else 0)
EOF
names=$(cd "$M/current/files/app/names" &&
  python3 -c 'import os; print(" ".join(x.decode() for x in os.listdir(b".")))')
[ "$names" = "-dash 10 9 B Z _x a a-b a.b café with space" ] || fail "names/ lists: $names"
ok "modes 0444/0555/0555-dirs, owner $(id -u):$(id -g), symlinks, sorted readdir ($names), xattr, writes refused"

# blobs/sha256/HEX: any blob by digest.
hex=$(sha256sum "$SRC/app/big/random.bin" | cut -c1-64)
cmp -s "$M/blobs/sha256/$hex" "$SRC/app/big/random.bin" || fail "blobs/sha256/$hex differs"
[ "$(stat -c %a:%s "$M/blobs/sha256/$hex")" = "444:$((6 << 20))" ] || fail "blobs/sha256/$hex attributes"
readme_hex=$(sha256sum "$SRC/app/README" | cut -c1-64)
[ "$(cat "$M/blobs/sha256/$readme_hex")" = "hello from isle" ] || fail "blobs/sha256/$readme_hex"
[ ! -e "$M/blobs/sha256/$(printf '%064d' 0)" ] || fail "an unknown digest resolves"
[ ! -e "$M/blobs/sha256/${hex^^}" ] || fail "an upper-case digest resolves"
ok "blobs/sha256/HEX serves blobs by digest (and nothing else)"

# statfs: the store's logical size covers at least the distinct bytes added.
read -r blocks bsize < <(stat -f -c '%b %S' "$M")
distinct=$(cat "$T/app.sums" "$T/data.sums" | sort -u -k1,1 | awk '{print $2}' |
  sed "s|^|$SRC/app/|" | while read -r f; do [ -e "$f" ] && stat -c %s "$f"; done | awk '{s += $1} END {print s}')
[ $((blocks * bsize)) -ge "$distinct" ] || fail "statfs: $((blocks * bsize)) bytes < $distinct distinct bytes added"
[ $((blocks * bsize)) -lt $((distinct * 2)) ] || fail "statfs: $((blocks * bsize)) bytes, far above $distinct"
ok "statfs: $((blocks * bsize)) bytes logical (distinct content: $distinct)"

# --- live update ------------------------------------------------------------------
# A reader opens big/open-me.bin through current/, reads 1 MiB, and waits.
mkfifo "$T/to-reader" "$T/from-reader"
old_open_sum=$(sha256sum <"$SRC/app/big/open-me.bin" | cut -c1-64)
python3 - "$M/current/files/app/big/open-me.bin" "$T/to-reader" "$T/from-reader" >"$T/reader.out" <<'EOF' &
import hashlib, sys
path, to_reader, from_reader = sys.argv[1:]
h = hashlib.sha256()
with open(path, 'rb') as f:
    h.update(f.read(1 << 20))
    with open(from_reader, 'w') as w:
        w.write('ready\n')
    with open(to_reader) as r:
        r.readline()
    while True:
        b = f.read(1 << 16)
        if not b:
            break
        h.update(b)
print(h.hexdigest())
EOF
reader=$!
read -r line <"$T/from-reader"
[ "$line" = ready ] || fail "reader did not start"

printf 'v2\n' >"$SRC/app/live.txt"
head -c $((4 << 20)) /dev/urandom >"$SRC/app/big/open-me.bin"
isle add file "$SRC/app/" --prefix app --bundle app -m "app 2" --activate >/dev/null
added=$(now_ms)
wait_until 5 grep -qx v2 "$M/current/files/app/live.txt" || fail "new content never showed up"
visible=$(($(now_ms) - added))
[ "$visible" -le 1000 ] || fail "new content took $visible ms to show up (limit 1000)"
[ "$(readlink "$M/current")" = generations/3 ] || fail "current -> $(readlink "$M/current") after activation"
[ "$(readlink "$M/bundles/app/latest")" = 2 ] || fail "bundles/app/latest -> $(readlink "$M/bundles/app/latest")"
[ "$(ls "$M/generations")" = "$(printf '1\n2\n3')" ] || fail "generations after activation: $(ls "$M/generations")"
[ "$(ls "$M/bundles/app")" = "$(printf '1\n2\nlatest')" ] || fail "bundles/app: $(ls "$M/bundles/app")"
grep -qx v1 "$M/generations/2/files/app/live.txt" || fail "generation 2 changed"
grep -qx v1 "$M/bundles/app/1/files/app/live.txt" || fail "app@1 changed"
cmp -s "$M/current/files/app/big/open-me.bin" "$SRC/app/big/open-me.bin" || fail "new big file differs"

echo go >"$T/to-reader"
wait "$reader" || fail "the open-file reader failed"
[ "$(cat "$T/reader.out")" = "$old_open_sum" ] || fail "a file opened before the flip did not keep its old bytes"
ok "live update: new revision visible after $visible ms, no remount; an open file kept its old bytes to the end"

isle rollback >/dev/null
rolled=$(now_ms)
wait_until 5 grep -qx v1 "$M/current/files/app/live.txt" || fail "rollback never showed up"
visible=$(($(now_ms) - rolled))
[ "$visible" -le 1000 ] || fail "rollback took $visible ms to show up"
[ "$(readlink "$M/current")" = generations/2 ] || fail "current -> $(readlink "$M/current") after rollback"
isle activate app@2 >/dev/null
wait_until 5 grep -qx v2 "$M/current/files/app/live.txt" || fail "re-activation never showed up"
ok "rollback and activate flip current within a second ($visible ms)"

# --- concurrency: 8 readers while isle add runs ----------------------------------
# O_DIRECT bypasses the page cache: every read goes to the daemon. Four
# readers take a file each, four share one, none read before: they race for
# the same chunks (single flight) while the writer commits.
for f in file0 file1 file2 file3 shared; do
  sha256sum <"$SRC/app/par/$f.bin" | cut -c1-64 >"$T/$f.want"
done
: >"$T/reader-errors"
# Each reader goes on until the writer has committed (at least twice).
par_reader() {
  local f=$1 i=0 got
  while [ "$i" -lt 2 ] || [ ! -e "$T/add-done" ]; do
    i=$((i + 1))
    if ! got=$(dd if="$M/generations/3/files/app/par/$f.bin" iflag=direct bs=1M status=none |
      sha256sum | cut -c1-64); then
      echo "$f: read failed" >>"$T/reader-errors"
    elif [ "$got" != "$(cat "$T/$f.want")" ]; then
      echo "$f: wrong bytes ($got)" >>"$T/reader-errors"
    fi
    # The same through current/, by the page cache.
    got=$(sha256sum <"$M/current/files/app/par/$f.bin" | cut -c1-64) ||
      echo "$f: current read failed" >>"$T/reader-errors"
    [ "$got" = "$(cat "$T/$f.want")" ] || echo "$f: wrong bytes via current/" >>"$T/reader-errors"
  done
}
pids=()
for f in file0 file1 file2 file3 shared shared shared shared; do
  par_reader "$f" &
  pids+=($!)
done
isle add file "$SRC/more" --bundle more -m "more" --activate >/dev/null || fail "isle add failed while readers ran"
touch "$T/add-done"
for p in "${pids[@]}"; do
  wait "$p" || fail "a reader failed"
done
[ ! -s "$T/reader-errors" ] || fail "readers saw errors: $(cat "$T/reader-errors")"
# The activation shows up at the daemon's next poll (within a second).
wait_until 5 test -d "$M/current/files/more" || fail "the activated bundle never showed up in current/"
sums "$M/current/files/more" | sed 's|^\(.\{64\}\)  ./|\1  |' >"$T/more.got"
(cd "$SRC/more" && sha256sum m*.bin) | diff - "$T/more.got" >/dev/null || fail "files added during the reads differ"
ok "8 parallel readers (4 files, 4 on one file) all through an isle add: no error, all bytes exact"

# --- gc while mounted ---------------------------------------------------------------
# A bundle twice the size of everything else, read through the mount, then
# forgotten and collected: its pack is then mostly dead, so gc rewrites the
# rest elsewhere and deletes it. The daemon must let go of the deleted pack
# (its disk space), and what was moved must still read.
packs_bytes=$(du -scb "$S"/packs/pack-* | awk 'END { print $1 }')
python3 -c 'import os, sys; open(sys.argv[1], "wb").write(os.urandom(int(sys.argv[2])))' "$T/junk.bin" \
  $((2 * packs_bytes + (1 << 20)))
# keep.txt: compressible, several chunks, never read before the gc (so none
# of its chunks is in the daemon's cache).
python3 -c 'import sys; sys.stdout.buffer.write(b"".join(b"line %d of the file kept across gc\n" % i for i in range(120000)))' \
  >"$T/keep.txt"
isle add file "$T/keep.txt" --bundle keep -m keep >/dev/null || fail "adding keep failed"
isle add file "$T/junk.bin" --bundle junk -m junk >/dev/null || fail "adding junk failed"
wait_until 5 test -e "$M/bundles/junk/latest/files/junk.bin" || fail "junk never showed up"
cmp -s "$M/bundles/junk/latest/files/junk.bin" "$T/junk.bin" || fail "junk reads back wrong"
pid=$(daemon_pid "$M")
# A file opened before the gc (its chunk locations are looked up at open)
# and read only after it: every chunk moved, the old pack is gone, the
# bytes must still come out exactly (from where the chunks are now).
python3 - "$M/bundles/keep/latest/files/keep.txt" "$T/keep.txt" "$ISLE" "$S" <<'PY' ||
import mmap, os, subprocess, sys, time
mounted, source, isle, store = sys.argv[1:]
fd = os.open(mounted, os.O_RDONLY | os.O_DIRECT)
for args in (['forget', 'junk@1'], ['gc']):
    subprocess.run([isle, '--store', store] + args, check=True, stdout=subprocess.DEVNULL)
time.sleep(1)  # the daemon's poll closes the deleted pack
buf = mmap.mmap(-1, 1 << 20)
got = bytearray()
while True:
    k = os.readv(fd, [buf])
    if k == 0:
        break
    got += buf[:k]
sys.exit(0 if bytes(got) == open(source, 'rb').read() else 'wrong bytes')
PY
  fail "a file opened before the gc did not read back exactly after it"
held() { find "/proc/$pid/fd" -lname '*/packs/pack-* (deleted)' 2>/dev/null | wc -l; }
none_held() { [ "$(held)" -eq 0 ]; }
wait_until 5 none_held || fail "the daemon still holds $(held) deleted pack(s) after gc"
sums "$M/current/files/app/many" | cmp -s - <(sums "$SRC/app/many") || fail "files do not read after gc"
ok "gc while mounted: the deleted packs are let go; a file opened before it and the rest still read exactly"

# --- corruption: a flipped byte in a pack ----------------------------------------
# Finds the records of files not read so far and flips one payload byte
# each: a chunk in the middle of victim/big.bin (raw) and the single
# (compressed) chunk of victim/small.txt.
read -r big_hex chunk_hex chunk_off chunk_len small_hex flip_at < <(python3 - "$S/packs" "$SRC/victim" <<'EOF'
import hashlib, os, struct, sys
packs, victims = sys.argv[1:]
def digest(p):
    return hashlib.sha256(open(p, 'rb').read()).digest()
records = {}
for name in sorted(os.listdir(packs)):
    path = os.path.join(packs, name)
    data = open(path, 'rb').read()
    off = 32
    while off + 64 <= len(data):
        magic, typ, comp, flags, stored, raw = struct.unpack_from('<IBBHII', data, off)
        if magic != 0x524c5349:
            break
        records[data[off + 16:off + 48]] = (path, off, typ, comp, stored, raw, data)
        off += 64 + stored
big, small = digest(f'{victims}/big.bin'), digest(f'{victims}/small.txt')
path, off, typ, comp, stored, raw, data = records[big]
assert typ == 2, 'big.bin should be a recipe'
count = struct.unpack_from('<I', data, off + 64 + 8)[0]
assert count >= 3, f'big.bin has {count} chunks; want several'
k = count // 2
pos = 0
for i in range(k):
    pos += struct.unpack_from('<I', data, off + 64 + 16 + i * 40 + 32)[0]
entry = off + 64 + 16 + k * 40
chunk, size = data[entry:entry + 32], struct.unpack_from('<I', data, entry + 32)[0]
def flip(rec):
    path, off, typ, comp, stored, raw, data = records[rec]
    with open(path, 'r+b') as f:
        f.seek(off + 64 + stored // 2)
        b = f.read(1)
        f.seek(off + 64 + stored // 2)
        f.write(bytes([b[0] ^ 0x40]))
        f.flush()
        os.fsync(f.fileno())
    return stored // 2
flipped = flip(chunk)
flip(small)
print(big.hex(), chunk.hex(), pos, size, small.hex(), pos + flipped)
EOF
)
[ -n "$flip_at" ] || fail "could not find the victims' records in the packs"
V=$M/bundles/victim/latest/files/victim

# A random reader of the damaged (raw, PAGED) chunk: the page with the
# flipped byte is EIO, a clean page of the same chunk reads exactly.
python3 - "$V/big.bin" "$SRC/victim/big.bin" "$flip_at" "$chunk_off" "$chunk_len" <<'EOF2' || fail "random reads of a damaged chunk"
import errno, os, sys
mnt, src, flip_at, off, size = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
want = open(src, 'rb').read()
def pread(at, n):
    fd = os.open(mnt, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
    try:
        return os.pread(fd, n, at)
    finally:
        os.close(fd)
bad = flip_at - flip_at % 4096
try:
    pread(bad, 4096)
    sys.exit("the page with the flipped byte read without error")
except OSError as e:
    if e.errno != errno.EIO:
        raise
# A whole clean page of the chunk, over 1 MiB into the file (a fresh
# descriptor counts reads near its start as sequential: whole chunks).
first = max(off + 4095, (1 << 20) + 8192) // 4096 * 4096
good = next(p for p in range(first, off + size - 4096, 4096) if p != bad)
if pread(good, 4096) != want[good:good + 4096]:
    sys.exit(f"a clean page at {good} of the damaged chunk reads wrong")
EOF2

rc=0
dd if="$V/big.bin" of="$T/big.out" bs=1M status=none 2>"$T/dd.err" || rc=$?
[ "$rc" -ne 0 ] || fail "reading a file with a damaged chunk succeeded"
grep -q "Input/output error" "$T/dd.err" || fail "damaged chunk: expected EIO, got: $(cat "$T/dd.err")"
# Whatever came out before the error is the file's own prefix: no wrong byte.
cmp -s "$T/big.out" <(head -c "$(stat -c %s "$T/big.out")" "$SRC/victim/big.bin") ||
  fail "bytes returned before the error are wrong"
# Nothing from the damaged page on; clean pages of the damaged chunk before
# it may come (a random-looking request reads a raw chunk page by page).
[ "$(stat -c %s "$T/big.out")" -le $((flip_at / 4096 * 4096)) ] || fail "bytes returned beyond the damaged page"
# The pages before and after the damaged chunk still read, exactly (a page
# that holds any byte of it is an I/O error as a whole).
before=$((chunk_off / 4096 * 4096))
after=$(((chunk_off + chunk_len + 4095) / 4096 * 4096))
cmp -s <(tail -c +$((after + 1)) "$V/big.bin") <(tail -c +$((after + 1)) "$SRC/victim/big.bin") ||
  fail "bytes after the damaged chunk do not read back"
cmp -s <(head -c "$before" "$V/big.bin") <(head -c "$before" "$SRC/victim/big.bin") ||
  fail "bytes before the damaged chunk do not read back"
# The damaged small file (one compressed chunk) gives nothing but EIO.
rc=0
cat "$V/small.txt" >"$T/small.out" 2>"$T/cat.err" || rc=$?
[ "$rc" -ne 0 ] && grep -q "Input/output error" "$T/cat.err" || fail "damaged small file: $(cat "$T/cat.err")"
[ ! -s "$T/small.out" ] || fail "damaged small file returned bytes"
rc=0
cat "$M/blobs/sha256/$small_hex" >/dev/null 2>&1 || rc=$?
[ "$rc" -ne 0 ] || fail "blobs/sha256/$small_hex read despite damage"
cmp -s "$V/neighbour.txt" "$SRC/victim/neighbour.txt" || fail "an undamaged neighbour does not read"
sums "$M/current/files/app/many" | cmp -s - <(sums "$SRC/app/many") || fail "undamaged files do not read"
grep -q "blob sha256:$big_hex: chunk sha256:$chunk_hex" "$LOG" || fail "no log line names the damaged blob and chunk"
grep -q "blob sha256:$small_hex: chunk sha256:$small_hex" "$LOG" || fail "no log line names the damaged small blob"
lines=$(grep -c "chunk sha256:$chunk_hex" "$LOG")
ok "flipped bytes: EIO (never a wrong byte), the rest reads, the log names blob and chunk ($lines line(s))"

# --- memory: bounded by the cache while 5 GiB go through ---------------------------
# 256 MiB of raw chunks and 256 MiB of compressible text, each read ten times
# with O_DIRECT (so every byte comes from the daemon) through a mount with a
# 32 MiB cache. Without the bound the daemon would keep all 512 MiB. The
# overhead allowed (80 MiB) is the sanitizer build's; ASan's quarantine of
# freed blocks is capped so that it does not count as ours.
mkdir -p "$T/big" "$T/mnt3"
# (head ends the endless openssl streams: a broken pipe there is expected)
stream() { openssl enc -aes-128-ctr -nosalt -K 00112233445566778899aabbccddeeff -iv "$1" -in /dev/zero 2>/dev/null; }
head -c 256M <(stream 0) >"$T/big/raw.bin"
head -c 192M <(stream 1) | base64 -w 100 >"$T/big/text.txt"
[ "$(stat -c %s "$T/big/raw.bin")" -eq $((256 << 20)) ] || fail "could not make big/raw.bin"
isle add file "$T/big" --bundle big -m big >/dev/null || fail "adding big failed"
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8" isle mount "$T/mnt3" --cache-size 32M --log "$T/daemon3.log" >/dev/null ||
  fail "mount with --cache-size 32M failed"
pid=$(daemon_pid "$T/mnt3")
read_bytes=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  for f in raw.bin text.txt; do
    dd if="$T/mnt3/bundles/big/latest/files/big/$f" iflag=direct bs=1M status=none of=/dev/null ||
      fail "reading big/$f through the 32M mount failed"
    read_bytes=$((read_bytes + $(stat -c %s "$T/big/$f")))
  done
done
cmp -s "$T/mnt3/bundles/big/latest/files/big/text.txt" "$T/big/text.txt" || fail "big/text.txt reads back wrong"
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
fusermount3 -u "$T/mnt3"
[ "$hwm" -lt $(((32 + 80) * 1024)) ] || fail "daemon peaked at $((hwm / 1024)) MiB reading $((read_bytes >> 20)) MiB with a 32 MiB cache"
rm -rf "$T/big"
ok "memory: $((read_bytes >> 20)) MiB read through a 32 MiB cache, daemon peak $((hwm / 1024)) MiB (bound 112 MiB)"

# --- unmounting ------------------------------------------------------------------
pid=$(daemon_pid "$M")
[ -n "$pid" ] || fail "cannot find the daemon of $M"
isle umount "$M"
! mountpoint -q "$M" || fail "$M still mounted after isle umount"
wait_until 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon $pid still running after isle umount"
grep -q "unmounted $M" "$LOG" || fail "the daemon did not log a clean end"
parts=$(grep -F "unmounted $M:" "$LOG" | grep -o '[0-9]* partial chunk reads' | tail -n1 | cut -d' ' -f1)
[ "${parts:-0}" -gt 0 ] || fail "the daemon read no chunk page by page (random reads went whole-chunk)"
ok "isle umount: unmounted, daemon exited cleanly ($parts partial chunk reads)"

# SIGTERM and fusermount3 -u also end a mount cleanly.
M2=$T/mnt2
mkdir -p "$M2"
isle mount "$M2" --log "$T/daemon2.log" --cache-size 32M >/dev/null
cmp -s "$M2/current/files/app/README" "$SRC/app/README" || fail "second mount does not read"
pid=$(daemon_pid "$M2")
kill -TERM "$pid"
wait_until 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon $pid ignored SIGTERM"
! mountpoint -q "$M2" || fail "$M2 still mounted after SIGTERM"
isle mount "$M2" --log "$T/daemon2.log" >/dev/null
pid=$(daemon_pid "$M2")
fusermount3 -u "$M2"
wait_until 10 sh -c "! kill -0 $pid 2>/dev/null" || fail "daemon $pid still running after fusermount3 -u"
[ "$(grep -c "unmounted $M2" "$T/daemon2.log")" = 2 ] || fail "daemon2 did not end cleanly twice"
ok "SIGTERM and fusermount3 -u unmount cleanly; the mount point can be reused"

check_logs
ok "no sanitizer report from any daemon"
