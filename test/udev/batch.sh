#!/bin/sh
# batch.sh SCRIPT OUTDIR SEQNUM PAUSE DEVICE...
# Runs SCRIPT (under dash) once per DEVICE, all at once, as udevd would for a burst of remove
# events, and waits for them. Forking from a small shell is far cheaper than from the test's
# Node process, which keeps the race harness's 1000s of runs inside the time budget.
#   PAUSE  "fifo": each run pauses on the FIFO OUTDIR/pause.DEVICE; otherwise passed as is
#   OUTDIR/log.DEVICE  what the fake logger recorded    OUTDIR/err.DEVICE  its stderr
#   OUTDIR/rc.DEVICE   its exit status
script=$1
out=$2
seq=$3
pause=$4
shift 4
pids=
for d in "$@"; do
	p=$pause
	[ "$pause" = fifo ] && p=$out/pause.$d
	FAKE_LOGGER_OUT=$out/log.$d NVMF_TEST_PAUSE_AFTER_CHECK=$p dash "$script" "$d" "$seq" 2>"$out/err.$d" &
	pids="$pids $!:$d"
done
for pd in $pids; do
	wait "${pd%%:*}"
	echo $? >"$out/rc.${pd#*:}"
done
