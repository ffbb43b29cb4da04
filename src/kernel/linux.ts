import fs from 'node:fs';
import path from 'node:path';
import {
  checkOptionalFunction,
  checkOptionalNumber,
  checkOptionalString,
  checkOptions,
  checkRecord,
  describe,
  invalidOption,
} from '../args.js';
import { errnoOf, NvmfError } from '../errors.js';
import { DEFAULT_ROOTS, type Roots } from '../roots.js';
import { type HostSnapshot, readHostSnapshot, readHostSnapshotOf } from './block.js';
import { type DiscoveryReadOptions, readDiscoveryLog } from './admin-cmd.js';
import { describeTarget, isGoneErrno, kernelError } from './errno.js';
import { type AdminIoctl, discoveryReader, loadAdminIoctl } from './ioctl.js';
import type { ConnectReply, ControllerFilter, ControllerInfo, Kernel, LiveControllerFacts } from './port.js';
import { readBootId } from './host-facts.js';
import { type NbftTableRead, readNbftTables } from './nbft.js';
import * as sysfs from './sysfs.js';
import { parseSupportedOptions } from '../nvme/options.js';

export interface LinuxKernelOptions {
  /** `proc` defaults to `/proc`. */
  roots: Pick<Roots, 'sysfs' | 'dev'> & Partial<Pick<Roots, 'proc'>>;
  /** Inject the admin ioctl (tests); default loads koffi on first discovery. */
  adminIoctl?: () => Promise<AdminIoctl>;
  discovery?: DiscoveryReadOptions;
}

const REPLY_RE = /^instance=(0|[1-9][0-9]{0,8}),cntlid=(0|[1-9][0-9]{0,4})\n?$/;

/** Parse the fabrics reply strictly: anything but `instance=N,cntlid=M` is a kernel we do not understand. */
export function parseConnectReply(text: string): ConnectReply {
  const m = REPLY_RE.exec(text.replace(/\0+$/, ''));
  if (!m || Number(m[2]) > 0xffff) {
    throw new NvmfError(
      'EKERNEL',
      `unexpected reply from /dev/nvme-fabrics: "${text.slice(0, 80).replace(/[^\x20-\x7e]/g, '?')}"; expected instance=N,cntlid=M`,
      { errno: 'EPROTO' },
    );
  }
  return { instance: Number(m[1]), cntlid: Number(m[2]) };
}

export { parseSupportedOptions } from '../nvme/options.js';

export class LinuxKernel implements Kernel {
  readonly kind: 'linux' | 'sim' = 'linux';
  readonly roots: Pick<Roots, 'sysfs' | 'dev' | 'proc'>;
  private readonly ioctl: () => Promise<AdminIoctl>;
  private readonly discoveryOptions: DiscoveryReadOptions;

  constructor(o: LinuxKernelOptions) {
    const what = 'new LinuxKernel';
    const r = checkRecord(o, what, ['roots', 'adminIoctl', 'discovery']);
    const roots = checkRecord(r.roots, `${what} roots`, ['sysfs', 'dev', 'proc']);
    const sysfsRoot = checkOptionalString(roots.sysfs, what, 'roots.sysfs');
    const devRoot = checkOptionalString(roots.dev, what, 'roots.dev');
    const procRoot = checkOptionalString(roots.proc, what, 'roots.proc');
    if (!sysfsRoot || !devRoot) throw invalidOption(what, 'roots.sysfs and roots.dev must be paths');
    if (procRoot === '') throw invalidOption(what, 'roots.proc must be a path');
    this.roots = { sysfs: sysfsRoot, dev: devRoot, proc: procRoot ?? DEFAULT_ROOTS.proc };
    this.ioctl =
      checkOptionalFunction<() => Promise<AdminIoctl>>(r.adminIoctl, what, 'adminIoctl') ?? loadAdminIoctl;
    const d = checkOptions(r.discovery, `${what} discovery`, ['chunk', 'maxRetries', 'maxRecords']);
    const discovery: DiscoveryReadOptions = {};
    for (const k of ['chunk', 'maxRetries', 'maxRecords'] as const) {
      const n = checkOptionalNumber(d[k], what, `discovery.${k}`, { min: 1, integer: true });
      if (n !== undefined) discovery[k] = n;
    }
    this.discoveryOptions = discovery;
  }

  get fabricsPath(): string {
    return path.join(this.roots.dev, 'nvme-fabrics');
  }

  async connect(options: string): Promise<ConnectReply> {
    if (typeof options !== 'string')
      throw invalidOption(
        'LinuxKernel.connect',
        `options must be an option string, got ${describe(options)}`,
      );
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(this.fabricsPath, fs.constants.O_RDWR);
    } catch (e) {
      throw kernelError('connect', e, `connect ${describeTarget(options)}`);
    }
    try {
      // fs.promises runs the blocking write on the libuv pool: the kernel answers only once
      // the controller is connected (or failed), which can take seconds.
      try {
        await fh.write(options, null, 'utf8');
      } catch (e) {
        throw kernelError('connect', e, `connect ${describeTarget(options)}`);
      }
      const buf = Buffer.alloc(256);
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        throw kernelError('read', e, `reading the connect reply for ${describeTarget(options)}`);
      }
      return parseConnectReply(buf.subarray(0, n).toString('latin1'));
    } finally {
      await fh.close().catch(() => undefined);
    }
  }

  async supportedOptions(): Promise<readonly string[] | null> {
    try {
      const text = await fs.promises.readFile(this.fabricsPath, 'latin1');
      const names = parseSupportedOptions(text);
      return names.length > 0 ? names : null;
    } catch {
      return null;
    }
  }

  listControllers(only?: ControllerFilter): Promise<ControllerInfo[]> {
    return sysfs.listControllers(this.roots.sysfs, only);
  }

  controller(device: string): Promise<ControllerInfo | null> {
    return sysfs.readController(this.roots.sysfs, device);
  }

  deviceNodeExists(device: string): boolean {
    return sysfs.deviceNodeExists(this.roots.dev, device);
  }

  liveController(device: string): LiveControllerFacts | null {
    return sysfs.readLiveController(this.roots.sysfs, device);
  }

  ueventSeqnum(): number {
    return sysfs.readUeventSeqnum(this.roots.sysfs);
  }

  /** This boot's id; null when /proc is not readable. */
  bootId(): string | null {
    return readBootId();
  }

  async deleteController(device: string): Promise<void> {
    sysfs.assertDevice(device);
    const file = path.join(sysfs.controllerDir(this.roots.sysfs, device), 'delete_controller');
    let fd: number;
    try {
      // Opening and closing a sysfs attribute do not wait for the kernel: only the write
      // does (it returns once the controller is gone), so only the write goes to the pool.
      // A close queued on the pool behind other deletes' writes can keep disconnect-all's
      // device lock for seconds after the remove event, past the udev helper's lock budget
      // (the helper then leaves the entry for gc). O_WRONLY without O_CREAT: a vanished
      // controller must fail, not create a file.
      fd = fs.openSync(file, fs.constants.O_WRONLY);
    } catch (e) {
      if (isGoneErrno(e)) {
        throw new NvmfError('ENO_CONTROLLER', `controller ${device} does not exist (already removed?)`, {
          device,
        });
      }
      throw kernelError('delete', e, `disconnect ${device}`, { device });
    }
    try {
      await new Promise<void>((resolve, reject) => {
        fs.write(fd, '1', null, 'latin1', (e) => (e ? reject(e) : resolve()));
      });
    } catch (e) {
      if (isGoneErrno(e)) {
        throw new NvmfError('ENO_CONTROLLER', `controller ${device} went away while being deleted`, {
          device,
        });
      }
      throw kernelError('delete', e, `disconnect ${device}`, { device });
    } finally {
      try {
        fs.closeSync(fd);
      } catch {
        // the controller is gone or going: nothing of ours is left open either way
      }
    }
  }

  namespaces(device: string): Promise<string[]> {
    return sysfs.namespaces(this.roots.sysfs, device);
  }

  hostSnapshot(devices?: readonly string[]): Promise<HostSnapshot> {
    if (devices === undefined) return readHostSnapshot(this.roots);
    for (const d of devices) sysfs.assertDevice(d);
    return readHostSnapshotOf(this.roots, devices);
  }

  blockDeviceExists(name: string): boolean {
    return sysfs.blockDeviceExists(this.roots.dev, name);
  }

  nbftTables(): Promise<NbftTableRead[]> {
    return readNbftTables(this.roots);
  }

  async discoveryLogPage(device: string): Promise<Uint8Array> {
    sysfs.assertDevice(device);
    const node = path.join(this.roots.dev, device);
    let fh: fs.promises.FileHandle;
    try {
      fh = await fs.promises.open(node, fs.constants.O_RDONLY);
    } catch (e) {
      if (isGoneErrno(e))
        throw new NvmfError('ENO_CONTROLLER', `controller ${device} has no device node ${node}`, { device });
      throw kernelError('discovery', e, `discovery log of ${device}`, { device });
    }
    try {
      const io = await this.ioctl();
      return await readDiscoveryLog(discoveryReader(io, fh.fd), this.discoveryOptions);
    } catch (e) {
      if (e instanceof NvmfError) throw e;
      if (errnoOf(e) !== undefined)
        throw kernelError('discovery', e, `discovery log of ${device}`, { device });
      throw new NvmfError(
        'EKERNEL',
        `discovery log of ${device}: ${e instanceof Error ? e.message : String(e)}`,
        {
          device,
        },
      );
    } finally {
      await fh.close().catch(() => undefined);
    }
  }
}
