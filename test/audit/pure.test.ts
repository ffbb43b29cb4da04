import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/event.js';
import {
  fieldName,
  MAX_VALUE_CHARS,
  messageOf,
  priorityOf,
  toJournalFields,
} from '../../src/audit/fields.js';
import { encodeNative } from '../../src/audit/journal-native.js';
import { redactText } from '../../src/audit/redact.js';

describe('redactText', () => {
  it.each([
    ['x DHHC-1:00:abc=: y', 'x DHHC-1:<redacted> y'],
    ['a,dhchap_secret=foo,b', 'a,dhchap_secret=<redacted>,b'],
    ['DHCHAP_CTRL_SECRET=foo', 'DHCHAP_CTRL_SECRET=<redacted>'],
    ['tls_key=0011,keyring=ring', 'tls_key=<redacted>,keyring=<redacted>'],
    ['--tls-key=NVMeTLSkey-1:01:zz:', '--tls-key=<redacted>'],
    ['{"dhchap_secret":"a\\"b","x":1}', '{"dhchap_secret":"<redacted>","x":1}'],
    ['NVMeTLSkey-1:02:Zm9v: end', 'NVMeTLSkey-1:<redacted> end'],
    ['nothing secret here: tls=1 traddr=10.0.0.1', 'nothing secret here: tls=1 traddr=10.0.0.1'],
  ])('%s', (input, want) => {
    expect(redactText(input)).toBe(want);
  });
});

describe('record fields', () => {
  const ctx = { pid: 7, uid: 0, argv: ['nvmf x'] };
  it.each<[AuditEvent, number, string]>([
    [{ action: 'claim', device: 'nvme1', owner: 'a', prevOwner: null }, 5, 'nvme1: claim (none) -> a'],
    [{ action: 'disown', device: 'nvme1', prevOwner: 'a' }, 5, 'nvme1: disown prev=a'],
    [
      { action: 'disconnect-all-skip', device: 'nvme2', owner: 'b', reason: 'owned by b' },
      6,
      'nvme2: disconnect-all-skip owner=b: owned by b',
    ],
    [
      { action: 'disconnect-failed', device: 'nvme2', error: 'EBUSY' },
      3,
      'nvme2: disconnect-failed: error: EBUSY',
    ],
    [
      { action: 'udev-removed', device: 'nvme3', seqnum: 9, by: 'udev' },
      5,
      'nvme3: udev-removed seqnum=9 (by udev)',
    ],
    [{ action: 'entry-created', device: 'nvme4', owner: null }, 6, 'nvme4: entry-created owner=(none)'],
  ])('%j', (event, prio, msg) => {
    expect(priorityOf(event)).toBe(prio);
    expect(messageOf(event)).toBe(msg);
  });

  it('null owners are left out so NVMF_OWNER=x matches only owners', () => {
    const f = toJournalFields({ action: 'claim', device: 'nvme1', owner: 'a', prevOwner: null }, ctx);
    expect(f.NVMF_OWNER).toBe('a');
    expect(f).not.toHaveProperty('NVMF_PREV_OWNER');
  });

  it('extra keys become valid journal names and never override schema fields', () => {
    expect(fieldName('host-traddr')).toBe('NVMF_HOST_TRADDR');
    expect(fieldName('_x')).toBe('NVMF_X');
    const f = toJournalFields(
      { action: 'connect', device: 'nvme1', extra: { device: 'evil', n: 3, ok: true, none: null } },
      ctx,
    );
    expect(f.NVMF_DEVICE).toBe('nvme1');
    expect(f.NVMF_N).toBe('3');
    expect(f.NVMF_OK).toBe('true');
    expect(f.NVMF_NONE).toBe('');
  });

  it('values are bounded so a record fits one datagram', () => {
    const f = toJournalFields({ action: 'connect-failed', error: 'e'.repeat(100_000) }, ctx);
    expect(f.NVMF_ERROR!.length).toBeLessThanOrEqual(MAX_VALUE_CHARS + 20);
  });
});

describe('encodeNative', () => {
  it('plain values as NAME=value, newline values length-prefixed little-endian', () => {
    const buf = encodeNative({ MESSAGE: 'a\nb', PRIORITY: '5', bad_name: 'dropped' });
    const want = Buffer.concat([
      Buffer.from('MESSAGE\n'),
      Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from('a\nb\nPRIORITY=5\n'),
    ]);
    expect(buf.equals(want)).toBe(true);
  });
  it('lengths count bytes, not characters', () => {
    const buf = encodeNative({ M: 'é\n' });
    expect(buf.readBigUInt64LE(2)).toBe(3n);
  });
});
