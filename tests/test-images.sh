#!/usr/bin/env bash
# Container images end to end, with real clients and nothing mocked.
#
# Builds real images without Docker (umoci, skopeo; layers from real files
# of this machine): two images sharing a base layer, a multi-arch index
# with an SBOM referrer, a Helm chart as an OCI artifact, Docker schema2
# manifests and a Docker manifest list, and an image in each source form
# (OCI layout directory, OCI archive, docker-archive). Adds them to bundles,
# mounts the store, and checks that
#   - Debian's docker-registry, read-only on MOUNT/current/registry, serves
#     every tag and digest byte for byte to skopeo and to plain HTTP
#     (_catalog, tags/list sorted, HEAD/GET blobs with Content-Length,
#     manifests with and without Accept headers);
#   - skopeo and umoci read MOUNT/current/oci/REPO, byte for byte;
#   - a rollback, an rm and a replacement show in the running registry;
#   - every bad input is refused with its message and leaves the store
#     unchanged, and `isle fsck` is clean at the end.
. "$(dirname "$0")/lib.sh"

scripts/install-deps skopeo umoci docker-registry curl >/dev/null || fail "install-deps skopeo umoci docker-registry curl"
for c in skopeo umoci docker-registry curl python3 sha256sum cmp; do
  command -v "$c" >/dev/null || fail "$c is not installed"
done

export ISLE_STORE=$T/store
W=$T/w
MNT=$T/mnt
mkdir -p "$W" "$MNT"
REG_PID=
cleanup() {
  [ -z "$REG_PID" ] || kill "$REG_PID" 2>/dev/null || true
  "$ISLE" umount "$MNT" 2>/dev/null || true
}
trap cleanup EXIT

# ---------------------------------------------------------------- helpers --
cat >"$W/h.py" <<'EOF'
import hashlib, io, json, os, sys, tarfile

def blob_path(layout, digest):
    return os.path.join(layout, "blobs", "sha256", digest.split(":", 1)[1])

def put_blob(layout, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob_path(layout, d), "wb") as f:
        f.write(data)
    return {"digest": d, "size": len(data)}

def load_index(layout):
    return json.load(open(os.path.join(layout, "index.json")))

def save_index(layout, idx):
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(idx, f)

def entry(layout, tag):
    for m in load_index(layout)["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return m
    sys.exit("no tag %s in %s" % (tag, layout))

def manifest(layout, digest):
    return json.load(open(blob_path(layout, digest)))

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "digest":                      # LAYOUT TAG
    print(entry(*args)["digest"])
elif cmd == "config":                    # LAYOUT TAG: config digest of a single manifest
    print(manifest(args[0], entry(*args)["digest"])["config"]["digest"])
elif cmd == "layers":                    # LAYOUT TAG
    for l in manifest(args[0], entry(*args)["digest"])["layers"]:
        print(l["digest"])
elif cmd == "diffids":                   # LAYOUT TAG
    m = manifest(args[0], entry(*args)["digest"])
    for d in json.load(open(blob_path(args[0], m["config"]["digest"])))["rootfs"]["diff_ids"]:
        print(d)
elif cmd == "manifest-of":               # OUTLAYOUT: the one manifest digest of a skopeo copy
    print(load_index(args[0])["manifests"][0]["digest"])
elif cmd == "multiarch":                 # LAYOUT: index "multi" over tags amd64, arm64 + an SBOM referrer
    layout = args[0]
    children = []
    for tag, arch, variant in (("amd64", "amd64", None), ("arm64", "arm64", "v8")):
        e = entry(layout, tag)
        p = {"architecture": arch, "os": "linux"}
        if variant:
            p["variant"] = variant
        children.append({"mediaType": e["mediaType"], "digest": e["digest"], "size": e["size"], "platform": p})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": children}).encode()
    idesc = put_blob(layout, index)
    empty = put_blob(layout, b"{}")
    sbom = put_blob(layout, json.dumps({"spdxVersion": "SPDX-2.3", "name": "multi"}).encode())
    ref = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "artifactType": "application/spdx+json",
                      "config": dict(mediaType="application/vnd.oci.empty.v1+json", **empty),
                      "layers": [dict(mediaType="application/spdx+json", **sbom)],
                      "subject": dict(mediaType="application/vnd.oci.image.index.v1+json", **idesc)}).encode()
    rdesc = put_blob(layout, ref)
    save_index(layout, {"schemaVersion": 2, "manifests": [
        dict(mediaType="application/vnd.oci.image.index.v1+json", annotations={
            "org.opencontainers.image.ref.name": "multi"}, **idesc),
        dict(mediaType="application/vnd.oci.image.manifest.v1+json", **rdesc)]})
    print(rdesc["digest"])
elif cmd == "helm":                      # LAYOUT TGZ: a Helm chart as an OCI artifact, tag 0.1.0
    layout, tgz = args
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
    cfg = put_blob(layout, json.dumps({"name": "mychart", "version": "0.1.0", "apiVersion": "v2"}).encode())
    chart = put_blob(layout, open(tgz, "rb").read())
    m = put_blob(layout, json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": dict(mediaType="application/vnd.cncf.helm.config.v1+json", **cfg),
        "layers": [dict(mediaType="application/vnd.cncf.helm.chart.content.v1.tar+gzip", **chart)]}).encode())
    save_index(layout, {"schemaVersion": 2, "manifests": [dict(
        mediaType="application/vnd.oci.image.manifest.v1+json",
        annotations={"org.opencontainers.image.ref.name": "0.1.0"}, **m)]})
elif cmd == "dockerlist":                # LAYOUT TAG NEWTAG: a Docker manifest list over TAG
    layout, tag, new = args
    e = entry(layout, tag)
    lst = put_blob(layout, json.dumps({"schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": e["mediaType"], "digest": e["digest"], "size": e["size"],
                       "platform": {"architecture": "amd64", "os": "linux"}}]}).encode())
    idx = load_index(layout)
    idx["manifests"].append(dict(mediaType="application/vnd.docker.distribution.manifest.list.v2+json",
                                 annotations={"org.opencontainers.image.ref.name": new}, **lst))
    save_index(layout, idx)
elif cmd == "set-entry":                 # LAYOUT TAG KEY VALUE: change an index.json entry
    layout, tag, key, value = args
    idx = load_index(layout)
    for m in idx["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            m[key] = value
    save_index(layout, idx)
elif cmd == "replace-manifest":          # LAYOUT TAG: the manifest becomes bad JSON, index.json follows
    layout, tag = args
    d = put_blob(layout, b'{"schemaVersion": 2,\n "config": {"digest": ]\n}')
    idx = load_index(layout)
    for m in idx["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            m.update(d)
    save_index(layout, idx)
elif cmd == "evil-tar":                  # OUT NAME: a tar with manifest.json and an entry NAME
    out, name = args
    with tarfile.open(out, "w") as t:
        for n, data in (("manifest.json", b"[]"), (name, b"x")):
            i = tarfile.TarInfo(n)
            i.size = len(data)
            t.addfile(i, io.BytesIO(data))
elif cmd == "docker25":                 # LAYOUT TAG NAME OUT: a `docker save` of Docker 25+
    # (an OCI layout with containerd's name annotation, plus manifest.json)
    layout, tag, name, out = args
    e = entry(layout, tag)
    m = manifest(layout, e["digest"])
    blobs = [e["digest"], m["config"]["digest"]] + [l["digest"] for l in m["layers"]]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        {"mediaType": e["mediaType"], "digest": e["digest"], "size": e["size"], "annotations": {
            "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.rsplit(":", 1)[1]}}]}
    mj = [{"Config": "blobs/sha256/" + m["config"]["digest"][7:], "RepoTags": [name],
           "Layers": ["blobs/sha256/" + l["digest"][7:] for l in m["layers"]]}]
    with tarfile.open(out, "w") as t:
        for n, data in (("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'), ("index.json", json.dumps(index).encode()),
                        ("manifest.json", json.dumps(mj).encode())):
            i = tarfile.TarInfo(n)
            i.size = len(data)
            t.addfile(i, io.BytesIO(data))
        for d in blobs:
            t.add(blob_path(layout, d), "blobs/sha256/" + d[7:])
elif cmd == "sorted-json":               # FILE KEY: the array at KEY, and whether it is sorted
    a = json.load(open(args[0]))[args[1]]
    print(" ".join(a), "sorted" if a == sorted(a) else "UNSORTED")
else:
    sys.exit("unknown helper " + cmd)
EOF
h() { python3 "$W/h.py" "$@"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ----------------------------------------------------------------- images --
# A: base (two real-file layers), app1 = base + /usr/bin/umoci (a multi-MiB
# layer), app2 = base + umoci's docs: two images sharing the base layers.
A=$W/A
mkdir -p "$W/base-etc" "$W/base-doc"
cp /etc/os-release /etc/debian_version "$W/base-etc/"
cp -r /usr/share/doc/skopeo/. "$W/base-doc/"
umoci init --layout "$A"
umoci new --image "$A:base"
umoci insert --image "$A:base" "$W/base-etc" /etc
umoci insert --image "$A:base" "$W/base-doc" /usr/share/doc/skopeo
umoci config --image "$A:base" --config.cmd /bin/sh --os linux --architecture amd64
umoci insert --image "$A:base" --tag app1 /usr/bin/umoci /usr/bin/umoci
umoci insert --image "$A:base" --tag app2 /usr/share/doc/umoci /usr/share/doc/umoci
ok "built OCI layout A (base, app1, app2) with umoci"

# M: a multi-arch index (amd64, arm64/v8) with an SBOM referrer (subject).
M=$W/M
umoci init --layout "$M"
umoci new --image "$M:amd64"
umoci insert --image "$M:amd64" /etc/os-release /etc/os-release
umoci config --image "$M:amd64" --os linux --architecture amd64
umoci new --image "$M:arm64"
umoci insert --image "$M:arm64" /etc/debian_version /etc/debian_version
umoci config --image "$M:arm64" --os linux --architecture arm64
SBOM=$(h multiarch "$M")
ok "built multi-arch index with a referrer $SBOM"

# H: a Helm chart stored as an OCI artifact.
mkdir -p "$W/chart/mychart"
printf 'apiVersion: v2\nname: mychart\nversion: 0.1.0\n' >"$W/chart/mychart/Chart.yaml"
tar -C "$W/chart" -czf "$W/mychart-0.1.0.tgz" mychart
H=$W/H
h helm "$H" "$W/mychart-0.1.0.tgz"

# The other source forms, made by skopeo from A.
skopeo copy -q oci:"$A":app1 docker-archive:"$W/da.tar":appda:1
skopeo copy -q oci:"$A":app2 oci-archive:"$W/oa.tar":app2
# D: Docker schema2 (skopeo keeps the docker-archive's Docker manifest with
# --preserve-digests) plus a Docker manifest list over it.
D=$W/D
skopeo copy -q --preserve-digests docker-archive:"$W/da.tar" oci:"$D":v2s2
h dockerlist "$D" v2s2 list
ok "built docker-archive, OCI archive, Docker-format layout"

# ------------------------------------------------------------------- add --
"$ISLE" init >/dev/null
"$ISLE" add image "$A:base" "$A:app1" --name example.com/apps/app --bundle apps >/dev/null
"$ISLE" activate apps@1 >/dev/null # generation 1: the older tag set
"$ISLE" add image "$W/oa.tar" --name example.com/apps/app --bundle apps >/dev/null
"$ISLE" add image "$M" --name example.com/multi --bundle apps >/dev/null
"$ISLE" add image "$W/da.tar" --bundle other >/dev/null
new=$("$ISLE" --json add image "$D" --name example.com/dockerfmt --bundle other |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["new_bytes"])')
# D's config and layer are the docker-archive's, already stored: only its
# two manifests are new (the umoci binary alone is over 6 MB).
[ "$new" -lt 100000 ] || fail "layers were not deduplicated: $new new bytes for D"
ok "same layer from a docker-archive and an OCI layout stored once ($new new bytes)"
"$ISLE" add image "$H" --name example.com/charts/mychart --bundle charts >/dev/null
# A Docker 25+ `docker save` holds an OCI layout and manifest.json: the
# layout wins, so the image keeps its real manifest (and containerd's name).
h docker25 "$A" app1 docker.io/library/both:1 "$W/d25.tar"
"$ISLE" add image "$W/d25.tar" --bundle charts >/dev/null
"$ISLE" activate apps >/dev/null
"$ISLE" activate other >/dev/null
"$ISLE" activate charts >/dev/null

"$ISLE" --json ls --images >"$W/images.json"
python3 - "$W/images.json" <<'EOF' || fail "isle ls --images is not what was added"
import json, sys
rows = {(r["repository"], r["tag"]): r for r in json.load(open(sys.argv[1]))}
want = {("example.com/apps/app", t) for t in ("base", "app1", "app2")} | {
    ("example.com/multi", "multi"), ("docker.io/library/appda", "1"), ("example.com/dockerfmt", "v2s2"),
    ("example.com/dockerfmt", "list"), ("example.com/charts/mychart", "0.1.0"), ("docker.io/library/both", "1")}
assert set(rows) == want, sorted(rows)
assert rows[("example.com/multi", "multi")]["platforms"] == ["linux/amd64", "linux/arm64/v8"], rows
assert rows[("docker.io/library/appda", "1")]["platforms"] == ["linux/amd64"]
assert rows[("example.com/charts/mychart", "0.1.0")]["platforms"] == []
EOF
ok "isle ls --images lists every image with its platforms"
DA=$(python3 -c 'import json,sys; print([r["digest"] for r in json.load(open(sys.argv[1])) if r["repository"] == "docker.io/library/appda"][0])' "$W/images.json")

# What each repo:tag must serve, and the layout its bytes came from.
cat >"$W/expect" <<EOF
example.com/apps/app base $(h digest "$A" base) $A
example.com/apps/app app1 $(h digest "$A" app1) $A
example.com/apps/app app2 $(h digest "$A" app2) $A
example.com/multi multi $(h digest "$M" multi) $M
example.com/dockerfmt v2s2 $(h digest "$D" v2s2) $D
example.com/dockerfmt list $(h digest "$D" list) $D
example.com/charts/mychart 0.1.0 $(h digest "$H" 0.1.0) $H
docker.io/library/both 1 $(h digest "$A" app1) $A
docker.io/library/appda 1 $DA -
EOF

# ----------------------------------------------------------------- mount --
"$ISLE" mount "$MNT"
[ -d "$MNT/current/registry/docker/registry/v2" ] || fail "no registry view in the mount"
link=$MNT/current/registry/docker/registry/v2/repositories/example.com/apps/app/_manifests/tags/base/current/link
[ "$(stat -c %s "$link")" = 71 ] || fail "link file is not 71 bytes"
[ "$(cat "$link")" = "$(h digest "$A" base)" ] || fail "tag link does not name the manifest"
ok "mounted; link files are 71 bytes with no newline"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
cat >"$W/registry.yml" <<EOF
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: $MNT/current/registry }
  delete: { enabled: false }
  maintenance:
    uploadpurging: { enabled: false }
    readonly: { enabled: true }
http: { addr: $REG }
EOF
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 200); do
  curl -sf "http://$REG/v2/" >/dev/null && break
  kill -0 "$REG_PID" 2>/dev/null || fail "docker-registry exited: $(cat "$W/registry.log")"
  sleep 0.05
done
curl -sf "http://$REG/v2/" >/dev/null || fail "docker-registry did not answer on $REG"
ok "docker-registry read-only on $REG"

# check_blobs OUT SRC: every blob skopeo wrote hashes to its name, and is
# byte for byte the source's.
check_blobs() {
  local out=$1 src=$2 f
  for f in "$out"/blobs/sha256/*; do
    [ "$(sha "$f")" = "$(basename "$f")" ] || fail "$f does not hash to its name"
    [ "$src" = - ] || cmp -s "$f" "$src/blobs/sha256/$(basename "$f")" || fail "$f differs from the source"
  done
}

# check_dir OUT SRC DIGEST: a skopeo dir: copy (the one transport that keeps
# a Docker manifest list as it is): manifest.json is DIGEST, every other
# file hashes to its name and is the source's bytes.
check_dir() {
  local out=$1 src=$2 digest=$3 f name
  [ "sha256:$(sha "$out/manifest.json")" = "$digest" ] || fail "$out: manifest is not $digest"
  for f in "$out"/*; do
    name=$(basename "$f")
    case $name in
      manifest.json | version) continue ;;
      *.manifest.json) name=${name%.manifest.json} ;;
    esac
    [ "$(sha "$f")" = "$name" ] || fail "$f does not hash to its name"
    cmp -s "$f" "$src/blobs/sha256/$name" || fail "$f differs from the source"
  done
}

n=0
while read -r repo tag digest src; do
  n=$((n + 1))
  out=$W/pull$n
  if [ "$src" = "$D" ]; then
    # Docker media types: oci: cannot hold a Docker manifest list unchanged.
    skopeo copy -q --all --preserve-digests --src-tls-verify=false "docker://$REG/$repo:$tag" "dir:$out" ||
      fail "skopeo copy docker://$REG/$repo:$tag"
    check_dir "$out" "$src" "$digest"
    skopeo copy -q --all --preserve-digests --src-tls-verify=false "docker://$REG/$repo@$digest" "dir:$out-d" ||
      fail "skopeo copy $repo@$digest"
    check_dir "$out-d" "$src" "$digest"
  else
    skopeo copy -q --all --preserve-digests --src-tls-verify=false "docker://$REG/$repo:$tag" "oci:$out:$tag" ||
      fail "skopeo copy docker://$REG/$repo:$tag"
    [ "$(h digest "$out" "$tag")" = "$digest" ] || fail "$repo:$tag: pulled $(h digest "$out" "$tag"), want $digest"
    check_blobs "$out" "$src"
    skopeo copy -q --all --preserve-digests --src-tls-verify=false "docker://$REG/$repo@$digest" "oci:$out-d:x" ||
      fail "skopeo copy $repo@$digest"
    [ "$(h digest "$out-d" x)" = "$digest" ] || fail "$repo@$digest: pulled another manifest"
  fi
  raw=$(skopeo inspect --raw --tls-verify=false "docker://$REG/$repo:$tag" | sha256sum | cut -d' ' -f1)
  [ "sha256:$raw" = "$digest" ] || fail "$repo:$tag: skopeo inspect --raw gives other bytes"
done <"$W/expect"
ok "skopeo pulled all $n tags and digests from the registry, every digest equal to the source's"

# The docker-archive had no manifest: isle made one whose config is the
# archive's (the image id) and whose layers are the archive's files.
out=$W/pull9
m=$(h digest "$out" 1)
python3 - "$out" "$m" "$(h config "$A" app1)" "$(h diffids "$A" app1 | tr '\n' ' ')" <<'EOF' || fail "docker-archive image changed"
import json, sys
out, m, config, diffids = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].split()
man = json.load(open(out + "/blobs/sha256/" + m[7:]))
assert man["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
assert man["config"]["digest"] == config, (man["config"], config)
assert [l["digest"] for l in man["layers"]] == diffids
assert all(l["mediaType"] == "application/vnd.oci.image.layer.v1.tar" for l in man["layers"])
EOF
skopeo inspect --tls-verify=false "docker://$REG/docker.io/library/appda:1" >"$W/inspect.json"
grep -q '"Architecture": "amd64"' "$W/inspect.json" || fail "skopeo inspect: $(cat "$W/inspect.json")"
ok "docker-archive kept its config (image id) and layers; skopeo inspect reads it"

# Plain HTTP: catalog, tags (sorted), blobs, manifests and Accept headers.
curl -sf "http://$REG/v2/_catalog" >"$W/catalog.json"
[ "$(h sorted-json "$W/catalog.json" repositories)" = "docker.io/library/appda docker.io/library/both example.com/apps/app example.com/charts/mychart example.com/dockerfmt example.com/multi sorted" ] ||
  fail "catalog: $(cat "$W/catalog.json")"
curl -sf "http://$REG/v2/example.com/apps/app/tags/list" >"$W/tags.json"
[ "$(h sorted-json "$W/tags.json" tags)" = "app1 app2 base sorted" ] || fail "tags/list: $(cat "$W/tags.json")"
layer=$(h layers "$A" app1 | tail -1)
size=$(stat -c %s "$A/blobs/sha256/${layer#sha256:}")
[ "$size" -gt 1000000 ] || fail "the umoci layer is unexpectedly small ($size)"
len=$(curl -sfI "http://$REG/v2/example.com/apps/app/blobs/$layer" | tr -d '\r' | awk 'tolower($1) == "content-length:" {print $2}')
[ "$len" = "$size" ] || fail "HEAD blob: Content-Length $len, want $size"
curl -sf "http://$REG/v2/example.com/apps/app/blobs/$layer" -o "$W/layer"
cmp -s "$W/layer" "$A/blobs/sha256/${layer#sha256:}" || fail "GET blob: other bytes"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/example.com/multi/blobs/$layer")
[ "$code" = 404 ] || fail "a blob of another repository is served ($code)"
ok "catalog and tags/list sorted; HEAD/GET blob with Content-Length $size; other repo's blob is 404"

OCI_M=application/vnd.oci.image.manifest.v1+json
DOCKER_M=application/vnd.docker.distribution.manifest.v2+json
get_manifest() { # REPO TAG [ACCEPT] -> "CODE DIGEST"
  local args=(-s -o "$W/m" -D "$W/hdr" -w '%{http_code}')
  [ -z "${3:-}" ] || args+=(-H "Accept: $3")
  local code
  code=$(curl "${args[@]}" "http://$REG/v2/$1/manifests/$2")
  echo "$code sha256:$(sha "$W/m")"
}
[ "$(get_manifest example.com/apps/app base "$OCI_M")" = "200 $(h digest "$A" base)" ] || fail "OCI manifest with Accept"
r=$(get_manifest example.com/apps/app base)
[ "${r%% *}" = 404 ] || fail "OCI manifest without Accept: $r (the registry answers 404, never 500)"
[ "$(get_manifest example.com/dockerfmt v2s2 "$DOCKER_M")" = "200 $(h digest "$D" v2s2)" ] || fail "Docker manifest with Accept"
r=$(get_manifest example.com/dockerfmt v2s2)
[ "${r%% *}" = 200 ] || fail "Docker schema2 manifest without Accept: $r ($(cat "$W/m"))"
grep -q '"schemaVersion": 1' "$W/m" || fail "no schema1 conversion: $(cat "$W/m")"
r=$(get_manifest example.com/multi multi application/vnd.oci.image.index.v1+json)
[ "$r" = "200 $(h digest "$M" multi)" ] || fail "index by tag: $r"
ok "manifests by tag with and without Accept (schema1 fallback served read-only)"

# -------------------------------------------------------------- OCI view --
while read -r repo tag digest src; do
  case $repo in example.com/dockerfmt) continue ;; esac # Docker media types: registry only
  out=$W/oci-$(echo "$repo-$tag" | tr '/:' '__')
  skopeo copy -q --all --preserve-digests "oci:$MNT/current/oci/$repo:$tag" "oci:$out:$tag" ||
    fail "skopeo copy oci:MOUNT/current/oci/$repo:$tag"
  [ "$(h digest "$out" "$tag")" = "$digest" ] || fail "oci view $repo:$tag: $(h digest "$out" "$tag")"
  check_blobs "$out" "$src"
done <"$W/expect"
[ ! -e "$MNT/current/oci/example.com/dockerfmt" ] || fail "Docker-format images listed in the OCI view"
python3 - "$MNT/current/oci/example.com/multi/index.json" "$SBOM" <<'EOF' || fail "OCI index.json"
import json, sys
idx = json.load(open(sys.argv[1]))
m = idx["manifests"]
assert m[0]["annotations"] == {"org.opencontainers.image.ref.name": "multi"}, m
assert m[1]["digest"] == sys.argv[2] and "annotations" not in m[1], m  # the referrer, untagged
EOF
tags=$(python3 -c 'import json,sys; print(" ".join(m["annotations"]["org.opencontainers.image.ref.name"] for m in json.load(open(sys.argv[1]))["manifests"]))' \
  "$MNT/current/oci/example.com/apps/app/index.json")
[ "$tags" = "app1 app2 base" ] || fail "index.json entries not one per tag, sorted: $tags"
[ "$(cat "$MNT/current/oci/example.com/apps/app/oci-layout")" = '{"imageLayoutVersion": "1.0.0"}' ] || fail "oci-layout"
[ "$(umoci ls --layout "$MNT/current/oci/example.com/apps/app" | sort | tr '\n' ' ')" = "app1 app2 base " ] ||
  fail "umoci ls"
umoci stat --image "$MNT/current/oci/example.com/apps/app:app1" >/dev/null || fail "umoci stat"
umoci unpack --image "$MNT/current/oci/example.com/apps/app:app1" "$W/unpacked" >/dev/null || fail "umoci unpack"
cmp -s "$W/unpacked/rootfs/usr/bin/umoci" /usr/bin/umoci || fail "umoci unpack: other bytes"
cmp -s "$W/unpacked/rootfs/etc/os-release" /etc/os-release || fail "umoci unpack: base layer"
ok "skopeo and umoci read the OCI view byte for byte (referrer listed untagged)"

# ------------------------------------------- rollback, rm, replace, live --
# wait_current: the mount notices a new current generation within a poll
# interval; wait (bounded) until current points at the store's current.
wait_current() {
  local gen i
  gen=$("$ISLE" --json generations | python3 -c 'import json,sys; print([g["generation"] for g in json.load(sys.stdin) if g["current"]][0])')
  for i in $(seq 100); do
    [ "$(readlink "$MNT/current")" = "generations/$gen" ] && return 0
    sleep 0.05
  done
  fail "the mount did not show generation $gen (current -> $(readlink "$MNT/current"))"
}
"$ISLE" rollback 1 >/dev/null
wait_current
curl -sf "http://$REG/v2/example.com/apps/app/tags/list" >"$W/tags.json"
[ "$(h sorted-json "$W/tags.json" tags)" = "app1 base sorted" ] || fail "after rollback: $(cat "$W/tags.json")"
curl -sf "http://$REG/v2/_catalog" >"$W/catalog.json"
[ "$(h sorted-json "$W/catalog.json" repositories)" = "example.com/apps/app sorted" ] || fail "after rollback: $(cat "$W/catalog.json")"
ok "after rollback the running registry serves the older tag set"
for b in apps other charts; do "$ISLE" activate "$b" >/dev/null; done
wait_current

expect_fail "$ISLE" rm image example.com/apps/app:nope --bundle apps
assert_contains "$ERR" "no image example.com/apps/app:nope"
"$ISLE" rm image example.com/apps/app:base --bundle apps --activate >/dev/null
wait_current
curl -sf "http://$REG/v2/example.com/apps/app/tags/list" >"$W/tags.json"
[ "$(h sorted-json "$W/tags.json" tags)" = "app1 app2 sorted" ] || fail "after rm: $(cat "$W/tags.json")"
"$ISLE" add image "$A:app2" --name example.com/apps/app:app1 --bundle apps --activate >/dev/null
wait_current
[ "$("$ISLE" --json ls --images apps | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 3 ] ||
  fail "replacing a tag added an artifact"
r=$(get_manifest example.com/apps/app app1 "$OCI_M")
[ "$r" = "200 $(h digest "$A" app2)" ] || fail "app1 was not replaced: $r"
ok "rm and replace make new revisions the registry serves at once"

# ------------------------------------------------------------ bad input --
# Each must be refused with its message and leave the store as it was.
before=$(store_fingerprint "$ISLE_STORE")
unchanged() {
  [ "$(store_fingerprint "$ISLE_STORE")" = "$before" ] || fail "store changed after: $1"
  ok "refused: $1"
}
bad() { rm -rf "$W/bad"; cp -r "$A" "$W/bad"; }

bad
base_layer=$(h layers "$W/bad" base | sed -n 1p)
f=$W/bad/blobs/sha256/${base_layer#sha256:}
printf 'X' | dd of="$f" bs=1 seek=20 conv=notrunc status=none
expect_fail "$ISLE" add image "$W/bad:base" --name example.com/bad
assert_contains "$ERR" "blob $base_layer (layer 1 of manifest"
assert_contains "$ERR" "its bytes hash to sha256:$(sha "$f")"
unchanged "digest mismatch"

bad
printf 'X' >>"$f"
expect_fail "$ISLE" add image "$W/bad:base" --name example.com/bad
assert_contains "$ERR" "blob $base_layer (layer 1 of manifest"
assert_contains "$ERR" "bytes, but $(($(stat -c %s "$f") - 1)) are claimed"
unchanged "size mismatch"

bad
cfg=$(h config "$W/bad" base)
rm "$W/bad/blobs/sha256/${cfg#sha256:}"
expect_fail "$ISLE" add image "$W/bad:base" --name example.com/bad
assert_contains "$ERR" "blob $cfg (config of manifest"
assert_contains "$ERR" "is missing"
unchanged "missing blob"

bad
printf '{"schemaVersion": 2,\n "manifests": [\n' >"$W/bad/index.json"
expect_fail "$ISLE" add image "$W/bad" --name example.com/bad
assert_contains "$ERR" "$W/bad: index.json: invalid JSON at line 3, column"
unchanged "malformed index.json"

bad
h replace-manifest "$W/bad" base
expect_fail "$ISLE" add image "$W/bad:base" --name example.com/bad
assert_contains "$ERR" "invalid JSON at line 2, column"
unchanged "malformed manifest"

bad
h set-entry "$W/bad" base mediaType application/vnd.example.unknown+json
expect_fail "$ISLE" add image "$W/bad:base" --name example.com/bad
assert_contains "$ERR" "unknown media type 'application/vnd.example.unknown+json'"
unchanged "unknown media type"

head -c $(($(stat -c %s "$W/oa.tar") / 2)) "$W/oa.tar" >"$W/trunc.tar"
expect_fail "$ISLE" add image "$W/trunc.tar" --name example.com/bad
assert_contains "$ERR" "$W/trunc.tar"
assert_contains "$ERR" "runcated"
unchanged "truncated archive"

head -c 3000 /dev/urandom >"$W/random.tar"
expect_fail "$ISLE" add image "$W/random.tar"
assert_contains "$ERR" "$W/random.tar: not a tar archive"
unchanged "not a tar archive"

for evil in ../evil /etc/evil; do
  h evil-tar "$W/evil.tar" "$evil"
  expect_fail "$ISLE" add image "$W/evil.tar"
  assert_contains "$ERR" "tar entry '$evil' points outside the archive"
  unchanged "tar entry $evil"
done

skopeo copy -q oci:"$A":app1 docker-archive:"$W/dup1.tar":dup:1
skopeo copy -q oci:"$A":app2 docker-archive:"$W/dup2.tar":dup:1
expect_fail "$ISLE" add image "$W/dup1.tar" "$W/dup2.tar"
assert_contains "$ERR" "docker.io/library/dup:1 is given twice with different digests"
unchanged "duplicate tag with different digests in one call"

expect_fail "$ISLE" add image "$A:base" --name example.com/UPPER:1
assert_contains "$ERR" "--name example.com/UPPER:1 is not a valid image reference"
skopeo copy -q oci:"$A":base docker-archive:"$W/badname.tar"
python3 - "$W/badname.tar" "$W/badname2.tar" <<'EOF'
import io, json, sys, tarfile
src, dst = tarfile.open(sys.argv[1]), tarfile.open(sys.argv[2], "w")
for m in src.getmembers():
    data = src.extractfile(m).read() if m.isfile() else None
    if m.name == "manifest.json":
        j = json.loads(data)
        j[0]["RepoTags"] = ["Bad/Name:1"]
        data = json.dumps(j).encode()
        m.size = len(data)
    dst.addfile(m, io.BytesIO(data) if data is not None else None)
dst.close()
EOF
expect_fail "$ISLE" add image "$W/badname2.tar"
assert_contains "$ERR" "image name 'Bad/Name:1' is not a valid reference"
unchanged "invalid reference"

expect_fail "$ISLE" add image "$A" --name example.com/x:1
assert_contains "$ERR" "names one image, but the sources hold 3"
expect_fail "$ISLE" add image "$A:nope" --name example.com/x
assert_contains "$ERR" "no image named 'nope'"
expect_fail "$ISLE" add image "$A"
assert_contains "$ERR" "is named by a tag only; give --name REPO"
unchanged "--name with a tag for three images, an absent tag, a bare tag"

# Two bundles giving one name different digests cannot be active together.
"$ISLE" add image "$A:base" --name example.com/apps/app:app2 --bundle clash >/dev/null
before=$(store_fingerprint "$ISLE_STORE")
expect_fail "$ISLE" activate clash
assert_contains "$ERR" "bundles apps and clash both provide image example.com/apps/app:app2 with different digests"
unchanged "two bundles, one repo:tag, different digests"

"$ISLE" fsck >"$W/fsck.out" || fail "isle fsck: $(cat "$W/fsck.out")"
ok "isle fsck is clean"
