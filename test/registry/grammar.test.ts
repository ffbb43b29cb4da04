import { describe, expect, it } from 'vitest';
import { isDevice } from '../../src/nvme/names.js';
import { isStamp, parseSeqnum } from '../../src/registry/names.js';
import { GRAMMAR } from '../fixtures/grammar/cases.js';

describe('shared grammars (library side)', () => {
  it.each(GRAMMAR.stamps)('stamp %j valid: %s', (text, valid) => {
    expect(isStamp(text)).toBe(valid);
    expect(parseSeqnum(text) !== null).toBe(valid);
  });
  it.each(GRAMMAR.devices)('device %j valid: %s', (name, valid) => {
    expect(isDevice(name)).toBe(valid);
  });
  it('reads stamps within 2^53 exactly', () => {
    expect(parseSeqnum('9007199254740991')).toBe(Number.MAX_SAFE_INTEGER);
  });
});
