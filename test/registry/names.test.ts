import { describe, expect, it } from 'vitest';
import { codeOf } from './helpers.js';
import {
  checkAttr,
  checkDevice,
  checkOwner,
  checkValue,
  MAX_VALUE_BYTES,
  naturalCompare,
  quote,
} from '../../src/registry/index.js';

describe('device names', () => {
  const ok = ['nvme0', 'nvme1', 'nvme9', 'nvme10', 'nvme2147483647'];
  const bad: unknown[] = [
    'nvme2147483648',
    'nvme4294967295',
    '',
    'nvme',
    'nvme01',
    'nvme00',
    'nvme-1',
    'nvme+1',
    'NVME1',
    'nvme1n1',
    'nvme1/',
    '/nvme1',
    '../nvme1',
    'nvme1/../x',
    '../x',
    '/',
    '.',
    '..',
    'nvme1\n',
    'nvme1\0',
    ' nvme1',
    'nvme1 ',
    'nvme١',
    'nvme12345678901',
    'nvme1.tmp.1',
    null,
    undefined,
    3,
    {},
  ];
  it.each(ok)('accepts %j', (d) => expect(checkDevice(d)).toBe(d));
  it.each(bad)('rejects %j with EINVALID_DEVICE', (d) =>
    expect(codeOf(() => checkDevice(d))).toBe('EINVALID_DEVICE'),
  );
  it('names the bad value, visibly escaped, and says what is allowed', () => {
    expect(() => checkDevice('nvme1\n../x')).toThrow(/"nvme1\\n\.\.\/x".*nvmeN/);
  });
});

describe('attribute names', () => {
  const ok = ['owner', 'seqnum', 'a', 'A-b_9', 'x'.repeat(64)];
  const bad: unknown[] = [
    '',
    'x'.repeat(65),
    '.hidden',
    'a.b',
    'a/b',
    '../x',
    '/',
    'a\0',
    'a\n',
    'a b',
    'é',
    'owner.tmp.1',
    null,
  ];
  it.each(ok)('accepts %j', (a) => expect(checkAttr(a)).toBe(a));
  it.each(bad)('rejects %j with EINVALID_ATTR', (a) =>
    expect(codeOf(() => checkAttr(a))).toBe('EINVALID_ATTR'),
  );
});

describe('owners', () => {
  const ok = [
    'stas',
    'nbft',
    'nvme-discoverd',
    'a',
    'x'.repeat(64),
    'boot path SAN',
    'übung',
    '運用',
    '🚀'.repeat(16),
    '..',
    '.hidden',
  ];
  const bad: [unknown, string][] = [
    ['', 'empty'],
    ['x'.repeat(65), 'over-long'],
    ['é'.repeat(33), 'over-long in bytes (66)'],
    ['a/b', 'slash'],
    ['../x', 'traversal'],
    ['/', 'root'],
    ['a\0b', 'NUL'],
    ['a\nb', 'newline'],
    ['a\r', 'CR'],
    ['a\tb', 'tab (C0)'],
    ['a\x7f', 'DEL'],
    ['a\u0085', 'C1 NEL'],
    ['a\u009b', 'C1 CSI'],
    ['a\u2028', 'line separator'],
    ['\ud800', 'lone surrogate'],
    ['st\udcffas', 'a byte 0xff read from disk (decodeDiskText)'],
    ['st\ufffdas', 'U+FFFD: an argv byte 0xff as Node decodes it'],
    [null, 'null'],
    [7, 'number'],
  ];
  it.each(ok)('accepts %j', (o) => expect(checkOwner(o)).toBe(o));
  it.each(bad)('rejects %j (%s) with EINVALID_OWNER', (o) =>
    expect(codeOf(() => checkOwner(o))).toBe('EINVALID_OWNER'),
  );
  it('shows control characters in the message', () => {
    expect(() => checkOwner('a\u0085b')).toThrow(/"a\\u0085b"/);
    expect(() => checkOwner('a\u0000b')).toThrow(/"a\\u0000b"/);
  });
});

describe('attribute values', () => {
  const ok = ['x', 'boot-path SAN', 'a/b/../c', 'x'.repeat(MAX_VALUE_BYTES), '運用'];
  const bad: unknown[] = ['', 'x'.repeat(MAX_VALUE_BYTES + 1), 'a\nb', 'a\r', 'a\0', '\udc00', null];
  it.each(ok)('accepts %j', (v) => expect(checkValue('note', v)).toBe(v));
  it.each(bad)('rejects %j with EINVALID_VALUE', (v) =>
    expect(codeOf(() => checkValue('note', v))).toBe('EINVALID_VALUE'),
  );
});

describe('natural order and quoting', () => {
  it('sorts nvme2 before nvme10', () => {
    expect(['nvme10', 'nvme2', 'nvme1', 'nvme0', 'nvme100'].sort(naturalCompare)).toEqual([
      'nvme0',
      'nvme1',
      'nvme2',
      'nvme10',
      'nvme100',
    ]);
  });
  it('truncates long values', () => {
    expect(quote('x'.repeat(500)).length).toBeLessThan(100);
  });
});
