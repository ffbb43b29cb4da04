#!/bin/sh
# stall-batch.sh SCRIPT OUTDIR SEQNUM DELAY_US DEVICE...
# Runs SCRIPT (under dash) once per DEVICE, all at once, as udevd does for a burst of remove
# events, each under strace with every file syscall of it and of its children delayed by
# DELAY_US microseconds: each step of its check-then-act window is stalled, so a writer acting
# meanwhile lands inside the window. (The helper resets PATH, so a PATH shim could not stall
# the tools it runs; ptrace sees every process it forks.)
#   OUTDIR/log.DEVICE  what the fake logger recorded    OUTDIR/rc.DEVICE   its exit status
script=$1
out=$2
seq=$3
delay=$4
shift 4
pids=
for d in "$@"; do
	FAKE_LOGGER_OUT=$out/log.$d strace -f -qq --seccomp-bpf -o /dev/null -e trace=%file \
		-e "inject=%file:delay_enter=${delay}us" dash "$script" "$d" "$seq" 2>"$out/err.$d" &
	pids="$pids $!:$d"
done
for pd in $pids; do
	wait "${pd%%:*}"
	echo $? >"$out/rc.${pd#*:}"
done
