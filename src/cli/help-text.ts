/**
 * Help text shared by more than one command's help: DESIGN's disconnect-all table, shown by
 * `nvmf --help` and `nvmf disconnect-all --help`.
 */
export const DISCONNECT_ALL_TABLE = `Which controllers disconnect-all takes (registry owner of a fabrics controller):
  owner        default      --owner X    --force
  none         disconnect   skip         disconnect
  X            skip         disconnect   disconnect
  Y            skip         skip         disconnect
  unreadable   skip         skip         disconnect
  PCIe/local   never        never        never`;
