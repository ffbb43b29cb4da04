import { canonicalIp } from '../ip.js';

/** Where a discovery descriptor's URI points: the fabrics transport ID of a discovery controller. */
export interface NbftUriTarget {
  transport: 'tcp' | 'rdma' | 'fc';
  traddr: string;
  /** null when the URI names no port (the transport's default discovery port applies). */
  trsvcid: string | null;
}

const URI_RE = /^nvme\+(tcp|rdma|fc):\/\/(\[[^\]/]*\]|[^:/[\]]*)(?::(\d{1,5}))?(?:\/.*)?$/;

/**
 * Parse a discovery controller URI of an NBFT discovery descriptor, `nvme+tcp://ADDR[:PORT][/]`
 * (IPv6 in brackets). Null when the URI has another form or a non-numeric address: the table
 * is not corrupt for that, but there is nothing to connect to.
 */
export function parseNbftUri(uri: string): NbftUriTarget | null {
  if (typeof uri !== 'string') return null;
  const m = URI_RE.exec(uri);
  if (m === null) return null;
  const host = m[2] as string;
  const bare = host.startsWith('[') ? host.slice(1, -1) : host;
  if (host.startsWith('[') !== bare.includes(':')) return null; // brackets exactly around IPv6
  const traddr = canonicalIp(bare);
  if (traddr === null) return null;
  const port = m[3];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  return {
    transport: m[1] as NbftUriTarget['transport'],
    traddr,
    trsvcid: port === undefined ? null : String(Number(port)),
  };
}
