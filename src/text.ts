/**
 * Text from outside (registry files, sysfs, a discovery log, the journal) on its way into
 * text output, and bytes from disk on their way into strings.
 */

/*
 * What a terminal would act on instead of showing: C0 and C1 controls and DEL (a newline
 * forges a row, ESC recolours or moves the cursor), the line and paragraph separators, the
 * bidirectional overrides and isolates (they reorder what is shown), lone surrogates (how
 * the registry's reader carries bytes that are not UTF-8: 0xNN as U+DCNN), and the
 * backslash that introduces our escapes, so an escaped value reads back unambiguously.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]|[\ud800-\udfff]/;
const UNSAFE_ALL =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\\]|[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]/g;
const NAMED: Readonly<Record<string, string>> = { '\t': '\\t', '\n': '\\n', '\r': '\\r', '\\': '\\\\' };

function escapeOne(c: string): string {
  if (c.length === 2) return c; // a well-formed surrogate pair: a real character
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  // a byte that was not UTF-8 (see decodeDiskText): shown as the byte it was
  if (code >= 0xdc80 && code <= 0xdcff) return `\\x${(code - 0xdc00).toString(16).padStart(2, '0')}`;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  return `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * A value read from disk, the kernel or a peer, made safe for one line of text output: every
 * character a terminal would act on is written as a visible escape (`\n`, `\x1b`, `\u202e`,
 * `\xff` for a byte that is not UTF-8), so no value can forge a row or hide text. Every text
 * renderer passes untrusted values through this; JSON output carries them exactly instead.
 */
export function escapeText(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, escapeOne) : s;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Bytes read from disk as a string: UTF-8 decoded exactly, and each byte that is not part of
 * valid UTF-8 kept as the lone surrogate U+DC00+byte (Python's "surrogateescape"), instead
 * of the U+FFFD a plain decode would put there. Nothing is lost: escapeText shows such a
 * byte as `\xNN`, JSON carries it as `\udcNN`, and the grammars (owner, attribute value)
 * refuse it as invalid UTF-8 rather than accepting a value that was never written.
 */
export function decodeDiskText(buf: Uint8Array, start = 0, end = buf.length): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('latin1');
  try {
    return fatalUtf8.decode(buf.subarray(start, end));
  } catch {
    return surrogateEscape(buf, start, end);
  }
}

/** The length of the valid UTF-8 sequence at `i` (1 to 4), or 0 when the byte there starts none. */
function sequenceAt(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean =>
    i + k < end && b[i + k]! >= lo && b[i + k]! <= hi;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if (c === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0; // no UTF-16 surrogates
  if (c >= 0xe1 && c <= 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (c === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (c === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

function surrogateEscape(b: Uint8Array, start: number, end: number): string {
  let out = '';
  for (let i = start; i < end;) {
    const n = sequenceAt(b, i, end);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b[i]!);
      i++;
    } else {
      out += Buffer.from(b.buffer, b.byteOffset + i, n).toString('utf8');
      i += n;
    }
  }
  return out;
}
