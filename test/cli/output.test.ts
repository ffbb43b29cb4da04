import { afterEach, describe, expect, it } from 'vitest';
import { fitLead, renderTable, setWideOutput, shorten, TEXT_WIDTH } from '../../src/cli/output.js';

afterEach(() => setWideOutput(false));

const LONG_NQN = `nqn.2014-08.com.example:${'x'.repeat(190)}:vol1`; // 219 bytes, within the NQN limit
const widest = (text: string): number => Math.max(...text.split('\n').map((l) => [...l].length));

describe('renderTable', () => {
  it('fits 80 columns: the long cell is shortened in the middle, keeping its tail', () => {
    const text = renderTable(
      ['Device', 'Subsystem', 'State'],
      [
        ['nvme1', LONG_NQN, 'live'],
        ['nvme2', 'nqn.short', 'live'],
      ],
    );
    expect(widest(text)).toBeLessThanOrEqual(TEXT_WIDTH);
    expect(text).toMatch(/nvme1 +nqn\.2014-08\.com\.e\S*…\S*x:vol1 +live/);
    expect(text).toContain('nqn.short');
  });

  it('wraps the last column at spaces, indented to it; a long word in it is shortened', () => {
    const reason = `in use: nvme1n1 mounted at /${'d'.repeat(100)} and held by dm-0`;
    const text = renderTable(['Device', 'Action', 'Reason'], [['nvme1', 'skip', reason]]);
    expect(widest(text)).toBeLessThanOrEqual(TEXT_WIDTH);
    const lines = text.trimEnd().split('\n');
    expect(lines[2]).toMatch(/^nvme1 +skip +in use: nvme1n1 mounted at$/);
    expect(lines.slice(3).every((l) => l.startsWith(' '.repeat(16)))).toBe(true);
    expect(text).toContain('held by dm-0');
  });

  it('-vv: whole values, however wide', () => {
    setWideOutput(true);
    const text = renderTable(['Device', 'Subsystem'], [['nvme1', LONG_NQN]]);
    expect(text).toContain(LONG_NQN);
  });

  it('escapes every cell: a newline cannot forge a row', () => {
    const text = renderTable(['Device', 'Owner'], [['nvme1', 'v\nnvme7 forged']]);
    expect(text.trimEnd().split('\n')).toHaveLength(3);
    expect(text).toContain('v\\nnvme7 forged');
  });
});

describe('shorten and fitLead', () => {
  it('shorten keeps the width and both ends', () => {
    expect(shorten('abcdefghij', 5)).toBe('ab…ij');
    expect(shorten('abc', 5)).toBe('abc');
  });
  it('fitLead makes the line fit, whole with -vv', () => {
    const rest = ': nvme3, owner stas';
    expect([...`${fitLead(LONG_NQN, rest.length)}${rest}`].length).toBe(TEXT_WIDTH);
    setWideOutput(true);
    expect(fitLead(LONG_NQN, rest.length)).toBe(LONG_NQN);
  });
});
