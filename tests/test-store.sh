#!/usr/bin/env bash
# The store through the real binary: init; add → cat byte-exact for files,
# symlinks, modes and empty directories; one revision per add; --prefix;
# dedup (the same tree again, a modified copy of a large tree); ls, log,
# diff and their --json; activate, deactivate, generations, rollback and
# conflicts; forget; gc; stats; readers while a writer works.
. "$(dirname "$0")/lib.sh"
test_seed test-store
start=$SECONDS

S=$T/store
isle() { "$ISLE" --store "$S" "$@"; }

# ---- init ------------------------------------------------------------------
out=$(isle init)
assert_contains "$out" "$S"
[ "$(cat "$S/isle-store")" = "isle store 1" ] || fail "init: no marker file"
for d in index packs tmp; do [ -d "$S/$d" ] || fail "init: no $d/"; done
ok "init creates a store and names it"
expect_fail isle init
assert_contains "$ERR" "already exists"
assert_contains "$ERR" "$S"
ok "init twice is refused naming the store"
out=$(ISLE_STORE=$S "$ISLE" ls)
assert_contains "$out" BUNDLE
ok "ISLE_STORE selects the store"

# ---- a source tree with every kind of entry --------------------------------
src=$T/in/src
mkdir -p "$src/sub/deeper" "$src/sub/emptydir" "$src/emptytop" "$T/in/other"
printf 'plain text\n' >"$src/plain.txt"
: >"$src/empty"
printf x >"$src/one"
printf '#!/bin/sh\necho hi\n' >"$src/exec.sh"
printf 'read only\n' >"$src/ro"
printf 'setuid\n' >"$src/suid"
printf 'spaces\n' >"$src/with space.txt"
printf 'unicode\n' >"$src/$(printf '\xc3\xa9t\xc3\xa9').txt"
head -c $((3 << 20)) /dev/urandom >"$src/rand.bin"
for i in $(seq 1 30000); do echo "line $i of a text file that compresses well"; done >"$src/text.big"
printf 'deep\n' >"$src/sub/deeper/file"
ln -s plain.txt "$src/lnk"
ln -s /etc/hostname "$src/abs"
ln -s does/not/exist "$src/dangling"
ln -s sub "$src/dirlink"
chmod 0600 "$src/one"
chmod 0755 "$src/exec.sh"
chmod 0444 "$src/ro"
chmod 04755 "$src/suid"
chmod 0700 "$src/sub/emptydir"
chmod 0750 "$src/sub"

# compare_ls LSJSON ROOTDIR PREFIX: the --json listing of a revision under
# PREFIX must hold exactly the entries of ROOTDIR, with the same type, mode,
# size, SHA-256 (digest) and symlink target.
compare_ls() {
  python3 - "$@" <<'PY'
import hashlib, json, os, stat, sys
listing, root, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
got = {e["path"]: e for e in json.load(open(listing)) if e["path"].startswith(prefix + "/")}
want = {}
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        st = os.lstat(p)
        rel = prefix + "/" + os.path.relpath(p, root)
        if stat.S_ISLNK(st.st_mode):
            t = os.readlink(p)
            want[rel] = ("symlink", None, len(t), hashlib.sha256(t.encode()).hexdigest(), t)
        elif stat.S_ISDIR(st.st_mode):
            want[rel] = ("dir", stat.S_IMODE(st.st_mode), None, None, None)
        else:
            h = hashlib.sha256(open(p, "rb").read()).hexdigest()
            want[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, h, None)
bad = []
for p in sorted(set(want) | set(got)):
    if p not in got:
        bad.append("missing " + p)
        continue
    if p not in want:
        bad.append("unexpected " + p)
        continue
    e, (kind, mode, size, digest, target) = got[p], want[p]
    if e["type"] != kind:
        bad.append("%s: type %s, expected %s" % (p, e["type"], kind))
    if mode is not None and int(e["mode"], 8) != mode:
        bad.append("%s: mode %s, expected %o" % (p, e["mode"], mode))
    if size is not None and e["size"] != size:
        bad.append("%s: size %s, expected %s" % (p, e["size"], size))
    if digest is not None and e["digest"] != "sha256:" + digest:
        bad.append("%s: digest %s, expected sha256:%s" % (p, e["digest"], digest))
    if target is not None and e.get("target") != target:
        bad.append("%s: target %r, expected %r" % (p, e.get("target"), target))
if bad:
    print("\n".join(bad[:20]))
    sys.exit(1)
print(len(want))
PY
}

# ---- add → cat / ls -----------------------------------------------------------
out=$(isle add file "$src" -m "first add")
assert_contains "$out" "default@1"
ok "add file makes default@1"

check_files "$S" default@1 "$src" src
[ "$CHECKED" -eq 11 ] || fail "checked $CHECKED files, expected 11"
ok "cat of each of the $CHECKED regular files is byte-exact (empty, 1 byte, 3 MiB random, text, unicode name…)"
isle cat "default@1:files/src/rand.bin" | cmp - "$src/rand.bin" || fail "cat files/src/rand.bin differs"
ok "cat takes the rendered path (files/…) too"

ls_text=$(isle ls default@1)
assert_contains "$ls_text" "files/src/lnk -> plain.txt"
assert_contains "$ls_text" "files/src/abs -> /etc/hostname"
assert_contains "$ls_text" "files/src/dangling -> does/not/exist"
assert_contains "$ls_text" "files/src/dirlink -> sub"
ok "ls shows each symlink's target"
grep -qE '^-0600 +1  files/src/one$' <<<"$ls_text" || fail "ls: files/src/one not -0600 of size 1: $ls_text"
grep -qE '^-0755 .* files/src/exec.sh$' <<<"$ls_text" || fail "ls: exec.sh not 0755"
grep -qE '^-0444 .* files/src/ro$' <<<"$ls_text" || fail "ls: ro not 0444"
grep -qE '^-4755 .* files/src/suid$' <<<"$ls_text" || fail "ls: suid not 4755"
grep -qE '^d0750 .* files/src/sub/$' <<<"$ls_text" || fail "ls: sub/ not 0750"
ok "ls shows modes (0600, 0755, 0444, 4755, 0750)"
grep -qE '^d0700 +0  files/src/sub/emptydir/$' <<<"$ls_text" || fail "ls: empty dir sub/emptydir missing: $ls_text"
grep -qE '^d0755 +0  files/src/emptytop/$' <<<"$ls_text" || fail "ls: empty dir emptytop missing"
ok "empty directories are kept"

isle --json ls default@1 >"$T/ls1.json"
python3 -m json.tool "$T/ls1.json" >/dev/null || fail "ls --json is not JSON"
n=$(compare_ls "$T/ls1.json" "$src" files/src) || fail "ls --json differs from the source: $n"
ok "ls --json matches the source exactly: $n entries with type, mode, size, sha256 digest, target"

expect_fail isle cat default@1:src/sub
assert_contains "$ERR" "is a directory"
expect_fail isle cat default@1:src/nope
assert_contains "$ERR" "has no file src/nope"
expect_fail isle cat default@7:src/one
assert_contains "$ERR" "has no revision 7"
expect_fail isle cat nobundle:src/one
assert_contains "$ERR" "no bundle named nobundle"
ok "cat of a directory, a missing path, revision or bundle is refused clearly"

# ---- one revision per add; --prefix ---------------------------------------------
printf 'a\n' >"$T/in/other/a"
printf 'b\n' >"$T/in/other/b"
mkdir -p "$T/in/other/c"
printf 'c\n' >"$T/in/other/c/c"
isle add file "$T/in/other/a" "$T/in/other/b" "$T/in/other/c" -m "three paths" >/dev/null
revs=$(isle --json log default | json_eval 'len(d)')
assert_eq "$revs" 2 "revisions after an add of three paths"
isle cat default@2:a | cmp - "$T/in/other/a" || fail "default@2:a"
isle cat default@2:b | cmp - "$T/in/other/b" || fail "default@2:b"
isle cat default@2:c/c | cmp - "$T/in/other/c/c" || fail "default@2:c/c"
isle cat default@2:src/plain.txt | cmp - "$src/plain.txt" || fail "default@2 lost the parent's files"
ok "several paths in one add make one revision (default@2 holds a, b, c and the parent's files)"

isle add file "$T/in/other/a" --prefix deep/er -m prefixed >/dev/null
isle cat default@3:deep/er/a | cmp - "$T/in/other/a" || fail "--prefix deep/er: default@3:deep/er/a"
isle add file "$src/" --prefix copy >/dev/null
isle cat default@4:copy/plain.txt | cmp - "$src/plain.txt" || fail "DIR/ --prefix copy: contents at copy/"
ls4=$(isle ls default@4)
assert_contains "$ls4" "files/copy/sub/emptydir/"
assert_not_contains "$ls4" "files/copy/src/"
ok "--prefix places sources under it; DIR/ adds a directory's contents"

# ---- log / diff and --json ---------------------------------------------------------
log=$(isle log default)
assert_contains "$log" "default@1"
assert_contains "$log" "first add"
assert_contains "$log" "three paths"
first_line=$(head -n1 <<<"$log")
assert_contains "$first_line" "default@4"
isle --json log default >"$T/log.json"
python3 -m json.tool "$T/log.json" >/dev/null || fail "log --json is not JSON"
got=$(json_eval '[(e["revision"], e["message"]) for e in d]' <"$T/log.json")
assert_eq "$got" '[[1, "first add"], [2, "three paths"], [3, "prefixed"], [4, "add file"]]' "log --json revisions"
json_eval 'all(len(e["root"]) == 64 and len(e["id"]) == 64 and e["time"].endswith("Z") for e in d)' <"$T/log.json" |
  grep -qx true || fail "log --json: root/id/time malformed"
src_bytes=$(find "$src" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
link_bytes=$(find "$src" -type l -printf '%l' | wc -c)
size1=$(json_eval 'd[0]["size"]' <"$T/log.json")
assert_eq "$size1" $((src_bytes + link_bytes)) "log --json size of default@1 (file bytes + symlink targets)"
ok "log lists revisions newest first with messages; --json parses, sizes and ids are right"

isle diff default@1 default@2 >"$T/diff.txt"
# An added directory is listed by its files (an empty one by itself).
assert_eq "$(sort "$T/diff.txt" | tr '\n' ' ')" "+ files/a + files/b + files/c/c " "diff default@1 default@2"
isle --json diff default@1 default@2 >"$T/diff.json"
python3 -m json.tool "$T/diff.json" >/dev/null || fail "diff --json is not JSON"
got=$(json_eval '(sorted(d["added"]), d["removed"], d["changed"])' <"$T/diff.json")
assert_eq "$got" '[["files/a", "files/b", "files/c/c"], [], []]' "diff --json default@1 default@2"
got=$(isle --json diff default@2 default@1 | json_eval '(d["added"], sorted(d["removed"]))')
assert_eq "$got" '[[], ["files/a", "files/b", "files/c/c"]]' "diff --json default@2 default@1"
ok "diff and diff --json list what was added and removed"

# Changes of content, mode and type, files and directories.
mkdir -p "$T/in/dm/d" "$T/in/dm/e"
printf 'f\n' >"$T/in/dm/d/f"
printf 'g\n' >"$T/in/dm/g"
printf 'h\n' >"$T/in/dm/h"
ln -s g "$T/in/dm/k"
isle add file "$T/in/dm/" --bundle dm >/dev/null
chmod 0700 "$T/in/dm/d"
chmod 0600 "$T/in/dm/g"
printf 'H\n' >"$T/in/dm/h"
rm "$T/in/dm/k"
printf 'now a file\n' >"$T/in/dm/k"
isle add file "$T/in/dm/" --bundle dm >/dev/null
got=$(isle --json diff dm@1 dm@2 | json_eval 'sorted(d["changed"])')
if [ "$got" = '["files/d", "files/g", "files/h", "files/k"]' ]; then
  ok "diff reports a changed file, a file mode, a directory mode and a symlink turned file"
else
  # BUG (reported): diff_trees() in cli/verb-diff.c recurses into two
  # directories without comparing their modes; equal subtrees then stop it.
  assert_contains "$got" '"files/g", "files/h", "files/k"'
  fail_later "BUG: diff dm@1 dm@2 misses the directory mode change (0755 -> 0700 of files/d): changed = $got"
fi

isle --json ls >"$T/ls.json"
python3 -m json.tool "$T/ls.json" >/dev/null || fail "ls --json is not JSON"
got=$(json_eval '[(e["bundle"], e["latest"], e["revisions"], e["artifacts"], e["active"]) for e in d]' <"$T/ls.json")
assert_eq "$got" '[["default", 4, 4, 1, null], ["dm", 2, 2, 1, null]]' "ls --json bundles"
ok "ls --json lists the bundles with latest revision, count, artifacts, active"

# ---- readers never block on a writer -------------------------------------------------
gen_mixed "$T/in/slow.bin" 300 "$SEED"
isle add file "$T/in/slow.bin" --bundle slow >/dev/null &
writer=$!
sleep 0.3
reader_rc=0
reader_start=$(now_ms)
reader_out=$(timeout 20 "$ISLE" --store "$S" ls) || reader_rc=$?
reader_ms=$(($(now_ms) - reader_start))
wait "$writer" || fail "the writer (add of 300 MiB) failed"
[ "$reader_rc" -eq 0 ] || fail "isle ls during an add failed (exit $reader_rc)"
if [ "$reader_ms" -ge 1000 ]; then
  # BUG (reported): catalog_open() begins a write LMDB transaction even for
  # readers, so `isle ls` waits until a running add commits.
  fail_later "BUG: isle ls took ${reader_ms} ms while an add was running: readers block on the writer"
elif grep -q '^slow ' <<<"$reader_out"; then
  echo "# inconclusive: the add of 300 MiB had committed before the reader ran (${reader_ms} ms)"
else
  ok "isle ls answers in ${reader_ms} ms while an add is running (readers never block)"
fi

# ---- packs do not stay in the page cache ---------------------------------------------
# The pack writer writes back as it goes and drops what lies more than
# 16 MiB behind the end (index/pack-writer.c). tmpfs cannot drop its pages,
# so there is nothing to check there.
if [ "$(stat -f -c %T "$T")" != tmpfs ]; then
  W=$T/writeback
  "$ISLE" --store "$W" init >/dev/null
  head -c $((96 << 20)) /dev/urandom >"$T/in/noise.bin"
  "$ISLE" --store "$W" add file "$T/in/noise.bin" >/dev/null || fail "add of 96 MiB of noise failed"
  pack_bytes=$(packs_bytes "$W")
  resident=$(fincore --bytes --noheadings --output RES "$W"/packs/pack-* | awk '{ s += $1 } END { print s + 0 }')
  [ "$pack_bytes" -ge $((96 << 20)) ] || fail "the noise pack is only $pack_bytes bytes"
  [ "$resident" -le $((32 << 20)) ] ||
    fail "after an add, $resident of its $pack_bytes pack bytes are still in the page cache"
  ok "after a 96 MiB add, $((resident >> 20)) MiB of the pack stay in the page cache"
  rm -rf "$W" "$T/in/noise.bin"
fi

# ---- dedup: the same tree again; a modified copy of a large tree ------------------
L=$T/in/L
gen_tree "$L" 50 "$SEED"
nfiles=$(find "$L" -type f | wc -l)
tree_bytes=$(find "$L" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
before=$(packs_bytes "$S")
isle add file "$L/" --prefix tree --bundle big1 >/dev/null
p1=$(packs_bytes "$S")
isle --json ls big1 >"$T/ls-big1.json"
n=$(compare_ls "$T/ls-big1.json" "$L" files/tree) || fail "big1 differs from the source: $n"
isle cat big1:tree/big.bin | cmp - "$L/big.bin" || fail "big1:tree/big.bin differs"
ok "a $((tree_bytes >> 20)) MiB tree of $nfiles files: every digest matches, big.bin byte-exact (stored $(((p1 - before) >> 20)) MiB)"

out=$(isle --json add file "$L/" --prefix tree --bundle again)
p2=$(packs_bytes "$S")
new=$(json_eval 'd["new_bytes"]' <<<"$out")
assert_eq "$new" 0 "new_bytes of adding the same tree again"
growth=$((p2 - p1))
echo "# same tree again: packs grew by $growth bytes (of $p1)"
[ $((growth * 100)) -lt "$p1" ] || fail "adding the same tree again grew the packs by $growth bytes, not < 1% of $p1"
ok "adding the same tree again grows the store by $growth bytes (< 1%)"

L2=$T/in/L2
cp -a "$L" "$L2"
changed=0
mapfile -t victims < <(cd "$L2" && find random -type f | LC_ALL=C sort | head -n 3)
for v in "${victims[@]}"; do
  sz=$(stat -c %s "$L2/$v")
  head -c "$sz" /dev/urandom >"$L2/$v"
  changed=$((changed + sz))
done
mapfile -t texts < <(cd "$L2" && find share -type f -name '*.txt' | LC_ALL=C sort | head -n 2)
[ ${#texts[@]} -eq 2 ] || fail "no text files to change in the generated tree"
for v in "${texts[@]}"; do
  echo "a line appended by the test" >>"$L2/$v"
done
# Insert 100 random bytes in the middle of big.bin.
bigsz=$(stat -c %s "$L2/big.bin")
half=$((bigsz / 2))
{ head -c "$half" "$L/big.bin"; head -c 100 /dev/urandom; tail -c +$((half + 1)) "$L/big.bin"; } >"$L2/big.bin"
changed=$((changed + 100))
modefile=$(cd "$L2" && find random -type f | LC_ALL=C sort | tail -n1)
chmod 0600 "$L2/$modefile"
head -c 200000 /dev/urandom >"$L2/random/new.bin"
changed=$((changed + 200000))
p2=$(packs_bytes "$S")
isle add file "$L2/" --prefix tree --bundle big2 >/dev/null
p3=$(packs_bytes "$S")
growth=$((p3 - p2))
# The rewritten random bytes cannot be deduplicated or compressed; the
# insertion costs the few chunks around it (FastCDC resyncs within a few
# chunks of at most 512 KiB, 128 KiB on average); the appended-to text
# files cost a compressed chunk each; trees, recipes and records are small.
slack=$((2 << 20))
echo "# modified copy: $changed bytes changed, packs grew by $growth bytes (bound: changed + $slack)"
[ "$growth" -ge $((changed - 4096)) ] || fail "growth $growth is less than the $changed new random bytes: were they stored?"
[ "$growth" -le $((changed + slack)) ] ||
  fail "a modified copy grew the store by $growth bytes, more than the $changed changed bytes + $slack"
ok "a modified copy of the tree stores about what changed: $growth bytes for $changed changed"

isle cat big2:tree/big.bin | cmp - "$L2/big.bin" || fail "big2:tree/big.bin differs"
for v in "${victims[@]}" random/new.bin "${texts[@]}"; do
  isle cat "big2:tree/$v" | cmp - "$L2/$v" || fail "big2:tree/$v differs"
done
isle --json ls big2 >"$T/ls-big2.json"
n=$(compare_ls "$T/ls-big2.json" "$L2" files/tree) || fail "big2 differs from the modified source: $n"
ok "the modified copy reads back: changed files byte-exact, every digest and mode matches"

isle --json diff big1 big2 >"$T/diff2.json"
python3 -m json.tool "$T/diff2.json" >/dev/null || fail "diff --json is not JSON"
expect_changed=$(printf 'files/tree/%s\n' "${victims[@]}" "${texts[@]}" big.bin "$modefile" | LC_ALL=C sort -u | python3 -c 'import json,sys; print(json.dumps(sorted(l.strip() for l in sys.stdin)))')
got=$(json_eval 'sorted(d["changed"])' <"$T/diff2.json")
assert_eq "$got" "$expect_changed" "diff big1 big2: changed"
assert_eq "$(json_eval 'd["added"]' <"$T/diff2.json")" '["files/tree/random/new.bin"]' "diff big1 big2: added"
assert_eq "$(json_eval 'd["removed"]' <"$T/diff2.json")" '[]' "diff big1 big2: removed"
ok "diff big1 big2 names exactly the changed, added (and no removed) files"

# ---- generations: activate, deactivate, rollback, conflicts -------------------------
mkdir -p "$T/in/p1/etc" "$T/in/p2/etc" "$T/in/p3/etc"
printf 'one\n' >"$T/in/p1/etc/conf"
printf 'p1 only\n' >"$T/in/p1/p1only"
printf 'two\n' >"$T/in/p2/etc/conf"
printf 'one\n' >"$T/in/p3/etc/conf"
for b in p1 p2 p3; do isle add file "$T/in/$b/" --bundle "$b" >/dev/null; done

gens() { isle --json generations; }
assert_eq "$(gens | json_eval 'len(d)')" 0 "generations before any activate"
ls_active() { isle --json ls | json_eval "{e['bundle']: e['active'] for e in d if e['bundle'] in ('p1','p2','p3','p4')}"; }
assert_eq "$(ls_active)" '{"p1": null, "p2": null, "p3": null}' "nothing active before activate"

out=$(isle activate p1)
assert_contains "$out" "generation 1"
assert_eq "$(gens | json_eval '[(g["generation"], g["current"], [(a["bundle"], a["revision"]) for a in g["active"]]) for g in d]')" \
  '[[1, true, [["p1", 1]]]]' "generations after activate p1"
assert_eq "$(ls_active)" '{"p1": 1, "p2": null, "p3": null}' "ls after activate p1"
ok "activate makes generation 1 with p1@1, current"

isle activate p3@1 >/dev/null
ok "activating a bundle with identical bytes at the same path (p3: etc/conf) is fine"

expect_fail isle activate p2
assert_contains "$ERR" "p2"
assert_contains "$ERR" "etc/conf"
case $ERR in *p1*|*p3*) ;; *) fail "conflict message names only one bundle: $ERR" ;; esac
assert_eq "$(gens | json_eval '[(g["generation"], g["current"]) for g in d]')" '[[1, false], [2, true]]' \
  "generations after a refused activate"
ok "activating p2 (different bytes at files/etc/conf) fails naming both bundles and the path: $ERR"

printf 'p1 again\n' >"$T/in/p1/p1only"
isle add file "$T/in/p1/" --bundle p1 >/dev/null
assert_eq "$(ls_active)" '{"p1": 1, "p2": null, "p3": 1}' "a new revision does not activate itself"
isle activate p1 >/dev/null
assert_eq "$(ls_active)" '{"p1": 2, "p2": null, "p3": 1}' "activate p1 takes its latest"
isle deactivate p3 >/dev/null
assert_eq "$(ls_active)" '{"p1": 2, "p2": null, "p3": null}' "after deactivate p3"
assert_eq "$(gens | json_eval '[(g["generation"], g["current"], [(a["bundle"], a["revision"]) for a in g["active"]]) for g in d]')" \
  '[[1, false, [["p1", 1]]], [2, false, [["p1", 1], ["p3", 1]]], [3, false, [["p1", 2], ["p3", 1]]], [4, true, [["p1", 2]]]]' \
  "generations 1..4"
gen_text=$(isle generations)
grep -qE '^\* +4 ' <<<"$gen_text" || fail "generations: '*' does not mark 4: $gen_text"
ok "add does not activate; activate takes the latest; deactivate removes; generations lists 1..4, * on 4"

root3=$(gens | json_eval '[g["root"] for g in d if g["generation"] == 3][0]')
out=$(isle rollback)
assert_contains "$out" "generation 3"
assert_eq "$(gens | json_eval '[g["generation"] for g in d if g["current"]]')" '[3]' "current after rollback"
assert_eq "$(ls_active)" '{"p1": 2, "p2": null, "p3": 1}' "active after rollback"
assert_eq "$(gens | json_eval '[g["root"] for g in d if g["generation"] == 3][0]')" "$root3" "generation 3's root"
isle rollback 1 >/dev/null
assert_eq "$(ls_active)" '{"p1": 1, "p2": null, "p3": null}' "active after rollback 1"
expect_fail isle rollback
assert_contains "$ERR" "oldest"
expect_fail isle rollback 99
assert_contains "$ERR" "no generation 99"
ok "rollback returns to the previous generation exactly; rollback GEN; refusals are clear"

expect_fail isle deactivate p2
assert_contains "$ERR" "not active"
expect_fail isle activate nosuch
assert_contains "$ERR" "no bundle named nosuch"
expect_fail isle activate p1@9
assert_contains "$ERR" "has no revision 9"
ok "activate/deactivate of what does not exist or is not active is refused clearly"

out=$(isle --json add file "$T/in/other/a" --bundle p4 --activate)
gen=$(json_eval 'd["generation"]' <<<"$out")
assert_eq "$(gens | json_eval '[g["generation"] for g in d if g["current"]]')" "[$gen]" "current after add --activate"
assert_eq "$(ls_active)" '{"p1": 1, "p2": null, "p3": null, "p4": 1}' "active after add --activate"
ok "add --activate makes the new revision current in generation $gen"

# ---- forget, gc ----------------------------------------------------------------------
expect_fail isle forget p1@1
assert_contains "$ERR" "active"
assert_contains "$ERR" "p1@1"
isle log p1 | grep -q "p1@1" || fail "a refused forget removed p1@1"
ok "forget of an active revision is refused"

isle forget big1@1 >/dev/null
expect_fail isle ls big1@1
assert_contains "$ERR" "big1"
isle --json ls | json_eval '[e["bundle"] for e in d]' | grep -q '"big1"' && fail "big1 still listed after forget"
before_gc=$(packs_bytes "$S")
isle --json gc >"$T/gc.json"
python3 -m json.tool "$T/gc.json" >/dev/null || fail "gc --json is not JSON"
after_gc=$(packs_bytes "$S")
echo "# gc: packs $before_gc -> $after_gc bytes"
# big1 shared all but the changed files with big2 and "again": little to free.
isle fsck >/dev/null || fail "fsck after forget + gc is not clean"
isle cat big2:tree/big.bin | cmp - "$L2/big.bin" || fail "big2 damaged by gc"
isle cat "again:tree/${victims[0]}" | cmp - "$L/${victims[0]}" || fail "again@1 lost a file big1 shared"
ok "forget big1@1 then gc: fsck clean, what others share is kept"

isle forget big2@1 >/dev/null
isle forget again@1 >/dev/null
isle forget slow@1 >/dev/null
before_gc=$(packs_bytes "$S")
isle gc >/dev/null
after_gc=$(packs_bytes "$S")
echo "# gc after forgetting big2, again, slow: packs $before_gc -> $after_gc bytes"
# What is left (default: ~3 MiB random + text; p1..p4: bytes) fits in 8 MiB.
[ "$after_gc" -lt $((8 << 20)) ] || fail "after gc the packs still hold $after_gc bytes (was $before_gc)"
isle fsck >/dev/null || fail "fsck after gc is not clean"
check_files "$S" default@1 "$src" src
ok "gc reclaims the forgotten trees ($(((before_gc - after_gc) >> 20)) MiB); default@1 still byte-exact"

# ---- stats --------------------------------------------------------------------------
isle stats >"$T/stats.txt" || fail "stats failed"
assert_contains "$(cat "$T/stats.txt")" "dedup ratio"
isle --json stats >"$T/stats.json"
python3 -m json.tool "$T/stats.json" >/dev/null || fail "stats --json is not JSON"
pb=$(packs_bytes "$S")
npacks=$(find "$S/packs" -type f -name 'pack-*' | wc -l)
logical=0
nbundles=0
for b in $(isle --json ls | json_eval '" ".join(e["bundle"] for e in d)'); do
  logical=$((logical + $(isle --json log "$b" | json_eval 'sum(e["size"] for e in d)')))
  nbundles=$((nbundles + 1))
done
assert_eq "$nbundles" 6 "bundles left (default dm p1 p2 p3 p4)"
python3 - "$T/stats.json" "$pb" "$npacks" "$logical" "$nbundles" <<'PY' || fail "stats --json figures are wrong"
import json, sys
d = json.load(open(sys.argv[1]))
pb, npacks, logical, nbundles = (int(a) for a in sys.argv[2:6])
bad = []
def want(cond, msg):
    if not cond:
        bad.append(msg)
want(d["stored_bytes"] == pb, "stored_bytes %s != packs %s" % (d["stored_bytes"], pb))
want(d["packs"] == npacks, "packs %s != %s" % (d["packs"], npacks))
want(d["logical_bytes"] == logical, "logical_bytes %s != sum of revision sizes %s" % (d["logical_bytes"], logical))
want(d["objects"] == d["chunks"] + d["blobs"] + d["trees"] + d["records"] + d["states"], "objects is not the sum")
want(abs(d["dedup_ratio"] - d["logical_bytes"] / d["unique_bytes"]) < 1e-6, "dedup_ratio")
want(abs(d["compression_ratio"] - d["unique_bytes"] / d["stored_chunk_bytes"]) < 1e-6, "compression_ratio")
want(d["stored_chunk_bytes"] <= d["stored_bytes"], "chunk bytes > stored bytes")
want(d["bundles"] == nbundles, "bundles %s != %s" % (d["bundles"], nbundles))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
ok "stats: logical = sum of revision sizes, stored = pack bytes, ratios and object counts consistent"

isle fsck >/dev/null || fail "final fsck is not clean"
ok "final fsck clean ($((SECONDS - start))s)"
finish
