#!/usr/bin/env bash
# Media transfer end to end: isle export / import / inventory / keygen /
# config, with real files and nothing mocked.
#
#   - round trip A -> B: revision records, tree ids and every file byte for
#     byte; `isle fsck` clean; export to stdout piped into import;
#   - delta: --since of a revision that changes one file of a large tree is
#     within a small bound of that file's new chunks; it needs the base, and
#     says so; --have (an inventory of B) gives the same delta;
#   - volumes: --split into >= 4, --dry-run exact; imported one by one in
#     reverse and shuffled order (one twice), the revision appears only with
#     the last; gc between volumes keeps what is staged;
#   - every refusal, with its message, leaving B exactly as it was (isle ls,
#     isle fsck, and the hash of every pack and index file): truncated file,
#     a flipped byte in header / manifest / signature / object / trailer,
#     objects reordered or duplicated, a volume of another export mixed in,
#     missing base, wrong key, unsigned when signatures are required, newer
#     format version, unknown feature flag, not enough disk space (a small
#     tmpfs);
#   - kill -9 during import at >= 10 random moments (seed printed; set
#     ISLE_TEST_SEED to replay), then resume: B consistent every time.
. "$(dirname "$0")/lib.sh"

for c in python3 cmp sha256sum mount umount; do
  command -v "$c" >/dev/null || fail "$c is not installed"
done

W=$T/w
mkdir -p "$W"
test_seed transfer
RANDOM=$SEED
TMPFS=
cleanup() {
  [ -z "$TMPFS" ] || umount "$TMPFS" 2>/dev/null || true
}
trap cleanup EXIT

isle_a() { ISLE_STORE=$T/a "$ISLE" "$@"; }
new_store() { rm -rf "$1"; ISLE_STORE=$1 "$ISLE" init >/dev/null || fail "init $1"; }

# fsck_clean STORE: `isle fsck` passes.
fsck_clean() {
  local out rc=0
  out=$(ISLE_STORE=$1 "$ISLE" fsck 2>&1) || rc=$?
  [ "$rc" -eq 0 ] || fail "isle fsck $1: $out"
}

# same_store STORE BEFORE: the store's fingerprint equals BEFORE, fsck clean.
same_store() {
  [ "$(store_fingerprint "$1")" = "$2" ] || fail "store $1 changed"
  fsck_clean "$1"
}

# expect_refused STORE NEEDLE CMD...: refused with NEEDLE in the message, store untouched.
expect_refused() {
  local store=$1 needle=$2
  shift 2
  local before
  before=$(store_fingerprint "$store")
  expect_fail env ISLE_STORE="$store" "$@"
  assert_contains "$ERR" "$needle"
  same_store "$store" "$before"
}

# check_files STORE REV DIR: every regular file and symlink of DIR, read back
# through the store, is byte for byte the same (symlinks: their targets);
# types, modes, file sizes and the set of paths too.
check_files() {
  local store=$1 rev=$2 dir=$3 f
  (cd "$dir" && find . -type f -printf '%P\n') | sort >"$W/want-files"
  while read -r f; do
    ISLE_STORE=$store "$ISLE" cat "$rev:files/$f" >"$W/got" || fail "cat $rev:files/$f from $store"
    cmp -s "$W/got" "$dir/$f" || fail "$rev:files/$f from $store differs"
  done <"$W/want-files"
  while read -r f; do
    [ "$(ISLE_STORE=$store "$ISLE" cat "$rev:files/$f")" = "$(readlink "$dir/$f")" ] ||
      fail "symlink $rev:files/$f from $store differs"
  done < <(cd "$dir" && find . -type l -printf '%P\n')
  ISLE_STORE=$store "$ISLE" --json ls "$rev" | python3 -c '
import json, sys
rows = json.load(sys.stdin)
for r in rows:
    if r["path"].startswith("files/"):
        print(r["type"], r["mode"], r["size"], r["path"][6:])' | sort >"$W/got-ls"
  (cd "$dir" && find . -mindepth 1 \( -type f -printf 'file 0%m %s %P\n' \) -o \( -type d -printf 'dir 0%m - %P\n' \) \
     -o \( -type l -printf 'symlink 0%m - %P\n' \)) | sort >"$W/want-ls"
  # Directory and symlink sizes are the store's business; compare the rest.
  python3 - "$W/got-ls" "$W/want-ls" <<'EOF' || fail "listing of $rev in $store differs from $dir"
import sys
def load(p):
    out = set()
    for line in open(p):
        t, m, s, path = line.rstrip("\n").split(" ", 3)
        if t == "symlink":
            m = "*"
        out.add((t, m, s if t == "file" else "-", path))
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
if a != b:
    print("only in store:", sorted(a - b)[:5], "only on disk:", sorted(b - a)[:5])
    sys.exit(1)
EOF
}

# revision_ids STORE NAME: "REV ROOT ID" for each revision.
revision_ids() {
  ISLE_STORE=$1 "$ISLE" --json log "$2" |
    python3 -c 'import json,sys; [print(r["revision"], r["root"], r["id"]) for r in json.load(sys.stdin)]' | sort
}

# ------------------------------------------------------------ the forger --
# Reads and rewrites transfer volumes (the layout of import/transfer-format.h).
cat >"$W/forge.py" <<'EOF'
import hashlib, struct, sys, zlib

def parse(b):
    magic, ver, feat, vol, vols = struct.unpack_from("<8sIIII", b, 0)
    first, count, rbytes = struct.unpack_from("<QQQ", b, 56)
    msize, ssize, lsize = struct.unpack_from("<IIQ", b, 80)
    m = 128; s = m + msize; l = s + ssize; r = l + lsize
    recs = []
    off = r
    for _ in range(count):
        stored = struct.unpack_from("<I", b, off + 8)[0]
        recs.append((off, 64 + stored))
        off += 64 + stored
    return dict(manifest=m, signature=s, list=l, records=r, recs=recs, trailer=off, ssize=ssize)

def fix_header(b):
    struct.pack_into("<I", b, 124, zlib.crc32(bytes(b[:124])))

def fix_trailer(b, p):
    b[p["trailer"] + 24:p["trailer"] + 56] = hashlib.sha256(bytes(b[:p["trailer"]])).digest()

src, dst, op = sys.argv[1], sys.argv[2], sys.argv[3]
arg = sys.argv[4] if len(sys.argv) > 4 else None
b = bytearray(open(src, "rb").read())
p = parse(b)
if op == "flip":
    where = {
        "header": 30,                        # inside the export id
        "manifest": p["manifest"] + 7,
        "signature": p["signature"] + 9,
        "trailer": p["trailer"] + 40,        # inside the trailer hash
    }
    if arg == "object":
        off, size = max(p["recs"], key=lambda r: r[1])
        pos = off + 64 + (size - 64) // 2
    else:
        pos = where[arg]
    if arg == "signature" and p["ssize"] == 0:
        sys.exit("not signed")
    b[pos] ^= 0x20
elif op == "swap":                           # records 1 and 2 change places
    (o1, s1), (o2, s2) = p["recs"][0], p["recs"][1]
    r1, r2 = bytes(b[o1:o1 + s1]), bytes(b[o2:o2 + s2])
    b[o1:o2 + s2] = r2 + r1
    fix_trailer(b, parse(b))
elif op == "dup":                            # record 1 again where record 2 was
    (o1, s1), (o2, s2) = p["recs"][0], p["recs"][1]
    b[o2:o2 + s2] = b[o1:o1 + s1]
    fix_trailer(b, parse(b))
elif op == "recipe":                         # a recipe's first two chunks swapped, every crc fixed
    for off, size in p["recs"]:
        if b[off + 4] == 2 and struct.unpack_from("<I", b, off + 64 + 8)[0] >= 2:
            e = off + 64 + 16
            b[e:e + 80] = b[e + 40:e + 80] + b[e:e + 40]
            struct.pack_into("<I", b, off + 56, zlib.crc32(bytes(b[off + 64:off + size])))
            struct.pack_into("<I", b, off + 60, zlib.crc32(bytes(b[off:off + 60])))
            break
    else:
        sys.exit("no recipe of two chunks or more")
    fix_trailer(b, p)
elif op == "version":
    struct.pack_into("<I", b, 8, int(arg))
    fix_header(b)
    fix_trailer(b, p)
elif op == "features":
    struct.pack_into("<I", b, 12, int(arg, 0))
    fix_header(b)
    fix_trailer(b, p)
elif op == "truncate":
    b = b[:int(len(b) * float(arg))]
elif op == "info":
    print(len(p["recs"]), p["trailer"] + 64 == len(b))
    sys.exit(0)
else:
    sys.exit("unknown op " + op)
open(dst, "wb").write(b)
EOF
forge() { python3 "$W/forge.py" "$@" || fail "forge $*"; }

# ------------------------------------------------------------ test data --
# A tree with nested directories, small text files, large random files
# (chunked, stored raw), a large compressible file (chunked, zstd), an empty
# file, an executable, a symlink and an empty directory.
python3 - "$W/src1" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(1234)
words = b"alpha beta gamma delta kernel package version config value image layer".split()
for i in range(60):
    d = os.path.join(root, "dir%d" % (i % 6), "sub%d" % (i % 3))
    os.makedirs(d, exist_ok=True)
    n = rnd.randint(10, 40000)
    with open(os.path.join(d, "f%02d.txt" % i), "wb") as f:
        f.write(b" ".join(rnd.choice(words) for _ in range(n // 6)) + b"\n")
with open(os.path.join(root, "random-big.bin"), "wb") as f:
    f.write(rnd.randbytes(9 << 20))
with open(os.path.join(root, "random-mid.bin"), "wb") as f:
    f.write(rnd.randbytes(3 << 20))
with open(os.path.join(root, "text-big.log"), "wb") as f:
    for i in range(120000):
        f.write(b"%08d %s\n" % (i, b" ".join(rnd.choice(words) for _ in range(5))))
open(os.path.join(root, "empty"), "wb").close()
with open(os.path.join(root, "run.sh"), "w") as f:
    f.write("#!/bin/sh\necho hi\n")
os.chmod(os.path.join(root, "run.sh"), 0o755)
os.symlink("dir0/sub0/f00.txt", os.path.join(root, "link"))
os.makedirs(os.path.join(root, "empty-dir"))
EOF
# Revision 2: one changed file (a few bytes in the middle of the big log;
# fine chunks. Noise like random-big.bin is cut in 256 KiB-1 MiB chunks, where an
# edit costs one of those).
cp -a "$W/src1" "$W/src2"
python3 - "$W/src2/text-big.log" <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(2 << 20)
    f.write(b"changed in revision two")
EOF

new_store "$T/a"
isle_a add file "$W/src1/" --bundle app -m one >/dev/null || fail "add app@1"
isle_a --json add file "$W/src2/" --bundle app -m two >"$W/add2.json" || fail "add app@2"
# app@2 replaces the files artifact; its new objects are the changed file's
# new chunks and recipe, the trees above it and the records.
new2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stored_bytes"])' "$W/add2.json")
mkdir -p "$W/other"
echo "another bundle" >"$W/other/readme"
isle_a add file "$W/other/" --bundle other >/dev/null || fail "add other@1"
ok "store A: app@1, app@2 (one file changed), other@1"

# ------------------------------------------------------------ round trip --
isle_a export app@1 -o "$W/app1.isle" >/dev/null || fail "export app@1"
new_store "$T/b"
ISLE_STORE=$T/b "$ISLE" import "$W/app1.isle" >"$W/out" || fail "import app@1 into B"
assert_contains "$(cat "$W/out")" "imported app@1"
[ "$(revision_ids "$T/b" app)" = "$(revision_ids "$T/a" app | head -1)" ] || fail "app@1 record or root differs"
check_files "$T/b" app@1 "$W/src1"
fsck_clean "$T/b"
ok "round trip: app@1 in B has A's record and root ids and every file byte for byte"

before=$(store_fingerprint "$T/b")
ISLE_STORE=$T/b "$ISLE" import "$W/app1.isle" >"$W/out" || fail "second import"
assert_contains "$(cat "$W/out")" "nothing to do"
same_store "$T/b" "$before"
ok "importing the same file again is a no-op"

new_store "$T/p"
isle_a export app@1 other -o - | ISLE_STORE=$T/p "$ISLE" import - >"$W/out" || fail "export | import -"
assert_contains "$(cat "$W/out")" "imported app@1, other@1"
check_files "$T/p" other@1 "$W/other"
check_files "$T/p" app@1 "$W/src1"
ok "export -o - | import -: two bundles through a pipe"

# ------------------------------------------------------------ delta --
isle_a --json export app@2 --since app@1 -o "$W/delta.isle" >"$W/delta.json" || fail "export --since"
dsize=$(stat -c %s "$W/delta.isle")
drecords=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["record_bytes"])' "$W/delta.json")
full=$(isle_a --json export app@2 -o "$W/app2-full.isle" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes"])')
echo "# delta: $dsize bytes in all ($drecords of records); add of app@2 stored $new2 new bytes; full export $full"
# The floor: what app@2 stored new (its chunks, recipe, trees, records, and
# a STATE record that never travels). The delta's records are at most that,
# and the whole file adds only header, manifest and object list.
[ "$drecords" -le "$new2" ] || fail "delta records $drecords > stored new bytes $new2"
[ "$dsize" -le $((new2 * 11 / 10 + 8192)) ] || fail "delta $dsize > 1.1 x $new2 + 8 KiB"
[ "$dsize" -lt $((full / 20)) ] || fail "delta $dsize is not small next to the full export $full"
ok "delta: --since export is $dsize bytes (new objects stored by the change: $new2; full: $full)"

new_store "$T/c"
expect_refused "$T/c" "missing base revision app@1 (export made with --since app@1); import that first" \
  "$ISLE" import "$W/delta.isle"
ok "delta without its base is refused, naming the base"

ISLE_STORE=$T/b "$ISLE" import "$W/delta.isle" >"$W/out" || fail "import delta into B"
[ "$(revision_ids "$T/b" app)" = "$(revision_ids "$T/a" app)" ] || fail "app@2 record or root differs"
check_files "$T/b" app@2 "$W/src2"
check_files "$T/b" app@1 "$W/src1"
fsck_clean "$T/b"
ok "delta import into B: app@2 byte for byte, app@1 intact"

# --have: what B holds, as an inventory, gives the same delta.
new_store "$T/h"
ISLE_STORE=$T/h "$ISLE" import "$W/app1.isle" >/dev/null || fail "import app@1 into H"
ISLE_STORE=$T/h "$ISLE" inventory -o "$W/h.inv" >/dev/null || fail "inventory"
isle_a --json export app@2 --have "$W/h.inv" -o "$W/have.isle" >"$W/have.json" || fail "export --have"
hrecords=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["record_bytes"])' "$W/have.json")
[ "$hrecords" -eq "$drecords" ] || fail "--have delta $hrecords != --since delta $drecords"
ISLE_STORE=$T/h "$ISLE" import "$W/have.isle" >/dev/null || fail "import --have export"
check_files "$T/h" app@2 "$W/src2"
fsck_clean "$T/h"
ok "inventory + --have: the same $hrecords bytes of records as --since, imports cleanly"

# ------------------------------------------------------------ volumes --
dry=$(isle_a --json export app@1 --split 4M --dry-run -o "$W/vol") || fail "dry run"
[ ! -e "$W/vol.001" ] || fail "--dry-run wrote a file"
isle_a export app@1 --split 4M -o "$W/vol" >/dev/null || fail "export --split"
nvol=$(ls "$W"/vol.* | wc -l)
[ "$nvol" -ge 4 ] || fail "only $nvol volumes"
total=$(cat "$W"/vol.* | wc -c)
python3 - "$total" "$nvol" "$dry" <<'EOF' || fail "--dry-run said otherwise: $dry"
import json, sys
d = json.loads(sys.argv[3])
assert d["bytes"] == int(sys.argv[1]) and d["volumes"] == int(sys.argv[2]), d
EOF
for v in "$W"/vol.*; do
  [ "$(stat -c %s "$v")" -le $((4 << 20)) ] || fail "$v is larger than 4 MiB"
done
ok "--split 4M: $nvol volumes of at most 4 MiB, $total bytes, exactly what --dry-run said"

# has_app STORE: is app@1 visible?
has_app() { ISLE_STORE=$1 "$ISLE" --json log app >/dev/null 2>&1; }

new_store "$T/v"
vols=($(ls "$W"/vol.* | sort -r))
for ((i = 0; i < nvol; i++)); do
  has_app "$T/v" && fail "app@1 visible before the last volume"
  ISLE_STORE=$T/v "$ISLE" import "${vols[$i]}" >"$W/out" || fail "import ${vols[$i]}"
  if [ "$i" -lt $((nvol - 1)) ]; then
    assert_contains "$(cat "$W/out")" "still missing"
    fsck_clean "$T/v"
  fi
done
assert_contains "$(cat "$W/out")" "imported app@1"
has_app "$T/v" || fail "app@1 not visible after the last volume"
check_files "$T/v" app@1 "$W/src1"
fsck_clean "$T/v"
ok "volumes in reverse order, one import each: app@1 appears with the last"

new_store "$T/s"
order=($(ls "$W"/vol.* | python3 -c "import random,sys; l=sys.stdin.read().split(); random.Random($SEED).shuffle(l); print(' '.join(l))"))
twice=${order[1]}
seq_=("${order[0]}" "$twice" "$twice" "${order[@]:2}")
echo "# shuffled: ${seq_[*]##*/}"
for ((i = 0; i < ${#seq_[@]}; i++)); do
  has_app "$T/s" && fail "app@1 visible before the last volume"
  before=$(store_fingerprint "$T/s")
  ISLE_STORE=$T/s "$ISLE" import "${seq_[$i]}" >"$W/out" || fail "import ${seq_[$i]}"
  if [ "$i" -eq 2 ]; then
    assert_contains "$(cat "$W/out")" "nothing to do"
    [ "$(store_fingerprint "$T/s")" = "$before" ] || fail "re-importing a staged volume changed the store"
  fi
  if [ "$i" -eq 1 ]; then
    # gc must keep what a pending import staged.
    ISLE_STORE=$T/s "$ISLE" gc >/dev/null 2>&1 || fail "gc with a pending import"
    ISLE_STORE=$T/s "$ISLE" import "$twice" >"$W/gc-out" || fail "import after gc"
    assert_contains "$(cat "$W/gc-out")" "nothing to do"
  fi
done
has_app "$T/s" || fail "app@1 not visible after the last volume"
check_files "$T/s" app@1 "$W/src1"
fsck_clean "$T/s"
ok "volumes shuffled, one twice (a no-op), gc in between: app@1 appears with the last"

# A pending import that will never complete: listed, then abandoned, and gc
# takes what it staged; the export can still be imported whole afterwards.
new_store "$T/pend"
ISLE_STORE=$T/pend "$ISLE" import "${order[0]}" "${order[1]}" >/dev/null || fail "import two volumes"
pend=$(ISLE_STORE=$T/pend "$ISLE" --json import --pending) || fail "import --pending"
read -r pexport pobjects ppresent < <(python3 -c '
import json, sys
l = json.loads(sys.argv[1])
assert len(l) == 1 and l[0]["revisions"][0]["bundle"] == "app" and l[0]["volumes"] == int(sys.argv[2]), l
print(l[0]["export"], l[0]["objects"], l[0]["present"])' "$pend" "$nvol") || fail "import --pending --json: $pend"
[ "$ppresent" -gt 0 ] && [ "$ppresent" -lt "$pobjects" ] || fail "pending: $ppresent of $pobjects objects present"
assert_contains "$(ISLE_STORE=$T/pend "$ISLE" import --pending)" "export ${pexport:0:12}: app@1; $ppresent of $pobjects objects present"
before=$(store_fingerprint "$T/pend")
ISLE_STORE=$T/pend expect_fail "$ISLE" import --abandon 0123
assert_contains "$ERR" "not an export id"
ISLE_STORE=$T/pend expect_fail "$ISLE" import --abandon 00000000
assert_contains "$ERR" "no pending import has an export id starting with '00000000'"
[ "$(store_fingerprint "$T/pend")" = "$before" ] || fail "a refused --abandon changed the store"
packs_before=$(du -scb "$T/pend"/packs | awk 'END { print $1 }')
assert_contains "$(ISLE_STORE=$T/pend "$ISLE" import --abandon "${pexport:0:12}")" "abandoned the pending import of export ${pexport:0:12} (app@1)"
assert_contains "$(ISLE_STORE=$T/pend "$ISLE" import --pending)" "no pending imports"
ISLE_STORE=$T/pend "$ISLE" gc >/dev/null || fail "gc after abandoning"
packs_after=$(du -scb "$T/pend"/packs | awk 'END { print $1 }')
[ "$packs_after" -lt $((packs_before / 4)) ] || fail "gc kept what the abandoned import staged ($packs_before -> $packs_after bytes)"
fsck_clean "$T/pend"
ISLE_STORE=$T/pend "$ISLE" import "$W"/vol.* >"$W/out" || fail "import all volumes after abandoning"
assert_contains "$(cat "$W/out")" "imported app@1"
check_files "$T/pend" app@1 "$W/src1"
ok "import --pending lists a staged import ($ppresent of $pobjects objects); --abandon drops it, gc reclaims it ($packs_before -> $packs_after bytes)"

new_store "$T/all"
ISLE_STORE=$T/all "$ISLE" import $(ls "$W"/vol.* | sort -r) >"$W/out" || fail "import all volumes at once"
assert_contains "$(cat "$W/out")" "imported app@1"
check_files "$T/all" app@1 "$W/src1"
ok "all volumes in one import"

# ------------------------------------------------------------ refusals --
# B holds app@1 and app@2 by now; refusals must leave it exactly so.
isle_a export other -o "$W/other.isle" >/dev/null || fail "export other"
cp "$W/other.isle" "$W/good.isle"

forge "$W/good.isle" "$W/trunc.isle" truncate 0.6
expect_refused "$T/b" "truncated" "$ISLE" import "$W/trunc.isle"
forge "$W/good.isle" "$W/trunc2.isle" truncate 0.01
expect_refused "$T/b" "truncated" "$ISLE" import "$W/trunc2.isle"
ok "truncated files are refused"

"$ISLE" keygen -o "$W/key1" >/dev/null || fail "keygen"
"$ISLE" keygen -o "$W/key2" >/dev/null || fail "keygen 2"
[ "$(stat -c %a "$W/key1")" = 600 ] || fail "private key is not 0600"
expect_fail "$ISLE" keygen -o "$W/key1"
assert_contains "$ERR" "exists"
isle_a export other --sign "$W/key1" -o "$W/signed.isle" >/dev/null || fail "export --sign"
ok "keygen: 0600 private key, .pub beside it, never overwritten"

for part in header manifest signature object trailer; do
  forge "$W/signed.isle" "$W/flip-$part.isle" flip "$part"
done
expect_refused "$T/b" "header is damaged" "$ISLE" import "$W/flip-header.isle"
expect_refused "$T/b" "manifest is damaged" "$ISLE" import "$W/flip-manifest.isle"
expect_refused "$T/b" "signature is damaged" "$ISLE" import "$W/flip-signature.isle"
expect_refused "$T/b" "is damaged: its payload does not match" "$ISLE" import "$W/flip-object.isle"
expect_refused "$T/b" "trailer hash does not match" "$ISLE" import "$W/flip-trailer.isle"
ok "a flipped byte in header, manifest, signature, object or trailer: refused, saying which"

isle_a export app@1 -o "$W/app1-again.isle" >/dev/null || fail "export"
new_store "$T/r"
forge "$W/app1.isle" "$W/swap.isle" swap
expect_refused "$T/r" "objects reordered or duplicated" "$ISLE" import "$W/swap.isle"
forge "$W/app1.isle" "$W/dup.isle" dup
expect_refused "$T/r" "objects reordered or duplicated" "$ISLE" import "$W/dup.isle"
ok "objects reordered or duplicated: refused"

forge "$W/app1.isle" "$W/recipe.isle" recipe
expect_refused "$T/r" "its chunks do not hash to its id" "$ISLE" import "$W/recipe.isle"
ok "a forged recipe (chunks swapped, checksums fixed): refused"

isle_a export app@2 --split 4M -o "$W/x" >/dev/null || fail "export app@2 split"
xs=($(ls "$W"/x.*))
expect_refused "$T/r" "belongs to another export" "$ISLE" import "${xs[0]}" "$W/vol.002" "${xs[2]}"
ok "a volume of another export mixed in: refused"

expect_refused "$T/b" "does not verify with" "$ISLE" import --verify "$W/key2.pub" "$W/signed.isle"
expect_refused "$T/b" "is not signed" "$ISLE" import --verify "$W/key1.pub" "$W/good.isle"
ok "--verify: wrong key and unsigned input refused"

new_store "$T/q"
ISLE_STORE=$T/q "$ISLE" config require-signature "$W/key1.pub" >/dev/null || fail "config require-signature"
ISLE_STORE=$T/q "$ISLE" config | grep -q "require-signature: yes" || fail "config does not show the key"
expect_refused "$T/q" "this store requires signatures" "$ISLE" import "$W/good.isle"
isle_a export other --sign "$W/key2" -o "$W/signed2.isle" >/dev/null || fail "export --sign key2"
expect_refused "$T/q" "does not verify with any key this store requires" "$ISLE" import "$W/signed2.isle"
ISLE_STORE=$T/q "$ISLE" import "$W/signed.isle" >/dev/null || fail "signed import into a store that requires it"
check_files "$T/q" other@1 "$W/other"
ISLE_STORE=$T/q "$ISLE" config require-signature --none >/dev/null || fail "config --none"
ISLE_STORE=$T/q "$ISLE" import "$W/good.isle" >/dev/null || fail "unsigned import after --none"
ok "require-signature: unsigned and wrongly signed refused, the right key accepted"

forge "$W/good.isle" "$W/v2.isle" version 2
expect_refused "$T/b" "made by a newer isle" "$ISLE" import "$W/v2.isle"
forge "$W/good.isle" "$W/feat.isle" features 0x10
expect_refused "$T/b" "needs features this isle lacks" "$ISLE" import "$W/feat.isle"
echo "not an export" >"$W/junk.isle"
expect_refused "$T/b" "is not an isle export" "$ISLE" import "$W/junk.isle"
ok "newer format version, unknown feature flag, not an export: refused"

TMPFS=$T/small
mkdir -p "$TMPFS"
mount -t tmpfs -o size=12m tmpfs "$TMPFS" || fail "cannot mount a tmpfs"
new_store "$TMPFS/store"
expect_refused "$TMPFS/store" "not enough disk space" "$ISLE" import "$W/app1.isle"
umount "$TMPFS"
TMPFS=
ok "not enough disk space (12 MiB tmpfs): refused up front"

fsck_clean "$T/b"
[ "$(revision_ids "$T/b" app)" = "$(revision_ids "$T/a" app)" ] || fail "B changed"

# ------------------------------------------------------------ kill -9 --
# How long an import takes here, then kills at random moments inside it.
# The store holds a committed bundle first, as a store in use would.
kill_store() {
  new_store "$1"
  ISLE_STORE=$1 "$ISLE" import "$W/good.isle" >/dev/null || fail "import other into $1"
}
kill_store "$T/k0"
start=$(date +%s%N)
ISLE_STORE=$T/k0 "$ISLE" import "$W/app2-full.isle" >/dev/null || fail "timing import"
dur_ms=$((($(date +%s%N) - start) / 1000000))
echo "# one import takes ${dur_ms} ms"
kill_store "$T/k"
kills=0
i=0
# Until 10 kills have hit a running import (at most 40 tries).
while [ "$kills" -lt 10 ] && [ "$i" -lt 40 ]; do
  i=$((i + 1))
  delay_ms=$((RANDOM % (dur_ms + 20)))
  ISLE_STORE=$T/k "$ISLE" -q import "$W/app2-full.isle" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  if kill -KILL "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  # Consistent: readable, fsck clean, other@1 intact, app@2 absent or whole.
  ISLE_STORE=$T/k "$ISLE" ls >/dev/null || fail "ls after kill at ${delay_ms} ms"
  fsck_clean "$T/k"
  check_files "$T/k" other@1 "$W/other"
  if has_app "$T/k"; then
    check_files "$T/k" app@2 "$W/src2"
    echo "# kill $i at ${delay_ms} ms: the import had committed"
    kill_store "$T/k"
  else
    echo "# kill $i at ${delay_ms} ms: nothing visible"
  fi
done
[ "$kills" -ge 10 ] || fail "only $kills of $i kills hit a running import"
ISLE_STORE=$T/k "$ISLE" import "$W/app2-full.isle" >/dev/null || fail "import after the kills"
check_files "$T/k" app@2 "$W/src2"
fsck_clean "$T/k"
ok "kill -9 during import at $i random moments ($kills while it ran): consistent each time, then complete"

# The same for a split import, one volume at a time.
kill_store "$T/kv"
for v in $(ls "$W"/vol.* | sort -r); do
  delay_ms=$((RANDOM % (dur_ms / 2 + 20)))
  ISLE_STORE=$T/kv "$ISLE" -q import "$v" >/dev/null 2>&1 &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  fsck_clean "$T/kv"
  ISLE_STORE=$T/kv "$ISLE" import "$v" >/dev/null || fail "resume $v"
  fsck_clean "$T/kv"
done
has_app "$T/kv" || fail "app@1 missing after resumed volume imports"
check_files "$T/kv" app@1 "$W/src1"
ok "kill -9 during each volume's import, then resume: complete and consistent"
