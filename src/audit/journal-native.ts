import type { JournalFields } from './fields.js';

/**
 * Encode fields in journald's native protocol (systemd's "Native Journal Protocol"): each
 * field is `NAME=value\n`, except values holding a newline, which are sent binary-safe as
 * `NAME\n`, a 64-bit little-endian length, the raw bytes, and `\n`.
 */
export function encodeNative(fields: JournalFields): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of Object.entries(fields)) {
    // fieldName() only builds valid names; anything else would make journald drop the field
    if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(name)) continue;
    const bytes = Buffer.from(value, 'utf8');
    if (value.includes('\n')) {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(bytes.length));
      parts.push(Buffer.from(`${name}\n`), len, bytes, Buffer.from('\n'));
    } else {
      parts.push(Buffer.from(`${name}=`), bytes, Buffer.from('\n'));
    }
  }
  return Buffer.concat(parts);
}
