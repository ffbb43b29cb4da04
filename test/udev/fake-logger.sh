#!/bin/sh
# Stand-in for logger(1) in the helper's tests (NVMF_LOGGER): appends what it was given to
# the file FAKE_LOGGER_OUT, in place of the journal (the helper discards a logger's stderr).
#   --journald   "JOURNALD" line, the field lines read from stdin, then an empty line
#   otherwise    "SYSLOG" line with the arguments, one per line, then an empty line
# FAKE_LOGGER_MODE=no-journald makes --journald fail (old logger, journald unreachable);
# FAKE_LOGGER_MODE=fail makes every call fail (no syslog either).
case ${FAKE_LOGGER_MODE-} in
fail) exit 1 ;;
esac
if [ "${1-}" = --journald ]; then
	[ "${FAKE_LOGGER_MODE-}" = no-journald ] && exit 1
	{
		echo JOURNALD
		while IFS= read -r line; do printf '%s\n' "$line"; done
		echo
	} >>"$FAKE_LOGGER_OUT"
	exit 0
fi
{
	echo SYSLOG
	printf '%s\n' "$@"
	echo
} >>"$FAKE_LOGGER_OUT"
