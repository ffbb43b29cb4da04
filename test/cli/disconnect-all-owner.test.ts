import { beforeAll, describe, expect, it } from 'vitest';
import { nvmf } from './helpers.js';
import { type SimHost, tableHost } from './sim-host.js';

let host: SimHost;
beforeAll(async () => {
  host = await tableHost({ NVMF_AUDIT_SINK: 'off' });
});

describe('disconnect-all --owner X where X owns no controller', () => {
  it('says so on stderr and names the owners that exist; exit 0, nothing disconnected', async () => {
    const before = await host.controllers();
    const r = nvmf(host.env, ['disconnect-all', '--owner', 'nobdy', '--yes']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('no controller is owned by "nobdy"; owners with controllers: bob, stas');
    expect(await host.controllers()).toEqual(before);
  });

  it('with -o json too (stdout stays one JSON document)', () => {
    const r = nvmf(host.env, ['disconnect-all', '--owner', 'nobdy', '--dry-run', '-o', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('plan');
    expect(r.stderr).toContain('no controller is owned by "nobdy"');
  });

  it('says nothing of the kind when the owner has controllers', () => {
    const r = nvmf(host.env, ['disconnect-all', '--owner', 'stas', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('no controller is owned');
  });
});
