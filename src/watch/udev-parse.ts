/**
 * Parser for `udevadm monitor --udev --property` output: a header line per event
 * (`UDEV  [1234.567890] remove   /devices/virtual/nvme-fabrics/ctl/nvme4 (nvme)`), then
 * `KEY=VALUE` lines, then a blank line. Fed line by line; pure.
 */

export interface UdevEvent {
  /** `UDEV` or `KERNEL` (which monitor saw it). */
  source: string;
  /** Monotonic timestamp udevadm printed, in seconds. */
  monotonic: number | null;
  action: string;
  devpath: string;
  subsystem: string | null;
  /** `nvme4` (from DEVNAME, else the last DEVPATH component). */
  device: string;
  devname: string | null;
  seqnum: number | null;
  properties: Record<string, string>;
}

const HEADER = /^(UDEV|KERNEL)\s*\[\s*([0-9]+(?:\.[0-9]+)?)\]\s+(\S+)\s+(\S+)(?:\s+\(([^)]*)\))?\s*$/;
const PROPERTY = /^([A-Za-z0-9_.]+)=(.*)$/;

export class UdevParser {
  private header: RegExpExecArray | null = null;
  private props: Record<string, string> = {};

  /** Feed one line (without its newline); returns the event a blank line completes. */
  line(text: string): UdevEvent | null {
    const line = text.replace(/\r$/, '');
    if (line.trim() === '') return this.flush();
    const h = HEADER.exec(line);
    if (h) {
      // A header without a blank line before it still starts a new event.
      const done = this.flush();
      this.header = h;
      return done;
    }
    const p = PROPERTY.exec(line);
    if (p && this.header) this.props[p[1]!] = p[2]!;
    // Anything else is udevadm's banner ("monitor will print ...") and is skipped.
    return null;
  }

  /** The event in progress at end of input, if any. */
  flush(): UdevEvent | null {
    const h = this.header;
    const props = this.props;
    this.header = null;
    this.props = {};
    if (!h) return null;
    const devpath = props.DEVPATH ?? h[4]!;
    const devname = props.DEVNAME ?? null;
    const seq = props.SEQNUM !== undefined && /^[0-9]+$/.test(props.SEQNUM) ? Number(props.SEQNUM) : null;
    return {
      source: h[1]!,
      monotonic: Number(h[2]),
      action: props.ACTION ?? h[3]!,
      devpath,
      subsystem: props.SUBSYSTEM ?? h[5] ?? null,
      device: (devname ?? devpath).split('/').pop() ?? devpath,
      devname,
      seqnum: seq,
      properties: props,
    };
  }
}
