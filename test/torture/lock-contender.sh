#!/bin/sh
# lock-contender.sh HELPER REGISTRY DEVICE SHARED
# One contender of the lock-takeover torture that takes the lock with the udev helper's own
# take_lock/release (cut out of HELPER, so the code under test is the shipped code). For each
# "go" line on stdin: print "trying", take the lock, make the directory SHARED/inside (mkdir
# is exclusive: failing means another contender is inside too), remove it, release, and
# print "won", "double" or "error REASON".
set -u
helper=$1
root=$2
dev=$3
shared=$4
LOCK_BUDGET_MS=3000
NL='
'
locked=no
lock=$root/.$dev.flock
eval "$(sed -n -e '/^budget=\$LOCK_BUDGET_MS$/p' -e '/^set_budget() {$/,/^}$/p' \
	-e '/^take_lock() {$/,/^}$/p' -e '/^release() {$/,/^}$/p' "$helper")"
while read -r cmd; do
	[ "$cmd" = go ] || continue
	echo trying
	if ! take_lock; then
		echo "error lock not taken within $budget ms"
		continue
	fi
	if mkdir "$shared/inside" 2>/dev/null; then
		rmdir "$shared/inside"
		release
		echo won
	else
		release
		echo double
	fi
done
