import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeDiscoveryLog, discoveryEntry, encodeDiscoveryLog } from '../../src/nvme/discovery-log.js';
import {
  ADMIN_CMD_SIZE,
  encodeAdminCmd,
  getLogPageCmd,
  type LogReader,
  NVME_IOCTL_ADMIN_CMD,
  readDiscoveryLog,
} from '../../src/kernel/admin-cmd.js';
import { LinuxKernel, parseConnectReply, parseSupportedOptions } from '../../src/kernel/linux.js';
import { KERNEL_61_OPTIONS } from '../../src/kernel/sim/options.js';
import { tmpDir } from './helpers.js';

describe('NVMe admin passthrough encoding', () => {
  it('has the kernel ioctl number and a 72-byte little-endian struct', () => {
    expect(NVME_IOCTL_ADMIN_CMD).toBe(0xc0484e41);
    const cmd = getLogPageCmd({
      lid: 0x70,
      offset: 0x1_0000_0400,
      length: 4096,
      addr: 0x1122334455667788n,
      rae: true,
      timeoutMs: 5000,
    });
    const b = encodeAdminCmd(cmd);
    expect(b.byteLength).toBe(ADMIN_CMD_SIZE);
    const v = new DataView(b.buffer);
    expect(b[0]).toBe(0x02);
    expect(v.getUint32(4, true)).toBe(0);
    expect(v.getBigUint64(24, true)).toBe(0x1122334455667788n);
    expect(v.getUint32(36, true)).toBe(4096);
    // NUMD = 1023 (zero-based dwords): NUMDL in cdw10[31:16], RAE bit 15, LID 0x70
    expect(v.getUint32(40, true)).toBe((1023 << 16) | (1 << 15) | 0x70);
    expect(v.getUint32(44, true)).toBe(0);
    expect(v.getUint32(48, true)).toBe(0x400);
    expect(v.getUint32(52, true)).toBe(1);
    expect(v.getUint32(64, true)).toBe(5000);
    expect(v.getUint32(68, true)).toBe(0);
  });

  it('splits NUMD over NUMDL/NUMDU for large transfers', () => {
    const c = getLogPageCmd({ lid: 0x70, offset: 0, length: 4 * 0x12345, addr: 0n, rae: false });
    expect(c.cdw10).toBe(((0x2344 << 16) | 0x70) >>> 0);
    expect(c.cdw11).toBe(0x1);
    expect(() => getLogPageCmd({ lid: 0x70, offset: 2, length: 8, addr: 0n, rae: false })).toThrow(
      RangeError,
    );
  });
});

function fakeDevice(pages: Uint8Array[]): {
  read: LogReader;
  calls: { offset: number; length: number; rae: boolean }[];
} {
  const calls: { offset: number; length: number; rae: boolean }[] = [];
  let n = 0;
  const read: LogReader = async (p) => {
    calls.push(p);
    // each header read at offset 0 with rae=true starts a new "generation" view
    const page = pages[Math.min(n, pages.length - 1)] as Uint8Array;
    if (p.offset === 0 && !p.rae) n++;
    const out = new Uint8Array(p.length);
    out.set(page.subarray(p.offset, p.offset + p.length));
    return out;
  };
  return { read, calls };
}

const entry = (i: number) =>
  discoveryEntry({ subnqn: `nqn.2024-01.io.t:s${i}`, traddr: '10.0.0.1', trsvcid: String(4420 + i) });

describe('discovery log paging', () => {
  it('reads the header, then entries in chunks until numrec are in, then the header again', async () => {
    const page = encodeDiscoveryLog({ genctr: 5n, entries: [0, 1, 2, 3, 4].map(entry) });
    const dev = fakeDevice([page]);
    const got = await readDiscoveryLog(dev.read, { chunk: 2048 });
    expect(Buffer.from(got).equals(Buffer.from(page))).toBe(true);
    expect(dev.calls.map((c) => [c.offset, c.length, c.rae])).toEqual([
      [0, 1024, true],
      [1024, 2048, true],
      [3072, 2048, true],
      [5120, 1024, true],
      [0, 1024, false],
    ]);
    expect(decodeDiscoveryLog(got).entries).toHaveLength(5);
  });

  it('retries when the generation counter moves, and gives up after the bound', async () => {
    const a = encodeDiscoveryLog({ genctr: 1n, entries: [entry(0)] });
    const b = encodeDiscoveryLog({ genctr: 2n, entries: [entry(0), entry(1)] });
    let headers = 0;
    const flipping: LogReader = async (p) => {
      if (p.offset === 0) headers++;
      const src = headers % 2 === 0 ? b : a;
      const out = new Uint8Array(p.length);
      out.set(src.subarray(p.offset, p.offset + p.length));
      return out;
    };
    await expect(readDiscoveryLog(flipping, { maxRetries: 3 })).rejects.toMatchObject({ code: 'EDISCOVERY' });
    expect(headers).toBe(8);
    // a page that changes once, then settles
    let calls = 0;
    const once: LogReader = async (p) => {
      calls++;
      const src = calls <= 2 ? a : b;
      const out = new Uint8Array(p.length);
      out.set(src.subarray(p.offset, p.offset + p.length));
      return out;
    };
    const got = await readDiscoveryLog(once);
    expect(decodeDiscoveryLog(got).genctr).toBe(2n);
    expect(decodeDiscoveryLog(got).entries).toHaveLength(2);
  });

  it('refuses absurd NUMREC and short reads', async () => {
    const h = new Uint8Array(1024);
    new DataView(h.buffer).setBigUint64(8, 1n << 40n, true);
    await expect(readDiscoveryLog(async (p) => h.subarray(0, p.length))).rejects.toThrow(/records/);
    await expect(readDiscoveryLog(async () => new Uint8Array(10))).rejects.toThrow(/short/);
  });
});

describe('linux adapter', () => {
  it('parses the connect reply strictly', () => {
    expect(parseConnectReply('instance=3,cntlid=17\n')).toEqual({ instance: 3, cntlid: 17 });
    for (const bad of [
      '',
      'instance=3',
      'instance=-1,cntlid=1',
      'instance=03,cntlid=1',
      'cntlid=1,instance=3',
      'instance=1,cntlid=70000',
    ]) {
      expect(() => parseConnectReply(bad), bad).toThrow(/unexpected reply/);
    }
  });

  it('parses the advertised option names', () => {
    const names = parseSupportedOptions(`${KERNEL_61_OPTIONS}\n`);
    expect(names.slice(0, 4)).toEqual(['transport', 'traddr', 'trsvcid', 'nqn']);
    expect(names).toContain('duplicate_connect');
    expect(names).not.toContain('instance');
  });

  it('supportedOptions null when /dev/nvme-fabrics is missing; connect maps ENOENT to a modprobe hint', async () => {
    const dir = tmpDir();
    const k = new LinuxKernel({ roots: { sysfs: path.join(dir, 'sys'), dev: path.join(dir, 'dev') } });
    expect(await k.supportedOptions()).toBeNull();
    await expect(k.connect('nqn=x,transport=tcp,dhchap_secret=TOPSECRET')).rejects.toSatisfy(
      (e: Error & { details: Record<string, unknown> }) => {
        expect(e.message).toMatch(/modprobe nvme-fabrics/);
        expect(e.details['errno']).toBe('ENOENT');
        expect(JSON.stringify(e.details) + e.message).not.toContain('TOPSECRET');
        return true;
      },
    );
  });

  it('deleteController writes 1 to delete_controller and reports a missing controller', async () => {
    const dir = tmpDir();
    const ctl = path.join(dir, 'sys', 'class', 'nvme', 'nvme4');
    fs.mkdirSync(ctl, { recursive: true });
    fs.writeFileSync(path.join(ctl, 'delete_controller'), '');
    const k = new LinuxKernel({ roots: { sysfs: path.join(dir, 'sys'), dev: path.join(dir, 'dev') } });
    await k.deleteController('nvme4');
    expect(fs.readFileSync(path.join(ctl, 'delete_controller'), 'utf8')).toBe('1');
    await expect(k.deleteController('nvme5')).rejects.toMatchObject({ code: 'ENO_CONTROLLER' });
    await expect(k.deleteController('../etc')).rejects.toMatchObject({ code: 'EINVALID_DEVICE' });
    expect(fs.existsSync(path.join(dir, 'sys', 'class', 'nvme', 'nvme5'))).toBe(false);
  });

  it('discoveryLogPage opens the node and pages through the injected ioctl', async () => {
    const dir = tmpDir();
    fs.mkdirSync(path.join(dir, 'dev'));
    fs.writeFileSync(path.join(dir, 'dev', 'nvme2'), '');
    const page = encodeDiscoveryLog({ genctr: 9n, entries: [entry(0), entry(1)] });
    const fds: number[] = [];
    const k = new LinuxKernel({
      roots: { sysfs: path.join(dir, 'sys'), dev: path.join(dir, 'dev') },
      adminIoctl: async () => ({
        getLogPage: async (fd, p) => {
          fds.push(fd);
          expect(p.lid).toBe(0x70);
          return page.slice(p.offset, p.offset + p.length);
        },
      }),
    });
    const got = await k.discoveryLogPage('nvme2');
    expect(decodeDiscoveryLog(got).entries.map((e) => e.trsvcid)).toEqual(['4420', '4421']);
    expect(new Set(fds).size).toBe(1);
    await expect(k.discoveryLogPage('nvme3')).rejects.toMatchObject({ code: 'ENO_CONTROLLER' });
  });
});
