import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Sandbox, sandbox } from './helpers.js';

/** What list() makes of each kind of entry directory: exactly the expected entry, or exactly the expected refusal. */

let sb: Sandbox;
const servers: net.Server[] = [];
beforeEach(() => {
  sb = sandbox();
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  sb.cleanup();
});

type Expected =
  | { owner: string | null; seqnum: number | null; attrs: Record<string, string> }
  | { error: string }
  | 'skipped';

/** [what, how the entry directory `dir` is made (it exists, empty), what list() reports]. */
const CASES: Array<[string, (dir: string) => void | Promise<void>, Expected]> = [
  [
    'owner and seqnum',
    (d) => files(d, { owner: 'stas\n', seqnum: '7\n' }),
    { owner: 'stas', seqnum: 7, attrs: {} },
  ],
  ['no owner file', (d) => files(d, { seqnum: '7\n' }), { owner: null, seqnum: 7, attrs: {} }],
  [
    'a 0-byte owner reads as absent',
    (d) => files(d, { owner: '', seqnum: '7\n' }),
    { owner: null, seqnum: 7, attrs: {} },
  ],
  [
    'a lone newline as owner is the empty name (as libnvme reads it)',
    (d) => files(d, { owner: '\n', seqnum: '1\n' }),
    { owner: '', seqnum: 1, attrs: {} },
  ],
  [
    'CR/LF endings are stripped',
    (d) => files(d, { owner: 'nbft\r\n', seqnum: '9\r\n', note: 'a b\r\n\n' }),
    { owner: 'nbft', seqnum: 9, attrs: { note: 'a b' } },
  ],
  ['no trailing newline', (d) => files(d, { owner: 'x', seqnum: '3' }), { owner: 'x', seqnum: 3, attrs: {} }],
  [
    'private attributes, sorted',
    (d) => files(d, { seqnum: '1\n', zeta: 'z\n', alpha: 'a\n', 'A-b_9': 'm\n' }),
    { owner: null, seqnum: 1, attrs: { 'A-b_9': 'm', alpha: 'a', zeta: 'z' } },
  ],
  [
    'a lone newline as a private value is the empty value',
    (d) => files(d, { seqnum: '1\n', blank: '\n', empty: '' }),
    { owner: null, seqnum: 1, attrs: { blank: '' } },
  ],
  [
    'UTF-8 owner',
    (d) => files(d, { owner: 'équipe-ストレージ\n', seqnum: '2\n' }),
    { owner: 'équipe-ストレージ', seqnum: 2, attrs: {} },
  ],
  [
    'a file of exactly the largest size (value, CR, LF)',
    (d) => files(d, { seqnum: '1\n', big: `${'v'.repeat(4094)}\r\n` }),
    { owner: null, seqnum: 1, attrs: { big: 'v'.repeat(4094) } },
  ],
  [
    'hidden, temp and off-grammar names are left alone',
    (d) => {
      files(d, {
        owner: 'o\n',
        seqnum: '1\n',
        '.hidden': 'h\n',
        'owner.tmp.Ab12Cd': 'half',
        'a.b': 'x\n',
        'with space': 'x\n',
        café: 'x\n',
        [`${'n'.repeat(65)}`]: 'x\n',
      });
      fs.mkdirSync(path.join(d, '.trash'));
      fs.symlinkSync('/etc/passwd', path.join(d, '.link'));
    },
    { owner: 'o', seqnum: 1, attrs: {} },
  ],
  ['an empty entry', () => {}, { owner: null, seqnum: null, attrs: {} }],
  [
    'an owner outside the grammar',
    (d) => files(d, { owner: 'a/b\n', seqnum: '1\n' }),
    { error: 'EINVALID_OWNER' },
  ],
  [
    'an owner with a control character',
    (d) => files(d, { owner: 'a\u0007b\n', seqnum: '1\n' }),
    { error: 'EINVALID_OWNER' },
  ],
  [
    'a seqnum that is not a number',
    (d) => files(d, { owner: 'o\n', seqnum: 'soon\n' }),
    { error: 'EINVALID_VALUE' },
  ],
  [
    'a symlink as an attribute',
    (d) => {
      files(d, { seqnum: '1\n' });
      fs.symlinkSync('/etc/hostname', path.join(d, 'note'));
    },
    { error: 'ESYMLINK' },
  ],
  [
    'a symlink as the owner',
    (d) => {
      files(d, { seqnum: '1\n' });
      fs.symlinkSync('/etc/hostname', path.join(d, 'owner'));
    },
    { error: 'ESYMLINK' },
  ],
  [
    'a dangling symlink as an attribute',
    (d) => {
      files(d, { seqnum: '1\n' });
      fs.symlinkSync(path.join(d, 'nowhere'), path.join(d, 'note'));
    },
    { error: 'ESYMLINK' },
  ],
  [
    'a FIFO as an attribute (no hang)',
    (d) => {
      files(d, { seqnum: '1\n' });
      execFileSync('mkfifo', [path.join(d, 'fifo')]);
    },
    { error: 'ENOT_FILE' },
  ],
  [
    'a directory as an attribute',
    (d) => {
      files(d, { seqnum: '1\n' });
      fs.mkdirSync(path.join(d, 'adir'));
    },
    { error: 'ENOT_FILE' },
  ],
  [
    'a socket as an attribute',
    async (d) => {
      files(d, { seqnum: '1\n' });
      // Listening until the test ends: closing the server would unlink the socket.
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(path.join(d, 'sock'), resolve));
    },
    { error: 'ENOT_FILE' },
  ],
  [
    'a file over the largest size',
    (d) => files(d, { seqnum: '1\n', big: 'x'.repeat(10_000) }),
    { error: 'ETOO_LARGE' },
  ],
  [
    'a file one byte over it',
    (d) => files(d, { seqnum: '1\n', big: `${'v'.repeat(4096)}\n` }),
    { error: 'ETOO_LARGE' },
  ],
  [
    'a symlink as the entry',
    (d) => {
      fs.rmdirSync(d);
      const target = `${d}-target`;
      fs.mkdirSync(target);
      files(target, { owner: 'victim\n', seqnum: '1\n' });
      fs.symlinkSync(target, d);
    },
    { error: 'ESYMLINK' },
  ],
  [
    'a file as the entry',
    (d) => {
      fs.rmdirSync(d);
      fs.writeFileSync(d, 'not a directory\n');
    },
    { error: 'ENOT_DIR' },
  ],
];

function files(dir: string, content: Record<string, string>): void {
  for (const [name, value] of Object.entries(content)) fs.writeFileSync(path.join(dir, name), value);
}

async function build(): Promise<Map<string, Expected>> {
  fs.mkdirSync(sb.root, { recursive: true });
  const expected = new Map<string, Expected>();
  for (let i = 0; i < CASES.length; i++) {
    const [, make, want] = CASES[i]!;
    const device = `nvme${i}`;
    const dir = path.join(sb.root, device);
    fs.mkdirSync(dir);
    await make(dir);
    expected.set(device, want);
  }
  // Names in the root that are not entries.
  fs.mkdirSync(path.join(sb.root, '.nvme1.tmp.123.abc'));
  fs.mkdirSync(path.join(sb.root, 'nvme01'));
  fs.mkdirSync(path.join(sb.root, 'nvmeX'));
  return expected;
}

describe('list()', () => {
  it('gives the expected entry or refusal for every case of the table', async () => {
    const expected = await build();
    const reg = sb.open();
    const { live, stale } = reg.list();
    expect(live).toEqual([]);
    const got = new Map(stale.map((e) => [e.device, e]));
    const rows = CASES.map(([what], i) => {
      const e = got.get(`nvme${i}`);
      const want = expected.get(`nvme${i}`)!;
      const seen: Expected =
        e === undefined
          ? 'skipped'
          : e.error !== undefined
            ? { error: e.error.code }
            : { owner: e.owner, seqnum: e.seqnum, attrs: e.attrs };
      return [what, seen, want];
    });
    for (const [what, seen, want] of rows) expect(seen, String(what)).toEqual(want);
    // Natural order, and nothing that is not an entry.
    expect(stale.map((e) => e.device)).toEqual(CASES.map((_, i) => `nvme${i}`));
  });

  it('error messages name the entry and the attribute', async () => {
    await build();
    const reg = sb.open();
    const byDevice = new Map(reg.list().stale.map((e) => [e.device, e]));
    const fifo = CASES.findIndex(([what]) => what.startsWith('a FIFO'));
    const symlinkEntry = CASES.findIndex(([what]) => what === 'a symlink as the entry');
    expect(byDevice.get(`nvme${fifo}`)?.error?.message).toBe(
      `attribute ${JSON.stringify(path.join(sb.root, `nvme${fifo}`, 'fifo'))} is a FIFO, expected a regular file (remove it)`,
    );
    expect(byDevice.get(`nvme${symlinkEntry}`)?.error?.message).toContain(
      `entry ${JSON.stringify(path.join(sb.root, `nvme${symlinkEntry}`))} is a symlink`,
    );
  });

  // Guard 1 is asked once an entry's files are read and before the read is checked: the
  // moment to change the entry under the reader, deterministically.
  it('an entry replaced while it is read, its old directory half purged, is read again whole', () => {
    const writer = sb.open();
    writer.create('nvme1', { owner: 'old', seqnum: 1 });
    writer.setAttr('nvme1', 'note', 'old note');
    let asked = 0;
    const reg = sb.open({
      deviceNodeExists: () => {
        if (asked++ === 0) {
          // What a delete does (rename away, then purge), caught half way, and a new generation.
          const trash = path.join(sb.root, '.nvme1.trash.test');
          fs.renameSync(path.join(sb.root, 'nvme1'), trash);
          fs.unlinkSync(path.join(trash, 'seqnum'));
          writer.create('nvme1', { owner: 'new', seqnum: 2 });
        }
        return true;
      },
    });
    expect(reg.list().live).toEqual([
      {
        device: 'nvme1',
        owner: 'new',
        seqnum: 2,
        attrs: {},
        live: true,
        identity: null,
        verdict: { kind: 'owned', owner: 'new' },
      },
    ]);
    expect(asked).toBe(2);
  });

  it('an entry deleted while it is read is left out', () => {
    const writer = sb.open();
    writer.create('nvme1', { owner: 'a', seqnum: 1 });
    writer.create('nvme2', { owner: 'b', seqnum: 2 });
    let asked = 0;
    const reg = sb.open({
      deviceNodeExists: (d) => {
        if (d === 'nvme1' && asked++ === 0) {
          const trash = path.join(sb.root, '.nvme1.trash.test');
          fs.renameSync(path.join(sb.root, 'nvme1'), trash);
          fs.unlinkSync(path.join(trash, 'owner'));
        }
        return true;
      },
    });
    expect(reg.list().live.map((e) => [e.device, e.owner])).toEqual([['nvme2', 'b']]);
  });

  it('answers guard 1 per entry, live and stale apart', async () => {
    await build();
    sb.nodes.add('nvme0');
    sb.nodes.add('nvme12');
    const reg = sb.open();
    const { live } = reg.list();
    expect(live.map((e) => [e.device, e.error?.code ?? null])).toEqual([
      ['nvme0', null],
      ['nvme12', 'EINVALID_OWNER'],
    ]);
  });
});

describe('listing again', () => {
  function populate(n: number): void {
    const reg = sb.open();
    for (let i = 0; i < n; i++) reg.create(`nvme${i}`, { owner: `o${i}`, seqnum: i });
  }

  it('gives the same entries from the same registry', () => {
    populate(300);
    const reg = sb.open();
    const first = reg.list();
    expect(reg.list()).toEqual(first);
    expect(first.stale).toHaveLength(300);
  });

  it('an entry that vanishes or is replaced between lists is read afresh', () => {
    populate(300);
    const reg = sb.open();
    reg.list();
    const writer = sb.open();
    writer.delete('nvme5');
    writer.create('nvme6', { owner: 'new', seqnum: 999 });
    writer.setAttr('nvme7', 'note', 'added');
    const l = reg.list();
    const byDevice = new Map(l.stale.map((e) => [e.device, e]));
    expect(byDevice.has('nvme5')).toBe(false);
    expect(byDevice.get('nvme6')).toMatchObject({ owner: 'new', seqnum: 999, attrs: {} });
    expect(byDevice.get('nvme7')).toMatchObject({ owner: 'o7', seqnum: 7, attrs: { note: 'added' } });
  });
});
