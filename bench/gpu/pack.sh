#!/usr/bin/env bash
# Pack what bench/gpu/run.sh needs on a GPU host that has no internet and
# nothing of ours installed: the binaries built here, the shared libraries
# they need that a base Debian/Ubuntu lacks, runc, the agent and the
# functions. Run it here, from the repository root, after `make`:
#
#   bench/gpu/pack.sh            # BUILD=build by default
#   scp build/gpu-pack/iluvatar-gpu-bench.tar.gz gpu-host:
#   ssh gpu-host 'tar xzf iluvatar-gpu-bench.tar.gz && sudo iluvatar-gpu-bench/run.sh'
#
# Writes $BUILD/gpu-pack/iluvatar-gpu-bench/ and $BUILD/gpu-pack/iluvatar-gpu-bench.tar.gz.
# The host needs /usr/bin/python3 (the containers' Python; any 3.8+) and a
# glibc at least as new as this build host's (run.sh checks both).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
out="$BUILD/gpu-pack/iluvatar-gpu-bench"
bins=(iluvatar_worker iluvatar_load_gen iluvatar_worker_cli)
for b in "${bins[@]}"; do
    [[ -x $BUILD/$b ]] || { echo "pack.sh: $BUILD/$b is missing: run make BUILD=$BUILD first" >&2; exit 1; }
done
runc=$(command -v runc || true)
[[ -n $runc ]] || { echo "pack.sh: no runc on PATH here to pack (apt-get install runc)" >&2; exit 1; }

rm -rf "$BUILD/gpu-pack"
mkdir -p "$out/bin" "$out/lib" "$out/functions"
for b in "${bins[@]}"; do cp "$BUILD/$b" "$out/bin/"; done
cp "$runc" "$out/bin/runc"
cp -r agent "$out/agent"
for f in gpu_synthetic synthetic hello; do cp -r "functions/$f" "$out/functions/"; done
find "$out" -name __pycache__ -prune -exec rm -rf {} +
cp bench/gpu/run.sh "$out/run.sh"
cp VERSION "$out/VERSION"

# Shared libraries: all that ldd lists but glibc's own (libc, libm, ld.so ...,
# which must be the host's) and the vDSO. A base Debian/Ubuntu lacks
# libevent, jansson, sqlite, seccomp, cmocka ...; carrying a library the
# host also has does no harm (run.sh puts ours first on LD_LIBRARY_PATH).
glibc='^(ld-linux[^ ]*|libc|libm|libdl|libpthread|librt|libresolv|libutil|libanl|libnsl|libmvec|linux-vdso|linux-gate)\.so'
for b in "$out"/bin/*; do
    ldd "$b" 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $1, $3}' || true
done | sort -u | while read -r name path; do
    [[ $name =~ $glibc ]] && continue
    cp -L "$path" "$out/lib/$name"
done
{
    echo "iluvatar GPU bench pack, $(cat VERSION), built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n)"
    echo "glibc here: $(ldd --version 2>/dev/null | head -1)"
    echo "runc: $("$runc" --version 2>/dev/null | head -1)"
    echo "libraries:"; ls "$out/lib" | sed 's/^/  /'
} >"$out/MANIFEST"
tar -C "$BUILD/gpu-pack" -czf "$BUILD/gpu-pack/iluvatar-gpu-bench.tar.gz" iluvatar-gpu-bench
echo "pack.sh: $BUILD/gpu-pack/iluvatar-gpu-bench.tar.gz ($(du -h "$BUILD/gpu-pack/iluvatar-gpu-bench.tar.gz" | cut -f1)); on the GPU host: tar xzf it, then sudo iluvatar-gpu-bench/run.sh"
