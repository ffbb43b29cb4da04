# bash completion for nvmf(1)

_nvmf_devices() {
  local d
  for d in /sys/class/nvme/nvme*; do
    [ -e "$d" ] && printf '%s\n' "${d##*/}"
  done
}

_nvmf() {
  local cur prev words cword
  _init_completion 2>/dev/null || {
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    words=("${COMP_WORDS[@]}")
    cword=$COMP_CWORD
  }

  local global='-o --output-format -v --verbose --version -h --help'
  local commands='connect discover connect-all disconnect disconnect-all list nbft exclusion registry udev monitor sim'
  local conn='-t --transport -a --traddr -s --trsvcid -w --host-traddr -f --host-iface -q --hostnqn -I --hostid
    -i --nr-io-queues -W --nr-write-queues -P --nr-poll-queues -Q --queue-size -k --keep-alive-tmo
    -c --reconnect-delay -l --ctrl-loss-tmo -F --fast-io-fail-tmo -T --tos -D --duplicate-connect
    -g --hdr-digest -G --data-digest -S --dhchap-secret -C --dhchap-ctrl-secret --tls --tls-key --keyring
    --concat --owner --nbft'

  case $prev in
    -o | --output-format) mapfile -t COMPREPLY < <(compgen -W 'normal json' -- "$cur"); return ;;
    -t | --transport) mapfile -t COMPREPLY < <(compgen -W 'tcp rdma fc loop' -- "$cur"); return ;;
    -d | --device) mapfile -t COMPREPLY < <(compgen -W "$(_nvmf_devices)" -- "$cur"); return ;;
  esac

  local cmd='' sub='' i
  for ((i = 1; i < cword; i++)); do
    case ${words[i]} in
      -*) ;;
      *)
        if [ -z "$cmd" ]; then cmd=${words[i]}; elif [ -z "$sub" ]; then sub=${words[i]}; fi
        ;;
    esac
  done

  local opts
  case $cmd in
    '') opts="$global $commands" ;;
    connect) opts="$conn -n --nqn -d --disable-sqflow --force --wait" ;;
    discover) opts="$conn" ;;
    connect-all) opts="$conn --force --wait --nbft" ;;
    disconnect) opts='-d --device -n --nqn -y --yes --ignore-boot-critical --exclude' ;;
    disconnect-all) opts='--owner --force -t --transport --ignore-boot-critical -y --yes --dry-run' ;;
    nbft) [ -z "$sub" ] && opts='show' || opts='--help' ;;
    exclusion) [ -z "$sub" ] && opts='list add remove' || opts='--list' ;;
    list) opts='-v' ;;
    registry)
      case $sub in
        '') opts='list retrieve update delete claim gc watch log export' ;;
        list) opts='--all -v' ;;
        retrieve) opts="-a --attr $(_nvmf_devices)" ;;
        update) opts="-a --attr -V --value -y --yes $(_nvmf_devices)" ;;
        delete) opts="-a --attr -y --yes $(_nvmf_devices)" ;;
        claim) opts="--owner --expect --if-unowned $(_nvmf_devices)" ;;
        gc) opts='--dry-run --grace' ;;
        *) opts='--help' ;;
      esac
      ;;
    udev) [ -z "$sub" ] && opts='install uninstall status' || opts='--help' ;;
    sim) [ -z "$sub" ] && opts='init udev-settle fail expire target-down target-up nbft' || opts='--targets --connect-latency --delete-latency --udev-delay --udev-manual --udev-auto --no-multipath --now --delete --count --clear --name' ;;
    *) opts='--help' ;;
  esac
  mapfile -t COMPREPLY < <(compgen -W "$opts" -- "$cur")
}

complete -F _nvmf nvmf
