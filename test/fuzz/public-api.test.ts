import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as engineInternals from '../../src/engine/index.js';
import * as front from '../../src/index.js';
import { NvmfError } from '../../src/index.js';
import * as simInternals from '../../src/kernel/sim.js';
import * as registryInternals from '../../src/registry/index.js';
import * as rootsInternals from '../../src/roots.js';
import * as simEntry from '../../src/sim.js';
import { makeSim, type SimHost } from '../engine/sim-helpers.js';
import { type Sandbox, sandbox } from '../registry/helpers.js';

/**
 * The package's entries (src/index.ts, src/sim.ts) and the internals behind them that used
 * to be public, in one namespace: the fuzz keeps covering both.
 */
const api = {
  ...engineInternals,
  ...registryInternals,
  ...rootsInternals,
  ...simInternals,
  ...front,
  ...simEntry,
};

/**
 * Every public function (src/index.ts, src/sim.ts and the methods of their classes) fed arbitrary values:
 * it succeeds or throws NvmfError, never another error, and writes nothing outside the
 * temp roots it was given.
 */

/** Values that broke message builders and type assumptions: BigInts, symbols, cycles, traps. */
function specials(): unknown[] {
  const cyclic: Record<string, unknown> = { owner: 'a' };
  cyclic['self'] = cyclic;
  const throwingGetter = Object.defineProperty({}, 'owner', {
    enumerable: true,
    get() {
      throw new Error('getter');
    },
  });
  const throwingToString = {
    toString() {
      throw new Error('toString');
    },
    toJSON() {
      throw new Error('toJSON');
    },
    valueOf() {
      throw new Error('valueOf');
    },
  };
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  const trap = new Proxy(
    {},
    {
      get() {
        throw new Error('trap');
      },
      has() {
        throw new Error('trap');
      },
      ownKeys() {
        throw new Error('trap');
      },
    },
  );
  return [
    1n,
    -5n,
    2n ** 70n,
    Symbol('s'),
    Object.create(null),
    cyclic,
    throwingGetter,
    throwingToString,
    revoked,
    trap,
    { owner: 'a', seqnum: 5n },
    { expect: 1n },
    { seqnum: 2n },
    { graceMs: 1n },
    { roots: { registry: 1n } },
    { owner: Symbol('o') },
    NaN,
    Infinity,
    -1,
    '',
    'nvme0',
    'nvme1',
    'nvme01',
    '../x',
    'owner',
    'seqnum',
    'a\nb',
    [],
    [1n],
    new Map(),
    () => 1,
  ];
}

const SPECIALS = specials();
class Special {
  constructor(readonly index: number) {}
  toString(): string {
    return `special #${this.index}`;
  }
}
const anything = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.anything({
      withBigInt: true,
      withBoxedValues: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withTypedArray: true,
      withDate: true,
      withSparseArray: true,
    }),
  },
  // by index, swapped in at the call: fast-check inspects the values it makes, and the
  // traps of these would throw at that
  { weight: 2, arbitrary: fc.nat(SPECIALS.length - 1).map((i) => new Special(i)) },
  { weight: 1, arbitrary: fc.bigInt() },
  {
    weight: 1,
    arbitrary: fc.record(
      { owner: fc.anything({ withBigInt: true }), seqnum: fc.anything({ withBigInt: true }) },
      { requiredKeys: [] },
    ),
  },
);
async function outcome(call: () => unknown): Promise<unknown> {
  try {
    await call();
    return null;
  } catch (e) {
    return e;
  }
}

/** The property: every call ends in success or NvmfError. */
async function check(
  name: string,
  arity: number,
  call: (...args: unknown[]) => unknown,
  runs = 300,
  args?: fc.Arbitrary<unknown>[],
): Promise<void> {
  const arbs = args ?? Array.from({ length: arity }, () => anything);
  await fc.assert(
    fc.asyncProperty(fc.tuple(...arbs), async (values) => {
      const e = await outcome(() =>
        call(...values.map((v) => (v instanceof Special ? SPECIALS[v.index] : v))),
      );
      if (e !== null && !(e instanceof NvmfError)) {
        throw new Error(`${name} threw ${e instanceof Error ? `${e.name}: ${e.message}` : typeof e}`);
      }
    }),
    { numRuns: runs },
  );
}

/** Every file and directory under `dir`, relative. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, n.name);
      out.push(path.relative(dir, p));
      if (n.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

let sb: Sandbox;
let cwd: string;
let work: string;
beforeAll(() => {
  sb = sandbox();
  // Relative paths a bug might write to land here, and are checked for.
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-fuzz-cwd-'));
  cwd = process.cwd();
  process.chdir(work);
});
afterAll(() => {
  process.chdir(cwd);
  sb.cleanup();
  fs.rmSync(work, { recursive: true, force: true });
});

describe('the registry', () => {
  it('the reported crashers are NvmfErrors with stable codes and messages that name the value', () => {
    const reg = sb.open();
    const codeOf = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(NvmfError);
        return `${(e as NvmfError).code}: ${(e as NvmfError).message}`;
      }
      return 'ok';
    };
    expect(codeOf(() => reg.create('nvme0', { owner: 'a', seqnum: 5n as never }))).toMatch(
      /^EINVALID_VALUE: invalid seqnum 5n/,
    );
    expect(codeOf(() => reg.read(1n as never))).toMatch(/^EINVALID_DEVICE: invalid device name 1n/);
    expect(codeOf(() => reg.claim('nvme0', 2n as never))).toMatch(/^EINVALID_OWNER: invalid owner 2n/);
    expect(codeOf(() => reg.claim('nvme0', 'a', { expect: 3n as never }))).toMatch(/^EINVALID_OWNER/);
    expect(codeOf(() => reg.gc({ graceMs: 1n as never }))).toMatch(/^EINVALID_OPTION: gc: option graceMs/);
    expect(codeOf(() => api.Registry.open({ audit: { record() {} }, lockTimeoutMs: 1n as never }))).toMatch(
      /^EINVALID_OPTION: Registry.open: option lockTimeoutMs/,
    );
    expect(codeOf(() => api.Registry.open({} as never))).toMatch(
      /^EINVALID_OPTION: Registry.open: audit is required/,
    );
    expect(codeOf(() => reg.create('nvme0', SPECIALS[7] as never))).toMatch(/^EINVALID_OWNER/);
    expect(codeOf(() => reg.create('nvme0', SPECIALS[6] as never))).toMatch(
      /^EINVALID_OPTION: create: option owner cannot be read/,
    );
    expect(codeOf(() => reg.read(SPECIALS[5] as never))).toMatch(
      /^EINVALID_DEVICE: invalid device name an object/,
    );
  });

  it('Registry.open and every method: success or NvmfError, nothing written outside the root', async () => {
    const outside = tree(sb.base);
    const reg = sb.open();
    reg.create('nvme0', { owner: 'a', seqnum: 1 });
    await check('Registry.open', 1, (o) => api.Registry.open(o as front.RegistryOptions));
    await check('read', 1, (d) => reg.read(d as string));
    await check('readAttr', 2, (d, a) => reg.readAttr(d as string, a as string));
    await check('create', 2, (d, i) => reg.create(d as string, i as never));
    await check('setAttr', 3, (d, a, v) => reg.setAttr(d as string, a as string, v as string));
    await check('unsetAttr', 2, (d, a) => reg.unsetAttr(d as string, a as string));
    await check('claim', 3, (d, o, x) => reg.claim(d as string, o as string, x as never));
    await check('disown', 2, (d, x) => reg.disown(d as string, x as never));
    await check('delete', 1, (d) => reg.delete(d as string));
    await check('gc', 1, (o) => reg.gc(o as never));
    await check('beginConnect', 2, (t, o) => reg.beginConnect(t as never, o as string).end());
    await check('list', 0, () => reg.list(), 20);
    await check('list', 1, (o) => reg.list(o as never), 50);
    await check('verdict', 2, (d, c) => reg.verdict(d as string, c as never));
    await check('liveIntents', 0, () => reg.liveIntents(), 20);
    // the root and the directories above it are the registry's own
    const rel = path.relative(sb.base, sb.root);
    const ours = (p: string): boolean => p === rel || p.startsWith(`${rel}/`) || rel.startsWith(`${p}/`);
    expect(tree(sb.base).filter((p) => !ours(p))).toEqual(outside);
    expect(tree(work)).toEqual([]);
  }, 300_000);

  it('the functions of names, errors, roots and intents', async () => {
    await check('checkDevice', 1, api.checkDevice);
    await check('checkAttr', 1, api.checkAttr);
    await check('checkOwner', 1, api.checkOwner);
    await check('checkValue', 2, api.checkValue as (...a: unknown[]) => unknown);
    await check('isDevice', 1, api.isDevice);
    await check('isAttr', 1, api.isAttr);
    await check('isOwner', 1, api.isOwner);
    await check('ownerProblem', 1, api.ownerProblem);
    await check('valueProblem', 1, api.valueProblem);
    await check('quote', 1, api.quote);
    await check('naturalCompare', 2, api.naturalCompare as (...a: unknown[]) => unknown);
    await check('errnoOf', 1, api.errnoOf);
    await check('isNvmfError', 2, api.isNvmfError as (...a: unknown[]) => unknown);
    await check(
      'new NvmfError',
      4,
      (c, m, d, o) => new NvmfError(c as never, m as string, d as never, o as never),
    );
    await check('rootsFromEnv', 2, api.rootsFromEnv as (...a: unknown[]) => unknown);
    await check('ueventSeqnumPath', 1, api.ueventSeqnumPath as (...a: unknown[]) => unknown);
    await check('intentMatches', 2, api.intentMatches as (...a: unknown[]) => unknown);
    await check('pidAlive', 1, api.pidAlive as (...a: unknown[]) => unknown);
    expect(tree(work)).toEqual([]);
  }, 300_000);
});

describe('the engine on the simulated kernel', () => {
  let h: SimHost;
  beforeAll(async () => {
    h = await makeSim();
  });
  afterAll(() => h.close());

  it('the Engine class and the engine functions', async () => {
    const engine = new api.Engine({ kernel: h.kernel, registry: h.registry, audit: { record() {} } });
    await check('new Engine', 1, (o) => new api.Engine(o as never));
    await check('Engine.connect', 2, (i, r) => engine.connect(i as never, r as never), 100);
    await check('Engine.discover', 2, (i, r) => engine.discover(i as never, r as never), 100);
    await check('Engine.connectAll', 2, (i, r) => engine.connectAll(i as never, r as never), 100);
    await check('Engine.connectNbft', 1, (r) => engine.connectNbft(r as never), 100);
    await check('Engine.disconnect', 1, (d) => engine.disconnect(d as string), 100);
    await check('Engine.disconnectAll', 2, (p, o) => engine.disconnectAll(p as never, o as never), 100);
    await check('connect', 3, (c, i, r) => api.connect(c as never, i as never, r as never), 100);
    await check('discover', 3, (c, i, r) => api.discover(c as never, i as never, r as never), 100);
    await check('connectAll', 3, (c, i, r) => api.connectAll(c as never, i as never, r as never), 100);
    await check('waitReady', 3, (c, d, t) => api.waitReady(c as never, d as string, t as number), 100);
    await check('trtypeName', 1, api.trtypeName as (...a: unknown[]) => unknown);
    await check('trtypeOf', 1, api.trtypeOf as (...a: unknown[]) => unknown);
    await check('decodeDiscoveryLog', 1, api.decodeDiscoveryLog as (...a: unknown[]) => unknown);
    await check('encodeDiscoveryLog', 1, api.encodeDiscoveryLog as (...a: unknown[]) => unknown);
    await check('discoveryEntry', 1, api.discoveryEntry as (...a: unknown[]) => unknown);
    await check('nqnProblem', 1, api.nqnProblem as (...a: unknown[]) => unknown);
    await check('parseConnectOptions', 1, api.parseConnectOptions as (...a: unknown[]) => unknown);
    await check('parseOptionString', 1, api.parseOptionString as (...a: unknown[]) => unknown);
    await check('parseSupportedOptions', 1, api.parseSupportedOptions as (...a: unknown[]) => unknown);
    await check('buildOptionString', 2, api.buildOptionString as (...a: unknown[]) => unknown);
    await check('redactOptionString', 1, api.redactOptionString as (...a: unknown[]) => unknown);
    await check('redactOptions', 1, api.redactOptions as (...a: unknown[]) => unknown);
    await check('targetIdentity', 1, api.targetIdentity as (...a: unknown[]) => unknown);
    await check('targetKey', 1, api.targetKey as (...a: unknown[]) => unknown);
    await check('targetMatches', 2, api.targetMatches as (...a: unknown[]) => unknown);
    await check('checkPolicy', 1, api.checkPolicy as (...a: unknown[]) => unknown);
    await check('planDisconnectAll', 4, api.planDisconnectAll as (...a: unknown[]) => unknown);
    await check('mapPool', 3, api.mapPool as (...a: unknown[]) => unknown);
    const ctx = { kernel: h.kernel, registry: h.registry, audit: { record() {} } };
    await check('disconnect', 2, (c, d) => api.disconnect(c as never, d as string), 100);
    await check('disconnect (context)', 1, (d) => api.disconnect(ctx, d as string), 100);
    await check('snapshotForDisconnectAll', 1, (c) => api.snapshotForDisconnectAll(c as never), 100);
    await check('planFromHost', 2, (c, p) => api.planFromHost(c as never, p as never), 100);
    await check('planFromHost (context)', 1, (p) => api.planFromHost(ctx, p as never), 100);
    await check('disconnectAll', 3, (c, p, o) => api.disconnectAll(c as never, p as never, o as never), 100);
    await check('disconnectAll (context)', 2, (p, o) => api.disconnectAll(ctx, p as never, o as never), 100);
    await check('executeDisconnectAll', 2, (i, d) => api.executeDisconnectAll(i as never, d as never), 100);
    await check('executeDisconnectAll (deps)', 1, (i) => api.executeDisconnectAll(i as never, ctx), 100);
    await check('Registry.withLock', 2, (d, f) => h.registry.withLock(d as string, f as never), 100);
    expect(tree(work)).toEqual([]);
  }, 600_000);

  it('the simulated kernel: SimKernel and its methods, simInit, simUdevSettle, simNbft, kernelFromEnv', async () => {
    const k = h.kernel as simEntry.SimKernel;
    await check('new SimKernel', 1, (o) => new api.SimKernel(o as never).close(), 100);
    await check('SimKernel.connect', 1, (o) => k.connect(o as string), 100);
    await check('SimKernel.controller', 1, (d) => k.controller(d as string), 100);
    await check('SimKernel.deviceNodeExists', 1, (d) => k.deviceNodeExists(d as string), 100);
    await check('SimKernel.namespaces', 1, (d) => k.namespaces(d as string), 100);
    await check('SimKernel.blockDeviceExists', 1, (d) => k.blockDeviceExists(d as string), 100);
    await check('SimKernel.deleteController', 1, (d) => k.deleteController(d as string), 100);
    await check('SimKernel.discoveryLogPage', 1, (d) => k.discoveryLogPage(d as string), 100);
    await check('SimKernel.nbftTables', 0, () => k.nbftTables(), 5);
    await check(
      'simInit',
      2,
      (d, o) => api.simInit(typeof d === 'string' ? path.join(sb.base, 'sims') : (d as string), o as never),
      100,
    );
    await check('simInit (targets)', 1, (o) => api.simInit(path.join(sb.base, 'sim-t'), o as never), 100);
    await check('simUdevSettle', 2, (d, o) => api.simUdevSettle(d as string, o as never), 100);
    await check('simUdevSettle (dir)', 1, (o) => api.simUdevSettle(h.dir, o as never), 100);
    await check('simNbft', 3, (d, f, o) => api.simNbft(d as string, f as string, o as never), 100);
    await check('simNbft (dir)', 2, (f, o) => api.simNbft(h.dir, f as string, o as never), 100);
    await check('kernelFromEnv', 1, (e) => api.kernelFromEnv(e as never), 100);
    await check('defaultSleep', 1, (ms) =>
      api.defaultSleep(typeof ms === 'number' ? Math.min(ms, 5) : (ms as number)),
    );
    expect(tree(work)).toEqual([]);
  }, 600_000);
  it('the front door: openHost, hostIdentity, LinuxKernel and its methods, watchRegistry', async () => {
    const env = {
      NVMF_KERNEL: `sim:${h.dir}`,
      NVMF_AUDIT_SINK: 'off',
      NVMF_ETC_ROOT: path.join(sb.base, 'etc'),
    };
    await check('openHost', 1, (o) => api.openHost(o as never), 100);
    await check('openHost (env)', 1, (e) => api.openHost({ env: e as never, audit: { record() {} } }), 100);
    const opened = await api.openHost({ env });
    expect(opened.kernel.kind).toBe('sim');
    expect(opened.registry.root).toBe(simEntry.simRoots(h.dir).registry);
    await check('hostIdentity', 1, (e) => api.hostIdentity(e as never), 100);
    const roots = { sysfs: path.join(sb.base, 'sys'), dev: path.join(sb.base, 'dev') };
    await check('new LinuxKernel', 1, (o) => new api.LinuxKernel(o as never), 100);
    const k = new api.LinuxKernel({ roots });
    await check('LinuxKernel.connect', 1, (o) => k.connect(o as string), 100);
    await check('LinuxKernel.controller', 1, (d) => k.controller(d as string), 100);
    await check('LinuxKernel.deviceNodeExists', 1, (d) => k.deviceNodeExists(d as string), 100);
    await check('LinuxKernel.namespaces', 1, (d) => k.namespaces(d as string), 100);
    await check('LinuxKernel.blockDeviceExists', 1, (d) => k.blockDeviceExists(d as string), 100);
    await check('LinuxKernel.deleteController', 1, (d) => k.deleteController(d as string), 100);
    await check('LinuxKernel.discoveryLogPage', 1, (d) => k.discoveryLogPage(d as string), 100);
    await check(
      'watchRegistry',
      2,
      async (r, o) => (await api.watchRegistry(r as string, o as never)).close(),
      50,
    );
    await check('defaultAuditor', 0, () => api.defaultAuditor(), 5);
    await check('checkWritableAttr', 1, api.checkWritableAttr as (...a: unknown[]) => unknown);
    await check('simRoots', 1, api.simRoots as (...a: unknown[]) => unknown);
    await check(
      'planFromHost (no registry)',
      1,
      (p) => api.planFromHost({ kernel: h.kernel }, p as never),
      100,
    );
    await check(
      'Registry.ownershipChange',
      3,
      (d, o, c) => h.registry.ownershipChange(d as string, o as never, c as never),
      100,
    );
    expect(tree(work)).toEqual([]);
  }, 600_000);

  it('names every runtime export of the package entries', () => {
    expect(api.NvmfError).toBe(NvmfError);
    const source = fs.readFileSync(new URL(import.meta.url), 'utf8');
    const names = [...Object.keys(front), ...Object.keys(simEntry)].filter((n) => !/^[A-Z_]+$/.test(n));
    for (const n of names) expect(source, n).toMatch(new RegExp(`api\\.${n}\\b`));
  });
});
