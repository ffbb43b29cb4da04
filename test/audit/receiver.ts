import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

/** A real AF_UNIX datagram receiver (python3) that decodes journald's native protocol. */
export interface Receiver {
  socketPath: string;
  records: Record<string, string>[];
  waitFor(n: number, timeoutMs?: number): Promise<Record<string, string>[]>;
  close(): void;
}

export async function startReceiver(socketPath: string): Promise<Receiver> {
  const script = path.join(import.meta.dirname, 'journal-receiver.py');
  const child: ChildProcess = spawn('python3', [script, socketPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const records: Record<string, string>[] = [];
  const waiters: (() => void)[] = [];
  const rl = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`receiver exited ${code}`)));
    rl.on('line', (line) => {
      if (line === 'READY') return resolve();
      records.push(JSON.parse(line) as Record<string, string>);
      for (const w of waiters.splice(0)) w();
    });
  });
  return {
    socketPath,
    records,
    async waitFor(n, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (records.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${records.length} of ${n} records`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 50);
        });
      }
      return records;
    },
    close() {
      child.kill('SIGTERM');
    },
  };
}
