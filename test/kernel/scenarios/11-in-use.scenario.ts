/**
 * Scenario 11: what a controller serves (issue 13, the in-use guard) on the real kernel. One
 * subsystem with a memory-backed namespace is exported on two tcp ports, so two controllers to
 * it are two paths of one native-multipath head.
 *
 * The `fact:` tests measure, with raw connects and the system's own tools only, what the guard
 * and the simulated kernel rely on: the multipath layout in sysfs, what happens to the head and
 * to a mounted filesystem when one path and then the last path is deleted, how /proc/swaps
 * names a swap device, and how a device-mapper holder appears. The `guard:` tests run the
 * `nvmf` CLI against mounted, swap and dm-held namespaces: plain and `--force` disconnect-all
 * skip with a reason starting `in use: `, `--ignore-in-use --yes` overrides, one path of two
 * may go and the last is refused.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { after, before, test } from 'node:test';
import {
  dmLinear,
  connectPath,
  headsOf,
  holders,
  liveControllersOf,
  majMin,
  mkfsAndMount,
  mounts,
  pathDisks,
  pathsOf,
  releaseAll,
  run,
  swaps,
  waitFor,
  writeDurably,
} from '../lib/blockdev.js';
import {
  controllers,
  dataTargetDown,
  dataTargetUp,
  nvmf,
  rawDelete,
  seqnum,
  target,
  udevSettle,
} from '../lib/guest.js';

let nqn = '';
const MNT = '/mnt/ktu-data';
const MNT_DM = '/mnt/ktu-dm';

before(() => {
  releaseAll();
  run('modprobe', 'dm_mod');
  nqn = dataTargetUp();
});
after(() => {
  releaseAll();
  dataTargetDown();
});

function fact(name: string, value: unknown): void {
  console.log(`kt-fact ${name} ${JSON.stringify(value)}`);
}

/** Two paths (one per port) to the data subsystem, and the one head they serve. */
async function twoPaths(): Promise<{ a: string; b: string; head: string }> {
  const a = await connectPath(nqn, target.trsvcid);
  const b = await connectPath(nqn, target.trsvcid2);
  const [head] = headsOf(a);
  assert.ok(head, `${a} serves a namespace`);
  assert.deepEqual(headsOf(b), [head], `${b} serves the same head as ${a}`);
  return { a, b, head };
}

async function onePath(): Promise<{ a: string; head: string }> {
  const a = await connectPath(nqn, target.trsvcid);
  const [head] = headsOf(a);
  assert.ok(head, `${a} serves a namespace`);
  return { a, head };
}

// ---- facts (no project code)

test('fact: native multipath is on; one subsystem on two ports is two controllers, one head', async () => {
  releaseAll();
  assert.equal(readFileSync('/sys/module/nvme_core/parameters/multipath', 'utf8').trim(), 'Y');
  const { a, b, head } = await twoPaths();
  assert.notEqual(a, b);
  assert.equal(attr2(a, 'subsysnqn'), nqn);
  assert.equal(attr2(b, 'subsysnqn'), nqn);
  assert.match(attr2(b, 'address'), new RegExp(`trsvcid=${target.trsvcid2}`));
  // the head is the subsystem's block device; each path disk hangs under its controller
  const subsys = readlinkSync(`/sys/block/${head}/device`).split('/').pop()!;
  assert.match(subsys, /^nvme-subsys\d+$/);
  const subsysDir = `/sys/class/nvme-subsystem/${subsys}`;
  const inSubsys = readdirSync(subsysDir);
  assert.ok(inSubsys.includes(head), `${head} is under ${subsysDir}`);
  assert.ok(inSubsys.includes(a) && inSubsys.includes(b), `${subsysDir} links both controllers`);
  assert.deepEqual(
    pathsOf(head),
    [a, b].sort((x, y) => Number(x.slice(4)) - Number(y.slice(4))),
  );
  const pds = [...pathDisks(a), ...pathDisks(b)];
  for (const pd of pds) {
    assert.ok(existsSync(`/sys/block/${pd}`), `path disk ${pd} is listed in /sys/block`);
    assert.ok(!existsSync(`/dev/${pd}`), `path disk ${pd} has no device node`);
    assert.ok(!existsSync(`/sys/block/${pd}/dev`), `path disk ${pd} has no dev attribute`);
    assert.equal(readFileSync(`/sys/block/${pd}/hidden`, 'utf8').trim(), '1');
  }
  assert.ok(existsSync(`/dev/${head}`), `the head ${head} has a node`);
  fact('multipath.layout', {
    controllers: [a, b],
    head,
    subsystem: subsys,
    pathDisks: pds,
    headDev: majMin(head),
    headHasMultipathDir: existsSync(`/sys/block/${head}/multipath`),
    ana: pds.map((pd) => readFileSync(`/sys/block/${pd}/ana_state`, 'utf8').trim()),
    iopolicy: readFileSync(`${subsysDir}/iopolicy`, 'utf8').trim(),
  });
});

test('fact: mounted, one path goes and the head stays; the last goes and the head is removed under the mount', async () => {
  releaseAll();
  const { a, b, head } = await twoPaths();
  const subsys = readlinkSync(`/sys/block/${head}/device`).split('/').pop()!;
  const dev = majMin(head);
  mkfsAndMount(head, MNT);
  const m = mounts().find((x) => x.mountpoint === MNT);
  assert.deepEqual(m && { majMin: m.majMin, fstype: m.fstype, source: m.source }, {
    majMin: dev,
    fstype: 'ext4',
    source: `/dev/${head}`,
  });
  writeDurably(`${MNT}/one`, 'one\n');

  let s = seqnum();
  rawDelete(a);
  const onePathEvents = seqnum() - s;
  assert.ok(existsSync(`/sys/block/${head}`) && existsSync(`/dev/${head}`), 'the head stays with one path');
  assert.deepEqual(pathsOf(head), [b]);
  writeDurably(`${MNT}/two`, 'two\n');
  assert.equal(readFileSync(`${MNT}/one`, 'utf8'), 'one\n');
  udevSettle();

  s = seqnum();
  const t0 = Date.now();
  rawDelete(b);
  const lastMs = Date.now() - t0;
  const lastEvents = seqnum() - s;
  assert.ok(!existsSync(`/sys/block/${head}`), 'the head is removed with its last path');
  assert.ok(!existsSync(`/dev/${head}`), 'and its node');
  const lingering = existsSync(`/sys/class/nvme-subsystem/${subsys}`);
  assert.ok(lingering, 'the mounted head keeps its subsystem in sysfs after its last controller');
  assert.ok(
    mounts().some((x) => x.mountpoint === MNT && x.majMin === dev),
    'the mount stays in mountinfo with the removed head',
  );
  let writeError = '';
  try {
    writeDurably(`${MNT}/three`, 'three\n');
  } catch (e) {
    writeError = (e as NodeJS.ErrnoException).code ?? String(e);
  }
  assert.ok(writeError, 'a write to the filesystem fails');
  udevSettle();
  // A new connect to the subsystem while the mount still holds the old head: where it lands.
  const again = await connectPath(nqn, target.trsvcid);
  const againHead = headsOf(again)[0]!;
  const againSubsys = readlinkSync(`/sys/block/${againHead}/device`).split('/').pop()!;
  const againDev = majMin(againHead);
  assert.ok(
    mounts().some((x) => x.mountpoint === MNT && x.majMin === dev),
    'the old mount is still the removed head',
  );
  rawDelete(again);
  udevSettle();
  run('umount', MNT);
  await waitFor(`${subsys} goes once unmounted`, () => !existsSync(`/sys/class/nvme-subsystem/${subsys}`));
  fact('multipath.delete-under-mount', {
    onePathEvents,
    lastPathEvents: lastEvents,
    lastDeleteMs: lastMs,
    subsystemOutlivesControllersWhileMounted: lingering,
    writeAfterLastPath: writeError,
    reconnectWhileMounted: { device: again, head: againHead, subsystem: againSubsys, headDev: againDev },
  });
});

test('fact: swap is named by path in /proc/swaps; a dm linear device is a holder of the head', async () => {
  releaseAll();
  const { head } = await onePath();
  run('mkswap', `/dev/${head}`);
  run('swapon', `/dev/${head}`);
  assert.deepEqual(swaps(), [`/dev/${head}`]);
  run('swapoff', `/dev/${head}`);
  assert.deepEqual(swaps(), []);

  const dm = dmLinear(head);
  assert.deepEqual(holders(head), [dm]);
  assert.deepEqual(readdirSync(`/sys/block/${dm}/slaves`), [head]);
  for (const c of pathsOf(head))
    for (const pd of pathDisks(c)) assert.deepEqual(holders(pd), [], `${pd} has no holder`);
  mkfsAndMount('mapper/kt-lin', MNT_DM);
  const m = mounts().find((x) => x.mountpoint === MNT_DM);
  assert.equal(m?.majMin, majMin(dm), 'mountinfo names the dm device, not the namespace');
  fact('holders.dm', {
    head,
    holder: dm,
    dmDev: majMin(dm),
    mountSource: m?.source,
    swapsName: `/dev/${head}`,
  });
});

// ---- the guard, through the CLI (issue 13 item 5)

interface PlanItem {
  device: string;
  action: 'disconnect' | 'skip';
  reason: string;
  inUse?: unknown[];
}
interface PlanJson {
  plan: PlanItem[];
  results?: Array<{ device: string; ok: boolean }>;
}

function attr2(device: string, name: string): string {
  return readFileSync(`/sys/class/nvme/${device}/${name}`, 'utf8').trim();
}

/** `nvmf disconnect-all ARGS -o json`, exit 0 expected; returns the parsed plan. */
function disconnectAll(...args: string[]): PlanJson {
  const r = nvmf(['disconnect-all', ...args, '-o', 'json']);
  assert.equal(r.status, 0, `disconnect-all ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as PlanJson;
}

function item(out: PlanJson, device: string): PlanItem {
  const it = out.plan.find((p) => p.device === device);
  assert.ok(it, `${device} is in the plan: ${JSON.stringify(out.plan)}`);
  return it;
}

/** The plan skips `device` as in use, the reason naming every needle, the facts in `inUse`. */
function assertInUse(out: PlanJson, device: string, needles: string[]): void {
  const it = item(out, device);
  const shown = JSON.stringify(it);
  assert.equal(it.action, 'skip', `in-use guard: ${device} must be skipped: ${shown}`);
  assert.ok(it.reason.startsWith('in use: '), `in-use guard: reason must start "in use: ": ${shown}`);
  for (const n of needles) assert.ok(it.reason.includes(n), `in-use guard: reason must name ${n}: ${shown}`);
  assert.ok(
    Array.isArray(it.inUse) && it.inUse.length > 0,
    `in-use guard: JSON item carries inUse facts: ${shown}`,
  );
}

test('guard: a mounted ext4 namespace: plain and --force skip it, --ignore-in-use --yes removes it', async () => {
  releaseAll();
  const { a, head } = await onePath();
  mkfsAndMount(head, MNT);
  const needles = [head, MNT];
  assertInUse(disconnectAll('--dry-run'), a, needles);
  assertInUse(disconnectAll('--force', '--dry-run'), a, needles);
  assertInUse(disconnectAll('--yes'), a, needles);
  assert.ok(controllers().includes(a), `plain --yes left ${a}`);
  assertInUse(disconnectAll('--force', '--yes'), a, needles);
  assert.ok(controllers().includes(a), `--force --yes left ${a}`);
  writeDurably(`${MNT}/still`, 'still\n');

  const out = disconnectAll('--ignore-in-use', '--yes');
  assert.equal(item(out, a).action, 'disconnect', JSON.stringify(out.plan));
  assert.deepEqual(
    out.results?.map((x) => [x.device, x.ok]),
    [[a, true]],
  );
  assert.ok(!controllers().includes(a), `--ignore-in-use --yes removed ${a}`);
});

test('guard: multipath, mounted: disconnect-all takes one path and refuses the last; unmounted both go', async () => {
  releaseAll();
  const { a, b, head } = await twoPaths();
  mkfsAndMount(head, MNT);
  const out = disconnectAll('--yes');
  const actions = [a, b].map((d) => item(out, d).action);
  assert.deepEqual(
    [...actions].sort(),
    ['disconnect', 'skip'],
    `one path planned, one kept: ${JSON.stringify(out.plan)}`,
  );
  const [gone, kept] = actions[0] === 'disconnect' ? [a, b] : [b, a];
  assertInUse(out, kept, [head, MNT]);
  assert.deepEqual(
    out.results?.map((x) => [x.device, x.ok]),
    [[gone, true]],
  );
  assert.deepEqual(liveControllersOf(nqn), [kept]);
  assert.deepEqual(pathsOf(head), [kept], 'the head keeps the other path');
  writeDurably(`${MNT}/after`, 'after\n');

  // the gone path back, then unmounted: both go
  await connectPath(nqn, gone === a ? target.trsvcid : target.trsvcid2);
  assert.equal(pathsOf(head).length, 2, 'two paths again');
  run('umount', MNT);
  const paths = pathsOf(head);
  const out2 = disconnectAll('--yes');
  assert.deepEqual(
    paths.map((d) => item(out2, d).action),
    ['disconnect', 'disconnect'],
    `unmounted, both paths planned: ${JSON.stringify(out2.plan)}`,
  );
  assert.deepEqual(liveControllersOf(nqn), []);
});

test('guard: multipath, mounted: disconnect -d takes one path, refuses the last', async () => {
  releaseAll();
  const { a, b, head } = await twoPaths();
  mkfsAndMount(head, MNT);
  const r1 = nvmf(['disconnect', '-d', a]);
  assert.equal(r1.status, 0, `disconnect -d ${a} (another path remains): ${r1.stdout}${r1.stderr}`);
  assert.ok(!controllers().includes(a), `${a} is gone`);
  const r2 = nvmf(['disconnect', '-d', b]);
  assert.equal(
    r2.status,
    1,
    `in-use guard: disconnect -d ${b} (the last path) must be refused: ${r2.stdout}${r2.stderr}`,
  );
  assert.match(`${r2.stdout}${r2.stderr}`, /in use: /, 'in-use guard: the refusal says why');
  assert.ok(controllers().includes(b), `${b} stays`);
  writeDurably(`${MNT}/after`, 'after\n');
  run('umount', MNT);
  const r3 = nvmf(['disconnect', '-d', b]);
  assert.equal(r3.status, 0, `unmounted, disconnect -d ${b}: ${r3.stdout}${r3.stderr}`);
  assert.deepEqual(liveControllersOf(nqn), []);
});

test('guard: active swap on a namespace is in use', async () => {
  releaseAll();
  const { a, head } = await onePath();
  run('mkswap', `/dev/${head}`);
  run('swapon', `/dev/${head}`);
  assertInUse(disconnectAll('--dry-run'), a, [head, 'swap']);
  assertInUse(disconnectAll('--force', '--dry-run'), a, [head, 'swap']);
  run('swapoff', `/dev/${head}`);
  assert.equal(item(disconnectAll('--dry-run'), a).action, 'disconnect', 'swap off: unowned goes again');
});

test('guard: a mounted device-mapper linear device over a namespace is in use', async () => {
  releaseAll();
  const { a, head } = await onePath();
  const dm = dmLinear(head);
  mkfsAndMount('mapper/kt-lin', MNT_DM);
  assertInUse(disconnectAll('--dry-run'), a, [head, `held by ${dm}`, MNT_DM]);
  assertInUse(disconnectAll('--force', '--yes'), a, [head, `held by ${dm}`, MNT_DM]);
  assert.ok(controllers().includes(a), `--force --yes left ${a}`);
});
