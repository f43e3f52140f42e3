#!/usr/bin/env bash
# Unpack an OCI image for the worker, once per image, into a content-addressed
# cache; run by the worker's OCI backend (src/backend/oci/images.c) when a
# function is registered with an image reference.
#   prepare.sh REF CACHE_DIR CONFIG_OUT
# REF: oci:/layout[:tag] | oci-archive:/file.tar[:tag] | docker-archive:/file.tar[:ref]
#      | docker://registry/repo:tag (pulled when the registry is reachable)
# Prints one line, the cache entry's name (sha256-<id>), on success, and
# writes the image's config (as skopeo prints it) to CONFIG_OUT; else a
# one-line reason on stderr and a non-zero status. The entry is
# CACHE_DIR/sha256-<id>/rootfs (the image's layers, unpacked by umoci, plus
# the empty mount points the worker needs). The id is the sha256 of the
# layers' uncompressed digests (the config's rootfs.diff_ids, read by skopeo):
# the same layers reached through two transports (an OCI layout and a
# docker-archive of it, whose config bytes differ) or under two configs (two
# tags differing only in Env or WORKDIR) share one unpacked root.
# An entry appears whole or not at all (built beside, then renamed), and
# concurrent runs on one cache take turns (flock), so no image is unpacked
# twice. Its mtime is touched on each use, for the LRU bound on the cache; its
# file "size" holds the bytes unpacked. The worker removes unused entries
# (oci.image_cache_max_mb, POST /clean) under the same lock.
set -euo pipefail
export LC_ALL=C

die() {
    echo "$*" >&2
    exit 1
}

[ $# -eq 3 ] || die "usage: prepare.sh REF CACHE_DIR CONFIG_OUT"
ref=$1
cache=$2
config_out=$3
case $ref in
oci:* | oci-archive:* | docker-archive:* | docker://*) ;;
*) die "\"$ref\" is not an image reference (oci:, oci-archive:, docker-archive: or docker://)" ;;
esac
for tool in skopeo umoci sha256sum flock; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done

mkdir -p "$cache/tmp"
exec 9>"$cache/.lock"
flock 9
work=$(mktemp -d "$cache/tmp/prepare.XXXXXX")
trap 'rm -rf "$work"' EXIT

# any transport into one local OCI layout, so every later step reads one kind
if ! skopeo copy --quiet "$ref" "oci:$work/layout:image" 2>"$work/err"; then
    die "cannot read the image $ref: $(tail -n 3 "$work/err" | tr '\n' ' ')"
fi
skopeo inspect --config --raw "oci:$work/layout:image" >"$work/image-config.json" 2>"$work/err" ||
    die "image $ref has no readable config: $(tail -n 3 "$work/err" | tr '\n' ' ')"
layers=$(skopeo inspect --config --format '{{.RootFS.DiffIDs}}' "oci:$work/layout:image" 2>"$work/err") ||
    die "image $ref: cannot list its layers: $(tail -n 3 "$work/err" | tr '\n' ' ')"
id=$(printf '%s\n' "$layers" | sha256sum | cut -c1-64)
name=sha256-$id
entry=$cache/$name

if [ ! -e "$entry/ready" ]; then
    rm -rf "$entry" "$entry.part"
    mkdir -p "$entry.part"
    if ! umoci raw unpack --image "$work/layout:image" "$entry.part/rootfs" 2>"$work/err"; then
        rm -rf "$entry.part"
        die "cannot unpack the image $ref: $(tail -n 3 "$work/err" | tr '\n' ' ')"
    fi
    # mount points of the read-only root (the runtime must not create them
    # in a root that all containers of the image share)
    r=$entry.part/rootfs
    # (/iluvatar/nvidia and /iluvatar/mps: a GPU container's driver libraries
    # and MPS pipes, docs/gpu.md)
    mkdir -p "$r/proc" "$r/sys" "$r/dev" "$r/tmp" "$r/iluvatar/agent" "$r/iluvatar/nvidia/lib" \
        "$r/iluvatar/nvidia/bin" "$r/iluvatar/mps"
    chmod 1777 "$r/tmp"
    [ -e "$r/iluvatar/init" ] || : >"$r/iluvatar/init"
    chmod 755 "$entry.part" "$r" "$r/iluvatar"
    du -sb "$r" | cut -f1 >"$entry.part/size" # for the worker's accounting of the cache
    : >"$entry.part/ready"
    mv "$entry.part" "$entry"
fi
touch "$entry"
cp "$work/image-config.json" "$config_out"
echo "$name"
