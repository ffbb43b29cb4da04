/**
 * Help text shared by more than one command's help: DESIGN's disconnect-all table, shown by
 * `nvmf --help` and `nvmf disconnect-all --help`.
 */
export const DISCONNECT_ALL_TABLE = `Which controllers disconnect-all takes (owners as list -v shows them):
  owner        default      --owner X    --force
  none (-)     disconnect   skip         disconnect
  X            skip         disconnect   disconnect
  Y, ""        skip         skip         disconnect
  unknown (?)  skip         skip         disconnect
  in use       skip         skip         skip (--ignore-in-use overrides)
  boot (NBFT)  skip         skip         skip (--ignore-boot-critical overrides)
  PCIe/local   never        never        never
A previous controller's entry counts as none; unknown is an unreadable entry, an
owner being written, or junk. In use: deleting it, with the others the plan
deletes, would leave a namespace disk with no live path while the disk, a
partition or a holder above it is mounted or swap (of two live paths of a
mounted disk one may go; the last is refused). A boot device serves an entry of
the firmware's NBFT table; when an NBFT table cannot be read every fabrics
controller is skipped.`;
