import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAIN, REPO } from './helpers.js';

/**
 * The bin compiles its bundle with a V8 code cache made at build time. These tests run copies
 * of the shipped files with the cache present, missing, and damaged in the ways a file can be,
 * and check the CLI behaves the same; V8's --profile-deserialization shows whether the cache
 * was used (it prints one line per deserialised code cache, with its size).
 */

const BUNDLE_DIR = path.dirname(MAIN);
const CACHE = fs.readdirSync(BUNDLE_DIR).find((f) => /^main-[0-9a-f]+\.cache$/.test(f));

let host: string;
let copies: string;

beforeAll(() => {
  host = fs.mkdtempSync(path.join(REPO, 'build', '.test-host-'));
  fs.mkdirSync(path.join(host, 'registry', 'nvme3'), { recursive: true });
  fs.writeFileSync(path.join(host, 'registry', 'nvme3', 'owner'), 'stas\n');
  fs.writeFileSync(path.join(host, 'nvme3'), '');
  // Copies live inside the repository so the bundle finds node_modules and package.json as
  // the shipped one does.
  copies = fs.mkdtempSync(path.join(REPO, 'build', '.test-bin-'));
});

afterAll(() => {
  fs.rmSync(host, { recursive: true, force: true });
  fs.rmSync(copies, { recursive: true, force: true });
});

/** A copy of build/cli with `damage` applied to its cache file; returns the copy's bin. */
function copyWith(name: string, damage: (cacheFile: string) => void): string {
  const dir = path.join(copies, name);
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(BUNDLE_DIR)) fs.copyFileSync(path.join(BUNDLE_DIR, f), path.join(dir, f));
  damage(path.join(dir, CACHE!));
  return path.join(dir, path.basename(MAIN));
}

function run(bin: string, args: string[], nodeFlags: string[] = []) {
  return spawnSync(process.execPath, [...nodeFlags, bin, ...args], {
    env: {
      PATH: process.env['PATH'],
      NVMF_REGISTRY_ROOT: path.join(host, 'registry'),
      NVMF_DEV_ROOT: host,
      NVMF_ETC_ROOT: host,
    },
    encoding: 'utf8',
  });
}

/** Whether a run deserialised a code cache of exactly `bytes` bytes. */
function usedCacheOf(bin: string, bytes: number): boolean {
  const r = run(bin, ['registry', 'list'], ['--profile-deserialization']);
  expect(r.status, r.stderr).toBe(0);
  return `${r.stdout}${r.stderr}`.includes(`[Deserializing from ${bytes} bytes`);
}

describe('the bin and its code cache', () => {
  it('ships one cache beside the bundle, and this node uses it', () => {
    expect(CACHE).toBeDefined();
    const size = fs.statSync(path.join(BUNDLE_DIR, CACHE!)).size;
    expect(usedCacheOf(MAIN, size)).toBe(true);
  });

  const expected = () => run(MAIN, ['registry', 'list', '-o', 'json']);

  it.each([
    ['missing', (f: string) => fs.rmSync(f)],
    ['empty', (f: string) => fs.writeFileSync(f, '')],
    ['truncated', (f: string) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2))],
    ['garbage', (f: string) => fs.writeFileSync(f, Buffer.alloc(fs.statSync(f).size, 0x5a))],
  ])('with the cache %s, the CLI compiles the bundle itself and behaves the same', (name, damage) => {
    const bin = copyWith(name.replace(/ /g, '-'), damage);
    const want = expected();
    const got = run(bin, ['registry', 'list', '-o', 'json']);
    expect(got.status, got.stderr).toBe(0);
    expect(got.stdout).toBe(want.stdout);
    expect(JSON.parse(got.stdout)).not.toEqual([]);
    const cacheFile = path.join(path.dirname(bin), CACHE!);
    if (fs.existsSync(cacheFile) && fs.statSync(cacheFile).size > 0)
      expect(usedCacheOf(bin, fs.statSync(cacheFile).size)).toBe(false);
  });

  it('under other V8 flags (as under another node) the cache is rejected and the CLI behaves the same', () => {
    const size = fs.statSync(path.join(BUNDLE_DIR, CACHE!)).size;
    const probe = run(MAIN, ['registry', 'list'], ['--profile-deserialization', '--no-opt']);
    expect(probe.status, probe.stderr).toBe(0);
    expect(probe.stdout).not.toContain(`[Deserializing from ${size} bytes`);
    expect(probe.stdout).toContain('[Cached code failed check]');
    const r = run(MAIN, ['registry', 'list', '-o', 'json'], ['--no-opt']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(expected().stdout);
  });

  it('with --enable-source-maps, stack traces name the TypeScript sources', () => {
    const file = path.join(host, 'a-file');
    fs.writeFileSync(file, '');
    const r = spawnSync(
      process.execPath,
      ['--enable-source-maps', MAIN, 'sim', 'init', path.join(file, 'sim')],
      {
        env: { PATH: process.env['PATH'], NVMF_DEBUG: '1' },
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('ENOTDIR');
    expect(r.stderr).toMatch(/at simInit \(.*src\/kernel\/sim\.ts:\d+:\d+\)/);
  });

  it('with --enable-source-maps, import() of packages and builtins still works (sim init)', () => {
    const dir = path.join(host, 'sim-maps');
    const r = spawnSync(process.execPath, ['--enable-source-maps', MAIN, 'sim', 'init', dir], {
      env: { PATH: process.env['PATH'] },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('simulated host ready');
  });

  it('usage errors and help still work without the cache', () => {
    const bin = copyWith('no-cache-usage', (f) => fs.rmSync(f));
    const bad = run(bin, ['registry', 'list', '--bogus']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("unknown option '--bogus'");
    const help = run(bin, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('registry');
  });
});
