#!/bin/sh
# Sourced in the guest: loads the NVMe-oF host and target modules and exports, through nvmet's
# configfs, two subsystems on one tcp port 127.0.0.1:4420 (nvmet serves its discovery
# subsystem on every port by itself):
#   $KT_NQN1  one namespace (null_blk), so a connect also creates a block device
#   $KT_NQN2  no namespace
# $KT_NVMET_PORT is the port's configfs directory: removing its subsystems/NQN link takes the
# subsystem away from the port (path loss), linking it again gives it back.
# $KT_NVMET_PORT2 is a second tcp port, 127.0.0.1:$KT_TRSVCID2 (4421), configured with no
# subsystem linked: nvmet listens on a port only while a subsystem is linked to it, so 4421
# refuses connections (the ECONNREFUSED facts rely on that) until a scenario links one there,
# as lib/guest.ts's dataTargetUp does to export one subsystem on both ports (native multipath).
set -e
KT_NQN1=nqn.2014-08.org.nvmf-registry:kt-subsys1
KT_NQN2=nqn.2014-08.org.nvmf-registry:kt-subsys2
KT_TRADDR=127.0.0.1
KT_TRSVCID=4420
KT_TRSVCID2=4421
KT_DISCOVERY_NQN=nqn.2014-08.org.nvmexpress.discovery
cfg=/sys/kernel/config/nvmet
for m in nvme-fabrics nvme-tcp nvmet nvmet-tcp; do modprobe "$m"; done
modprobe null_blk nr_devices=1 gb=1
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
for nqn in "$KT_NQN1" "$KT_NQN2"; do
  mkdir -p "$cfg/subsystems/$nqn"
  echo 1 >"$cfg/subsystems/$nqn/attr_allow_any_host"
done
ns=$cfg/subsystems/$KT_NQN1/namespaces/1
mkdir -p "$ns"
printf /dev/nullb0 >"$ns/device_path"
echo 1 >"$ns/enable"
port=$cfg/ports/1
mkdir -p "$port"
echo tcp >"$port/addr_trtype"
echo ipv4 >"$port/addr_adrfam"
echo "$KT_TRADDR" >"$port/addr_traddr"
echo "$KT_TRSVCID" >"$port/addr_trsvcid"
for nqn in "$KT_NQN1" "$KT_NQN2"; do
  [ -e "$port/subsystems/$nqn" ] || ln -s "$cfg/subsystems/$nqn" "$port/subsystems/$nqn"
done
port2=$cfg/ports/2
mkdir -p "$port2"
echo tcp >"$port2/addr_trtype"
echo ipv4 >"$port2/addr_adrfam"
echo "$KT_TRADDR" >"$port2/addr_traddr"
echo "$KT_TRSVCID2" >"$port2/addr_trsvcid"
KT_NVMET_PORT=$port
KT_NVMET_PORT2=$port2
export KT_NQN1 KT_NQN2 KT_TRADDR KT_TRSVCID KT_TRSVCID2 KT_DISCOVERY_NQN KT_NVMET_PORT KT_NVMET_PORT2
set +e
