import { nqnProblem, UUID_RE } from './nqn.js';

/**
 * The formats of connect option values: NQNs, the host ID, transport addresses, interface
 * names, ports and DH-HMAC-CHAP secrets, each checked as the kernel (or the spec) reads it.
 */

/** The formats a value is checked against (formatProblem). */
export type OptionFormat = 'nqn' | 'uuid' | 'address' | 'iface' | 'port' | 'dhchap';

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
function isIPv6(s: string): boolean {
  const [addr, scope, ...rest] = s.split('%');
  if (rest.length > 0 || addr === undefined || (scope !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(scope)))
    return false;
  if (!/^[0-9a-fA-F:.]+$/.test(addr) || !addr.includes(':')) return false;
  const dbl = addr.split('::');
  if (dbl.length > 2) return false;
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  let parts = [...groups(dbl[0] ?? ''), ...(dbl.length === 2 ? groups(dbl[1] ?? '') : [])];
  let width = 8;
  const last = parts[parts.length - 1];
  if (last?.includes('.')) {
    if (!IPV4_RE.test(last)) return false;
    parts = parts.slice(0, -1);
    width = 6;
  }
  if (!parts.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? parts.length < width : parts.length === width;
}
const FC_ADDR_RE = /^nn-0x[0-9a-fA-F]{16}:pn-0x[0-9a-fA-F]{16}$/;
const IFACE_RE = /^[A-Za-z0-9_.:-]{1,15}$/;
// DH-HMAC-CHAP secret representation (NVMe base spec §8.3.5.5.2): DHHC-1:<hh>:<base64 of key + CRC-32>:
const DHCHAP_RE = /^DHHC-1:0[0-3]:([A-Za-z0-9+/]+={0,2}):$/;

/** Whether a format's check depends on the transport (so it runs once the transport is settled). */
export function formatNeedsTransport(format: OptionFormat): boolean {
  return format === 'address' || format === 'iface' || format === 'port';
}

/**
 * Null if `value` of option `name` has its format, else the message to show (a secret's
 * value is never in it).
 */
export function formatProblem(
  format: OptionFormat,
  name: string,
  value: string,
  transport: string,
): string | null {
  const shown = JSON.stringify(value);
  switch (format) {
    case 'nqn': {
      const why = nqnProblem(value);
      return why === null ? null : `${name} ${shown} is not a valid NQN: ${why}`;
    }
    case 'uuid':
      return UUID_RE.test(value)
        ? null
        : `${name} ${shown} is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`;
    case 'address':
      if (transport === 'fc')
        return FC_ADDR_RE.test(value)
          ? null
          : `${name} ${shown} is not an FC address; use nn-0x<16 hex>:pn-0x<16 hex>`;
      return IPV4_RE.test(value) || isIPv6(value)
        ? null
        : `${name} ${shown} is not an IPv4 or IPv6 address; the kernel takes no host names, resolve it first`;
    case 'iface':
      return IFACE_RE.test(value) ? null : `${name} ${shown} is not a network interface name`;
    case 'port':
      return /^[1-9]\d{0,4}$/.test(value) && Number(value) <= 65535
        ? null
        : `${name} ${shown} is not a port number 1-65535`;
    case 'dhchap': {
      const m = DHCHAP_RE.exec(value);
      const len = m?.[1] === undefined ? -1 : Buffer.from(m[1], 'base64').length;
      return len === 36 || len === 52 || len === 68
        ? null
        : `${name} is not a DH-HMAC-CHAP secret; expected DHHC-1:<00-03>:<base64 of a 32, 48 or 64 byte key plus CRC>: as "nvme gen-dhchap-key" prints it`;
    }
  }
}
