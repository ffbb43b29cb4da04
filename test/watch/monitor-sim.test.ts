import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { MAIN, nvmf } from '../cli/helpers.js';
import { tableHost } from '../cli/sim-host.js';

let child: ChildProcess | null = null;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = null;
});

/** Poll `pred` until it holds, with a generous bound (a loaded machine). */
async function until(pred: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('nvmf monitor on a simulated host', () => {
  it("shows the events the sim's udevd processes, with the registry changes", async () => {
    const host = await tableHost({ NVMF_AUDIT_SINK: 'off' });
    const c = spawn(process.execPath, [MAIN, 'monitor', '-o', 'json'], {
      env: host.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    const lines: string[] = [];
    let err = '';
    c.stderr.on('data', (d: Buffer) => (err += d.toString()));
    createInterface({ input: c.stdout }).on('line', (l) => lines.push(l));
    const exit = new Promise<number | null>((r) => c.once('exit', (code) => r(code)));
    await until(
      () => err.includes('monitoring'),
      () => err,
    );

    // stas's controller goes: the kernel queues a remove uevent, the sim's udevd runs our rule
    expect(nvmf(host.env, ['disconnect', '-d', 'nvme1']).code).toBe(0);
    expect(nvmf(host.env, ['sim', 'udev-settle', host.dir]).code).toBe(0);
    const items = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    await until(
      () =>
        items().some((i) => i['source'] === 'udev' && i['action'] === 'remove' && i['device'] === 'nvme1'),
      () => `stdout=${lines.join('\n')} stderr=${err}`,
    );
    // the rule removed the entry: the registry half of the timeline shows it
    await until(
      () =>
        items().some((i) => i['source'] === 'registry' && i['type'] === 'removed' && i['device'] === 'nvme1'),
      () => `stdout=${lines.join('\n')}`,
    );
    c.kill('SIGINT');
    expect(await exit).toBe(0);
  });
});
