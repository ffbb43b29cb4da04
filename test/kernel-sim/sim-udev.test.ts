import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { commandsFor, parseRules, splitArgv, substitute } from '../../src/kernel/sim/udev-rules.js';
import {
  SimKernel,
  simConfigure,
  simPendingEvents,
  simUdevLog,
  simUdevSettle,
} from '../../src/kernel/sim.js';
import { connectString } from './facts.js';
import { newSim, TARGET, tmpDir } from './helpers.js';

const ev = {
  action: 'remove',
  subsystem: 'nvme',
  kernel: 'nvme12',
  devpath: '/devices/virtual/nvme-fabrics/ctl/nvme12',
  seqnum: 4711,
};

describe('udev rule language subset', () => {
  it('substitutes like udevd', () => {
    expect(substitute('%k $kernel %n $number $env{SEQNUM} %E{ACTION} $$HOME %% %p', ev)).toBe(
      'nvme12 nvme12 12 12 4711 remove $HOME % /devices/virtual/nvme-fabrics/ctl/nvme12',
    );
    expect(splitArgv(`/bin/x a 'b c' "d e"`)).toEqual(['/bin/x', 'a', 'b c', 'd e']);
  });

  it("matches the repository's rule and only remove events of controllers", () => {
    const rules = parseRules(
      fs.readFileSync(path.join(__dirname, '..', '..', 'udev', '70-nvmf-registry.rules'), 'utf8'),
    );
    expect(commandsFor(rules, ev)).toEqual([
      ['/usr/libexec/nvmf-registry/nvmf-registry-cleanup', 'nvme12', '4711'],
    ]);
    expect(commandsFor(rules, { ...ev, action: 'add' })).toEqual([]);
    expect(commandsFor(rules, { ...ev, subsystem: 'block', kernel: 'nvme1n1' })).toEqual([]);
    expect(commandsFor(rules, { ...ev, kernel: 'nvme-subsys1', subsystem: 'nvme' })).toEqual([]);
  });

  it('honours !=, alternatives, RUN= resets and ignores rules with keys it does not model', () => {
    const rules = parseRules(
      [
        'ACTION=="add|remove", KERNEL!="nvme0", RUN+="/a %k"',
        'ATTR{foo}=="x", RUN+="/never"',
        'SUBSYSTEM=="nvme", \\',
        '  RUN="/b $env{SEQNUM}"',
      ].join('\n'),
    );
    expect(commandsFor(rules, ev)).toEqual([['/b', '4711']]);
    expect(commandsFor(rules, { ...ev, subsystem: 'block' })).toEqual([['/a', 'nvme12']]);
    expect(commandsFor(rules, { ...ev, subsystem: 'block', kernel: 'nvme0' })).toEqual([]);
  });
});

describe('simulated udev queue', () => {
  let k: SimKernel | undefined;
  afterEach(() => k?.close());

  async function withRecorder(): Promise<{ dir: string; kernel: SimKernel; out: string }> {
    const s = await newSim();
    k = s.kernel;
    const t = tmpDir('nvmf-rule-');
    const out = path.join(t, 'calls');
    fs.writeFileSync(path.join(t, 'rec.sh'), `echo "$1 $2 $NVMF_REGISTRY_ROOT $NVMF_DEV_ROOT" >> ${out}\n`);
    fs.writeFileSync(
      path.join(t, 'test.rules'),
      `ACTION=="remove", SUBSYSTEM=="nvme", KERNEL=="nvme[0-9]*", RUN+="/usr/libexec/nvmf-registry/recorder %k $env{SEQNUM}"\n`,
    );
    await simConfigure(s.dir, {
      udev: {
        mode: 'manual',
        delayMs: 0,
        rulesFile: path.join(t, 'test.rules'),
        programs: { '/usr/libexec/nvmf-registry/recorder': path.join(t, 'rec.sh') },
      },
    });
    return { ...s, out };
  }

  it('runs the RUN command of remove events with %k and $env{SEQNUM}, roots in the environment', async () => {
    const { dir, kernel, out } = await withRecorder();
    const r = await kernel.connect(connectString(TARGET, TARGET.nqn));
    await kernel.deleteController(`nvme${r.instance}`);
    const removeSeq = simPendingEvents(dir).find(
      (e) => e.action === 'remove' && e.subsystem === 'nvme',
    )?.seqnum;
    expect(removeSeq).toBeGreaterThan(0);
    expect(fs.existsSync(out)).toBe(false); // manual mode: nothing runs before settle
    expect(await simUdevSettle(dir)).toBe(13);
    expect(fs.readFileSync(out, 'utf8')).toBe(
      `nvme0 ${removeSeq} ${path.join(dir, 'run/nvme/registry')} ${path.join(dir, 'dev')}\n`,
    );
    expect(simPendingEvents(dir)).toEqual([]);
  });

  it('runs the real rule with the repository helper when the libexec path is not installed', async () => {
    const s = await newSim();
    k = s.kernel;
    const r = await s.kernel.connect(connectString(TARGET, TARGET.nqn));
    await s.kernel.deleteController(`nvme${r.instance}`);
    await simUdevSettle(s.dir);
    const log = simUdevLog(s.dir);
    const runs = log.flatMap((x) => x.runs);
    // once per controller removal, with the SEQNUM of the nvme remove event, node already gone
    const remove = log.find((x) => x.action === 'remove' && x.subsystem === 'nvme');
    expect(runs).toHaveLength(1);
    expect(remove?.runs).toHaveLength(1);
    expect(remove?.nodeExisted).toBe(false);
    expect(runs[0]?.argv.slice(-2)).toEqual([`nvme${r.instance}`, String(remove?.seqnum)]);
    expect(runs[0]?.program).toMatch(/udev\/nvmf-registry-cleanup$/);
    expect(runs[0]?.status).toBe(0);
  });

  it('auto mode processes events after the configured delay in the background', async () => {
    const { dir, out } = await withRecorder();
    await simConfigure(dir, { udev: { mode: 'auto', delayMs: 150 } as never });
    k?.close();
    k = new SimKernel({ dir });
    const r = await k.connect(connectString(TARGET, TARGET.nqn));
    // the remove event is queued during the delete call, so it is due 150 ms after its start at the earliest
    const deleteCalledAt = Date.now();
    await k.deleteController(`nvme${r.instance}`);
    while (!fs.existsSync(out) && Date.now() - deleteCalledAt < 60_000)
      await new Promise((res) => setTimeout(res, 10));
    expect(fs.readFileSync(out, 'utf8')).toMatch(/^nvme0 \d+ /);
    expect(Date.now() - deleteCalledAt).toBeGreaterThanOrEqual(150);
  });
});
