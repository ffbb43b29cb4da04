import { describe, expect, it } from 'vitest';
import {
  buildOptionString,
  type ConnectInput,
  parseConnectOptions,
  parseOptionString,
  parseSupportedOptions,
  redactOptionString,
  targetIdentity,
  targetMatches,
} from '../../src/engine/options.js';
import { isNvmfError } from '../../src/errors.js';

const NQN = 'nqn.2024-01.io.example:subsys1';
const HOSTNQN = 'nqn.2014-08.org.nvmexpress:uuid:0f8fad5b-d9cb-469f-a165-70867728950e';
const SECRET = `DHHC-1:00:${Buffer.alloc(36, 7).toString('base64')}:`;
const CTRL_SECRET = `DHHC-1:01:${Buffer.alloc(36, 9).toString('base64')}:`;
const tcp: ConnectInput = { transport: 'tcp', traddr: '10.0.0.1', nqn: NQN };

type Row =
  | [name: string, input: ConnectInput, ok: Record<string, unknown>]
  | [name: string, input: ConnectInput, err: { option: string; msg: RegExp }];

// Each row: what the user gave, and either the parsed fields we expect or the option the
// error must name plus what its message must say.
const rows: Row[] = [
  ['minimal tcp gets the default io port', tcp, { transport: 'tcp', trsvcid: '4420' }],
  [
    'discovery NQN gets port 8009',
    { ...tcp, nqn: 'nqn.2014-08.org.nvmexpress.discovery' },
    { trsvcid: '8009' },
  ],
  ['explicit port kept', { ...tcp, trsvcid: '4421' }, { trsvcid: '4421' }],
  [
    'numeric strings are coerced',
    { ...tcp, nr_io_queues: '4', queue_size: '128' },
    { nr_io_queues: 4, queue_size: 128 },
  ],
  ['ctrl_loss_tmo=-1 is allowed', { ...tcp, ctrl_loss_tmo: -1 }, { ctrl_loss_tmo: -1 }],
  ['ctrl_loss_tmo=0 alone is allowed', { ...tcp, ctrl_loss_tmo: 0 }, { ctrl_loss_tmo: 0 }],
  [
    'consistent timeouts',
    { ...tcp, reconnect_delay: 2, fast_io_fail_tmo: 5, ctrl_loss_tmo: 30 },
    { fast_io_fail_tmo: 5 },
  ],
  [
    'fast_io_fail_tmo=-1 means off',
    { ...tcp, fast_io_fail_tmo: -1, reconnect_delay: 3 },
    { fast_io_fail_tmo: -1 },
  ],
  ['ipv6 address', { ...tcp, traddr: 'fe80::1%eth0' }, { traddr: 'fe80::1%eth0' }],
  ['ipv6 mapped ipv4', { ...tcp, traddr: '::ffff:10.0.0.1' }, { traddr: '::ffff:10.0.0.1' }],
  ['loop needs no traddr', { transport: 'loop', nqn: NQN }, { transport: 'loop', trsvcid: undefined }],
  [
    'fc address',
    { transport: 'fc', nqn: NQN, traddr: 'nn-0x1000000044001123:pn-0x2000000055001123' },
    { transport: 'fc' },
  ],
  [
    'uuid hostnqn and hostid',
    { ...tcp, hostnqn: HOSTNQN, hostid: '0f8fad5b-d9cb-469f-a165-70867728950e' },
    { hostnqn: HOSTNQN },
  ],
  [
    'digests on tcp',
    { ...tcp, hdr_digest: true, data_digest: 'true' },
    { hdr_digest: true, data_digest: true },
  ],
  ['tls on tcp', { ...tcp, tls: true }, { tls: true }],
  ['tls_key implies tls', { ...tcp, tls_key: '0x1a2b' }, { tls: true, tls_key: 0x1a2b }],
  [
    'dhchap secrets',
    { ...tcp, dhchap_secret: SECRET, dhchap_ctrl_secret: CTRL_SECRET },
    { dhchap_secret: SECRET },
  ],
  [
    'false digest flag on rdma is harmless',
    { ...tcp, transport: 'rdma', hdr_digest: false },
    { hdr_digest: undefined },
  ],
  ['host_iface on tcp', { ...tcp, host_iface: 'eth0' }, { host_iface: 'eth0' }],
  ['tos range edge', { ...tcp, tos: 255 }, { tos: 255 }],
  ['concat with dhchap', { ...tcp, concat: true, dhchap_secret: SECRET }, { concat: true }],

  [
    'missing transport',
    { traddr: '10.0.0.1', nqn: NQN },
    { option: 'transport', msg: /transport is required; use one of tcp/ },
  ],
  ['unknown transport', { ...tcp, transport: 'udp' }, { option: 'transport', msg: /"udp" is not supported/ }],
  ['missing nqn', { transport: 'tcp', traddr: '10.0.0.1' }, { option: 'nqn', msg: /nqn .* is required/ }],
  [
    'missing traddr',
    { transport: 'tcp', nqn: NQN },
    { option: 'traddr', msg: /traddr is required for transport tcp/ },
  ],
  [
    'host name as traddr',
    { ...tcp, traddr: 'storage.example' },
    { option: 'traddr', msg: /not an IPv4 or IPv6.*resolve it first/ },
  ],
  ['bad ipv4', { ...tcp, traddr: '10.0.0.256' }, { option: 'traddr', msg: /"10.0.0.256"/ }],
  ['bad ipv6', { ...tcp, traddr: '1:2:3:4:5:6:7:8:9' }, { option: 'traddr', msg: /not an IPv4 or IPv6/ }],
  [
    'bad fc address',
    { transport: 'fc', nqn: NQN, traddr: '10.0.0.1' },
    { option: 'traddr', msg: /nn-0x<16 hex>/ },
  ],
  ['port zero', { ...tcp, trsvcid: '0' }, { option: 'trsvcid', msg: /"0" is not a port number 1-65535/ }],
  ['port too big', { ...tcp, trsvcid: '70000' }, { option: 'trsvcid', msg: /"70000"/ }],
  ['port not numeric', { ...tcp, trsvcid: 'http' }, { option: 'trsvcid', msg: /"http"/ }],
  [
    'trsvcid on fc',
    { transport: 'fc', nqn: NQN, traddr: 'nn-0x1000000044001123:pn-0x2000000055001123', trsvcid: '4420' },
    { option: 'trsvcid', msg: /does not apply to transport fc/ },
  ],
  [
    'nqn without prefix',
    { ...tcp, nqn: 'iqn.2024-01.io.example:x' },
    { option: 'nqn', msg: /not a valid NQN: expected nqn.yyyy-mm/ },
  ],
  ['nqn bad month', { ...tcp, nqn: 'nqn.2024-13.io.example:x' }, { option: 'nqn', msg: /month 13/ }],
  [
    'nqn single-label domain',
    { ...tcp, nqn: 'nqn.2024-01.example:x' },
    { option: 'nqn', msg: /not a valid NQN/ },
  ],
  [
    'nqn too long',
    { ...tcp, nqn: `nqn.2024-01.io.example:${'a'.repeat(201)}` },
    { option: 'nqn', msg: /224 bytes, the limit is 223/ },
  ],
  [
    'nqn bad uuid form',
    { ...tcp, nqn: 'nqn.2014-08.org.nvmexpress:uuid:not-a-uuid' },
    { option: 'nqn', msg: /needs a UUID/ },
  ],
  ['nqn with a comma', { ...tcp, nqn: 'nqn.2024-01.io.example:a,b' }, { option: 'nqn', msg: /","/ }],
  [
    'bad hostnqn',
    { ...tcp, hostnqn: 'host1' },
    { option: 'hostnqn', msg: /hostnqn "host1" is not a valid NQN/ },
  ],
  ['bad hostid', { ...tcp, hostid: '1234' }, { option: 'hostid', msg: /hostid "1234" is not a UUID/ }],
  [
    'unknown option',
    { ...tcp, foo: 1 } as ConnectInput,
    { option: 'foo', msg: /unknown connect option "foo"/ },
  ],
  [
    'non-integer',
    { ...tcp, nr_io_queues: 'many' },
    { option: 'nr_io_queues', msg: /must be an integer, not "many"/ },
  ],
  ['zero io queues', { ...tcp, nr_io_queues: 0 }, { option: 'nr_io_queues', msg: /at least 1/ }],
  ['queue_size too small', { ...tcp, queue_size: 8 }, { option: 'queue_size', msg: /16-1024/ }],
  [
    'ctrl_loss_tmo below -1',
    { ...tcp, ctrl_loss_tmo: -2 },
    { option: 'ctrl_loss_tmo', msg: /-1 \(forever\)/ },
  ],
  [
    'reconnect 0 with infinite loss',
    { ...tcp, ctrl_loss_tmo: -1, reconnect_delay: 0 },
    { option: 'reconnect_delay', msg: /retry forever without pause/ },
  ],
  [
    'fast fail below reconnect',
    { ...tcp, reconnect_delay: 10, fast_io_fail_tmo: 5 },
    { option: 'fast_io_fail_tmo', msg: /fast_io_fail_tmo=5 is below reconnect_delay=10/ },
  ],
  [
    'fast fail below kernel default delay',
    { ...tcp, fast_io_fail_tmo: 5 },
    { option: 'fast_io_fail_tmo', msg: /kernel default 10/ },
  ],
  [
    'loss below reconnect',
    { ...tcp, ctrl_loss_tmo: 5, reconnect_delay: 10 },
    { option: 'ctrl_loss_tmo', msg: /ctrl_loss_tmo=5 is below reconnect_delay=10/ },
  ],
  [
    'loss below fast fail',
    { ...tcp, ctrl_loss_tmo: 20, reconnect_delay: 2, fast_io_fail_tmo: 30 },
    { option: 'ctrl_loss_tmo', msg: /below fast_io_fail_tmo=30/ },
  ],
  [
    'fast fail with loss 0',
    { ...tcp, ctrl_loss_tmo: 0, fast_io_fail_tmo: 10 },
    { option: 'fast_io_fail_tmo', msg: /no effect with ctrl_loss_tmo=0/ },
  ],
  [
    'digest on rdma',
    { ...tcp, transport: 'rdma', hdr_digest: true },
    { option: 'hdr_digest', msg: /does not apply to transport rdma; it is for tcp only/ },
  ],
  [
    'data digest on fc',
    { transport: 'fc', nqn: NQN, traddr: 'nn-0x1000000044001123:pn-0x2000000055001123', data_digest: true },
    { option: 'data_digest', msg: /for tcp only/ },
  ],
  [
    'tls on rdma',
    { ...tcp, transport: 'rdma', tls: true },
    { option: 'tls', msg: /does not apply to transport rdma/ },
  ],
  [
    'host_iface on rdma',
    { ...tcp, transport: 'rdma', host_iface: 'ib0' },
    { option: 'host_iface', msg: /for tcp only/ },
  ],
  [
    'traddr on loop',
    { transport: 'loop', nqn: NQN, traddr: '10.0.0.1' },
    { option: 'traddr', msg: /does not apply to transport loop/ },
  ],
  [
    'bad flag value',
    { ...tcp, duplicate_connect: 'maybe' },
    { option: 'duplicate_connect', msg: /flag; give true or false/ },
  ],
  [
    'dhchap not DHHC-1',
    { ...tcp, dhchap_secret: 'hunter2hunter2' },
    { option: 'dhchap_secret', msg: /expected DHHC-1:<00-03>/ },
  ],
  [
    'dhchap wrong key length',
    { ...tcp, dhchap_secret: `DHHC-1:00:${Buffer.alloc(20).toString('base64')}:` },
    { option: 'dhchap_secret', msg: /not a DH-HMAC-CHAP secret/ },
  ],
  [
    'ctrl secret without host secret',
    { ...tcp, dhchap_ctrl_secret: CTRL_SECRET },
    { option: 'dhchap_ctrl_secret', msg: /needs dhchap_secret too/ },
  ],
  ['tls_key with tls=false', { ...tcp, tls_key: 5, tls: false }, { option: 'tls', msg: /tls is false/ }],
  ['concat without dhchap', { ...tcp, concat: true }, { option: 'concat', msg: /needs dhchap_secret/ }],
  [
    'bad host_iface',
    { ...tcp, host_iface: 'eth0/../x' },
    { option: 'host_iface', msg: /not a network interface name/ },
  ],
  ['comma in a string option', { ...tcp, host_iface: 'a,b' }, { option: 'host_iface', msg: /contains ","/ }],
];

describe('parseConnectOptions table', () => {
  it('has at least 40 cases', () => {
    expect(rows.length).toBeGreaterThanOrEqual(40);
  });
  it.each(rows)('%s', (_name, input, expected) => {
    if (expected.msg instanceof RegExp) {
      let err: unknown;
      try {
        parseConnectOptions(input);
      } catch (e) {
        err = e;
      }
      expect(isNvmfError(err, 'EINVALID_OPTION'), String(err)).toBe(true);
      const e = err as { message: string; details: Record<string, unknown> };
      expect(e.details.option).toBe(expected.option);
      expect(e.message).toMatch(expected.msg);
      // secrets never reach an error
      expect(JSON.stringify({ m: e.message, d: e.details })).not.toMatch(/DHHC-1:0/);
    } else {
      const o = parseConnectOptions(input) as unknown as Record<string, unknown>;
      for (const [k, v] of Object.entries(expected)) expect(o[k], k).toEqual(v);
    }
  });
});

describe('buildOptionString', () => {
  const all = parseConnectOptions({
    ...tcp,
    hostnqn: HOSTNQN,
    ctrl_loss_tmo: -1,
    reconnect_delay: 2,
    nr_poll_queues: 2,
    duplicate_connect: true,
    dhchap_secret: SECRET,
  });

  it('puts nqn first and renders flags bare', () => {
    const { value, dropped } = buildOptionString(all, null);
    expect(value.split(',')[0]).toBe(`nqn=${NQN}`);
    expect(value).toContain('transport=tcp,traddr=10.0.0.1,trsvcid=4420');
    expect(value).toContain('ctrl_loss_tmo=-1');
    expect(value).toContain(',duplicate_connect');
    expect(dropped).toEqual([]);
  });

  it('sends only what the kernel lists, drops tuning options it lacks', () => {
    const supported = parseSupportedOptions(
      'instance=-1,cntlid=-1,transport=%s,traddr=%s,trsvcid=%s,nqn=%s,queue_size=%d,nr_io_queues=%d,reconnect_delay=%d,ctrl_loss_tmo=%d,keep_alive_tmo=%d,hostnqn=%s,host_traddr=%s,hostid=%s,duplicate_connect,dhchap_secret=%s\n',
    );
    expect(supported).not.toContain('instance');
    const { value, dropped } = buildOptionString(all, supported);
    expect(dropped).toEqual(['nr_poll_queues']);
    expect(value).not.toContain('nr_poll_queues');
  });

  it('refuses a security option the kernel does not list', () => {
    const o = parseConnectOptions({ ...tcp, tls: true });
    expect(() => buildOptionString(o, ['transport', 'traddr', 'nqn', 'trsvcid'])).toThrow(
      /does not support tls/,
    );
    // TLS is not in the 6.1 fallback set either: never sent blind
    expect(() => buildOptionString(o, null)).toThrow(/could not be read to confirm support/);
  });

  it('option string round-trips through parseOptionString', () => {
    const { value } = buildOptionString(all, null);
    expect(parseConnectOptions(parseOptionString(value))).toEqual(all);
  });

  it('parseOptionString rejects duplicates', () => {
    expect(() => parseOptionString('nqn=a,nqn=b')).toThrow(/given twice/);
  });
});

describe('redaction', () => {
  it('redactOptionString hides secret values', () => {
    const o = parseConnectOptions({
      ...tcp,
      dhchap_secret: SECRET,
      dhchap_ctrl_secret: CTRL_SECRET,
      tls_key: 77,
    });
    const { value } = buildOptionString(o, [
      ...parseSupportedOptions('tls,tls_key,dhchap_secret,dhchap_ctrl_secret'),
    ]);
    expect(value).toContain(SECRET);
    const red = redactOptionString(value);
    expect(red).not.toContain(SECRET);
    expect(red).not.toContain(CTRL_SECRET);
    expect(red).not.toContain('tls_key=77');
    expect(red).toContain('dhchap_secret=<redacted>');
    expect(red).toContain(`nqn=${NQN}`);
  });
});

describe('targetIdentity', () => {
  const t = targetIdentity(parseConnectOptions({ ...tcp, traddr: 'FE80::1' }));
  // Linux's rule (nvmf_ip_options_match): every field strcmp'd as the option string gave it.
  it('keeps the values as given and matches the controller sysfs shows as the kernel does', () => {
    expect(t).toEqual({ transport: 'tcp', traddr: 'FE80::1', trsvcid: '4420', subsysnqn: NQN });
    const seen = {
      transport: 'tcp',
      subsysnqn: NQN,
      hostnqn: HOSTNQN,
      address: { traddr: 'FE80::1', trsvcid: '4420' },
    };
    expect(targetMatches(t, seen)).toBe(true);
    expect(targetMatches(t, { ...seen, address: { traddr: 'fe80::1', trsvcid: '4421' } })).toBe(false);
    expect(targetMatches(t, { ...seen, subsysnqn: `${NQN}x` })).toBe(false);
    expect(targetMatches({ ...t, hostnqn: 'nqn.2024-01.io.other:h' }, seen)).toBe(false);
    // case counts: the kernel makes a second controller for fe80::1
    expect(targetMatches(t, { ...seen, address: { traddr: 'fe80::1', trsvcid: '4420' } })).toBe(false);
    // a host address or interface on one side only is another controller to the kernel
    expect(targetMatches(t, { ...seen, address: { ...seen.address, host_iface: 'eth0' } })).toBe(false);
    expect(
      targetMatches(
        { ...t, host_iface: 'eth0' },
        { ...seen, address: { ...seen.address, host_iface: 'eth0' } },
      ),
    ).toBe(true);
    // the host NQN counts only when both name it (the kernel's default is not known here)
    expect(targetMatches(t, { ...seen, hostnqn: null })).toBe(true);
    // the `possible` rule (connect intents) lets any field one side leaves out match
    expect(targetMatches({ transport: 'tcp', subsysnqn: NQN }, seen, 'possible')).toBe(true);
    expect(targetMatches({ transport: 'tcp', subsysnqn: NQN }, seen)).toBe(false);
  });
});
