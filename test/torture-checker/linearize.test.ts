import { describe, expect, it } from 'vitest';
import { linearizable, type Op } from '../torture/linearize.js';

const op = (o: Op['op'], arg: Op['arg'], res: Op['res'], start: number, end: number): Op => ({
  op: o,
  arg,
  res,
  start,
  end,
});
const entry = (owner: string | null, seqnum: number) => ({ ok: { owner, seqnum, error: null } });

describe('the torture linearizability checker', () => {
  it('accepts a sequential history that follows the model', () => {
    expect(
      linearizable(
        [
          op('create', { owner: 'a', seqnum: 1 }, { ok: 'ok' }, 0, 1),
          op('read', null, entry('a', 1), 2, 3),
          op('claim', { owner: 'b', expect: 'a' }, { ok: 'a' }, 4, 5),
          op('disown', { expect: 'a' }, { err: 'EOWNER_CONFLICT' }, 6, 7),
          op('delete', null, { ok: true }, 8, 9),
          op('claim', { owner: 'b' }, { err: 'ENOT_REGISTERED' }, 10, 11),
          op('read', null, { ok: null }, 12, 13),
        ],
        null,
      ),
    ).toBe(true);
  });

  it('accepts overlapping operations in the order their results need', () => {
    // Create 2 took effect first, then the first read, then create 1 (still running).
    expect(
      linearizable(
        [
          op('create', { owner: 'a', seqnum: 1 }, { ok: 'ok' }, 0, 10),
          op('create', { owner: 'b', seqnum: 2 }, { ok: 'ok' }, 1, 3),
          op('read', null, entry('b', 2), 4, 5),
          op('read', null, entry('a', 1), 11, 12),
        ],
        null,
      ),
    ).toBe(true);
  });

  it('rejects a read that sees the entry absent while a replace is all that runs', () => {
    expect(
      linearizable(
        [
          op('create', { owner: 'a', seqnum: 1 }, { ok: 'ok' }, 0, 1),
          op('create', { owner: 'b', seqnum: 2 }, { ok: 'ok' }, 2, 10),
          op('read', null, { ok: null }, 3, 4),
        ],
        null,
      ),
    ).toBe(false);
  });

  it('rejects a stale read after a completed write, and two claims that both won', () => {
    expect(
      linearizable(
        [
          op('create', { owner: 'a', seqnum: 1 }, { ok: 'ok' }, 0, 1),
          op('claim', { owner: 'b' }, { ok: 'a' }, 2, 3),
          op('read', null, entry('a', 1), 4, 5),
        ],
        null,
      ),
    ).toBe(false);
    expect(
      linearizable(
        [
          op('create', { owner: null, seqnum: 1 }, { ok: 'ok' }, 0, 1),
          op('claim', { owner: 'b', expect: null }, { ok: null }, 2, 6),
          op('claim', { owner: 'c', expect: null }, { ok: null }, 3, 5),
        ],
        null,
      ),
    ).toBe(false);
  });
});
