/**
 * DESIGN §4 races 2 and 7 through separate CLI processes on one simulated host: a plain
 * `nvmf disconnect-all --yes` loops while connectors connect with an owner, disown (`--owner= --force`)
 * and claim the same controller back (a reuse claim). Invariant: a connect that reports
 * success leaves a live controller owned by its owner (the loop only disconnects unowned
 * controllers, so nothing may take it away afterwards); a claim that loses its controller to
 * the disconnect must say so with an error.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { simInit, simRoots } from '../../../src/kernel/sim.js';
import { type Part, Violations } from '../part.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', '..');
const CLI = path.join(REPO, 'build', 'cli', 'nvmf.cjs');
const LANES = 3;
const NQN = (n: number): string => `nqn.2014-08.org.example:torture${n}`;

interface Out {
  code: number | null;
  stdout: string;
  stderr: string;
}

function nvmf(env: NodeJS.ProcessEnv, args: string[]): Promise<Out> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export const connectVsDisconnectAll: Part = {
  name: 'connect-vs-disconnect-all',
  about: `${LANES} connectors (fresh connects, disowns, reuse claims) vs a disconnect-all loop, separate CLI processes on the sim`,
  async run(deadline, log) {
    const v = new Violations();
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-torture-cvd-'));
    const dir = path.join(base, 'host');
    await simInit(dir, {
      targets: {
        subsystems: Array.from({ length: LANES }, (_, i) => ({
          nqn: NQN(i),
          transport: 'tcp',
          traddr: '127.0.0.1',
          trsvcid: '4420',
          namespaces: 1,
        })),
        discovery: [],
      },
      config: { latency: { connectMs: 5, deleteMs: 5, scanMs: 0 } },
    });
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: base,
      NVMF_KERNEL: `sim:${dir}`,
      NVMF_ETC_ROOT: path.join(base, 'etc'),
      NVMF_AUDIT_SINK: 'stderr',
    };
    const c = {
      fresh: 0,
      claims: 0,
      claimsLost: 0,
      disowns: 0,
      disconnectAlls: 0,
      deletedByLoop: 0,
      otherErrors: 0,
    };
    const roots = simRoots(dir);
    const ownerOf = (dev: string): string | null => {
      try {
        return fs.readFileSync(path.join(roots.registry, dev, 'owner'), 'utf8').replace(/\n$/, '');
      } catch {
        return null;
      }
    };
    const stateOf = (dev: string): string | null => {
      try {
        return fs.readFileSync(path.join(roots.sysfs, 'class', 'nvme', dev, 'state'), 'utf8').trim();
      } catch {
        return null;
      }
    };
    let stop = false;
    const loop = (async () => {
      while (!stop) {
        const r = await nvmf(env, ['disconnect-all', '--yes', '-o', 'json']);
        c.disconnectAlls++;
        if (r.code !== 0 && r.code !== 3) v.add(`disconnect-all exited ${r.code}: ${r.stderr.slice(-300)}`);
        try {
          const out = JSON.parse(r.stdout) as { results?: { ok: boolean }[] };
          c.deletedByLoop += (out.results ?? []).filter((x) => x.ok).length;
        } catch {
          if (r.code === 0) v.add(`disconnect-all printed no JSON: ${r.stdout.slice(0, 200)}`);
        }
      }
    })();
    const lane = async (i: number): Promise<void> => {
      const owner = `lane${i}`;
      const target = ['-t', 'tcp', '-a', '127.0.0.1', '-s', '4420', '-n', NQN(i), '-o', 'json'];
      // Until the deadline, and past it (bounded) until some claim has met the loop: a short
      // run on a loaded machine must still race something.
      const raced = (): boolean => c.claims + c.claimsLost > 0;
      while (Date.now() < deadline || (!raced() && Date.now() < deadline + 120_000)) {
        const r = await nvmf(env, ['connect', ...target, '--owner', owner]);
        if (r.code !== 0) {
          // Lost to the loop: the controller it reused was deleted under the claim.
          if (/does not exist|gone|deleted|ENO_CONTROLLER|no controller/i.test(r.stderr)) c.claimsLost++;
          else {
            c.otherErrors++;
            v.add(`connect --owner ${owner} exited ${r.code}: ${r.stderr.slice(-300)}`);
          }
          continue;
        }
        const out = JSON.parse(r.stdout) as { device: string; owner: string | null; reused: boolean };
        if (out.reused) c.claims++;
        else c.fresh++;
        // Success: the controller is live and ours, and stays so (the loop spares owned ones).
        const state = stateOf(out.device);
        const got = ownerOf(out.device);
        if (state !== 'live' || got !== owner)
          v.add(
            `connect --owner ${owner} reported ${out.device} (${out.reused ? 'reuse claim' : 'fresh'}), ` +
              `then the controller was ${state ?? 'gone'} and its owner ${JSON.stringify(got)}`,
          );
        // Disown it so the loop may take it while the next claim races (the owner itself
        // disowning: --force, since a disown of an owned controller needs it).
        const d = await nvmf(env, ['connect', ...target, '--owner=', '--force']);
        if (d.code === 0) c.disowns++;
        else if (!/does not exist|gone|deleted|ENO_CONTROLLER|no controller/i.test(d.stderr))
          v.add(`connect --owner= exited ${d.code}: ${d.stderr.slice(-300)}`);
        if ((c.fresh + c.claims) % 100 === 0)
          log(`${c.fresh} fresh, ${c.claims} claims, ${c.claimsLost} lost`);
      }
    };
    try {
      await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
    } finally {
      stop = true;
      await loop;
    }
    fs.rmSync(base, { recursive: true, force: true });
    if (c.claims + c.claimsLost === 0) v.add('no reuse claim met the loop: the part raced nothing');
    return {
      counts: {
        'fresh connects': c.fresh,
        'reuse claims': c.claims,
        'claims that lost their controller (error)': c.claimsLost,
        disowns: c.disowns,
        'disconnect-all runs': c.disconnectAlls,
        'controllers it deleted': c.deletedByLoop,
      },
      violations: v.result(),
    };
  },
};
