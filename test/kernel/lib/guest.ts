/**
 * Shared by the kernel scenarios. They run inside the QEMU guest (guest/main.sh sets
 * NVMF_KT_GUEST=1) as root, against the real /sys, /dev, /run and the nvmet target that
 * guest/target.sh exported.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

if (process.env.NVMF_KT_GUEST !== '1') {
  // On a developer's host these would connect to, and delete, the host's real controllers.
  throw new Error('kernel scenarios run only inside the test guest: use `npm run test:kernel`');
}

function envOrThrow(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: guest/target.sh did not run`);
  return v;
}

export const target = {
  nqn1: envOrThrow('KT_NQN1'),
  nqn2: envOrThrow('KT_NQN2'),
  traddr: envOrThrow('KT_TRADDR'),
  trsvcid: envOrThrow('KT_TRSVCID'),
  /** A second port, listening only while a subsystem is linked to it (dataTargetUp). */
  trsvcid2: envOrThrow('KT_TRSVCID2'),
  discoveryNqn: envOrThrow('KT_DISCOVERY_NQN'),
  nvmetPort: envOrThrow('KT_NVMET_PORT'),
  nvmetPort2: envOrThrow('KT_NVMET_PORT2'),
};

const NVMET_SUBSYSTEMS = '/sys/kernel/config/nvmet/subsystems';

function portLink(nqn: string): string {
  return path.join(target.nvmetPort, 'subsystems', nqn);
}

/**
 * Path loss: take subsystem `nqn` away from the target's port (nvmet deletes its controllers
 * there and refuses connects to it; the port keeps listening for the other subsystem).
 */
export function targetLinkDown(nqn: string): void {
  unlinkSync(portLink(nqn));
}

const SLOW_NULLB = '/sys/kernel/config/nullb/ktslow';
const SLOW_NQN = 'nqn.2014-08.org.nvmf-registry:kt-slow';
const NOPROBE_RULE = '/etc/udev/rules.d/00-kt-noprobe.rules';

/**
 * A third subsystem on the port, exported only while a test needs it: one namespace on a
 * configfs null_blk device (`/dev/ktslow`) that completes every I/O 3 s after it was issued,
 * so a read in flight holds a delete of its controller in namespace removal. udevd's probing
 * of its disks is switched off (its reads would hold `udevadm settle` for minutes); the
 * kernel's own partition scan still reads it. Returns its NQN.
 */
export function slowTargetUp(): string {
  writeFileSync(
    NOPROBE_RULE,
    `SUBSYSTEM=="block", ATTRS{subsysnqn}=="${SLOW_NQN}", ENV{UDEV_DISABLE_PERSISTENT_STORAGE_RULES_FLAG}="1"\n`,
  );
  execFileSync('udevadm', ['control', '--reload']);
  mkdirSync(SLOW_NULLB, { recursive: true });
  writeFileSync(`${SLOW_NULLB}/size`, '64');
  writeFileSync(`${SLOW_NULLB}/irqmode`, '2'); // completions from a timer ...
  writeFileSync(`${SLOW_NULLB}/completion_nsec`, '3000000000'); // ... 3 s later
  writeFileSync(`${SLOW_NULLB}/power`, '1');
  udevSettle();
  const sub = path.join(NVMET_SUBSYSTEMS, SLOW_NQN);
  mkdirSync(sub, { recursive: true });
  writeFileSync(`${sub}/attr_allow_any_host`, '1');
  mkdirSync(`${sub}/namespaces/1`, { recursive: true });
  writeFileSync(`${sub}/namespaces/1/device_path`, '/dev/ktslow');
  writeFileSync(`${sub}/namespaces/1/enable`, '1');
  targetLinkUp(SLOW_NQN);
  return SLOW_NQN;
}

/** Remove what slowTargetUp made (its controllers must be gone). */
export function slowTargetDown(): void {
  const sub = path.join(NVMET_SUBSYSTEMS, SLOW_NQN);
  if (lstatSync(portLink(SLOW_NQN), { throwIfNoEntry: false }) !== undefined) unlinkSync(portLink(SLOW_NQN));
  if (existsSync(`${sub}/namespaces/1`)) {
    writeFileSync(`${sub}/namespaces/1/enable`, '0');
    rmdirSync(`${sub}/namespaces/1`);
  }
  if (existsSync(sub)) rmdirSync(sub);
  if (existsSync(SLOW_NULLB)) {
    writeFileSync(`${SLOW_NULLB}/power`, '0');
    rmdirSync(SLOW_NULLB);
  }
  rmSync(NOPROBE_RULE, { force: true });
  execFileSync('udevadm', ['control', '--reload']);
}

/**
 * Start a direct read of the first namespace of `device` (through its multipath head) and
 * return once the read is in flight on the controller's path disk, after any earlier I/O (the
 * partition scan) finished; the returned function waits for the read to finish.
 */
export async function readInFlight(device: string): Promise<() => Promise<void>> {
  const pathDisk = readdirSync(`/sys/class/nvme/${device}`).find((x) => /^nvme\d+c\d+n1$/.test(x));
  if (!pathDisk) throw new Error(`${device} has no namespace`);
  const inflight = () => readFileSync(`/sys/block/${pathDisk}/inflight`, 'utf8').trim();
  const idle = (v: string) => /^0\s+0$/.test(v);
  const wait = async (what: string, cond: () => boolean) => {
    const end = Date.now() + 120_000;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`${pathDisk}: ${what} not reached`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await wait('no I/O in flight', () => idle(inflight()));
  const head = pathDisk.replace(/c\d+n/, 'n');
  const dd = spawn(
    'dd',
    [`if=/dev/${head}`, 'of=/dev/null', 'bs=4096', 'count=1', 'skip=100', 'iflag=direct'],
    {
      stdio: 'ignore',
    },
  );
  const done = new Promise<void>((resolve) => dd.on('exit', () => resolve()));
  await wait('the read in flight', () => !idle(inflight()));
  return () => done;
}

const DATA_NULLB = '/sys/kernel/config/nullb/ktdata';
const DATA_NQN = 'nqn.2014-08.org.nvmf-registry:kt-data';
const DATA_PORTS = () => [target.nvmetPort, target.nvmetPort2];

/**
 * A subsystem that can hold a filesystem, exported only while a test needs it, on both tcp
 * ports (trsvcid and trsvcid2), so two controllers to it are two paths of one namespace under
 * native multipath: one namespace on a memory-backed configfs null_blk device (`/dev/ktdata`,
 * 64 MiB; the module's nullb0 discards writes). The data survives its controllers, not
 * dataTargetDown. Returns its NQN.
 */
export function dataTargetUp(): string {
  if (!existsSync(DATA_NULLB)) {
    mkdirSync(DATA_NULLB, { recursive: true });
    writeFileSync(`${DATA_NULLB}/size`, '64');
    writeFileSync(`${DATA_NULLB}/memory_backed`, '1');
    writeFileSync(`${DATA_NULLB}/power`, '1');
    udevSettle();
  }
  const sub = path.join(NVMET_SUBSYSTEMS, DATA_NQN);
  if (!existsSync(`${sub}/namespaces/1`)) {
    mkdirSync(`${sub}/namespaces/1`, { recursive: true });
    writeFileSync(`${sub}/attr_allow_any_host`, '1');
    writeFileSync(`${sub}/namespaces/1/device_path`, '/dev/ktdata');
    writeFileSync(`${sub}/namespaces/1/enable`, '1');
  }
  for (const port of DATA_PORTS()) {
    const link = path.join(port, 'subsystems', DATA_NQN);
    if (lstatSync(link, { throwIfNoEntry: false }) === undefined) symlinkSync(sub, link);
  }
  return DATA_NQN;
}

/** Remove what dataTargetUp made (its controllers must be gone); port 2 stops listening. */
export function dataTargetDown(): void {
  for (const port of DATA_PORTS()) {
    const link = path.join(port, 'subsystems', DATA_NQN);
    if (lstatSync(link, { throwIfNoEntry: false }) !== undefined) unlinkSync(link);
  }
  const sub = path.join(NVMET_SUBSYSTEMS, DATA_NQN);
  if (existsSync(`${sub}/namespaces/1`)) {
    writeFileSync(`${sub}/namespaces/1/enable`, '0');
    rmdirSync(`${sub}/namespaces/1`);
  }
  if (existsSync(sub)) rmdirSync(sub);
  if (existsSync(DATA_NULLB)) {
    writeFileSync(`${DATA_NULLB}/power`, '0');
    rmdirSync(DATA_NULLB);
  }
}

/** Give subsystem `nqn` back to the port (nothing to do when it is linked). */
export function targetLinkUp(nqn: string): void {
  if (lstatSync(portLink(nqn), { throwIfNoEntry: false }) === undefined)
    symlinkSync(path.join(NVMET_SUBSYSTEMS, nqn), portLink(nqn));
}

export const REGISTRY_ROOT = '/run/nvme/registry';

/** The option string for a tcp connect to our target, as written to /dev/nvme-fabrics. */
export function tcpOptions(nqn: string, extra = ''): string {
  return `transport=tcp,traddr=${target.traddr},trsvcid=${target.trsvcid},nqn=${nqn}${extra ? `,${extra}` : ''}`;
}

export interface RawReply {
  instance: number;
  cntlid: number;
  raw: string;
}

/**
 * A connect straight through /dev/nvme-fabrics, with no project code in between: the ground
 * truth the adapters are compared with. Throws the kernel's errno as `err.code`.
 */
export function rawConnect(options: string): RawReply {
  const fd = openSync('/dev/nvme-fabrics', 'r+');
  try {
    writeSync(fd, options);
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, null);
    const raw = buf.subarray(0, n).toString('utf8');
    const m = /^instance=(\d+),cntlid=(\d+)\n?$/.exec(raw);
    if (!m) throw new Error(`unexpected connect reply ${JSON.stringify(raw)}`);
    return { instance: Number(m[1]), cntlid: Number(m[2]), raw };
  } finally {
    closeSync(fd);
  }
}

export function rawDelete(device: string): void {
  writeFileSync(`/sys/class/nvme/${device}/delete_controller`, '1');
}

export function errnoOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
}

export function seqnum(): number {
  return Number(readFileSync('/sys/kernel/uevent_seqnum', 'utf8').trim());
}

export function controllers(): string[] {
  if (!existsSync('/sys/class/nvme')) return [];
  return readdirSync('/sys/class/nvme')
    .filter((d) => /^nvme\d+$/.test(d))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
}

export function attr(device: string, name: string): string | null {
  try {
    return readFileSync(`/sys/class/nvme/${device}/${name}`, 'utf8').trim();
  } catch {
    return null;
  }
}

export function udevSettle(): void {
  execFileSync('udevadm', ['settle', '-t', '60']);
}

/**
 * Delete every fabrics controller, let udevd finish, and empty the registry: a clean slate
 * (with both subsystems linked to the port again, should a path-loss scenario have failed).
 */
export function resetHost(): void {
  targetLinkUp(target.nqn1);
  targetLinkUp(target.nqn2);
  for (const d of controllers()) {
    if (attr(d, 'transport') === 'pcie') continue;
    try {
      rawDelete(d);
    } catch (e) {
      // a controller that is already going away vanishes under us
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  udevSettle();
  rmSync(REGISTRY_ROOT, { recursive: true, force: true });
}

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export const CLI = path.join(PROJECT, 'build/src/cli/main.js');

/** Runs the built `nvmf` CLI with the guest's real roots (`env` adds to the environment). */
export function nvmf(args: string[], input?: string, env: Record<string, string> = {}): CliResult {
  requirePath(CLI, 'the nvmf CLI (npm run build; src/cli/main.ts)');
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    input: input ?? '',
    env: { ...process.env, NVMF_KERNEL: '', ...env },
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function nvmfJson<T>(args: string[], env: Record<string, string> = {}): T {
  const r = nvmf([...args, '-o', 'json'], undefined, env);
  if (r.status !== 0) throw new Error(`nvmf ${args.join(' ')} exited ${r.status}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

/** A scenario whose dependency has not landed fails here, saying what is missing. */
export function requirePath(p: string, what: string): void {
  if (!existsSync(p)) throw new Error(`NOT YET PRESENT: ${what} (${path.relative(PROJECT, p)} is missing)`);
}

/** Dynamic import of a project module that another part of the work provides. */
export async function requireModule<T>(rel: string, what: string): Promise<T> {
  const p = path.join(PROJECT, rel);
  requirePath(p, what);
  return (await import(p)) as T;
}

/**
 * The udev helper's journal records for one device from remove events after `sinceSeqnum`
 * (names are recycled, and the journal spans the whole boot).
 */
export function helperJournal(device: string, sinceSeqnum: number): Array<Record<string, string>> {
  // journald reads its sockets asynchronously; --sync returns once what was sent is stored
  execFileSync('journalctl', ['--sync']);
  const out = execFileSync(
    'journalctl',
    ['-t', 'nvmf-registry', `NVMF_DEVICE=${device}`, '-o', 'json', '--no-pager'],
    {
      encoding: 'utf8',
    },
  );
  return out
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, string>)
    .filter((r) => r['NVMF_BY'] === 'udev' && Number(r['NVMF_SEQNUM']) > sinceSeqnum);
}

/** `-t tcp -a ADDR -s PORT -n NQN`: the CLI's connect arguments for our target. */
export function tcpArgs(nqn: string): string[] {
  return ['-t', 'tcp', '-a', target.traddr, '-s', target.trsvcid, '-n', nqn];
}

export interface RegistryFiles {
  owner: string | null;
  seqnum: number | null;
}

/** An entry as it is on disk (read without the library), or null when there is none. */
export function entryOnDisk(device: string): RegistryFiles | null {
  const dir = path.join(REGISTRY_ROOT, device);
  if (!existsSync(dir)) return null;
  const read = (f: string) => {
    try {
      return readFileSync(path.join(dir, f), 'utf8').replace(/\n$/, '');
    } catch {
      return null;
    }
  };
  const s = read('seqnum');
  return { owner: read('owner'), seqnum: s === null ? null : Number(s) };
}

/** Registry entries on disk (names only, hidden ones excluded). */
export function entriesOnDisk(): string[] {
  if (!existsSync(REGISTRY_ROOT)) return [];
  return readdirSync(REGISTRY_ROOT)
    .filter((d) => /^nvme\d+$/.test(d))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
}

export interface ConnectJson {
  device: string;
  cntlid: number | null;
  owner: string | null;
  reused: boolean;
  namespaces: string[];
}
