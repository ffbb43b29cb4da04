import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp, formatIp, ipBytes } from '../../src/ip.js';

describe('canonicalIp', () => {
  it.each([
    ['192.0.2.1', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::FFFF:c000:0201', '192.0.2.1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:0DB8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'], // the first of two equal runs
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'], // a single zero group stays
    ['fe80::1%eth0', 'fe80::1%eth0'],
    ['a:b:c:d:e:f:1.2.3.4', 'a:b:c:d:e:f:102:304'],
  ])('%s is %s', (text, canonical) => {
    expect(canonicalIp(text)).toBe(canonical);
  });

  it.each([
    '',
    '1.2.3',
    '1.2.3.4.5',
    '256.0.0.1',
    '01.2.3.4',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '12345::',
    'host',
    '10.0.0.1%eth0',
    'fe80::1%',
    ':::',
  ])('%j is not an address', (text) => {
    expect(canonicalIp(text)).toBeNull();
  });

  it('round-trips any 16 bytes and is idempotent', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const text = formatIp(b);
        expect(ipBytes(text)).toEqual(b);
        expect(canonicalIp(text)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});
