import { spawn } from 'node:child_process';
import readline from 'node:readline';

export interface HeldLock {
  /** The holder's pid (its flock(1)-locked descriptor lives in this process). */
  pid: number;
  /** SIGKILL the holder while it holds: the kernel drops the flock, the lock file stays. */
  kill(): Promise<void>;
}

/**
 * Hold the flock on lock file `lp` from another process, the way the udev helper takes it
 * (flock(1) on a descriptor of the shell), until killed. Resolves once the lock is held.
 */
export async function holdFlock(lp: string): Promise<HeldLock> {
  const child = spawn('dash', ['-c', 'exec 9<>"$1" && flock 9 && echo held && exec sleep 600', 'sh', lp], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const line = await new Promise<string | null>((resolve) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', () => resolve(null));
  });
  if (line !== 'held') throw new Error(`lock holder did not take ${lp}`);
  return {
    pid: child.pid as number,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
