import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NvmfError } from '../../src/errors.js';
import { monitorUdev, type UdevEvent } from '../../src/watch/udev-events.js';
import { UdevParser } from '../../src/watch/udev-parse.js';

const fixture = path.join(import.meta.dirname, 'fixtures', 'udevadm-monitor.txt');

function parseAll(text: string): UdevEvent[] {
  const p = new UdevParser();
  const out: UdevEvent[] = [];
  for (const l of text.split('\n')) {
    const e = p.line(l);
    if (e) out.push(e);
  }
  const last = p.flush();
  if (last) out.push(last);
  return out;
}

describe('UdevParser', () => {
  it('turns recorded property blocks into events and skips the banner', () => {
    const events = parseAll(fs.readFileSync(fixture, 'utf8'));
    expect(events.map((e) => [e.action, e.device, e.devname, e.seqnum, e.subsystem, e.source])).toEqual([
      ['add', 'nvme4', '/dev/nvme4', 5123, 'nvme', 'UDEV'],
      ['remove', 'nvme4', '/dev/nvme4', 5131, 'nvme', 'UDEV'],
    ]);
    expect(events[0]?.monotonic).toBe(8812.401257);
    expect(events[0]?.devpath).toBe('/devices/virtual/nvme-fabrics/ctl/nvme4');
    expect(events[0]?.properties.NVME_TRADDR).toBe('127.0.0.1');
  });

  it('a header without a blank line before it starts a new event; CRLF and junk SEQNUM tolerated', () => {
    const text = [
      'KERNEL[1.5] remove   /devices/virtual/nvme-fabrics/ctl/nvme7 (nvme)\r',
      'ACTION=remove\r',
      'SEQNUM=12x\r',
      'UDEV  [2.0] add /devices/virtual/nvme-fabrics/ctl/nvme8 (nvme)',
      'SEQNUM=13',
    ].join('\n');
    const events = parseAll(text);
    expect(events.map((e) => [e.source, e.action, e.device, e.seqnum, e.devname])).toEqual([
      ['KERNEL', 'remove', 'nvme7', null, null],
      ['UDEV', 'add', 'nvme8', 13, null],
    ]);
  });
});

describe('monitorUdev', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(tmpdir(), 'nvmf-udev-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A stand-in udevadm: checks its arguments, replays the recording, then stays up. */
  function fakeUdevadm(stayUp: boolean): string {
    const f = path.join(dir, 'udevadm');
    fs.writeFileSync(
      f,
      `#!/bin/sh
[ "$*" = "monitor --udev --property --subsystem-match=nvme" ] || { echo "bad args: $*" >&2; exit 64; }
cat '${fixture}'
${stayUp ? 'exec sleep 30' : 'exit 0'}
`,
    );
    fs.chmodSync(f, 0o755);
    return f;
  }

  it('streams events from the spawned monitor and stops cleanly', async () => {
    const events: UdevEvent[] = [];
    const errors: NvmfError[] = [];
    let resolveTwo!: () => void;
    const two = new Promise<void>((r) => {
      resolveTwo = r;
    });
    const m = monitorUdev({
      command: fakeUdevadm(true),
      onEvent: (e) => {
        events.push(e);
        if (events.length === 2) resolveTwo();
      },
      onError: (e) => errors.push(e),
    });
    await two;
    m.stop();
    await m.done;
    expect(events.map((e) => `${e.action} ${e.device} ${e.seqnum}`)).toEqual([
      'add nvme4 5123',
      'remove nvme4 5131',
    ]);
    expect(errors).toEqual([]);
  });

  it('says so when udevadm exits on its own or is missing', async () => {
    const errors: NvmfError[] = [];
    const events: UdevEvent[] = [];
    const m = monitorUdev({
      command: fakeUdevadm(false),
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
    });
    await m.done;
    expect(events).toHaveLength(2);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/monitor exited \(status 0\)$/)]);

    const missing: NvmfError[] = [];
    const m2 = monitorUdev({
      command: path.join(dir, 'no-udevadm'),
      onEvent: () => {},
      onError: (e) => missing.push(e),
    });
    await m2.done;
    expect(missing).toHaveLength(1);
    expect(missing[0]?.code).toBe('EIO');
    expect(missing[0]?.message).toMatch(/not found/);
  });
});
