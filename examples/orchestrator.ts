/**
 * An orchestrator built on nvmf-registry: open the host, watch the registry, connect a
 * subsystem as its owner, keep a note in its entry, and take down only what it owns.
 * README.md and REGISTRY.md point here; test/pack.test.ts installs the packed package in
 * a fresh project, type-checks this file against it and runs it on a simulated host.
 *
 * Environment: NVMF_KERNEL=sim:DIR for a simulated host (`nvmf sim init DIR`), else the
 * real kernel (root); NVMF_REGISTRY_ROOT and friends move the roots; NVMF_AUDIT_SINK picks
 * where audit records go. TARGET_NQN, TARGET_ADDR and TARGET_PORT name the subsystem.
 */
import { hostIdentity, isNvmfError, openHost, type RegistryEvent, watchRegistry } from 'nvmf-registry';

const owner = 'example-orchestrator';
const target = {
  transport: 'tcp',
  traddr: process.env['TARGET_ADDR'] ?? '127.0.0.1',
  trsvcid: process.env['TARGET_PORT'] ?? '4420',
  nqn: process.env['TARGET_NQN'] ?? 'nqn.2014-08.org.example:vol1',
};

// Kernel, registry and auditor, wired as the nvmf CLI wires them.
const { engine, registry } = await openHost();

// Every change of ownership, as it lands on disk (whoever makes it: this process, the CLI,
// another orchestrator, the udev rule).
const events: RegistryEvent[] = [];
const watcher = await watchRegistry(registry.root, { onEvent: (e) => events.push(e) });

try {
  // The host NQN and ID default to /etc/nvme/hostnqn and hostid, as with nvme-cli.
  const c = await engine.connect({ ...hostIdentity(), ...target }, { owner });
  console.log(`connected ${c.device} owner=${c.owner} reused=${c.reused}`);

  // Private bookkeeping beside the owner.
  registry.setAttr(c.device, 'note', 'placed by the example');

  // A claim is compare-and-set under the device lock: it fails when the owner is not the expected one.
  try {
    registry.claim(c.device, 'someone-else', { expect: null });
  } catch (e) {
    if (!isNvmfError(e, 'EOWNER_CONFLICT')) throw e;
    console.log(`claim refused: ${e.message}`);
  }

  for (const e of registry.list().live)
    console.log(`entry ${e.device} owner=${e.owner ?? '-'} note=${e.attrs['note'] ?? '-'}`);

  // What housekeeping would remove (stale entries, crashed writers' leftovers), changing nothing.
  console.log(`gc would remove ${registry.gc({ dryRun: true }).removed.length}`);

  // Only this orchestrator's controllers go; the plan says why each one goes or stays.
  const { plan, results } = await engine.disconnectAll({ owner });
  for (const item of plan) console.log(`plan ${item.device} ${item.action}: ${item.reason}`);
  for (const r of results ?? [])
    console.log(r.ok ? `disconnected ${r.device}` : `failed ${r.device}: ${r.error}`);
} finally {
  await watcher.close();
}
console.log(`watcher saw ${events.length} registry event(s)`);
