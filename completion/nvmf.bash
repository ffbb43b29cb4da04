# bash completion for nvmf(1)
#
# The candidates come from the program itself (`nvmf __complete -- WORDS...`), which knows
# every command, subcommand, option and choice, global options before the command included,
# and the device names of the registry and sysfs (a simulated host's with NVMF_KERNEL=sim:DIR).
# Where it offers nothing (a file or directory argument) bash completes file names.

_nvmf() {
  local IFS=$'\n'
  # The command as typed (nvmf on PATH, or a path to it), asked about the words after it.
  COMPREPLY=($("${COMP_WORDS[0]}" __complete -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}

complete -o default -F _nvmf nvmf
