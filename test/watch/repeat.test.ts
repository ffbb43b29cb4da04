import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_ROUNDS, repeatWhileChanging } from '../../src/watch/repeat.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-repeat-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('repeatWhileChanging', () => {
  it('runs once when nothing changes', async () => {
    let n = 0;
    expect(await repeatWhileChanging(dir, async () => void n++)).toBe(1);
    expect(n).toBe(1);
  });

  it('runs again when the directory changed during a run (the change made inside the first run)', async () => {
    const seen: string[][] = [];
    const rounds = await repeatWhileChanging(dir, async () => {
      seen.push(fs.readdirSync(dir));
      // what a writer does around a change: its lock file created and removed in the root
      if (seen.length === 1) {
        fs.writeFileSync(path.join(dir, '.nvme3.flock'), '');
        fs.unlinkSync(path.join(dir, '.nvme3.flock'));
      }
    });
    expect(rounds).toBe(2);
    expect(seen).toEqual([[], []]);
  });

  it('sees a change made right after an I/O completion (a poll-phase callback, as in the export)', async () => {
    for (let i = 0; i < 20; i++) {
      let n = 0;
      const rounds = await repeatWhileChanging(dir, async () => {
        n++;
        await fs.promises.readdir(dir);
        if (n === 1) fs.writeFileSync(path.join(dir, `x${i}`), '');
      });
      expect(rounds, `attempt ${i}`).toBe(2);
    }
  });

  it('sees an entry renamed in and a file replaced in the root', async () => {
    fs.mkdirSync(path.join(dir, '.tmp.x'));
    const rounds = await repeatWhileChanging(dir, async () => {
      if (!fs.existsSync(path.join(dir, 'nvme1')))
        fs.renameSync(path.join(dir, '.tmp.x'), path.join(dir, 'nvme1'));
    });
    expect(rounds).toBe(2);
  });

  it(`stops after ${MAX_ROUNDS} runs when every run sees a change`, async () => {
    let n = 0;
    const rounds = await repeatWhileChanging(dir, async () => {
      n++;
      fs.writeFileSync(path.join(dir, `f${n}`), '');
    });
    expect(rounds).toBe(MAX_ROUNDS);
    expect(n).toBe(MAX_ROUNDS);
  });

  it('a missing directory cannot be watched: one run', async () => {
    let n = 0;
    expect(await repeatWhileChanging(path.join(dir, 'absent'), async () => void n++)).toBe(1);
  });
});
