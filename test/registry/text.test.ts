import { describe, expect, it } from 'vitest';
import { decodeDiskText, escapeText } from '../../src/text.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

describe('decodeDiskText', () => {
  it.each([
    ['ascii', Buffer.from('stas'), 'stas'],
    ['valid UTF-8', Buffer.from('célia 🚀'), 'célia 🚀'],
    ['a stray 0xff', bytes(0x73, 0x74, 0xff, 0x61, 0x73), 'st\udcffas'],
    ['a truncated sequence', bytes(0x61, 0xe2, 0x82), 'a\udce2\udc82'],
    ['an overlong encoding', bytes(0xc0, 0xaf), '\udcc0\udcaf'],
    ['an encoded surrogate', bytes(0xed, 0xa0, 0x80), '\udced\udca0\udc80'],
    ['valid around invalid', bytes(0xc3, 0xa9, 0xfe, 0xc3, 0xa9), 'é\udcfeé'],
  ] as const)('%s', (_what, input, want) => {
    expect(decodeDiskText(input)).toBe(want);
  });
  it('decodes a slice', () => {
    expect(decodeDiskText(Buffer.from('xxabcxx'), 2, 5)).toBe('abc');
  });
});

describe('escapeText', () => {
  it.each([
    ['stas', 'stas'],
    ['v\nnvme7   forged', 'v\\nnvme7   forged'],
    ['\x1b[31mred', '\\x1b[31mred'],
    ['tab\there\r', 'tab\\there\\r'],
    ['del\x7f c1\u0085', 'del\\x7f c1\\x85'],
    ['back\\slash', 'back\\\\slash'],
    ['st\udcffas', 'st\\xffas'],
    ['lone \ud800', 'lone \\ud800'],
    ['rtl \u202eevil', 'rtl \\u202eevil'],
    ['sep\u2028', 'sep\\u2028'],
    ['célia 🚀', 'célia 🚀'],
  ])('%j -> %j', (input, want) => {
    expect(escapeText(input)).toBe(want);
    expect(escapeText(input)).not.toMatch(/[\n\r\x1b]/);
  });
});
