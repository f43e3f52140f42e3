#!/usr/bin/env bash
# tools/images/build.sh: build an OCI image for a function folder, offline from
# the Debian mirror, in the layout of Ilúvatar's action images.
#
# Usage:
#   bash tools/images/build.sh --function DIR --out LAYOUT[:TAG]
#                              [--packages "python3-pil python3-numpy"]
#                              [--docker-archive FILE.tar] [--rebuild-base]
#   bash tools/images/build.sh --function DIR --base-only [--packages "..."]
#   bash tools/images/build.sh --help
#
#   --function DIR        the function folder: main.py defines main(args) and
#                         returns a JSON-able value. Its name (basename) names
#                         the image. An optional DIR/packages.txt lists Debian
#                         packages, one a line ('#' starts a comment).
#   --out LAYOUT[:TAG]    the OCI image layout directory to write, and the tag
#                         (default "latest"). A new layout is created; in an
#                         existing one the tag is added or replaced.
#   --packages "P Q"      more Debian packages (space or comma separated), on
#                         top of python3 and those in DIR/packages.txt.
#   --docker-archive F    also write the image as a docker-archive (what
#                         `docker save` writes), named iluvatar/<name>:latest.
#   --base-only           build (or find in the cache) the base root filesystem
#                         tar only, print its path, and stop; --out not needed.
#   --rebuild-base        build the base again even if it is cached (to pick up
#                         Debian updates).
#
# The image has two layers and a config:
#   1. base: `mmdebstrap --variant=minbase --include=python3,<packages>
#      bookworm`, without docs, man pages and locales (copyright files kept);
#      cached as $ILU_IMAGE_CACHE/base-<key>.tar, where <key> is the first 16 hex
#      digits of the sha256 of the sorted, de-duplicated package list (python3
#      included, one name a line), so builds with the same packages share it;
#   2. the function folder at /app (owner root, numeric ids, sorted names, mtime
#      $SOURCE_DATE_EPOCH or 0, so the same folder gives the same layer);
#   config: WorkingDir /app, Env PATH=..., label org.iluvatar.function=<name>.
# Everything is done with mmdebstrap, GNU tar, umoci and skopeo; no JSON is
# written by hand.
#
# Environment:
#   ILU_IMAGE_CACHE             base cache and lock files
#                               (default /var/cache/iluvatar/images)
#   ILU_DEBIAN_MIRROR           default http://deb.debian.org/debian
#   ILU_DEBIAN_SECURITY_MIRROR  default http://deb.debian.org/debian-security
#   SOURCE_DATE_EPOCH           mtime of the /app files (default 0)
#
# Needs: mmdebstrap (root, or unprivileged user namespaces), umoci, skopeo,
# GNU tar, flock. Exit status 0 on success; otherwise non-zero, with the step
# that failed and its tool's messages on stderr, and the output left as it was
# before (no half-written tag, layout, archive or cache entry).
set -euo pipefail

readonly SUITE=bookworm
readonly IMAGE_PATH_ENV="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
readonly LABEL_KEY=org.iluvatar.function
readonly MERGED_USR_HOOKS=/usr/share/mmdebstrap/hooks/merged-usr
readonly PROG=build.sh

cache_dir=${ILU_IMAGE_CACHE:-/var/cache/iluvatar/images}
mirror=${ILU_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security_mirror=${ILU_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

usage() {
    # the header comment above is the one description of the interface
    sed -n '2,/^set -euo pipefail$/{/^set /d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
human() { numfmt --to=iec-i --suffix=B --format='%.1f' "$1"; }

# --- state the cleanup trap needs -------------------------------------------
work=""            # private temp dir (logs, the /app layer tar)
base_tmp=""        # base tar being written in the cache dir, until renamed
archive_tmp_dir="" # temp dir beside the docker-archive, until renamed
layout=""          # the output layout
tmp_tag=""         # tag the image is built under, until it is renamed to TAG
layout_created=0   # 1: this run created the layout, so a failure removes it
base_lock=""       # descriptor of the base cache flock (see lock)
succeeded=0

cleanup() {
    local rc=$?
    set +e
    if ((!succeeded)) && [[ -n $layout ]]; then
        if ((layout_created)); then
            rm -rf -- "$layout"
        elif [[ -n $tmp_tag ]]; then
            # drop our half-built tag, then the blobs only it referenced
            umoci rm --image "$layout:$tmp_tag" >/dev/null 2>&1
            umoci gc --layout "$layout" >/dev/null 2>&1
        fi
    fi
    [[ -n $base_tmp ]] && rm -f -- "$base_tmp"
    [[ -n $archive_tmp_dir ]] && rm -rf -- "$archive_tmp_dir"
    [[ -n $work ]] && rm -rf -- "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# step NAME CMD...: runs CMD with its output in a log; on failure, says which
# step failed and shows what the tool said.
step() {
    local name=$1 logf
    shift
    logf="$work/step.log"
    "$@" >"$logf" 2>&1 || {
        local rc=$?
        {
            printf '%s: error: %s failed (exit %d): %s\n' "$PROG" "$name" "$rc" "$*"
            printf '%s:   | %s\n' "$PROG" "--- last lines of its output ---"
            tail -n 40 "$logf" | sed "s/^/$PROG:   | /"
        } >&2
        exit 1
    }
}

# lock VAR FILE: takes an exclusive flock on FILE (created if needed) and
# stores the descriptor in VAR; `exec {VAR}>&-` releases it, and the kernel
# drops it anyway when the script exits, however it exits.
lock() {
    local var=$1 file=$2 fd
    exec {fd}>>"$file" || die "cannot open lock file $file"
    if ! flock -n "$fd"; then
        log "waiting for $file (another build holds it)"
        flock "$fd" || die "cannot lock $file"
    fi
    printf -v "$var" '%s' "$fd"
}

# --- arguments ---------------------------------------------------------------
fn_dir="" out="" extra_packages="" docker_archive="" base_only=0 rebuild_base=0
need_value() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"; }
while (($#)); do
    case $1 in
        --function) need_value "$@"; fn_dir=$2; shift 2 ;;
        --out) need_value "$@"; out=$2; shift 2 ;;
        --packages) need_value "$@"; extra_packages+=" $2"; shift 2 ;;
        --docker-archive) need_value "$@"; docker_archive=$2; shift 2 ;;
        --base-only) base_only=1; shift ;;
        --rebuild-base) rebuild_base=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

[[ -n $fn_dir ]] || die "--function DIR is required (see --help)"
[[ -d $fn_dir ]] || die "function folder '$fn_dir' is not a directory"
fn_dir=$(realpath -- "$fn_dir")
[[ -f $fn_dir/main.py ]] || die "function folder '$fn_dir' has no main.py"
grep -q '^def main(' "$fn_dir/main.py" || log "warning: $fn_dir/main.py has no top-level 'def main('"
fn_name=$(basename -- "$fn_dir")

if ((!base_only)); then
    [[ -n $out ]] || die "--out LAYOUT[:TAG] is required unless --base-only (see --help)"
    # LAYOUT[:TAG]: the tag is what follows the last ':' when that has no '/'
    tag=latest
    layout=$out
    if [[ $out == *:* && ${out##*:} != */* ]]; then
        tag=${out##*:}
        layout=${out%:*}
    fi
    [[ -n $layout ]] || die "--out '$out' names no layout directory"
    [[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$ ]] ||
        die "tag '$tag' is not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]*, at most 128)"
    layout=$(realpath -m -- "$layout")
    [[ $layout != *:* ]] || die "layout path '$layout' contains ':', which umoci does not accept"
    [[ -d $(dirname -- "$layout") ]] || die "no directory for the layout '$layout'"
    if [[ -e $layout && ! -f $layout/oci-layout ]]; then
        die "'$layout' exists but is not an OCI image layout (no oci-layout file)"
    fi
    layout_for_cleanup=$layout
    layout="" # the cleanup trap touches the layout only once we hold its lock
else
    [[ -z $out && -z $docker_archive ]] || die "--base-only builds no image: drop --out/--docker-archive"
fi
if [[ -n $docker_archive ]]; then
    docker_archive=$(realpath -m -- "$docker_archive")
    [[ -d $(dirname -- "$docker_archive") ]] || die "no directory for --docker-archive '$docker_archive'"
    [[ ! -d $docker_archive ]] || die "--docker-archive '$docker_archive' is a directory"
fi

for tool in mmdebstrap umoci flock tar numfmt sha256sum; do
    command -v "$tool" >/dev/null || die "$tool is not installed (scripts/install-deps.sh installs it)"
done
[[ -z $docker_archive ]] || command -v skopeo >/dev/null ||
    die "skopeo is not installed (scripts/install-deps.sh installs it)"
tar --version 2>/dev/null | grep -q 'GNU tar' || die "tar is not GNU tar (needed for --sort, --transform)"

# --- the package list and its cache key ---------------------------------------
packages=(python3)
read -r -a words <<<"${extra_packages//,/ }"
packages+=("${words[@]}")
if [[ -f $fn_dir/packages.txt ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line%%#*}
        read -r -a words <<<"${line//,/ }"
        packages+=("${words[@]}")
    done <"$fn_dir/packages.txt"
fi
for p in "${packages[@]}"; do
    # Debian's package name syntax; also keeps the names out of mmdebstrap's
    # option parsing
    [[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "'$p' is not a Debian package name"
done
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | LC_ALL=C sort -u)
key=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-16)
include=$(
    IFS=,
    printf '%s' "${packages[*]}"
)

work=$(mktemp -d "${TMPDIR:-/tmp}/ilu-image.XXXXXX")

# --- 1. the base root filesystem, cached --------------------------------------
mkdir -p -- "$cache_dir" 2>/dev/null || die "cannot create the cache dir $cache_dir (set ILU_IMAGE_CACHE)"
[[ -w $cache_dir ]] || die "cache dir $cache_dir is not writable (set ILU_IMAGE_CACHE)"
base_tar=$cache_dir/base-$key.tar
t_base=$(now)
# One lock per key: a concurrent build of the same base waits here and then
# finds the finished tar; builds of other bases go on in parallel.
lock base_lock "$cache_dir/base-$key.lock"
if ((rebuild_base)) || [[ ! -s $base_tar ]]; then
    log "building base $key: mmdebstrap --variant=minbase --include=$include $SUITE"
    # mmdebstrap picks its output format from the name, so the temp name ends in
    # .tar; it lives in the cache dir so that the final rename is atomic
    base_tmp=$(mktemp -p "$cache_dir" --suffix=.tar ".tmp-base-$key.XXXXXX")
    mmdebstrap_opts=(
        --variant=minbase --format=tar --include="$include"
        # a function image needs no recommended extras
        --aptopt='APT::Install-Recommends "false"'
        # docs, man pages and translations are dead weight in a function image;
        # copyright files stay, as Debian's licences ask
        --dpkgopt='path-exclude=/usr/share/doc/*'
        --dpkgopt='path-include=/usr/share/doc/*/copyright'
        --dpkgopt='path-exclude=/usr/share/man/*'
        --dpkgopt='path-exclude=/usr/share/info/*'
        --dpkgopt='path-exclude=/usr/share/locale/*'
        --dpkgopt='path-include=/usr/share/locale/locale.alias'
    )
    # merged /usr set up by mmdebstrap itself: otherwise bookworm pulls in the
    # usrmerge package and with it perl (about 50 MB)
    [[ -d $MERGED_USR_HOOKS ]] && mmdebstrap_opts+=(--hook-dir="$MERGED_USR_HOOKS")
    step "building the base (mmdebstrap)" mmdebstrap "${mmdebstrap_opts[@]}" "$SUITE" "$base_tmp" \
        "deb $mirror $SUITE main" "deb $mirror $SUITE-updates main" \
        "deb $security_mirror $SUITE-security main"
    chmod 0644 "$base_tmp"
    mv -f -- "$base_tmp" "$base_tar"
    base_tmp=""
    base_note="built"
else
    base_note="cached"
fi
# The tar at this path is always complete (it is only ever replaced by a
# rename), so other builds may use or rebuild it from now on.
exec {base_lock}>&-
t_base_done=$(now)
base_size=$(stat -c %s "$base_tar")

if ((base_only)); then
    succeeded=1
    printf 'base:    %s (%s, %s, %s s)\n' "$base_tar" "$base_note" "$(human "$base_size")" \
        "$(elapsed "$t_base" "$t_base_done")"
    printf 'packages: %s\n' "${packages[*]}"
    exit 0
fi

# --- 2. the /app layer -----------------------------------------------------------
t_image=$(now)
app_tar=$work/app.tar
# Reproducible: the same folder gives byte-identical tar (sorted names, root
# owner by number, fixed mtime, permissions without the builder's umask).
# Byte-code caches and VCS data are the builder's, not the function's.
step "packing the function folder (tar)" tar --create --file "$app_tar" --directory "$fn_dir" \
    --format=gnu --sort=name --owner=0 --group=0 --numeric-owner \
    --mtime="@${SOURCE_DATE_EPOCH:-0}" --mode='u+rwX,go+rX,go-w' \
    --exclude-vcs --exclude=__pycache__ --exclude='*.pyc' \
    --transform='s,^\.$,app,S' --transform='s,^\./,app/,S' .
app_size=$(stat -c %s "$app_tar")

# --- 3. the image, in the layout -----------------------------------------------
# umoci does not lock a layout against concurrent writers, so builds into the
# same layout take turns. The lock file lives in the cache dir: the layout may
# not exist yet, and a foreign file inside it would not belong to the OCI layout.
lock layout_lock "$cache_dir/layout-$(printf '%s' "$layout_for_cleanup" | sha256sum | cut -c1-16).lock"
layout=$layout_for_cleanup
if [[ ! -e $layout ]]; then
    layout_created=1
    step "creating the layout (umoci init)" umoci init --layout "$layout"
fi
# The image is built under a private tag and renamed at the end, so the real
# tag never points at a half-built image.
tmp_tag="ilu-build-tmp-$$-$RANDOM"
step "creating the image (umoci new)" umoci new --image "$layout:$tmp_tag"
step "adding the base layer (umoci raw add-layer)" umoci raw add-layer --image "$layout:$tmp_tag" \
    --history.created_by "mmdebstrap --variant=minbase --include=$include $SUITE" "$base_tar"
step "adding the /app layer (umoci raw add-layer)" umoci raw add-layer --image "$layout:$tmp_tag" \
    --history.created_by "tools/images/build.sh: function folder $fn_name at /app" "$app_tar"
step "setting the config (umoci config)" umoci config --image "$layout:$tmp_tag" \
    --config.workingdir /app --config.env "$IMAGE_PATH_ENV" \
    --config.label "$LABEL_KEY=$fn_name" \
    --history.created_by "tools/images/build.sh: WorkingDir /app, $LABEL_KEY=$fn_name"
step "reading the image (umoci stat)" umoci stat --image "$layout:$tmp_tag" --json
# the compressed size of the layers (step left umoci's JSON in its log)
image_size=$(grep -o '"size":[0-9]*' "$work/step.log" | awk -F: '{ s += $2 } END { print s + 0 }')
t_image_done=$(now)

# --- 4. the docker-archive -------------------------------------------------------
# Copied from the build tag before that becomes TAG, so a failed copy leaves both
# outputs as they were; written beside the target and renamed into place.
if [[ -n $docker_archive ]]; then
    t_archive=$(now)
    archive_tmp_dir=$(mktemp -d "$(dirname -- "$docker_archive")/.ilu-archive.XXXXXX")
    # docker references are lower case
    docker_name=$(printf '%s' "${fn_name,,}" | tr -c 'a-z0-9._-' '-')
    step "writing the docker-archive (skopeo copy)" skopeo copy --quiet \
        "oci:$layout:$tmp_tag" "docker-archive:$archive_tmp_dir/image.tar:iluvatar/$docker_name:latest"
    t_archive_done=$(now)
fi

# --- 5. publish: the tag, then the archive -----------------------------------------
step "tagging the image $tag (umoci tag)" umoci tag --image "$layout:$tmp_tag" "$tag"
step "removing the build tag (umoci rm)" umoci rm --image "$layout:$tmp_tag"
tmp_tag=""
layout_created=0 # from here on the layout holds a finished image: keep it
if [[ -n $docker_archive ]]; then
    mv -f -- "$archive_tmp_dir/image.tar" "$docker_archive" || die "cannot rename the docker-archive into $docker_archive"
    rm -rf -- "$archive_tmp_dir"
    archive_tmp_dir=""
fi
# drop the blobs nothing references any more (intermediate configs and
# manifests, and the image the tag pointed at before, if any)
step "collecting garbage (umoci gc)" umoci gc --layout "$layout"

succeeded=1
printf 'image:   oci:%s:%s (%s=%s)\n' "$layout" "$tag" "$LABEL_KEY" "$fn_name"
printf 'size:    %s compressed (2 layers); %s uncompressed (base %s + /app %s)\n' \
    "$(human "$image_size")" "$(human $((base_size + app_size)))" "$(human "$base_size")" "$(human "$app_size")"
printf 'base:    %s (%s, %s s; packages: %s)\n' "$base_tar" "$base_note" \
    "$(elapsed "$t_base" "$t_base_done")" "${packages[*]}"
printf 'layers:  image built in %s s\n' "$(elapsed "$t_image" "$t_image_done")"
if [[ -n $docker_archive ]]; then
    printf 'archive: docker-archive:%s (iluvatar/%s:latest, %s, %s s)\n' "$docker_archive" "$docker_name" \
        "$(human "$(stat -c %s "$docker_archive")")" "$(elapsed "$t_archive" "$t_archive_done")"
fi
