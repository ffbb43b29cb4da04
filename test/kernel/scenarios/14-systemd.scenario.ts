/**
 * Scenario 14: `nvmf systemd install` with the guest's real systemd. The path unit and the
 * refresh timer keep the node_exporter textfile in step with the registry: a connect with an
 * owner shows up, a disconnect (the udev rule removes the entry) drops it; the gc timer's
 * service removes a stale entry made by hand; uninstall takes everything away. Also measures
 * what the path unit triggers on (`kt-fact systemd.*` lines), with the refresh timer stopped
 * so that only the path unit can start the export, and whether systemd starts the export
 * again for a change made while it ran.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  type ConnectJson,
  nvmf,
  nvmfJson,
  REGISTRY_ROOT,
  requirePath,
  resetHost,
  target,
  tcpArgs,
  udevSettle,
  PROJECT,
} from '../lib/guest.js';

const UNIT_DIR = '/etc/systemd/system';
const TEXTFILE = '/var/lib/prometheus/node-exporter/nvmf_registry.prom';
const UNITS = [
  'nvmf-registry-export.service',
  'nvmf-registry-gc.service',
  'nvmf-registry-export.path',
  'nvmf-registry-export.timer',
  'nvmf-registry-gc.timer',
];
/** Generous: every export is a fresh node start in the emulated guest. */
const BOUND_MS = 180_000;

function show(unit: string, prop: string): string {
  return execFileSync('systemctl', ['show', '-p', prop, '--value', unit], { encoding: 'utf8' }).trim();
}

/** The export service's current invocation: a new id per run. */
const invocation = (): string => show('nvmf-registry-export.service', 'InvocationID');

function textfile(): string {
  try {
    return readFileSync(TEXTFILE, 'utf8');
  } catch {
    return '';
  }
}

async function waitFor(what: string, cond: () => boolean, boundMs = BOUND_MS): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > boundMs) {
      throw new Error(
        `${what}: not within ${boundMs} ms; textfile:\n${textfile()}\n` +
          execFileSync('journalctl', ['-u', 'nvmf-registry-export.service', '-n', '20', '--no-pager'], {
            encoding: 'utf8',
          }),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - t0;
}

/** The export service ran (a new invocation) since `prev` and is not running now. */
function ranSince(prev: string): () => boolean {
  return () => invocation() !== prev && show('nvmf-registry-export.service', 'ActiveState') !== 'activating';
}

const ownerLine = (device: string, owner: string): string =>
  `nvmf_registry_controller_owner_info{device="${device}",transport="tcp",owner="${owner}"} 1`;

before(() => {
  resetHost();
  requirePath(path.join(PROJECT, 'systemd', 'nvmf-registry-export.path'), 'the shipped systemd units');
  for (const u of UNITS) assert.equal(existsSync(path.join(UNIT_DIR, u)), false, `${u} not installed yet`);
  // The root exists before the path unit starts, so it watches the root itself from the start.
  mkdirSync(REGISTRY_ROOT, { recursive: true, mode: 0o755 });
});
after(() => {
  resetHost();
  nvmf(['systemd', 'uninstall']);
});

test('install, follow connect and disconnect, gc a stale entry, uninstall', async () => {
  const inst = nvmfJson<{
    units: Array<{ name: string; changed: boolean }>;
    exec: string;
    systemctl: { state: string; ran: string[] };
  }>(['systemd', 'install']);
  assert.equal(inst.systemctl.state, 'done', JSON.stringify(inst.systemctl));
  assert.deepEqual(
    inst.units.map((u) => u.changed),
    UNITS.map(() => true),
  );
  console.log(`kt-fact systemd.exec ${inst.exec}`);

  const st = nvmfJson<{
    upToDate: boolean;
    units: Array<{ name: string; enabled: string; active: string }>;
  }>(['systemd', 'status']);
  assert.equal(st.upToDate, true);
  const state = new Map(st.units.map((u) => [u.name, u]));
  assert.equal(state.get('nvmf-registry-export.path')?.active, 'active/waiting');
  assert.equal(state.get('nvmf-registry-export.path')?.enabled, 'enabled');
  assert.equal(state.get('nvmf-registry-export.timer')?.enabled, 'enabled');
  assert.equal(state.get('nvmf-registry-gc.timer')?.active, 'active/waiting');
  assert.equal(state.get('nvmf-registry-gc.service')?.enabled, 'static');

  // The refresh timer (OnActiveSec=0) writes the textfile once at start.
  const first = await waitFor('the first textfile', () =>
    textfile().includes('nvmf_registry_stale_entries 0'),
  );
  console.log(`kt-fact systemd.first_export_ms ${first}`);
  // From here only the path unit may start the export.
  execFileSync('systemctl', ['stop', 'nvmf-registry-export.timer']);
  await waitFor(
    'no export running',
    () => show('nvmf-registry-export.service', 'ActiveState') !== 'activating',
  );

  // 1. A connect with an owner: entry created (renamed into the root) under the lock.
  let prev = invocation();
  let t0 = Date.now();
  const c = nvmfJson<ConnectJson>(['connect', ...tcpArgs(target.nqn1), '--owner', 'kt-sd']);
  const tCli = Date.now() - t0;
  await waitFor('the owner in the textfile', () => textfile().includes(ownerLine(c.device, 'kt-sd')));
  const tConnect = Date.now() - t0;
  assert.notEqual(invocation(), prev, 'the path unit started the export');
  console.log(`kt-fact systemd.connect_to_textfile_ms ${tConnect} (the connect command took ${tCli})`);

  // 2. An owner change through the CLI: a file replaced inside the entry; only the lock file
  //    (created and removed in the root around the change) can tell the root's watch.
  await waitFor('no export running', ranSince(prev));
  prev = invocation();
  t0 = Date.now();
  const u = nvmf(['registry', 'update', c.device, '-a', 'owner', '-V', 'kt-sd2', '--yes']);
  assert.equal(u.status, 0, u.stderr);
  await waitFor('the new owner in the textfile', () => textfile().includes(ownerLine(c.device, 'kt-sd2')));
  const tOwner = Date.now() - t0;
  assert.notEqual(invocation(), prev);
  console.log(`kt-fact systemd.owner_change_to_textfile_ms ${tOwner}`);

  // 3. Measured, not asserted: a file written inside an entry by hand (no lock) is below the
  //    one-level watch. Observed for 15 s; the refresh timer is what catches it in service.
  await waitFor('no export running', ranSince(prev));
  prev = invocation();
  writeFileSync(path.join(REGISTRY_ROOT, c.device, 'owner'), 'kt-hand\n');
  let handTriggered = true;
  try {
    await waitFor('an export after a hand write', () => invocation() !== prev, 15_000);
  } catch {
    handTriggered = false;
  }
  console.log(`kt-fact systemd.hand_write_inside_entry_triggers ${handTriggered} (observed 15 s)`);

  // 3b. Measured, not asserted: systemd's own behaviour for a change made while the export
  //     service runs. The service is held in a drop-in ExecStartPre (a stalled step, before
  //     our command starts) while a second entry appears; then 15 s are watched for systemd
  //     starting the service again. The export itself reads after the change, so the textfile
  //     is right either way; what is measured is whether systemd queued the event.
  const dropIn = path.join(UNIT_DIR, 'nvmf-registry-export.service.d');
  mkdirSync(dropIn, { recursive: true });
  writeFileSync(path.join(dropIn, 'kt-hold.conf'), '[Service]\nExecStartPre=/bin/sleep 10\n');
  execFileSync('systemctl', ['daemon-reload']);
  await waitFor(
    'no export running',
    () => show('nvmf-registry-export.service', 'ActiveState') !== 'activating',
  );
  prev = invocation();
  mkdirSync(path.join(REGISTRY_ROOT, 'nvme50'));
  await waitFor(
    'the held export started',
    () => invocation() !== prev && show('nvmf-registry-export.service', 'ActiveState') === 'activating',
  );
  const held = invocation();
  mkdirSync(path.join(REGISTRY_ROOT, 'nvme51'));
  const stillHeld = show('nvmf-registry-export.service', 'ActiveState') === 'activating';
  await waitFor('the held export done', ranSince(prev));
  const readBoth = textfile().includes('nvmf_registry_stale_entries 2');
  let retriggered = true;
  try {
    await waitFor('a second export', () => invocation() !== held, 15_000);
  } catch {
    retriggered = false;
  }
  console.log(
    `kt-fact systemd.change_during_run_retriggers ${retriggered} (change made while running: ${stillHeld}; the held run saw it: ${readBoth}; observed 15 s)`,
  );
  await waitFor('both entries in the textfile', () => textfile().includes('nvmf_registry_stale_entries 2'));
  rmSync(dropIn, { recursive: true, force: true });
  execFileSync('systemctl', ['daemon-reload']);
  await waitFor(
    'no export running',
    () => show('nvmf-registry-export.service', 'ActiveState') !== 'activating',
  );
  rmSync(path.join(REGISTRY_ROOT, 'nvme50'), { recursive: true });
  rmSync(path.join(REGISTRY_ROOT, 'nvme51'), { recursive: true });
  await waitFor('the two entries gone from the textfile', () =>
    textfile().includes('nvmf_registry_stale_entries 0'),
  );

  // 4. Disconnect: the controller goes, the udev rule's helper removes the entry (under the
  //    lock), the line goes.
  await waitFor(
    'no export running',
    () => show('nvmf-registry-export.service', 'ActiveState') !== 'activating',
  );
  prev = invocation();
  t0 = Date.now();
  const d = nvmf(['disconnect', '-d', c.device]);
  assert.equal(d.status, 0, d.stderr);
  udevSettle();
  await waitFor(
    'the entry gone from the textfile',
    () =>
      !textfile().includes(`device="${c.device}"`) && textfile().includes('nvmf_registry_stale_entries 0'),
  );
  assert.notEqual(invocation(), prev, 'the path unit started the export after the disconnect');
  console.log(`kt-fact systemd.disconnect_to_textfile_ms ${Date.now() - t0}`);

  // 5. A stale entry made by hand (no controller nvme42): the mkdir in the root triggers the
  //    export (stale 1); the gc timer's service removes it, which triggers the export again.
  const stale = path.join(REGISTRY_ROOT, 'nvme42');
  await waitFor('no export running', ranSince(prev));
  prev = invocation();
  mkdirSync(stale, { recursive: true });
  writeFileSync(path.join(stale, 'seqnum'), '1\n');
  writeFileSync(path.join(stale, 'owner'), 'kt-stale\n');
  await waitFor('the stale entry counted', () => textfile().includes('nvmf_registry_stale_entries 1'));
  assert.notEqual(invocation(), prev, 'the path unit started the export after the mkdir');
  await waitFor('no export running', ranSince(prev));
  prev = invocation();
  execFileSync('systemctl', ['start', 'nvmf-registry-gc.service']);
  assert.equal(show('nvmf-registry-gc.service', 'Result'), 'success');
  assert.equal(existsSync(stale), false, 'gc removed the stale entry');
  await waitFor('the stale entry gone from the textfile', () =>
    textfile().includes('nvmf_registry_stale_entries 0'),
  );

  // 6. Uninstall: units stopped, disabled and gone; the textfile too.
  const un = nvmfJson<{
    units: Array<{ removed: boolean }>;
    textfile: { removed: boolean };
    systemctl: { state: string };
  }>(['systemd', 'uninstall']);
  assert.equal(un.systemctl.state, 'done');
  assert.deepEqual(
    un.units.map((x) => x.removed),
    UNITS.map(() => true),
  );
  assert.equal(un.textfile.removed, true);
  for (const unit of UNITS) {
    assert.equal(existsSync(path.join(UNIT_DIR, unit)), false, `${unit} removed`);
    assert.equal(show(unit, 'LoadState'), 'not-found', `${unit} unloaded`);
  }
  assert.equal(existsSync(TEXTFILE), false);
  rmSync(path.join(REGISTRY_ROOT, c.device), { recursive: true, force: true });
});
