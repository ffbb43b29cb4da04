import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ExclusionTarget,
  entryMatches,
  formatExclusionEntry,
  parseExclusionEntry,
} from '../../src/exclusions/entry.js';

describe('parseExclusionEntry', () => {
  it.each([
    ['nqn=nqn.2024-01.com.example:vol1', { nqn: 'nqn.2024-01.com.example:vol1' }],
    [
      'transport=tcp;traddr=192.0.2.10;trsvcid=4420;nqn=nqn.2024-01.com.example:vol1',
      { transport: 'tcp', traddr: '192.0.2.10', trsvcid: '4420', nqn: 'nqn.2024-01.com.example:vol1' },
    ],
    [' transport = tcp ; host-iface = eth3 ;', { transport: 'tcp', 'host-iface': 'eth3' }],
    ['host-iface=eth3;;', { 'host-iface': 'eth3' }],
    ['transport=tcp;traddr=2001:0DB8:0:0::0001', { transport: 'tcp', traddr: '2001:db8::1' }],
    ['transport=rdma;traddr=::ffff:10.0.0.1', { transport: 'rdma', traddr: '10.0.0.1' }],
    ['transport=tcp;host-traddr=fe80::1%eth0', { transport: 'tcp', 'host-traddr': 'fe80::1%eth0' }],
    [
      'transport=fc;traddr=nn-0x20000090fa000001:pn-0x10000090FA000001',
      { transport: 'fc', traddr: 'nn-0x20000090fa000001:pn-0x10000090FA000001' },
    ],
    ['traddr=storage.example', { traddr: 'storage.example' }], // no transport: not checked, compared as text
    ['transport=loop;traddr=anything', { transport: 'loop', traddr: 'anything' }],
    [
      'hostnqn=nqn.2014-08.org.nvmexpress:uuid:1;hostid=1;trsvcid=4420',
      { hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:1', hostid: '1', trsvcid: '4420' },
    ],
    ['nqn=a;nqn=b', { nqn: 'b' }], // the last value of a repeated key counts, as upstream
    ['nqn=a=b', { nqn: 'a=b' }], // the value runs to the end of the field
  ])('%s parses', (text, entry) => {
    expect(parseExclusionEntry(text)).toEqual({ ok: true, entry });
  });

  it.each([
    ['', /no field/],
    [' ; ;', /no field/],
    ['tcp', /has no "="/],
    ['transport=tcp;bogus', /"bogus" has no "="/],
    ['subsysnqn=nqn.x', /unknown key "subsysnqn"/],
    ['host_iface=eth0', /unknown key "host_iface"/],
    ['nqn=', /key nqn has an empty value/],
    ['transport=tcp;traddr=storage.example', /not a numeric IP address/],
    ['transport=tcp;host-traddr=10.0.0.256', /host-traddr .* not a numeric IP address/],
    ['transport=fc;traddr=10.0.0.1', /not an FC address/],
  ])('%j is invalid', (text, reason) => {
    const r = parseExclusionEntry(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('formats fields in the canonical key order', () => {
    const r = parseExclusionEntry('nqn=n;host-iface=eth0;traddr=10.0.0.1;transport=tcp');
    expect(r.ok && formatExclusionEntry(r.entry)).toBe('transport=tcp;traddr=10.0.0.1;nqn=n;host-iface=eth0');
  });
});

describe('entryMatches', () => {
  const target: ExclusionTarget = {
    transport: 'tcp',
    traddr: '192.0.2.10',
    trsvcid: '4420',
    nqn: 'nqn.2024-01.com.example:vol1',
    host_iface: 'eth3',
    host_traddr: null,
    hostnqn: 'nqn.2014-08.org.nvmexpress:uuid:aa',
    hostid: 'aa',
  };
  const entry = (text: string) => {
    const r = parseExclusionEntry(text);
    if (!r.ok) throw new Error(r.reason);
    return r.entry;
  };

  it.each<[string, string, Partial<ExclusionTarget>, boolean]>([
    ['one field excludes broadly', 'nqn=nqn.2024-01.com.example:vol1', {}, true],
    [
      'every field must match',
      'transport=tcp;traddr=192.0.2.10;trsvcid=4420;nqn=nqn.2024-01.com.example:vol1',
      {},
      true,
    ],
    ['a differing field does not match', 'nqn=nqn.2024-01.com.example:vol1;trsvcid=4421', {}, false],
    ['the transport is compared exactly', 'transport=rdma', {}, false],
    ['an interface entry', 'host-iface=eth3', {}, true],
    ['another interface', 'host-iface=eth4', {}, false],
    ['a field the target lacks never matches', 'host-traddr=10.0.0.1', {}, false],
    ['an empty target value is no value', 'trsvcid=4420', { trsvcid: '' }, false],
    ['IPv4-mapped spelling in the entry', 'transport=tcp;traddr=::ffff:192.0.2.10', {}, true],
    ['IPv6 spellings are one address', 'traddr=fd00:0:0:0::1', { traddr: 'FD00::1' }, true],
    ['IPv4 text differs', 'traddr=192.0.2.11', {}, false],
    [
      'a non-numeric traddr without transport compares as text',
      'traddr=storage.example',
      { traddr: 'storage.example' },
      true,
    ],
    [
      'FC addresses ignore case',
      'traddr=nn-0x20000090FA000001:pn-0x10000090FA000001',
      { transport: 'fc', traddr: 'nn-0x20000090fa000001:pn-0x10000090fa000001' },
      true,
    ],
    ['host identity', 'hostnqn=nqn.2014-08.org.nvmexpress:uuid:aa;hostid=aa', {}, true],
    ['another host identity', 'hostid=bb', {}, false],
    ['an NBFT target: a broad entry does not exclude it', 'transport=tcp', { nbft: true }, false],
    ['an NBFT target: an interface entry does not exclude it', 'host-iface=eth3', { nbft: true }, false],
    [
      'an NBFT target: an entry naming its NQN does',
      'nqn=nqn.2024-01.com.example:vol1',
      { nbft: true },
      true,
    ],
    [
      'an NBFT target: an entry naming its address does',
      'transport=tcp;traddr=192.0.2.10;trsvcid=4420',
      { nbft: true },
      true,
    ],
    [
      'an NBFT target: naming it, but another port, does not',
      'traddr=192.0.2.10;trsvcid=4421',
      { nbft: true },
      false,
    ],
  ])('%s', (_why, text, change, excluded) => {
    expect(entryMatches(entry(text), { ...target, ...change })).toBe(excluded);
  });
});

describe('entry grammar properties', () => {
  it('any text parses to an entry or a reason, and a valid entry survives format and re-parse', () => {
    const piece = fc.constantFrom(
      'transport',
      'traddr',
      'trsvcid',
      'nqn',
      'host-traddr',
      'host-iface',
      'hostnqn',
      'hostid',
      'tcp',
      'fc',
      '10.0.0.1',
      '::1',
      '=',
      ';',
      ' ',
      'x',
      '',
    );
    const text = fc.oneof(
      fc.string(),
      fc.array(piece, { maxLength: 12 }).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(text, (t) => {
        const r = parseExclusionEntry(t);
        if (!r.ok) {
          expect(typeof r.reason).toBe('string');
          return;
        }
        expect(Object.keys(r.entry).length).toBeGreaterThan(0);
        expect(parseExclusionEntry(formatExclusionEntry(r.entry))).toEqual(r);
      }),
      { numRuns: 500 },
    );
  });
});
