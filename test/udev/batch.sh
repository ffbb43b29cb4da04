#!/bin/sh
# batch.sh SCRIPT OUTDIR SEQNUM PAUSE DEVICE...
# Runs SCRIPT (under dash) once per DEVICE, all at once, as udevd would for a burst of remove
# events, and waits for them. Forking from a small shell is far cheaper than from the test's
# Node process, which keeps the race harness's 1000s of runs inside the time budget.
#   PAUSE  "fifo": each run pauses on the FIFO OUTDIR/pause.DEVICE; otherwise passed as is
#   OUTDIR/log.DEVICE  what the fake logger recorded    OUTDIR/err.DEVICE  its stderr
#   OUTDIR/rc.DEVICE   its exit status
# With NVMF_TEST_STALL_US set, each run is under strace with every file syscall of it and of
# its children delayed by that many microseconds: each step of its check-then-act window is
# stalled. (The helper resets PATH, so a PATH shim could not stall the tools it runs; ptrace
# sees every process it forks.)
script=$1
out=$2
seq=$3
pause=$4
shift 4
stall=
[ -n "${NVMF_TEST_STALL_US-}" ] &&
	stall="strace -f -qq --seccomp-bpf -o /dev/null -e trace=%file -e inject=%file:delay_enter=${NVMF_TEST_STALL_US}us"
pids=
for d in "$@"; do
	p=$pause
	[ "$pause" = fifo ] && p=$out/pause.$d
	# $stall is empty or a command and its words: split on purpose.
	# shellcheck disable=SC2086
	FAKE_LOGGER_OUT=$out/log.$d NVMF_TEST_PAUSE_AFTER_CHECK=$p $stall dash "$script" "$d" "$seq" 2>"$out/err.$d" &
	pids="$pids $!:$d"
done
for pd in $pids; do
	wait "${pd%%:*}"
	echo $? >"$out/rc.${pd#*:}"
done
