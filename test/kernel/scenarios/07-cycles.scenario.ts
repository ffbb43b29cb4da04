/**
 * Scenario 7: 100 connect + disconnect cycles with owners through the library, up to four
 * controllers alive at once, deletes in a seeded random order. Every 25 cycles and at the
 * end (after udevd settles) the registry must equal the kernel's state: each live fabrics
 * controller has its entry with the right owner (0 lost) and no entry outlives its
 * controller (0 stale).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { resetHost, target, udevSettle } from '../lib/guest.js';
import { type Library, openLibrary } from '../lib/library.js';

const CYCLES = Number(process.env.NVMF_KT_CYCLES ?? 100);
const MAX_LIVE = 4;

before(resetHost);
after(resetHost);

/** xorshift32: a reproducible order of deletes. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

async function compare(
  lib: Library,
  model: Map<string, string>,
  when: string,
): Promise<{ stale: number; lost: number }> {
  udevSettle();
  const kernelDevs = (await lib.kernel.listControllers()).filter((c) => c.fabrics).map((c) => c.device);
  const { live, stale } = lib.registry.list();
  const registry = new Map(live.map((e) => [e.device, e.owner]));
  const lost = kernelDevs.filter((d) => registry.get(d) !== model.get(d));
  assert.deepEqual(
    kernelDevs.sort(),
    [...model.keys()].sort(),
    `${when}: kernel has exactly the model's controllers`,
  );
  assert.deepEqual(
    Object.fromEntries([...registry].sort()),
    Object.fromEntries([...model].sort()),
    `${when}: registry equals the kernel's state`,
  );
  assert.deepEqual(
    stale.map((e) => e.device),
    [],
    `${when}: 0 stale entries`,
  );
  return { stale: stale.length, lost: lost.length };
}

test(`${CYCLES} connect+disconnect cycles with owners: registry == kernel, 0 stale, 0 lost`, async () => {
  const lib = await openLibrary();
  const next = rng(0x6b74);
  const model = new Map<string, string>(); // device -> owner
  const t0 = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    const owner = `kt-o${i % 5}`;
    const r = await lib.engine.connect(
      {
        transport: 'tcp',
        traddr: target.traddr,
        trsvcid: target.trsvcid,
        nqn: i % 2 ? target.nqn1 : target.nqn2,
        duplicate_connect: true,
      },
      { owner },
    );
    assert.ok(!model.has(r.device), `cycle ${i}: ${r.device} is new`);
    model.set(r.device, owner);
    while (model.size >= MAX_LIVE || (i === CYCLES - 1 && model.size > 0)) {
      const devs = [...model.keys()];
      const victim = devs[Math.floor(next() * devs.length)]!;
      const d = await lib.engine.disconnect(victim);
      assert.equal(d.owner, model.get(victim), `cycle ${i}: disconnect reports ${victim}'s owner`);
      model.delete(victim);
    }
    if ((i + 1) % 25 === 0) await compare(lib, model, `after cycle ${i + 1}`);
  }
  const ms = performance.now() - t0;
  const end = await compare(lib, model, 'at the end');
  assert.equal(model.size, 0);
  assert.deepEqual(lib.registry.list(), { live: [], stale: [] }, 'everything gone, nothing left over');
  console.log(`kt-fact cycles ${JSON.stringify({ cycles: CYCLES, ms: Math.round(ms), ...end })}`);
});
