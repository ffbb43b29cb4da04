/**
 * Numeric IP addresses as inet_pton/inet_ntop treat them: text to 16 bytes (IPv4 as an
 * IPv4-mapped IPv6 address, ::ffff:a.b.c.d) and back, the text in one canonical spelling
 * (dotted quad for IPv4, RFC 5952 for IPv6: lowercase, no leading zeros, the longest run of
 * two or more zero groups as `::`). Host names are not addresses here. Pure: no DNS, no I/O.
 */

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function ipv4Bytes(text: string): number[] | null {
  return IPV4_RE.test(text) ? text.split('.').map(Number) : null;
}

function ipv6Bytes(text: string): number[] | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  // An embedded IPv4 address may only end the text, and counts as two groups.
  let v4: number[] | null = null;
  const all = halves.length === 2 ? tail : head;
  const last = all[all.length - 1];
  if (last !== undefined && last.includes('.')) {
    v4 = ipv4Bytes(last);
    if (v4 === null) return null;
    all.pop();
  }
  const groups = [...head, ...tail];
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return null;
  const width = v4 === null ? 8 : 6;
  if (halves.length === 2 ? groups.length >= width : groups.length !== width) return null;
  const words = [
    ...head.map((g) => parseInt(g, 16)),
    ...new Array<number>(width - groups.length).fill(0),
    ...tail.map((g) => parseInt(g, 16)),
  ];
  const out: number[] = [];
  for (const w of words) out.push(w >> 8, w & 0xff);
  if (v4 !== null) out.push(...v4);
  return out;
}

/** The 16 bytes of a numeric IPv4 or IPv6 address (no scope), or null if `text` is not one. */
export function ipBytes(text: string): Uint8Array | null {
  const v4 = ipv4Bytes(text);
  if (v4 !== null) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  const v6 = ipv6Bytes(text);
  return v6 === null ? null : Uint8Array.from(v6);
}

/** True when the 16 bytes are an IPv4-mapped address (::ffff:a.b.c.d). */
export function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Canonical text of 16 address bytes: a dotted quad when IPv4-mapped, else RFC 5952 IPv6. */
export function formatIp(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError(`an IP address is 16 bytes, got ${b.length}`);
  if (isV4Mapped(b)) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i] as number) << 8) | (b[i + 1] as number));
  // The longest run of at least two zero words (the first one on a tie) becomes "::".
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/**
 * The canonical spelling of a numeric address, an IPv6 scope suffix (`%eth0`) kept verbatim,
 * or null for anything else (a host name, junk). Two spellings of one address canonicalise
 * to the same text; an IPv4-mapped IPv6 address canonicalises to its dotted quad.
 */
export function canonicalIp(text: string): string | null {
  if (typeof text !== 'string') return null;
  const pct = text.indexOf('%');
  const host = pct < 0 ? text : text.slice(0, pct);
  const scope = pct < 0 ? '' : text.slice(pct);
  const b = ipBytes(host);
  if (b === null) return null;
  // IPv4 has no scope; a scope on a dotted quad is junk.
  if (scope !== '' && (ipv4Bytes(host) !== null || scope.length < 2)) return null;
  return formatIp(b) + scope;
}
