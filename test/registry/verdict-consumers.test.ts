import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/audit/event.js';
import { connect } from '../../src/engine/connect.js';
import { planFromHost } from '../../src/engine/disconnect.js';
import { isNvmfError } from '../../src/errors.js';
import { SimKernel, simInit, simRoots } from '../../src/kernel/sim.js';
import { Registry } from '../../src/registry/registry.js';
import {
  BEING_WRITTEN_MS,
  type OwnershipVerdict,
  ownershipVerdict,
  verdictJson,
  verdictText,
} from '../../src/registry/verdict.js';
import { nvmf } from '../cli/helpers.js';

/**
 * Every odd on-disk state of an entry, run through every consumer of the ownership verdict
 * (registry list and read, list -v, the disconnect-all plan in its three modes and its
 * re-check, gc, claim --if-unowned, connect reuse): they must all agree with the one verdict
 * the row expects (DESIGN §4a). One simulated host holds one live controller per row.
 */

const NQN = (n: number): string => `nqn.2014-08.org.example:verdict${n}`;
const ADDR = { transport: 'tcp', traddr: '127.0.0.1', trsvcid: '4420' } as const;
/** The clock the in-process registry judges at: "recent" and "old" are relative to it. */
const T0 = Date.now();
const at = (ms: number): Date => new Date(ms);

type Expect =
  | { kind: 'owned'; owner: string }
  | { kind: 'unowned' }
  | { kind: 'unknown'; reason: RegExp }
  | { kind: 'previous'; reason: RegExp };

interface Row {
  name: string;
  /** Turn the entry of a controller connected with owner "stas" (identity recorded) into the state. */
  make(entry: string): void;
  expect: Expect;
}

const owner = (entry: string): string => path.join(entry, 'owner');
const root = process.getuid?.() === 0;

const ROWS: Row[] = [
  { name: 'owned (as connected)', make: () => {}, expect: { kind: 'owned', owner: 'stas' } },
  { name: 'no entry', make: (e) => fs.rmSync(e, { recursive: true }), expect: { kind: 'unowned' } },
  { name: 'missing owner file', make: (e) => fs.rmSync(owner(e)), expect: { kind: 'unowned' } },
  {
    name: 'empty owner "\\n" (libnvme update -V "")',
    make: (e) => fs.writeFileSync(owner(e), '\n'),
    expect: { kind: 'owned', owner: '' },
  },
  {
    name: '0-byte owner modified just now (a hand edit being written)',
    make: (e) => {
      fs.writeFileSync(owner(e), '');
      fs.utimesSync(owner(e), at(T0 - 2_000), at(T0 - 2_000));
    },
    expect: { kind: 'unknown', reason: /being written/ },
  },
  {
    name: '0-byte owner modified long ago (absent, as libnvme reads it)',
    make: (e) => {
      fs.writeFileSync(owner(e), '');
      fs.utimesSync(owner(e), at(T0 - 3_600_000), at(T0 - 3_600_000));
    },
    expect: { kind: 'unowned' },
  },
  {
    name: 'junk: control characters in the owner',
    make: (e) => fs.writeFileSync(owner(e), 'st\u0001as\n'),
    expect: { kind: 'unknown', reason: /^junk: / },
  },
  {
    name: 'symlinked owner file',
    make: (e) => {
      fs.rmSync(owner(e));
      fs.symlinkSync('/etc/hostname', owner(e));
    },
    expect: { kind: 'unknown', reason: /^unreadable: .*symlink/ },
  },
  {
    name: 'a directory instead of the owner file',
    make: (e) => {
      fs.rmSync(owner(e));
      fs.mkdirSync(owner(e));
    },
    expect: { kind: 'unknown', reason: /^unreadable: .*directory/ },
  },
  // root reads a 0000 file anyway: the row only means something for another user.
  ...(root
    ? []
    : [
        {
          name: 'owner file not readable (EACCES)',
          make: (e: string) => fs.chmodSync(owner(e), 0),
          expect: { kind: 'unknown', reason: /^unreadable: .*EACCES/ } as Expect,
        },
      ]),
  {
    name: 'identity mismatch (a previous controller of this instance)',
    make: (e) => fs.writeFileSync(path.join(e, 'ctrl_traddr'), '192.0.2.99\n'),
    expect: { kind: 'previous', reason: /traddr 192\.0\.2\.99, live 127\.0\.0\.1/ },
  },
  {
    name: 'no identity (written by libnvme): judged by the owner',
    make: (e) => {
      for (const n of fs.readdirSync(e)) if (n.startsWith('ctrl_')) fs.rmSync(path.join(e, n));
    },
    expect: { kind: 'owned', owner: 'stas' },
  },
  {
    name: 'seqnum missing',
    make: (e) => fs.rmSync(path.join(e, 'seqnum')),
    expect: { kind: 'owned', owner: 'stas' },
  },
];

interface Host {
  base: string;
  dir: string;
  kernel: SimKernel;
  registry: Registry;
  events: AuditEvent[];
  env: Record<string, string>;
  /** Row index -> device. */
  device(i: number): string;
  target(i: number): { transport: string; traddr: string; trsvcid: string; nqn: string };
}

/** A sim host with one controller per row, each connected with owner "stas", then made odd. */
async function build(): Promise<Host> {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-verdict-'));
  const dir = path.join(base, 'host');
  await simInit(dir, {
    targets: { subsystems: ROWS.map((_, i) => ({ nqn: NQN(i), ...ADDR, namespaces: 0 })) },
    config: { udev: { mode: 'manual', delayMs: 0, rulesFile: null, programs: {} } },
  });
  const kernel = new SimKernel({ dir });
  const events: AuditEvent[] = [];
  const registry = Registry.open({
    roots: simRoots(dir),
    audit: { record: (e) => void events.push(e) },
    host: kernel,
    now: () => T0,
  });
  const ctx = { kernel, registry, audit: { record() {} } };
  const target = (i: number) => ({ ...ADDR, nqn: NQN(i) });
  for (let i = 0; i < ROWS.length; i++) {
    const r = await connect(ctx, target(i), { owner: 'stas' });
    expect(r.device).toBe(`nvme${i}`);
  }
  // The connect recorded the controller's identity as private attributes.
  expect(fs.readFileSync(path.join(registry.root, 'nvme0', 'ctrl_traddr'), 'utf8')).toBe('127.0.0.1\n');
  expect(fs.readFileSync(path.join(registry.root, 'nvme0', 'ctrl_subsysnqn'), 'utf8')).toBe(`${NQN(0)}\n`);
  ROWS.forEach((row, i) => row.make(path.join(registry.root, `nvme${i}`)));
  events.length = 0;
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: base,
    NVMF_KERNEL: `sim:${dir}`,
    NVMF_ETC_ROOT: path.join(base, 'etc'),
    NVMF_AUDIT_SINK: 'stderr',
  };
  return { base, dir, kernel, registry, events, env, device: (i) => `nvme${i}`, target };
}

/** A verdict as a consumer shows it (OwnershipVerdict or its JSON). */
type Seen = OwnershipVerdict | { kind: string; owner?: string; reason?: string };

function check(v: Seen, e: Expect, what: string): void {
  expect(v.kind, what).toBe(e.kind);
  if (e.kind === 'owned') expect((v as { owner?: string }).owner, what).toBe(e.owner);
  if (e.kind === 'unknown' || e.kind === 'previous')
    expect((v as { reason?: string }).reason, what).toMatch(e.reason);
}

const unownedLike = (e: Expect): boolean => e.kind === 'unowned' || e.kind === 'previous';

describe('the hand-edit rule (pure)', () => {
  it(`a 0-byte owner file is being written for ${BEING_WRITTEN_MS} ms after its last change, then absent`, () => {
    const v = (since: number) => ownershipVerdict({ owner: null, ownerEmptySince: since }, null, T0).kind;
    expect(v(T0)).toBe('unknown');
    expect(v(T0 - BEING_WRITTEN_MS + 1)).toBe('unknown');
    expect(v(T0 - BEING_WRITTEN_MS)).toBe('unowned');
    // a change "in the future" (clock skew) is not old: fail safe
    expect(v(T0 + 60_000)).toBe('unknown');
  });
});

/** A host for the enclosing describe block: built before its tests, removed after them. */
function hostPerBlock(): () => Host {
  let h: Host | undefined;
  beforeAll(async () => {
    h = await build();
  }, 120_000);
  afterAll(() => {
    if (h === undefined) return;
    h.kernel.close();
    fs.rmSync(h.base, { recursive: true, force: true });
  });
  return () => {
    if (h === undefined) throw new Error('the host was not built');
    return h;
  };
}

describe('every consumer agrees on the verdict of every odd on-disk state', () => {
  const blockHost = hostPerBlock();

  it('registry list (handed a listing) and verdict() (host facts)', async () => {
    const h = blockHost();
    const controllers = await h.kernel.listControllers();
    const { live, stale } = h.registry.list({ controllers });
    expect(stale).toEqual([]);
    ROWS.forEach((row, i) => {
      const d = h.device(i);
      const entry = live.find((e) => e.device === d);
      if (row.name === 'no entry') expect(entry).toBeUndefined();
      else check(entry!.verdict, row.expect, `${row.name}: list`);
      check(h.registry.verdict(d), row.expect, `${row.name}: verdict()`);
    });
  });

  it('the disconnect-all plan, in each mode (DESIGN §5), and its re-check under the lock', async () => {
    const h = blockHost();
    const host = { kernel: h.kernel, registry: h.registry };
    const plain = await planFromHost(host, {});
    const mine = await planFromHost(host, { owner: 'stas' });
    const forced = await planFromHost(host, { force: true });
    for (const [i, row] of ROWS.entries()) {
      const d = h.device(i);
      const item = (p: typeof plain) => p.find((x) => x.device === d)!;
      const e = row.expect;
      expect(item(plain).action, `${row.name}: default`).toBe(unownedLike(e) ? 'disconnect' : 'skip');
      if (e.kind === 'unknown') expect(item(plain).reason).toMatch(/^owner unknown \(/);
      expect(item(mine).action, `${row.name}: --owner stas`).toBe(
        e.kind === 'owned' && e.owner === 'stas' ? 'disconnect' : 'skip',
      );
      expect(item(forced).action, `${row.name}: --force`).toBe('disconnect');
      // The re-check judges by the same verdict: unchanged for what a plan can disconnect
      // without --force, "owner unknown" for the rest.
      const c = item(plain).controller;
      const change = h.registry.ownershipChange(d, e.kind === 'owned' ? e.owner : null, c);
      if (e.kind === 'unknown') expect(change, row.name).toMatch(/^owner unknown now/);
      else expect(change, row.name).toBeNull();
    }
  });

  it('gc removes nothing live but the entries of previous controllers', () => {
    const h = blockHost();
    const report = h.registry.gc({ dryRun: true });
    const removed = report.removed.filter((r) => r.kind === 'entry').map((r) => r.device);
    expect(removed).toEqual(ROWS.flatMap((row, i) => (row.expect.kind === 'previous' ? [h.device(i)] : [])));
  });

  it('list -v and registry list (JSON and text) show the same verdicts', () => {
    const h = blockHost();
    // The CLI judges at its own clock: keep the "being written" row recent for it too.
    ROWS.forEach((row, i) => {
      if (row.expect.kind !== 'unknown' || !/being written/.test(String(row.expect.reason))) return;
      const f = path.join(h.registry.root, h.device(i), 'owner');
      fs.utimesSync(f, at(Date.now() + 300_000), at(Date.now() + 300_000));
    });
    const lv = nvmf(h.env, ['list', '-v', '-o', 'json']);
    expect(lv.code, lv.stderr).toBe(0);
    const rows = (JSON.parse(lv.stdout) as { controllers: { device: string; verdict: Seen }[] }).controllers;
    const rl = nvmf(h.env, ['registry', 'list', '-o', 'json']);
    expect(rl.code, rl.stderr).toBe(0);
    const entries = (JSON.parse(rl.stdout) as { entries: { device: string; verdict: Seen }[] }).entries;
    const text = nvmf(h.env, ['registry', 'list']).stdout.split('\n');
    const listText = nvmf(h.env, ['list', '-v']).stdout.split('\n');
    ROWS.forEach((row, i) => {
      const d = h.device(i);
      check(rows.find((r) => r.device === d)!.verdict, row.expect, `${row.name}: list -v`);
      const mark = verdictText(row.expect.kind === 'owned' ? row.expect : { kind: row.expect.kind });
      expect(
        listText
          .find((l) => l.startsWith(`${d} `))
          ?.trim()
          .split(/\s+/)
          .at(-1),
        row.name,
      ).toBe(mark);
      if (row.name === 'no entry') {
        expect(entries.find((e) => e.device === d)).toBeUndefined();
        return;
      }
      check(entries.find((e) => e.device === d)!.verdict, row.expect, `${row.name}: registry list`);
      expect(text.find((l) => l.startsWith(`${d} `))?.split(/\s+/)[1], row.name).toBe(mark);
    });
    // the JSON contract: owner only for owned, reason only for unknown and previous
    expect(entries.find((e) => e.device === 'nvme3')!.verdict).toEqual(
      verdictJson({ kind: 'owned', owner: '' }),
    );
  });

  it('claim --if-unowned takes exactly the unowned ones (a previous entry is replaced, restamped)', () => {
    const h = blockHost();
    for (const [i, row] of ROWS.entries()) {
      const d = h.device(i);
      let code: string | null = null;
      try {
        h.registry.claim(d, 'k8s', { expect: null, seqnum: h.kernel.ueventSeqnum() });
      } catch (e) {
        code = isNvmfError(e) ? e.code : String(e);
      }
      if (unownedLike(row.expect)) {
        expect(code, row.name).toBeNull();
        expect(h.registry.verdict(d), row.name).toEqual({ kind: 'owned', owner: 'k8s' });
        // the claim recorded (or kept) this controller's identity
        expect(h.registry.read(d)?.identity?.traddr, row.name).toBe('127.0.0.1');
      } else {
        expect(code, row.name).not.toBeNull();
        if (row.expect.kind === 'owned') expect(code, row.name).toBe('EOWNER_CONFLICT');
      }
    }
    // One audit record per change.
    const changed = ROWS.filter((r) => unownedLike(r.expect)).length;
    expect(h.events.length).toBe(changed);
  });
});

describe('connect reuse agrees too', () => {
  const blockHost = hostPerBlock();

  it('a claim by connect takes the unowned ones; owned by another or unknown is a conflict naming --force', async () => {
    const h = blockHost();
    const ctx = { kernel: h.kernel, registry: h.registry, audit: { record() {} } };
    for (const [i, row] of ROWS.entries()) {
      let err: unknown = null;
      try {
        const r = await connect(ctx, h.target(i), { owner: 'k8s' });
        expect(r).toMatchObject({ device: h.device(i), reused: true, owner: 'k8s' });
      } catch (e) {
        err = e;
      }
      if (unownedLike(row.expect)) expect(err, row.name).toBeNull();
      else {
        expect(isNvmfError(err, 'EOWNER_CONFLICT'), `${row.name}: ${String(err)}`).toBe(true);
        expect((err as Error).message).toContain('connect --force');
      }
    }
  });
});
