#!/usr/bin/env bash
# Builds the guest for the kernel tests: Debian's stock kernel (not installed, only unpacked),
# a busybox initramfs that mounts the root disk, and a debootstrapped rootfs with systemd,
# udevd, journald, nvme-cli and the host's node binary, as one ext4 image.
#
#   build.sh OUTDIR      writes OUTDIR/{vmlinuz,initrd.gz,rootfs.ext4,kernel-release}
#
# Needs root (debootstrap) and Debian's packages. Work files live beside OUTDIR and are
# removed afterwards; the caller (ensure-image.sh) decides when a rebuild is due.
set -euo pipefail

out=${1:?usage: build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
suite=${NVMF_KT_SUITE:-bookworm}
work=$(mktemp -d "$(dirname "$out")/.work.XXXXXX")
chmod 0755 "$work"   # apt-get download drops root and needs to reach debs/
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
say() { printf '[kt-build %(%T)T] %s\n' -1 "$*" >&2; }

# The guest only needs the NVMe-oF host and target, null_blk for a namespace, and what boots
# it (virtio disk, ext4, 9p). Loading no other drivers keeps udev's coldplug short. The PCIe
# driver (nvme) is there for the emulated local controller, but only loaded by the scenario that
# needs one: elsewhere a PCIe nvme0 would shift every instance number. dm_mod (linear targets
# are built in) is there for the in-use scenarios' device-mapper holder.
guest_modules="nvme nvme-core nvme-fabrics nvme-tcp nvmet nvmet-tcp null_blk configfs \
  virtio_pci virtio_blk virtio_rng crc32c_generic ext4 9p 9pnet_virtio autofs4 dm_mod"
initrd_modules="crc32c_generic virtio_pci virtio_blk ext4 9pnet_virtio 9p"

mirror=${NVMF_KT_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
fi
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "kt-build: no Debian mirror in the host's apt sources; set NVMF_KT_MIRROR" >&2; exit 1; }

# --- kernel and busybox: unpacked, never installed on the host
say "fetching the kernel package"
mkdir -p "$work/debs"
chown _apt "$work/debs" 2>/dev/null || true
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || { echo "kt-build: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
(cd "$work/debs" && apt-get download -qq "$kpkg" busybox-static)
dpkg-deb -x "$work"/debs/linux-image-*.deb "$work/kernel"
dpkg-deb -x "$work"/debs/busybox-static_*.deb "$work/busybox"
krel=$(ls "$work/kernel/lib/modules")
# the package's postinst is what normally writes modules.dep; we never run it
depmod -b "$work/kernel" "$krel"

# install_modules DEST MODULE...: the modules and everything they depend on, then depmod
install_modules() {
  local dest=$1 f rel
  shift
  for f in $(modprobe -d "$work/kernel" -S "$krel" --show-depends -a "$@" | awk '$1 == "insmod" {print $2}' | sort -u); do
    rel=${f#"$work/kernel"}
    mkdir -p "$dest$(dirname "$rel")"
    cp "$f" "$dest$rel"
  done
  cp "$work/kernel/lib/modules/$krel"/modules.{order,builtin,builtin.modinfo} "$dest/lib/modules/$krel/"
  depmod -b "$dest" "$krel"
}

# --- rootfs
say "debootstrap $suite (a few minutes)"
rootfs=$work/rootfs
pkgs=$(grep -v '^\s*#' "$here/packages.list" | xargs | tr ' ' ,)
if ! debootstrap --variant=minbase --include="$pkgs" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -30 "$work/debootstrap.log" >&2
  exit 1
fi

say "configuring the rootfs"
install_modules "$rootfs" $guest_modules
install -m 0755 "$(readlink -f "$(command -v node)")" "$rootfs/usr/local/bin/node"
echo nvmf-kt >"$rootfs/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 nvmf-kt\n' >"$rootfs/etc/hosts"
chroot "$rootfs" passwd -d root >/dev/null
mkdir -p "$rootfs/mnt/project" "$rootfs/mnt/kt-io"
cat >"$rootfs/etc/fstab" <<'FSTAB'
/dev/vda  /             ext4  rw,noatime                                         0 0
tmpfs     /tmp          tmpfs rw,nosuid,nodev                                    0 0
project   /mnt/project  9p    trans=virtio,version=9p2000.L,msize=512000,cache=loose,nofail  0 0
ktio      /mnt/kt-io    9p    trans=virtio,version=9p2000.L,msize=512000,nofail  0 0
FSTAB
# cache=loose on the project share: node resolves and reads thousands of small files, and
# without a guest-side cache each stat is a round trip to QEMU. Nothing changes the project
# on the host during a run, so the cache cannot go stale. kt-io carries the exit status out
# and stays uncached.
mkdir -p "$rootfs/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' >"$rootfs/etc/systemd/journald.conf.d/nvmf-kt.conf"
# Units that only cost boot time in a throw-away VM, and nvme-cli's own autoconnect rules and
# units, which would react to our test controllers.
for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer fstrim.timer \
  systemd-tmpfiles-clean.timer e2scrub_reap.service systemd-pstore.service getty@tty1.service \
  systemd-timesyncd.service systemd-random-seed.service systemd-update-utmp.service \
  nvmf-autoconnect.service nvmefc-boot-connections.service \
  dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount sys-kernel-tracing.mount; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$u"
done
for r in "$rootfs"/lib/udev/rules.d/*nvmf*.rules "$rootfs"/lib/udev/rules.d/*nvme*.rules; do
  [ -e "$r" ] && ln -sf /dev/null "$rootfs/etc/udev/rules.d/$(basename "$r")"
done
# the test boot: kernel command line systemd.unit=nvmf-kt.target
install -m 0755 "$here/kt-guest-run" "$rootfs/usr/local/sbin/kt-guest-run"
cat >"$rootfs/etc/systemd/system/nvmf-kt.service" <<'UNIT'
[Unit]
Description=nvmf-registry kernel tests
After=basic.target systemd-udevd.service systemd-journald.service systemd-udev-trigger.service mnt-project.mount mnt-kt\x2dio.mount
Wants=systemd-udevd.service systemd-journald.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/kt-guest-run
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TTYReset=no
TTYVHangup=no
UNIT
cat >"$rootfs/etc/systemd/system/nvmf-kt.target" <<'UNIT'
[Unit]
Description=nvmf-registry kernel tests (boot target)
Requires=basic.target nvmf-kt.service
After=basic.target
AllowIsolate=yes
UNIT
mkdir -p "$rootfs/etc/modprobe.d"
echo "blacklist nvme" >"$rootfs/etc/modprobe.d/nvmf-kt.conf"   # no autoload at coldplug
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

# --- initramfs: load the disk and fs modules, mount /dev/vda, hand over to systemd
say "building the initramfs"
ird=$work/initrd
mkdir -p "$ird"/{bin,dev,proc,sys,newroot}
cp "$work/busybox/bin/busybox" "$ird/bin/busybox"
install_modules "$ird" $initrd_modules
cat >"$ird/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $initrd_modules; do modprobe "\$m" || echo "kt-initrd: cannot load \$m"; done
n=0
while [ ! -b /dev/vda ] && [ \$n -lt 400 ]; do sleep 0.05; n=\$((n + 1)); done
mount -t ext4 -o rw,noatime /dev/vda /newroot || { echo "kt-initrd: cannot mount /dev/vda"; poweroff -f; }
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init "\$@"
INIT
chmod 0755 "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) >"$out/initrd.gz"

cp "$work/kernel/boot/vmlinuz-$krel" "$out/vmlinuz"
echo "$krel" >"$out/kernel-release"
say "writing the ext4 image"
mkfs.ext4 -q -F -L nvmf-kt -E root_owner=0:0 -d "$rootfs" "$out/rootfs.ext4" 1536M
say "image ready: kernel $krel"
