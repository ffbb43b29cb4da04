import { describe, expect, it } from 'vitest';
import { diffEntry, type EntryState } from '../../src/watch/registry-diff.js';

const T = '2026-01-01T00:00:00.000Z';
const owned = (o: string): EntryState => ({ owner: o });
const unowned: EntryState = { owner: null };

describe('diffEntry', () => {
  it.each<[string, EntryState, EntryState, object | null]>([
    ['absent -> absent', null, null, null],
    ['absent -> unowned', null, unowned, { type: 'created', owner: null, prevOwner: null }],
    ['absent -> owned', null, owned('a'), { type: 'claimed', owner: 'a', prevOwner: null, created: true }],
    ['unowned -> owned', unowned, owned('a'), { type: 'claimed', owner: 'a', prevOwner: null }],
    ['owned -> unowned', owned('a'), unowned, { type: 'released', owner: null, prevOwner: 'a' }],
    ['owned -> other', owned('a'), owned('b'), { type: 'owner-changed', owner: 'b', prevOwner: 'a' }],
    ['owned -> same', owned('a'), owned('a'), null],
    ['unowned -> unowned', unowned, unowned, null],
    ['owned -> absent', owned('a'), null, { type: 'removed', owner: null, prevOwner: 'a' }],
    ['unowned -> absent', unowned, null, { type: 'removed', owner: null, prevOwner: null }],
  ])('%s', (_name, prev, next, want) => {
    const got = diffEntry('nvme4', prev, next, T);
    if (want === null) expect(got).toBeNull();
    else expect(got).toEqual({ device: 'nvme4', time: T, ...want });
  });
});
