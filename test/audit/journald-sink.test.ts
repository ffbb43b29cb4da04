import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createAuditor,
  defaultAuditFile,
  sinkChain,
  sinkChainOptionsFromEnv,
} from '../../src/audit/auditor.js';
import type { AuditEvent } from '../../src/audit/event.js';
import type { RecordContext } from '../../src/audit/fields.js';
import { redactArgv } from '../../src/audit/redact.js';
import { journalNativeSink, jsonFileSink, jsonLinesSink, loggerSink } from '../../src/audit/sinks.js';
import { type Receiver, startReceiver } from './receiver.js';

const ctx: RecordContext = { pid: 4242, uid: 0, argv: ['nvmf connect -t tcp'] };

let dir: string;
let receiver: Receiver | null = null;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'nvmf-audit-'));
});
afterEach(() => {
  receiver?.close();
  receiver = null;
  rmSync(dir, { recursive: true, force: true });
});

/** A stderr stand-in: the JSON lines sink writing to a file we read back. */
function captureFd(name: string): { fd: number; lines(): Record<string, unknown>[] } {
  const file = path.join(dir, name);
  const fd = openSync(file, 'w+');
  return {
    fd,
    lines: () =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('journald native sink against a real AF_UNIX datagram socket', () => {
  it('delivers every field searchable, with newline values in the binary-safe form', async () => {
    receiver = await startReceiver(path.join(dir, 'journal.sock'));
    const err = captureFd('stderr');
    const a = createAuditor({
      sinks: [journalNativeSink(receiver.socketPath)],
      lastResort: jsonLinesSink(err.fd),
      context: () => ctx,
    });
    a.record({ action: 'owner-changed', device: 'nvme4', owner: 'stas', prevOwner: 'k8s', seqnum: 4711 });
    a.record({ action: 'udev-kept', device: 'nvme4', reason: 'line one\nline two', by: 'udev', seqnum: 12 });
    a.record({
      action: 'connect-failed',
      device: 'nvme5',
      error: 'ECONNREFUSED: target refused',
      extra: { traddr: '127.0.0.1', trsvcid: 4420 },
    });
    const got = await receiver.waitFor(3);

    expect(got[0]).toEqual({
      MESSAGE: 'nvme4: owner-changed k8s -> stas seqnum=4711',
      PRIORITY: '5',
      SYSLOG_IDENTIFIER: 'nvmf-registry',
      NVMF_ACTION: 'owner-changed',
      NVMF_DEVICE: 'nvme4',
      NVMF_OWNER: 'stas',
      NVMF_PREV_OWNER: 'k8s',
      NVMF_SEQNUM: '4711',
      NVMF_PID: '4242',
      NVMF_UID: '0',
      NVMF_COMMAND: 'nvmf connect -t tcp',
    });
    expect(got[1]?.NVMF_REASON).toBe('line one\nline two');
    expect(got[1]?.MESSAGE).toBe('nvme4: udev-kept seqnum=12 (by udev): line one\nline two');
    expect(got[1]?.NVMF_BY).toBe('udev');
    expect(got[1]?.PRIORITY).toBe('6');
    expect(got[2]?.PRIORITY).toBe('3');
    expect(got[2]?.NVMF_ERROR).toBe('ECONNREFUSED: target refused');
    expect(got[2]?.NVMF_TRADDR).toBe('127.0.0.1');
    expect(got[2]?.NVMF_TRSVCID).toBe('4420');
    for (const r of got) expect(r).not.toHaveProperty('__DECODE_ERROR__');
    // nothing went to the last resort: the journal took every record
    expect(err.lines()).toEqual([]);
    closeSync(err.fd);
  });

  it('the auto chain picks the journal when its socket exists', async () => {
    receiver = await startReceiver(path.join(dir, 'journal.sock'));
    const err = captureFd('stderr');
    const chain = sinkChain({
      socketPath: receiver.socketPath,
      stderrFd: err.fd,
      filePath: path.join(dir, 'audit.jsonl'),
    });
    // the file stands behind journald: a journald that stops answering loses nothing
    expect(chain.map((s) => s.name)).toEqual(['journald', 'file']);
    createAuditor({ sinks: chain, lastResort: jsonLinesSink(err.fd), context: () => ctx }).record({
      action: 'claim',
      device: 'nvme1',
      owner: 'a',
    });
    expect((await receiver.waitFor(1))[0]?.NVMF_OWNER).toBe('a');
    expect(err.lines()).toEqual([]);
  });
});

describe('secrets never leave the process', () => {
  const dhchap = 'DHHC-1:01:3Jhq9E7a1KpzcT1O6Xv2jNnVfB0pQ4sDYk8rAa3MZ5c6r6tM:';
  const ctrl = 'DHHC-1:03:ZDRmNjQ1ODYwYjE5ZDI4OTQ5MTM5N2JkNjQ1YjhlYjc2NjY2MmE4MTY4ZTRkNTA1:';
  const tls = 'NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:';
  const material = [
    dhchap,
    ctrl,
    tls,
    '3Jhq9E7a1KpzcT1O6Xv2',
    'ZDRmNjQ1ODYw',
    'VRLbtnN9AQb2',
    'mykeyring',
    'rawpskhex00ff',
  ];
  const optString = `transport=tcp,traddr=10.0.0.1,nqn=nqn.x,dhchap_secret=${dhchap},dhchap_ctrl_secret=${ctrl},tls_key=rawpskhex00ff,keyring=mykeyring`;
  const events: AuditEvent[] = [
    { action: 'connect-failed', device: 'nvme3', error: `kernel rejected options ${optString}` },
    {
      action: 'connect',
      device: 'nvme3',
      reason: `secret ${dhchap} and ${tls} inline`,
      extra: { options: optString, dhchap_secret: dhchap, tls_key: 'rawpskhex00ff', keyring: 'mykeyring' },
    },
    { action: 'claim', device: 'nvme3', owner: `owner-${tls}` },
  ];
  const argv = [
    'node',
    'nvmf',
    'connect',
    '--dhchap-secret',
    dhchap,
    `--dhchap-ctrl-secret=${ctrl}`,
    '--tls-key',
    'rawpskhex00ff',
    '--keyring=mykeyring',
    '--tls',
  ];
  const secretCtx: RecordContext = { pid: 1, uid: 0, argv: [redactArgv(argv)] };

  const assertClean = (text: string): void => {
    for (const m of material) expect(text).not.toContain(m);
  };

  it('journald records carry no key material', async () => {
    receiver = await startReceiver(path.join(dir, 'journal.sock'));
    const a = createAuditor({ sinks: [journalNativeSink(receiver.socketPath)], context: () => secretCtx });
    for (const e of events) a.record(e);
    const got = await receiver.waitFor(events.length);
    assertClean(JSON.stringify(got));
    expect(got[0]?.NVMF_ERROR).toContain('dhchap_secret=<redacted>');
    expect(got[1]?.NVMF_DHCHAP_SECRET).toBe('<redacted>');
    expect(got[0]?.NVMF_COMMAND).toBe(
      'node nvmf connect --dhchap-secret <redacted> --dhchap-ctrl-secret=<redacted> --tls-key <redacted> --keyring=<redacted> --tls',
    );
  });

  it('stderr JSON lines carry no key material, also when the journal failed', () => {
    const err = captureFd('stderr');
    const a = createAuditor({
      sinks: [journalNativeSink(path.join(dir, 'absent.sock'))],
      lastResort: jsonLinesSink(err.fd),
      context: () => secretCtx,
    });
    for (const e of events) a.record(e);
    const text = readFileSync(path.join(dir, 'stderr'), 'utf8');
    expect(err.lines()).toHaveLength(events.length);
    assertClean(text);
  });

  it('the audit file carries no key material', () => {
    const file = path.join(dir, 'audit.jsonl');
    const a = createAuditor({ sinks: [jsonFileSink({ path: file })], context: () => secretCtx });
    for (const e of events) a.record(e);
    const text = readFileSync(file, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(events.length);
    assertClean(text);
  });

  it('the process command line is redacted by default', () => {
    expect(redactArgv(['nvmf', '-k', 'x', '--dhchap_secret', 'abc', '--tls-key=NVMeTLSkey-1:01:abc:'])).toBe(
      'nvmf -k x --dhchap_secret <redacted> --tls-key=<redacted>',
    );
  });
});

describe('fallback chain', () => {
  it('journal socket gone: the record goes to stderr with the reason, never silently dropped', () => {
    const err = captureFd('stderr');
    const a = createAuditor({
      sinks: [journalNativeSink(path.join(dir, 'absent.sock'))],
      lastResort: jsonLinesSink(err.fd),
      context: () => ctx,
    });
    a.record({ action: 'gc-removed', device: 'nvme9', reason: 'stale boot id' });
    const [line] = err.lines();
    expect(line).toMatchObject({
      NVMF_ACTION: 'gc-removed',
      NVMF_DEVICE: 'nvme9',
      NVMF_REASON: 'stale boot id',
    });
    expect(String(line?.AUDIT_SINK_ERROR)).toMatch(/^journald: sendto .*absent\.sock failed: ENOENT$/);
  });

  it('a socket path that is not a socket (ECONNREFUSED) falls through to logger --journald', () => {
    const notSock = path.join(dir, 'plain-file');
    writeFileSync(notSock, '');
    const captured = path.join(dir, 'logger-input');
    const fakeLogger = path.join(dir, 'logger');
    writeFileSync(
      fakeLogger,
      `#!/bin/sh\n[ "$1" = --journald ] || exit 9\ncat >> '${captured}'\necho --- >> '${captured}'\n`,
    );
    chmodSync(fakeLogger, 0o755);
    const err = captureFd('stderr');
    const a = createAuditor({
      sinks: [journalNativeSink(notSock), loggerSink(fakeLogger)],
      lastResort: jsonLinesSink(err.fd),
      context: () => ctx,
    });
    a.record({ action: 'claim', device: 'nvme2', owner: 'stas', reason: 'two\nlines' });
    a.record({ action: 'disown', device: 'nvme2', prevOwner: 'stas' });
    const blocks = readFileSync(captured, 'utf8')
      .split('---\n')
      .filter((b) => b !== '');
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toContain('SYSLOG_IDENTIFIER=nvmf-registry\n');
    expect(blocks[0]).toContain('NVMF_OWNER=stas\n');
    expect(blocks[0]).toContain('NVMF_REASON=two\\nlines\n');
    expect(blocks[1]).toContain('NVMF_PREV_OWNER=stas\n');
    // the fallback is announced once, not per record
    const warnings = err.lines();
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.AUDIT_SINK_WARNING)).toMatch(
      /journald: sendto .* failed: ECONNREFUSED; using logger$/,
    );
  });

  it('every sink failing still puts the record on stderr with all reasons', () => {
    const err = captureFd('stderr');
    const a = createAuditor({
      sinks: [journalNativeSink(path.join(dir, 'absent.sock')), loggerSink(path.join(dir, 'no-such-logger'))],
      lastResort: jsonLinesSink(err.fd),
      context: () => ctx,
    });
    a.record({ action: 'entry-removed', device: 'nvme1', by: 'udev' });
    const [line] = err.lines();
    expect(line).toMatchObject({ NVMF_ACTION: 'entry-removed', NVMF_BY: 'udev' });
    expect(String(line?.AUDIT_SINK_ERROR)).toMatch(/journald: .*ENOENT; logger: .*ENOENT/);
  });

  it('no journal socket: auto mode appends JSON lines to the audit file, not to stderr', () => {
    const err = captureFd('stderr');
    const file = path.join(dir, 'log', 'audit.jsonl');
    const chain = sinkChain({ socketPath: path.join(dir, 'absent.sock'), stderrFd: err.fd, filePath: file });
    expect(chain.map((s) => s.name)).toEqual(['file']);
    createAuditor({ sinks: chain, lastResort: jsonLinesSink(err.fd), context: () => ctx }).record({
      action: 'attr-set',
      device: 'nvme0',
      extra: { attr: 'role' },
    });
    expect(err.lines()).toEqual([]);
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      SYSLOG_IDENTIFIER: 'nvmf-registry',
      NVMF_ACTION: 'attr-set',
      NVMF_ATTR: 'role',
      PRIORITY: '6',
    });
    expect(lines[0]).not.toHaveProperty('AUDIT_SINK_ERROR');
    expect(typeof lines[0]?.time).toBe('string');
  });

  it('journald refusing the record (not running): the record goes to the file, announced once', () => {
    const notSock = path.join(dir, 'plain-file');
    writeFileSync(notSock, '');
    const err = captureFd('stderr');
    const file = path.join(dir, 'audit.jsonl');
    const chain = sinkChain({ mode: 'journal', socketPath: notSock, stderrFd: err.fd, filePath: file });
    const a = createAuditor({ sinks: chain, lastResort: jsonLinesSink(err.fd), context: () => ctx });
    a.record({ action: 'claim', device: 'nvme2', owner: 'stas' });
    a.record({ action: 'disown', device: 'nvme2', prevOwner: 'stas' });
    const kept = readFileSync(file, 'utf8').trim().split('\n');
    expect(kept.map((l) => (JSON.parse(l) as Record<string, unknown>).NVMF_ACTION)).toEqual([
      'claim',
      'disown',
    ]);
    const warnings = err.lines();
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.AUDIT_SINK_WARNING)).toMatch(
      /journald: sendto .* failed: ECONNREFUSED; using file$/,
    );
  });

  it.each(['stderr', 'off'] as const)('NVMF_AUDIT_SINK=%s chooses that sink alone', (mode) => {
    expect(sinkChain({ mode, filePath: path.join(dir, 'f') }).map((s) => s.name)).toEqual([mode]);
  });
});

describe('audit file', () => {
  const rec = (n: number): AuditEvent => ({ action: 'attr-set', device: `nvme${n}`, extra: { attr: 'x' } });
  const read = (f: string): string[] =>
    existsSync(f)
      ? readFileSync(f, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => String((JSON.parse(l) as Record<string, unknown>).NVMF_DEVICE))
      : [];

  it('is bounded: rotated past maxBytes, keeping `keep` generations, newest records last', () => {
    const file = path.join(dir, 'audit.jsonl');
    const a = createAuditor({
      sinks: [jsonFileSink({ path: file, maxBytes: 600, keep: 2 })],
      context: () => ctx,
    });
    for (let i = 0; i < 20; i++) a.record(rec(i));
    for (const f of [file, `${file}.1`, `${file}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(600);
    expect(existsSync(`${file}.3`)).toBe(false);
    const kept = [...read(`${file}.2`), ...read(`${file}.1`), ...read(file)];
    // every kept record in order and contiguous, ending with the last one written
    const first = Number(kept[0]?.slice(4));
    expect(kept).toEqual(Array.from({ length: 20 - first }, (_, i) => `nvme${first + i}`));
    expect(first).toBeGreaterThan(0);
  });

  it('a file that cannot be written: the record goes to stderr with the reason', () => {
    const blocker = path.join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const err = captureFd('stderr');
    const a = createAuditor({
      sinks: [jsonFileSink({ path: path.join(blocker, 'audit.jsonl') })],
      lastResort: jsonLinesSink(err.fd),
      context: () => ctx,
    });
    a.record(rec(1));
    const [line] = err.lines();
    expect(line).toMatchObject({ NVMF_ACTION: 'attr-set', NVMF_DEVICE: 'nvme1' });
    expect(String(line?.AUDIT_SINK_ERROR)).toMatch(/^file: ENOTDIR/);
  });

  it('the default path: /var/log for root, the XDG state directory for anyone else', () => {
    expect(defaultAuditFile({}, 0)).toBe('/var/log/nvmf-registry/audit.jsonl');
    expect(defaultAuditFile({ HOME: '/home/u' }, 1000)).toBe(
      '/home/u/.local/state/nvmf-registry/audit.jsonl',
    );
    expect(defaultAuditFile({ HOME: '/home/u', XDG_STATE_HOME: '/s' }, 1000)).toBe(
      '/s/nvmf-registry/audit.jsonl',
    );
    expect(sinkChainOptionsFromEnv({ NVMF_AUDIT_FILE: '/x/a.jsonl', NVMF_AUDIT_SINK: 'file' })).toMatchObject(
      {
        mode: 'file',
        filePath: '/x/a.jsonl',
      },
    );
  });
});
