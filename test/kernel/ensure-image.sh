#!/usr/bin/env bash
# Makes sure the host tools are installed and a guest image built from the current inputs is in
# the cache; prints the image directory on stdout, and nothing else: callers take stdout as the
# path, so every other output (apt, the build and its tools) goes to stderr.
#
# Cache: $NVMF_KT_CACHE, else $XDG_CACHE_HOME/nvmf-kernel-tests, else $TMPDIR (or /tmp)/nvmf-kernel-tests.
# The image directory is named after a hash of everything that goes into it (image/*, the
# node binary's version), so a changed input builds a new image; older ones are removed once
# the new one is complete. NVMF_KT_REBUILD=1 forces a rebuild. NVMF_KT_BUILDER names another
# build script (the fast test of this file hands in a stub).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
builder=${NVMF_KT_BUILDER:-$here/image/build.sh}
# From here on stdout is stderr; the path alone goes to the real stdout (fd 3) at the end.
exec 3>&1 1>&2
say() { printf '[kt-image %(%T)T] %s\n' -1 "$*" >&2; }

cache=${NVMF_KT_CACHE:-${XDG_CACHE_HOME:-${TMPDIR:-/tmp}}/nvmf-kernel-tests}
mkdir -p "$cache"

host_pkgs=(qemu-system-x86 qemu-utils debootstrap e2fsprogs cpio kmod gzip)
missing=()
for p in "${host_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

key=$( { cat "$here"/image/* "$builder"; node --version; uname -m; } | sha256sum | cut -c1-16)
img=$cache/image-$key
if [ "${NVMF_KT_REBUILD:-0}" = 1 ]; then rm -rf "$img"; fi
if [ ! -f "$img/ready" ]; then
  exec 9>"$cache/.build.lock"
  flock 9   # two runs on one machine must not build the same image at once
  if [ ! -f "$img/ready" ]; then
    say "building image $key (inputs changed or no cached image)"
    start=$(date +%s)
    # apt's lists may be missing on a fresh machine; the kernel lookup needs them
    apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -qq
    rm -rf "$img.tmp"
    bash "$builder" "$img.tmp" 3>&-
    date -u +%FT%TZ >"$img.tmp/ready"
    mv "$img.tmp" "$img"
    for old in "$cache"/image-*; do
      [ "$old" = "$img" ] || rm -rf "$old"
    done
    say "image built in $(( $(date +%s) - start )) s"
  fi
  exec 9>&-
fi
echo "$img" >&3
