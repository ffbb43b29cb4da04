import { describe, expect, it } from 'vitest';
import { resolveEnabledPlugins } from '../../src/cli/config.js';

const F = '/etc/nvme/nvmf.json';

describe('which plugins are enabled', () => {
  it.each([
    [undefined, undefined, ['registry']],
    [undefined, {}, ['registry']],
    [undefined, { plugins: {} }, ['registry']],
    [undefined, { plugins: { registry: { enabled: false } } }, []],
    [undefined, { plugins: { registry: { enabled: true } } }, ['registry']],
    ['none', { plugins: { registry: { enabled: true } } }, []],
    ['', undefined, []],
    ['registry', { plugins: { registry: { enabled: false } } }, ['registry']],
    [' registry , registry ', undefined, ['registry']],
  ])('NVMF_PLUGINS=%j, file %j -> %j', (env, file, want) => {
    expect(resolveEnabledPlugins(env, file, F)).toEqual(want);
  });

  it.each([
    ['bogus', undefined, 'NVMF_PLUGINS names unknown plugin "bogus"; known plugins: registry'],
    [undefined, [], '/etc/nvme/nvmf.json must hold a JSON object'],
    [undefined, { plugins: [] }, '"plugins" in /etc/nvme/nvmf.json must be an object'],
    [undefined, { plugins: { x: { enabled: true } } }, 'configures unknown plugin "x"'],
    [
      undefined,
      { plugins: { registry: { enabled: 'no' } } },
      'plugins.registry.enabled in /etc/nvme/nvmf.json must be true or false',
    ],
  ])('NVMF_PLUGINS=%j, file %j: ECONFIG %s', (env, file, message) => {
    expect(() => resolveEnabledPlugins(env, file, F)).toThrow(message);
  });
});
