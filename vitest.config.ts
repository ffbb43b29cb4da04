import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/kernel/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Records of tests that do not choose a sink (in-process CLI runs, children given
    // process.env) go to one bounded file of the test run, never to the host's audit file.
    env: { NVMF_AUDIT_FILE: path.join(os.tmpdir(), 'nvmf-registry-tests', 'audit.jsonl') },
  },
});
