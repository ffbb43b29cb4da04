#!/usr/bin/env bash
# `npm run test:kernel`: the project against the real Linux NVMe-oF host and nvmet target, with
# the real systemd-udevd and journald, in a QEMU guest (see docs/kernel-tests.md).
#
#   bash test/kernel/run.sh [SCENARIO_FILE...]   (default: all of test/kernel/scenarios)
#
# Builds the project (build/ runs in the guest with the host's node), makes sure the cached
# guest image is current, boots it once and runs every scenario in it. Exits non-zero when
# any scenario fails, naming each failing one. Needs root (first run installs Debian packages
# and builds the image). env: NVMF_KT_CACHE, NVMF_KT_REBUILD=1, NVMF_KT_SKIP_BUILD=1,
# NVMF_KT_TIMEOUT, NVMF_KT_MEM, NVMF_KT_CPUS.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }

if [ "$(id -u)" != 0 ]; then
  echo "test:kernel: needs root (Debian packages, debootstrap)" >&2
  exit 1
fi
if [ "${NVMF_KT_SKIP_BUILD:-0}" != 1 ]; then
  (cd "$project" && npm run --silent build)
fi
img=$(bash "$here/ensure-image.sh")
echo "[kt] image ready after $(elapsed) s: $img" >&2

only=
for f in "$@"; do
  rel=$(realpath --relative-to="$project" "$f")
  only+="${only:+ }$rel"
done

summary=$(mktemp "${TMPDIR:-/tmp}/nvmf-kt-summary.XXXXXX")
trap 'rm -f "$summary"' EXIT
set +e
NVMF_KT_SUMMARY=$summary bash "$here/vm.sh" "$img" "$project" "$here/guest/main.sh" \
  ${only:+"NVMF_KT_ONLY=$only"}
rc=$?
set -e

echo
echo "== kernel tests (wall $(elapsed) s)"
if [ -s "$summary" ]; then
  cat "$summary"
  grep '^FAIL ' "$summary" | sed 's/^FAIL /failing scenario: /' >&2 || true
fi
if [ "$rc" = 124 ]; then
  echo "test:kernel: the guest did not finish (timeout or crash); see the console output above" >&2
fi
exit "$rc"
