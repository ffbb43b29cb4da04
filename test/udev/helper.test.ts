import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { holdFlock } from '../registry/lock-holder.js';
import { decision, HELPER, runHelper, type Sandbox, sandbox } from './harness.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(() => {
  sb.cleanup();
});

const exists = (p: string): boolean => {
  try {
    fs.lstatSync(p);
    return true;
  } catch {
    return false;
  }
};

/** Nothing internal left behind: no lock, no trash. */
function internals(): string[] {
  return fs.readdirSync(sb.registry).filter((n) => n.startsWith('.'));
}

describe('removes', () => {
  it('a stale entry whose stamp is older than the remove event, logging every field', async () => {
    const e = sb.entry('nvme3', { owner: 'stas\n', seqnum: '100\n' });
    const run = await runHelper(sb, ['nvme3', '101']);
    expect(run.code).toBe(0);
    expect(exists(e)).toBe(false);
    expect(internals()).toEqual([]);
    expect(run.records[0]?.via).toBe('journald');
    const f = decision(run);
    expect(f).toMatchObject({
      SYSLOG_IDENTIFIER: 'nvmf-registry',
      PRIORITY: '6',
      NVMF_DEVICE: 'nvme3',
      NVMF_ACTION: 'udev-removed',
      NVMF_REASON: 'removed',
      NVMF_PHASE: 'locked',
      NVMF_BY: 'udev',
      NVMF_SEQNUM: '101',
      NVMF_STAMP: '100',
      NVMF_OWNER: 'stas',
    });
    expect(f.MESSAGE).toContain('removed nvme3');
  });

  it('an entry without a stamp (older writer) when the node is gone: guard 1 alone', async () => {
    const e = sb.entry('nvme0', { owner: 'k8s' });
    const f = decision(await runHelper(sb, ['nvme0', '5']));
    expect(f.NVMF_REASON).toBe('removed');
    expect(f.NVMF_STAMP).toBeUndefined();
    expect(exists(e)).toBe(false);
  });

  it('an unowned entry (no owner file)', async () => {
    const e = sb.entry('nvme12', { seqnum: '7' });
    const f = decision(await runHelper(sb, ['nvme12', '8']));
    expect(f.NVMF_ACTION).toBe('udev-removed');
    expect(f.NVMF_OWNER).toBeUndefined();
    expect(exists(e)).toBe(false);
  });

  it('is not held up by the lock file of a holder that was killed, and removes the file', async () => {
    const e = sb.entry('nvme3', { seqnum: '1' });
    const lock = path.join(sb.registry, '.nvme3.flock');
    await (await holdFlock(lock)).kill();
    expect(exists(lock)).toBe(true);
    const f = decision(await runHelper(sb, ['nvme3', '2'], { env: { NVMF_TEST_LOCK_BUDGET_MS: '0' } }));
    expect(f.NVMF_REASON).toBe('removed');
    expect(exists(e)).toBe(false);
    expect(internals()).toEqual([]);
  });

  it('is not held up by a lock directory an earlier version left at the old lock path', async () => {
    const e = sb.entry('nvme3', { seqnum: '1' });
    const old = path.join(sb.registry, '.nvme3.lock');
    fs.mkdirSync(old);
    const f = decision(await runHelper(sb, ['nvme3', '2'], { env: { NVMF_TEST_LOCK_BUDGET_MS: '0' } }));
    expect(f.NVMF_REASON).toBe('removed');
    expect(exists(e)).toBe(false);
    expect(exists(old)).toBe(true); // gc's to sweep
  });
});

describe('keeps', () => {
  it('when the device node exists again (guard 1), even with an older stamp', async () => {
    const e = sb.entry('nvme3', { owner: 'stas\n', seqnum: '100\n' });
    sb.node('nvme3');
    const run = await runHelper(sb, ['nvme3', '101']);
    expect(run.code).toBe(0);
    const f = decision(run);
    expect(f).toMatchObject({
      NVMF_ACTION: 'udev-kept',
      NVMF_REASON: 'node-exists',
      NVMF_PHASE: 'check',
      NVMF_OWNER: 'stas',
    });
    expect(exists(e)).toBe(true);
    expect(internals()).toEqual([]);
  });

  it('when the node is a dangling symlink (something is there: keep)', async () => {
    sb.entry('nvme3', { seqnum: '1' });
    fs.symlinkSync('/nonexistent', path.join(sb.dev, 'nvme3'));
    expect(decision(await runHelper(sb, ['nvme3', '2'])).NVMF_REASON).toBe('node-exists');
  });

  it('when the stamp is newer than the remove event (guard 2)', async () => {
    const e = sb.entry('nvme3', { owner: 'new\n', seqnum: '200\n' });
    const f = decision(await runHelper(sb, ['nvme3', '150']));
    expect(f).toMatchObject({ NVMF_REASON: 'stamp-newer', NVMF_SEQNUM: '150', NVMF_STAMP: '200' });
    expect(exists(e)).toBe(true);
  });

  it('when the stamp equals the remove event', async () => {
    const e = sb.entry('nvme3', { seqnum: '150\n' });
    expect(decision(await runHelper(sb, ['nvme3', '150'])).NVMF_REASON).toBe('stamp-newer');
    expect(exists(e)).toBe(true);
  });

  it.each([
    ['letters', 'abc'],
    ['trailing junk', '12abc'],
    ['negative', '-5'],
    ['leading blank', ' 5'],
    ['trailing blank', '5 '],
    ['hex', '0x10'],
    ['empty file', ''],
    ['leading zero', '007'],
    ['21 digits', '1'.padEnd(21, '0')],
    ['two lines', '5\n6\n'],
  ])('when the stamp is junk (%s): fail closed', async (_name, stamp) => {
    const e = sb.entry('nvme3', { seqnum: stamp });
    const f = decision(await runHelper(sb, ['nvme3', '99999']));
    expect(f).toMatchObject({ NVMF_ACTION: 'udev-kept', NVMF_REASON: 'stamp-invalid', PRIORITY: '4' });
    expect(f.NVMF_STAMP).not.toContain('\n');
    expect(exists(e)).toBe(true);
  });

  it('when the stamp is a symlink or a directory', async () => {
    const e = sb.entry('nvme3');
    fs.writeFileSync(path.join(sb.dir, 'elsewhere'), '1\n');
    fs.symlinkSync(path.join(sb.dir, 'elsewhere'), path.join(e, 'seqnum'));
    expect(decision(await runHelper(sb, ['nvme3', '2'])).NVMF_REASON).toBe('stamp-invalid');
    const e2 = sb.entry('nvme4');
    fs.mkdirSync(path.join(e2, 'seqnum'));
    expect(decision(await runHelper(sb, ['nvme4', '2'])).NVMF_REASON).toBe('stamp-invalid');
    expect(exists(e) && exists(e2)).toBe(true);
  });

  it.each([
    ['no SEQNUM argument', ['nvme3']],
    ['an empty SEQNUM ($env{SEQNUM} unset)', ['nvme3', '']],
    ['SEQNUM with trailing junk', ['nvme3', '12a']],
    ['SEQNUM negative', ['nvme3', '-1']],
    ['SEQNUM with a plus sign', ['nvme3', '+5']],
    ['SEQNUM with a leading blank', ['nvme3', ' 5']],
    ['SEQNUM with a leading zero', ['nvme3', '05']],
    ['SEQNUM of 21 digits', ['nvme3', '1'.padEnd(21, '0')]],
    ['SEQNUM with a newline', ['nvme3', '5\nNVMF_ACTION=udev-removed']],
    ['an extra argument', ['nvme3', '5', 'x']],
  ])('on bad arguments: %s', async (_name, args) => {
    const e = sb.entry('nvme3', { seqnum: '1' });
    const run = await runHelper(sb, args);
    expect(run.code).toBe(0);
    const f = decision(run);
    expect(f).toMatchObject({ NVMF_ACTION: 'udev-kept', NVMF_REASON: 'bad-arguments', NVMF_DEVICE: 'nvme3' });
    expect(exists(e)).toBe(true);
  });

  it.each([
    ['traversal', '../x'],
    ['traversal through an entry', 'nvme3/../../victim'],
    ['leading zero', 'nvme01'],
    ['no number', 'nvme'],
    ['a namespace', 'nvme3n1'],
    ['the fabrics device', 'nvme-fabrics'],
    ['upper case', 'NVME3'],
    ['empty', ''],
    ['absolute path', '/tmp/nvme3'],
    ['newline', 'nvme3\nNVMF_ACTION=udev-removed'],
  ])('on a bad kernel name (%s), touching nothing', async (_name, name) => {
    const e = sb.entry('nvme3', { seqnum: '1' });
    const victim = path.join(sb.dir, 'victim');
    fs.mkdirSync(victim);
    const run = await runHelper(sb, [name, '5']);
    const f = decision(run);
    expect(f).toMatchObject({ NVMF_ACTION: 'udev-kept', NVMF_REASON: 'bad-arguments' });
    expect(f.NVMF_DEVICE).not.toContain('\n');
    expect(exists(e) && exists(victim)).toBe(true);
  });

  it('with no arguments at all', async () => {
    expect(decision(await runHelper(sb, [])).NVMF_REASON).toBe('bad-arguments');
  });

  it('nothing when the device is not registered, or there is no registry', async () => {
    expect(decision(await runHelper(sb, ['nvme3', '5'])).NVMF_REASON).toBe('not-registered');
    const run = await runHelper({ registry: path.join(sb.dir, 'absent'), dev: sb.dev }, ['nvme3', '5']);
    expect(decision(run).NVMF_REASON).toBe('not-registered');
    expect(exists(path.join(sb.dir, 'absent'))).toBe(false);
  });

  it('a symlinked entry, and what it points to', async () => {
    const target = path.join(sb.dir, 'target');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'seqnum'), '1\n');
    fs.symlinkSync(target, path.join(sb.registry, 'nvme3'));
    const f = decision(await runHelper(sb, ['nvme3', '5']));
    expect(f).toMatchObject({ NVMF_ACTION: 'udev-kept', NVMF_REASON: 'symlink' });
    expect(exists(path.join(target, 'seqnum'))).toBe(true);
    expect(fs.lstatSync(path.join(sb.registry, 'nvme3')).isSymbolicLink()).toBe(true);
  });

  it('everything under a symlinked registry root', async () => {
    sb.entry('nvme3', { seqnum: '1' });
    const link = path.join(sb.dir, 'link');
    fs.symlinkSync(sb.registry, link);
    const f = decision(await runHelper({ registry: link, dev: sb.dev }, ['nvme3', '5']));
    expect(f.NVMF_REASON).toBe('symlink');
    expect(exists(path.join(sb.registry, 'nvme3'))).toBe(true);
  });

  it('an entry that is not a directory', async () => {
    fs.writeFileSync(path.join(sb.registry, 'nvme3'), 'x');
    expect(decision(await runHelper(sb, ['nvme3', '5'])).NVMF_REASON).toBe('not-a-directory');
    expect(exists(path.join(sb.registry, 'nvme3'))).toBe(true);
  });

  it('when the lock stays held past the bounded wait, leaving the holder its lock', async () => {
    const e = sb.entry('nvme3', { seqnum: '1' });
    const lock = path.join(sb.registry, '.nvme3.flock');
    const holder = await holdFlock(lock);
    let run: Awaited<ReturnType<typeof runHelper>>;
    try {
      run = await runHelper(sb, ['nvme3', '2'], { env: { NVMF_TEST_LOCK_BUDGET_MS: '300' } });
    } finally {
      await holder.kill();
    }
    const f = decision(run);
    expect(f).toMatchObject({
      NVMF_ACTION: 'udev-kept',
      NVMF_REASON: 'locked',
      PRIORITY: '4',
      NVMF_PHASE: 'locked',
    });
    expect(f.MESSAGE).toContain('300 ms');
    expect(exists(e) && exists(lock)).toBe(true);
  });

  it.each([
    ['a symlink', (p: string) => fs.symlinkSync(path.join(sb.dir, 'elsewhere'), p)],
    ['a directory', (p: string) => fs.mkdirSync(p)],
    ['a FIFO', (p: string) => spawnSync('mkfifo', [p])],
  ])('when the lock path holds %s (fails closed, follows nothing)', async (_what, plant) => {
    const e = sb.entry('nvme3', { seqnum: '1' });
    const lock = path.join(sb.registry, '.nvme3.flock');
    plant(lock);
    const f = decision(await runHelper(sb, ['nvme3', '2'], { env: { NVMF_TEST_LOCK_BUDGET_MS: '200' } }));
    expect(f.NVMF_REASON).toBe('locked');
    expect(exists(e)).toBe(true);
    expect(exists(path.join(sb.dir, 'elsewhere'))).toBe(false);
  });
});

describe('numbers', () => {
  it.each([
    ['u64 max vs one less', '18446744073709551614', '18446744073709551615', 'removed'],
    ['one less vs u64 max', '18446744073709551615', '18446744073709551614', 'stamp-newer'],
    ['19 digits vs 20', '9999999999999999999', '10000000000000000000', 'removed'],
    ['same high part, low part decides', '12345678901000000009', '12345678901000000010', 'removed'],
    ['same high part, low part keeps', '12345678901000000010', '12345678901000000009', 'stamp-newer'],
    ['zero stamp', '0', '1', 'removed'],
  ])('compares as unbounded decimals: %s', async (_n, stamp, seq, reason) => {
    sb.entry('nvme3', { seqnum: `${stamp}\n` });
    expect(decision(await runHelper(sb, ['nvme3', seq])).NVMF_REASON).toBe(reason);
  });

  it('removes exactly when SEQNUM > stamp over random u64 pairs', async () => {
    const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
    const near = fc.tuple(u64, fc.integer({ min: -3, max: 3 })).map(([a, d]) => {
      const b = a + BigInt(d);
      return [a, b < 0n ? 0n : b >= 1n << 64n ? a : b] as const;
    });
    let i = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.tuple(u64, u64), near), async ([stamp, seq]) => {
        const dev = `nvme${i++}`;
        const e = sb.entry(dev, { seqnum: `${stamp}\n` });
        const f = decision(await runHelper(sb, [dev, String(seq)]));
        expect(f.NVMF_REASON).toBe(seq > stamp ? 'removed' : 'stamp-newer');
        expect(exists(e)).toBe(seq <= stamp);
      }),
      { numRuns: 120 },
    );
  });
});

describe('logging', () => {
  it('without journald writes the record to the audit file, the same fields as JSON', async () => {
    sb.entry('nvme3', { owner: 'st"a\\s\n', seqnum: '100\n' });
    const run = await runHelper(sb, ['nvme3', '101'], { env: { FAKE_LOGGER_MODE: 'no-journald' } });
    expect(run.records).toHaveLength(1);
    const r = run.records[0];
    expect(r?.via).toBe('file');
    expect(r?.fields).toMatchObject({
      SYSLOG_IDENTIFIER: 'nvmf-registry',
      PRIORITY: '6',
      NVMF_ACTION: 'udev-removed',
      NVMF_DEVICE: 'nvme3',
      NVMF_REASON: 'removed',
      NVMF_PHASE: 'locked',
      NVMF_BY: 'udev',
      NVMF_SEQNUM: '101',
      NVMF_STAMP: '100',
      NVMF_OWNER: 'st"a\\s',
      MESSAGE: 'removed nvme3: controller gone, remove event 101',
    });
    expect(Number.isNaN(Date.parse(String(r?.fields.time)))).toBe(false);
  });

  it.each([
    ['stderr', ['stderr']],
    ['off', []],
  ])('NVMF_AUDIT_SINK=%s: no journald, no file, as the library does', async (sink, via) => {
    sb.entry('nvme3', { seqnum: '1' });
    const run = await runHelper(sb, ['nvme3', '2'], { env: { NVMF_AUDIT_SINK: sink } });
    expect(run.records.map((r) => r.via)).toEqual(via);
    expect(run.stderr).toBe(sink === 'stderr' ? run.records[0]?.fields.TEXT + '\n' : '');
    expect(fs.existsSync(path.join(sb.dir, 'registry', 'nvme3'))).toBe(false);
  });

  // An audit file that cannot be written: under a regular file.
  const unwritable = (): string => {
    const f = path.join(sb.dir, 'plain');
    fs.writeFileSync(f, '');
    return path.join(f, 'audit.jsonl');
  };

  it('nor the file: falls back to logger -t with the same facts as key=value text', async () => {
    sb.entry('nvme3', { owner: 'stas\n', seqnum: '100\n' });
    const run = await runHelper(sb, ['nvme3', '101'], {
      env: { FAKE_LOGGER_MODE: 'no-journald', NVMF_AUDIT_FILE: unwritable() },
    });
    expect(run.records).toHaveLength(1);
    const r = run.records[0];
    expect(r?.via).toBe('syslog');
    expect(r?.fields.ARGS).toBe('-t nvmf-registry -p user.info --');
    expect(r?.fields.TEXT).toContain(
      'removed nvme3: controller gone, remove event 101 (device=nvme3 action=udev-removed reason=removed phase=locked seqnum=101 stamp=100 owner=stas)',
    );
  });

  it('writes to stderr (udevd keeps it in its debug log) when no logger and no file works', async () => {
    sb.entry('nvme3', { seqnum: '200' });
    const run = await runHelper(sb, ['nvme3', '101'], {
      env: { FAKE_LOGGER_MODE: 'fail', NVMF_AUDIT_FILE: unwritable() },
    });
    expect(run.records).toHaveLength(1);
    expect(run.records[0]?.via).toBe('stderr');
    expect(run.records[0]?.fields.TEXT).toContain('reason=stamp-newer');
  });

  it.skipIf(fs.existsSync('/run/systemd/journal/socket') || fs.existsSync('/dev/log'))(
    'with the real logger and neither journald, the file nor syslog reachable, still says it on stderr',
    async () => {
      sb.entry('nvme3', { seqnum: '1' });
      const run = await runHelper(sb, ['nvme3', '2'], {
        fakeLogger: false,
        env: { NVMF_AUDIT_FILE: unwritable() },
      });
      expect(run.records.map((r) => r.via)).toEqual(['stderr']);
      expect(run.records[0]?.fields.TEXT).toContain('action=udev-removed reason=removed');
    },
  );

  it('cannot be made to add fields or lines through an untrusted owner', async () => {
    const evil = 'evil\nNVMF_ACTION=udev-removed\nMESSAGE=forged\r\x1b[2J';
    sb.entry('nvme3', { owner: evil, seqnum: '9' });
    sb.node('nvme3');
    const run = await runHelper(sb, ['nvme3', '10']);
    const f = decision(run); // parseRecords rejects duplicate fields
    expect(f.NVMF_ACTION).toBe('udev-kept');
    expect(f.NVMF_OWNER).toBe('evil?NVMF_ACTION=udev-removed?MESSAGE=forged??[2J');
    expect(f.MESSAGE).not.toContain('forged');
  });

  it('cuts a huge owner to 256 bytes', async () => {
    sb.entry('nvme3', { owner: 'x'.repeat(5000), seqnum: '9' });
    sb.node('nvme3');
    expect(decision(await runHelper(sb, ['nvme3', '10'])).NVMF_OWNER).toBe('x'.repeat(256));
  });
});

describe('the script', () => {
  it('parses as POSIX sh under dash and is executable', () => {
    const r = spawnSync('dash', ['-n', HELPER], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(fs.statSync(HELPER).mode & 0o111).toBe(0o111);
  });

  const checkbashisms = spawnSync('sh', ['-c', 'command -v checkbashisms'], {
    encoding: 'utf8',
  }).stdout.trim();
  it.skipIf(checkbashisms === '')('has no bashisms (checkbashisms)', () => {
    const r = spawnSync(checkbashisms, ['--posix', '--extra', HELPER], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});
