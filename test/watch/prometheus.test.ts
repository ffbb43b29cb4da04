import fs from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeLabel, formatPrometheus, writeFileAtomic } from '../../src/watch/prometheus.js';

describe('formatPrometheus', () => {
  it('owned per owner, unowned fabrics per transport, stale and unreadable entries, with HELP/TYPE', () => {
    const text = formatPrometheus(
      [
        { device: 'nvme0', fabrics: false, transport: 'pcie' },
        { device: 'nvme1', fabrics: true, transport: 'tcp' },
        { device: 'nvme2', fabrics: true, transport: 'tcp' },
        { device: 'nvme3', fabrics: true, transport: 'rdma' },
        { device: 'nvme4', fabrics: true, transport: 'tcp' },
        { device: 'nvme5', fabrics: true, transport: 'tcp' },
        { device: 'nvme6', fabrics: true, transport: 'fc' },
      ],
      [
        { device: 'nvme1', owner: 'stas' },
        { device: 'nvme2', owner: 'stas' },
        { device: 'nvme3', owner: 'initramfs' },
        { device: 'nvme4', owner: null },
        { device: 'nvme6', owner: null, unreadable: true },
        { device: 'nvme9', owner: 'gone' },
        { device: 'nvme12', owner: null },
      ],
    );
    expect(text).toBe(
      [
        '# HELP nvmf_registry_owned_controllers NVMe controllers whose registry entry names an owner, by owner.',
        '# TYPE nvmf_registry_owned_controllers gauge',
        'nvmf_registry_owned_controllers{owner="initramfs"} 1',
        'nvmf_registry_owned_controllers{owner="stas"} 2',
        '# HELP nvmf_registry_unowned_fabrics_controllers NVMe over Fabrics controllers with no registry owner, by transport.',
        '# TYPE nvmf_registry_unowned_fabrics_controllers gauge',
        'nvmf_registry_unowned_fabrics_controllers{transport="tcp"} 2',
        '# HELP nvmf_registry_unreadable_entries Registry entries of existing controllers that could not be read.',
        '# TYPE nvmf_registry_unreadable_entries gauge',
        'nvmf_registry_unreadable_entries 1',
        '# HELP nvmf_registry_stale_entries Registry entries whose controller no longer exists.',
        '# TYPE nvmf_registry_stale_entries gauge',
        'nvmf_registry_stale_entries 2',
        '# HELP nvmf_registry_controller_owner_info One per owned controller, with its owner.',
        '# TYPE nvmf_registry_controller_owner_info gauge',
        'nvmf_registry_controller_owner_info{device="nvme1",transport="tcp",owner="stas"} 1',
        'nvmf_registry_controller_owner_info{device="nvme2",transport="tcp",owner="stas"} 1',
        'nvmf_registry_controller_owner_info{device="nvme3",transport="rdma",owner="initramfs"} 1',
        '',
      ].join('\n'),
    );
  });

  it('an empty host still says 0 unowned and 0 stale', () => {
    const text = formatPrometheus([], []);
    expect(text).toContain('\nnvmf_registry_unowned_fabrics_controllers 0\n');
    expect(text).toContain('\nnvmf_registry_stale_entries 0\n');
    expect(text).not.toMatch(/^nvmf_registry_owned_controllers/m);
  });

  it('escapes label values', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });
});

describe('writeFileAtomic', () => {
  it('replaces the file whole and leaves no temp behind', () => {
    const dir = fs.mkdtempSync(path.join(tmpdir(), 'nvmf-prom-'));
    const file = path.join(dir, 'nvmf.prom');
    fs.writeFileSync(file, 'old\n');
    const inoBefore = fs.statSync(file).ino;
    writeFileAtomic(file, 'new\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('new\n');
    expect(fs.statSync(file).ino).not.toBe(inoBefore); // renamed into place, not rewritten
    expect(fs.readdirSync(dir)).toEqual(['nvmf.prom']);
    expect(() => writeFileAtomic(path.join(dir, 'missing', 'x.prom'), 'x')).toThrow(/cannot write .*missing/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
