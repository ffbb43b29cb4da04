#!/bin/sh
# The whole guest side of `npm run test:kernel`; vm.sh hands it to the guest, which runs it as
# root with cwd = the project (9p). Sets up the nvmet target, installs our udev rule and
# helper, then runs each scenario file in its own node process so one crash cannot hide the
# others. Writes /mnt/kt-io/summary and exits non-zero when any scenario failed.
cd /mnt/project || exit 125
dmesg -n 1
. test/kernel/guest/target.sh || { echo "kt: nvmet target setup failed"; exit 1; }

# Our rule and helper. Through the CLI once it can install them, else copied as a packager would.
if [ -f build/src/cli/main.js ] && node build/src/cli/main.js udev install >/tmp/udev-install.log 2>&1; then
  echo "kt: rule and helper installed by 'nvmf udev install'"
else
  sed 's/^/kt: nvmf udev install: /' /tmp/udev-install.log 2>/dev/null | tail -3
  if [ -f udev/70-nvmf-registry.rules ] && [ -f udev/nvmf-registry-cleanup ]; then
    install -D -m 0644 udev/70-nvmf-registry.rules /etc/udev/rules.d/70-nvmf-registry.rules
    install -D -m 0755 udev/nvmf-registry-cleanup /usr/libexec/nvmf-registry/nvmf-registry-cleanup
    echo "kt: rule and helper copied from udev/"
  else
    echo "kt: udev/70-nvmf-registry.rules or udev/nvmf-registry-cleanup is missing; udev scenarios will fail"
  fi
fi
udevadm control --reload
udevadm settle -t 30

export NVMF_KT_GUEST=1
summary=/mnt/kt-io/summary
: >"$summary"
pass=0 fail=0
t0=$(cut -d' ' -f1 /proc/uptime)
for f in ${NVMF_KT_ONLY:-test/kernel/scenarios/*.scenario.ts}; do
  name=$(basename "$f" .scenario.ts)
  echo "kt: ---- scenario $name"
  s=$(cut -d' ' -f1 /proc/uptime)
  if node --import tsx --test --test-reporter=spec "$f"; then
    r=pass pass=$((pass + 1))
  else
    r=FAIL fail=$((fail + 1))
  fi
  line="$r $name ($(awk -v a="$s" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN {printf "%.1f", b - a}') s)"
  echo "kt: $line"
  echo "$line" >>"$summary"
done
echo "kt: scenarios took $(awk -v a="$t0" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN {printf "%.1f", b - a}') s"
echo "scenarios: $pass passed, $fail failed" | tee -a "$summary"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
