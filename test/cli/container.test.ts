import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { simRoots } from '../../src/kernel/sim.js';
import { nvmf } from './helpers.js';
import { tableHost } from './sim-host.js';

/**
 * A container with a private /dev that has no nvme nodes (NVMF_DEV_ROOT at an empty
 * directory) but the host's sysfs: liveness is a sysfs fact (DESIGN §4a), so gc removes no
 * entry of a live controller and disconnect-all plans exactly what it plans on the host.
 */
describe('liveness from sysfs, not /dev', () => {
  it('gc removes nothing live and the disconnect-all plan is unchanged', async () => {
    const host = await tableHost();
    const roots = simRoots(host.dir);
    const emptyDev = path.join(path.dirname(host.dir), 'container-dev');
    fs.mkdirSync(emptyDev);
    // The host's view through the sim, and a container's: the real-kernel adapter on the
    // same sysfs and registry, with a /dev of its own.
    const container: Record<string, string> = {
      ...host.env,
      NVMF_KERNEL: 'linux',
      NVMF_SYSFS_ROOT: roots.sysfs,
      NVMF_REGISTRY_ROOT: roots.registry,
      NVMF_DEV_ROOT: emptyDev,
    };
    const planOf = (env: Record<string, string>) => {
      const r = nvmf(env, ['disconnect-all', '--dry-run', '-o', 'json']);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { plan: unknown[] }).plan;
    };
    const before = planOf(host.env);
    expect(before.length).toBeGreaterThan(0);

    const gc = nvmf(container, ['registry', 'gc', '-o', 'json']);
    expect(gc.code, gc.stderr).toBe(0);
    const report = JSON.parse(gc.stdout) as { removed: { kind: string }[] };
    expect(report.removed.filter((r) => r.kind === 'entry')).toEqual([]);
    for (const d of ['nvme1', 'nvme2', 'nvme3'])
      expect(fs.existsSync(path.join(roots.registry, d))).toBe(true);

    expect(planOf(container)).toEqual(before);
    expect(planOf(host.env)).toEqual(before);
    // and the registry lists the live entries as live there too
    const list = nvmf(container, ['registry', 'list', '-o', 'json']);
    const devices = (JSON.parse(list.stdout) as { entries: { device: string }[] }).entries.map(
      (e) => e.device,
    );
    expect(devices).toEqual(['nvme1', 'nvme2', 'nvme3']);
  });
});
