/**
 * 16 processes of mixed registry operations on 20 devices; each device's history (calls and
 * returns timed with the host's monotonic clock) must be linearizable against the sequential
 * model of one entry. Rounds are bounded so each history stays small enough to search.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { linearizable, type Op } from '../linearize.js';
import { bundleRegistry } from '../../registry/helpers.js';
import { type Part, Violations } from '../part.js';

const PROCESSES = 16;
const DEVICES = 20;
const OPS_PER_PROCESS = 150;
const worker = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'workers', 'mixed-ops.cjs');

type Row = [string, Op['op'], Op['arg'], Op['res'], number, number];

function history(bundle: string, root: string): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [worker, bundle, root, String(DEVICES), String(OPS_PER_PROCESS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out) as Row[]) : reject(new Error(`mixed-ops exited ${code}`)),
    );
  });
}

export const linearizability: Part = {
  name: 'linearizability',
  about: `${PROCESSES} processes, mixed operations on ${DEVICES} devices, each device's history checked`,
  async run(deadline, log) {
    const v = new Violations();
    let rounds = 0;
    let ops = 0;
    let histories = 0;
    const errors: Record<string, number> = {};
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-torture-lin-'));
    const bundle = bundleRegistry(base);
    while (Date.now() < deadline) {
      const root = fs.mkdtempSync(path.join(base, 'round-'));
      try {
        const rows = (
          await Promise.all(Array.from({ length: PROCESSES }, () => history(bundle, root)))
        ).flat();
        const byDevice = new Map<string, Op[]>();
        for (const [dev, op, arg, res, start, end] of rows) {
          if ('err' in res) errors[res.err] = (errors[res.err] ?? 0) + 1;
          if ('err' in res && !['ENOT_REGISTERED', 'EOWNER_CONFLICT', 'ELOCKED'].includes(res.err))
            v.add(`${dev} ${op}: unexpected ${res.err}: ${res.message ?? ''}`);
          const list = byDevice.get(dev) ?? [];
          list.push({ op, arg, res, start, end });
          byDevice.set(dev, list);
        }
        for (const [dev, list] of byDevice) {
          histories++;
          ops += list.length;
          if (!linearizable(list, null)) {
            const file = path.join(os.tmpdir(), `nvmf-torture-history-${dev}-${Date.now()}.json`);
            fs.writeFileSync(file, JSON.stringify(list));
            v.add(
              `round ${rounds}: the history of ${dev} (${list.length} operations) is not linearizable; saved in ${file}`,
            );
          }
        }
        rounds++;
        if (rounds % 20 === 0) log(`${rounds} rounds, ${ops} operations`);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    }
    fs.rmSync(base, { recursive: true, force: true });
    return {
      counts: {
        rounds,
        operations: ops,
        'device histories checked': histories,
        ...Object.fromEntries(Object.entries(errors).map(([k, n]) => [`${k} results`, n])),
      },
      violations: v.result(),
    };
  },
};
