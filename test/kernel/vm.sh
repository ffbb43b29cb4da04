#!/usr/bin/env bash
# Boots the cached guest image once and runs one guest script in it.
#
#   vm.sh IMAGE_DIR PROJECT_DIR SCRIPT [NAME=VALUE ...]
#
# The root disk is a QEMU snapshot (writes go to a throw-away overlay), so every boot starts
# from the same clean image. PROJECT_DIR is shared read-write at /mnt/project over 9p; a fresh
# io directory is shared at /mnt/kt-io and carries SCRIPT in and the exit status out. The
# guest's serial console is copied to stdout. The guest also has an emulated PCIe NVMe
# controller (a local one that disconnect-all must never touch); its driver loads on demand. Exit status: the guest script's, or 124 when
# the guest gave none (timeout or crash).
#
# env: NVMF_KT_TIMEOUT (s, default 3000), NVMF_KT_MEM (MiB, default 1024), NVMF_KT_CPUS
# (default 2), NVMF_KT_ACCEL (tcg by default; KVM faults on these machines), NVMF_KT_APPEND.
set -uo pipefail
img=${1:?image dir}; project=$(cd "${2:?project dir}" && pwd); script=${3:?guest script}
shift 3

io=$(mktemp -d "${TMPDIR:-/tmp}/nvmf-kt-io.XXXXXX")
trap 'rm -rf "$io"' EXIT
# A project whose node_modules is a symlink (a worktree sharing one install) would see a
# dangling link in the guest: share the link's target too and mount it at the same absolute
# path there, so the link resolves.
extra_share=()
mount_modules=
if [ -L "$project/node_modules" ]; then
  modules=$(realpath "$project/node_modules")
  extra_share=(-virtfs "local,path=$modules,mount_tag=ktmodules,security_model=none,readonly=on,id=ktmodules")
  mount_modules=$(printf 'mkdir -p %q && mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro ktmodules %q\n' "$modules" "$modules")
fi
{
  for kv in "$@"; do printf 'export %q\n' "$kv"; done
  printf '%s\n' "$mount_modules"
  cat "$script"
} >"$io/run.sh"

# The firmware's boot table: an NBFT (ACPI) built by the test's encoder, describing a boot
# subsystem on the guest's own nvmet port (test/kernel/lib/nbft-boot.ts); the guest kernel
# exposes it as /sys/firmware/acpi/tables/NBFT. Only scenario 13 connects that subsystem.
if ! (cd "$project" && node --import tsx test/kernel/nbft-table.ts "$io/NBFT.bin"); then
  echo "vm.sh: building the NBFT table failed" >&2
  exit 2
fi

case ${NVMF_KT_ACCEL:-tcg} in
  tcg) accel=(-accel tcg,thread=multi -cpu max) ;;
  kvm) accel=(-accel kvm -cpu host) ;;
  *) echo "vm.sh: NVMF_KT_ACCEL must be tcg or kvm" >&2; exit 2 ;;
esac
append="console=ttyS0 root=/dev/vda rw panic=-1 quiet loglevel=3 systemd.show_status=false"
append+=" systemd.unit=nvmf-kt.target ${NVMF_KT_APPEND:-}"

start=$(date +%s.%N)
timeout --foreground -k 10 "${NVMF_KT_TIMEOUT:-3000}" \
  qemu-system-x86_64 "${accel[@]}" -m "${NVMF_KT_MEM:-1024}" -smp "${NVMF_KT_CPUS:-2}" \
  -no-reboot -nic none -display none -monitor none -serial stdio \
  -kernel "$img/vmlinuz" -initrd "$img/initrd.gz" -append "$append" \
  -drive "file=$img/rootfs.ext4,format=raw,if=virtio,snapshot=on" \
  -device virtio-rng-pci \
  -acpitable "file=$io/NBFT.bin" \
  -blockdev null-co,node-name=ktnvme,size=67108864 -device nvme,serial=nvmfkt0001,drive=ktnvme \
  -virtfs "local,path=$project,mount_tag=project,security_model=none,multidevs=remap,id=project" \
  -virtfs "local,path=$io,mount_tag=ktio,security_model=none,id=ktio" \
  "${extra_share[@]}" \
  </dev/null
qrc=$?
printf '[kt-vm] qemu exited %s after %s s\n' "$qrc" "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')" >&2
[ -f "$io/summary" ] && cp "$io/summary" "${NVMF_KT_SUMMARY:-/dev/null}" 2>/dev/null
if [ -f "$io/rc" ]; then exit "$(cat "$io/rc")"; fi
echo "[kt-vm] the guest returned no exit status (qemu $qrc; 124 = timed out)" >&2
exit 124
