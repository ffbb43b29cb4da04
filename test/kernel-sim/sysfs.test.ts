import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { naturalCompare } from '../../src/nvme/names.js';
import * as sysfs from '../../src/kernel/sysfs.js';
import { tmpDir } from './helpers.js';

function ctrl(sys: string, name: string, attrs: Record<string, string>): string {
  const d = path.join(sys, 'class', 'nvme', name);
  fs.mkdirSync(d, { recursive: true });
  for (const [k, v] of Object.entries(attrs)) fs.writeFileSync(path.join(d, k), `${v}\n`);
  return d;
}

describe('sysfs readers', () => {
  it('parses address attributes', () => {
    expect(
      sysfs.parseAddress(
        'traddr=10.0.0.1,trsvcid=4420,host_traddr=10.0.0.2,host_iface=eth0,src_addr=10.0.0.2\n',
      ),
    ).toEqual({
      traddr: '10.0.0.1',
      trsvcid: '4420',
      host_traddr: '10.0.0.2',
      host_iface: 'eth0',
      src_addr: '10.0.0.2',
    });
    expect(sysfs.parseAddress('0000:01:00.0')).toEqual({});
    expect(sysfs.parseAddress('')).toEqual({});
    expect(sysfs.parseAddress('traddr=fe80::1%eth0,trsvcid=4420,bogus=1')).toEqual({
      traddr: 'fe80::1%eth0',
      trsvcid: '4420',
    });
  });

  it('sorts naturally', () => {
    expect(['nvme10', 'nvme2', 'nvme1', 'nvme1n10', 'nvme1n2'].sort(naturalCompare)).toEqual([
      'nvme1',
      'nvme1n2',
      'nvme1n10',
      'nvme2',
      'nvme10',
    ]);
  });

  it('lists controllers in natural order and tolerates junk', async () => {
    const sys = path.join(tmpDir(), 'sys');
    ctrl(sys, 'nvme10', {
      transport: 'tcp',
      address: 'traddr=1.2.3.4,trsvcid=4420',
      subsysnqn: 'nqn.a',
      state: 'live',
      cntlid: '3',
    });
    ctrl(sys, 'nvme2', {
      transport: 'pcie',
      address: '0000:01:00.0',
      subsysnqn: 'nqn.p',
      state: 'live',
      cntlid: 'garbage',
    });
    ctrl(sys, 'nvme3', {
      transport: 'tcp',
      subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery',
      state: 'live\u0007',
    });
    ctrl(sys, 'nvme4', { address: 'traddr=x' }); // no transport: half-removed
    ctrl(sys, 'nvme5', { transport: 'tcp\u0000junk\u00ff', subsysnqn: 'x' });
    ctrl(sys, 'nvme6', { transport: 'rdma', subsysnqn: 'nqn.b', cntrltype: 'discovery' });
    ctrl(sys, 'nvme-fabrics', { transport: 'tcp' });
    ctrl(sys, 'nvme07', { transport: 'tcp' });
    fs.writeFileSync(path.join(sys, 'class', 'nvme', 'nvme8'), 'a file, not a dir');
    fs.symlinkSync('nvme9', path.join(sys, 'class', 'nvme', 'nvme9')); // loop
    fs.symlinkSync('/nonexistent/x', path.join(sys, 'class', 'nvme', 'nvme11')); // dangling
    fs.mkdirSync(path.join(sys, 'class', 'nvme', 'nvme12', 'transport'), { recursive: true }); // attribute is a dir
    const list = await sysfs.listControllers(sys);
    expect(list.map((c) => c.device)).toEqual(['nvme2', 'nvme3', 'nvme6', 'nvme10']);
    const [pcie, disc, disc2, tcp] = list;
    expect(pcie).toMatchObject({ fabrics: false, address: {}, cntlid: null, rawAddress: '0000:01:00.0' });
    expect(disc).toMatchObject({ subsystemType: 'discovery', state: 'unknown', hostnqn: null });
    expect(disc2).toMatchObject({ subsystemType: 'discovery', transport: 'rdma' });
    expect(tcp).toMatchObject({
      instance: 10,
      fabrics: true,
      cntlid: 3,
      address: { traddr: '1.2.3.4', trsvcid: '4420' },
      subsystemType: 'unknown',
    });
    // one subsystem's controllers: the same records, the others left out (junk NQNs match nothing)
    expect(await sysfs.listControllers(sys, { subsysnqn: 'nqn.a' })).toEqual([tcp]);
    expect(await sysfs.listControllers(sys, { subsysnqn: 'nqn.2014-08.org.nvmexpress.discovery' })).toEqual([
      disc,
    ]);
    expect(await sysfs.listControllers(sys, { subsysnqn: 'x' })).toEqual([]);
    expect(await sysfs.listControllers(sys, { subsysnqn: 'nqn.none' })).toEqual([]);
    for (const bad of [{ subsysnqn: 5 }, {}, 'nqn.a', null]) {
      await expect(sysfs.listControllers(sys, bad as never)).rejects.toMatchObject({
        code: 'EINVALID_OPTION',
        message: expect.stringMatching(/^listControllers: /),
      });
    }
    expect(await sysfs.readController(sys, 'nvme99')).toBeNull();
    await expect(sysfs.readController(sys, 'nvme/../x')).rejects.toMatchObject({ code: 'EINVALID_DEVICE' });
    expect(await sysfs.listControllers(path.join(tmpDir(), 'none'))).toEqual([]);
  });

  it('subsystem type from the subsystem when the controller does not say', async () => {
    const sys = path.join(tmpDir(), 'sys');
    ctrl(sys, 'nvme1', { transport: 'tcp', subsysnqn: 'nqn.c' });
    const sub = path.join(sys, 'class', 'nvme-subsystem', 'nvme-subsys1');
    fs.mkdirSync(sub, { recursive: true });
    fs.writeFileSync(path.join(sub, 'subsystype'), 'nvm\n');
    fs.symlinkSync('../../nvme/nvme1', path.join(sub, 'nvme1'));
    expect((await sysfs.readController(sys, 'nvme1'))?.subsystemType).toBe('nvm');
  });

  it('namespaces: multipath per-path dirs map to heads; non-multipath names are used directly', async () => {
    const sys = path.join(tmpDir(), 'sys');
    const d = ctrl(sys, 'nvme3', { transport: 'tcp' });
    for (const n of ['nvme1c3n2', 'nvme1c3n10', 'nvme1c3n1', 'nvme3n5', 'nvme1c4n1', 'nvme4n1', 'ng3n1'])
      fs.mkdirSync(path.join(d, n));
    expect(await sysfs.namespaces(sys, 'nvme3')).toEqual(['nvme1n1', 'nvme1n2', 'nvme1n10', 'nvme3n5']);
    await expect(sysfs.namespaces(sys, 'nvme9')).rejects.toMatchObject({ code: 'ENO_CONTROLLER' });
  });

  it('uevent seqnum must be a decimal', () => {
    const sys = path.join(tmpDir(), 'sys');
    expect(() => sysfs.readUeventSeqnum(sys)).toThrow(/cannot read/);
    fs.mkdirSync(path.join(sys, 'kernel'), { recursive: true });
    fs.writeFileSync(path.join(sys, 'kernel', 'uevent_seqnum'), '12345\n');
    expect(sysfs.readUeventSeqnum(sys)).toBe(12345);
    for (const junk of ['', '-1', '12a', '1e5', '99999999999999999999']) {
      fs.writeFileSync(path.join(sys, 'kernel', 'uevent_seqnum'), junk);
      expect(() => sysfs.readUeventSeqnum(sys), junk).toThrow(/not a decimal/);
    }
  });

  it('device nodes by lstat; names validated', () => {
    const dev = path.join(tmpDir(), 'dev');
    fs.mkdirSync(dev);
    fs.writeFileSync(path.join(dev, 'nvme1'), '');
    fs.symlinkSync('/nonexistent', path.join(dev, 'nvme2n1'));
    expect(sysfs.deviceNodeExists(dev, 'nvme1')).toBe(true);
    expect(sysfs.deviceNodeExists(dev, 'nvme2')).toBe(false);
    expect(sysfs.blockDeviceExists(dev, 'nvme2n1')).toBe(true);
    expect(() => sysfs.deviceNodeExists(dev, '../nvme1')).toThrow(/not a controller name/);
    expect(() => sysfs.blockDeviceExists(dev, 'sda')).toThrow(/not an NVMe block device/);
  });
});
