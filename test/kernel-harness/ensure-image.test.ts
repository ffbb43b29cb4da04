import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

// test/kernel/run.sh takes the image directory from ensure-image.sh's stdout, so nothing a
// build step prints may reach it: a fresh machine once got mkfs.ext4's "Creating regular
// file" glued to the path and booted QEMU with `-drive file=Creating regular file ...`.

const script = path.resolve('test/kernel/ensure-image.sh');

let dir: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nvmf-ensure-image-'));
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  // The host's packages count as installed and apt's lists as present: the test never runs apt.
  fs.writeFileSync(path.join(bin, 'dpkg-query'), "#!/bin/sh\nprintf 'install ok installed'\n", {
    mode: 0o755,
  });
  fs.writeFileSync(path.join(bin, 'apt-cache'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  fs.writeFileSync(path.join(bin, 'apt-get'), '#!/bin/sh\necho "apt-get must not run" >&2\nexit 99\n', {
    mode: 0o755,
  });
  // A build that talks on stdout the way mkfs.ext4 and debootstrap do.
  const builder = path.join(dir, 'build.sh');
  fs.writeFileSync(
    builder,
    [
      '#!/usr/bin/env bash',
      'set -e',
      'echo "Creating regular file $1/rootfs.ext4"',
      'printf "junk without a line end"',
      'echo "more junk" >&2',
      `echo run >>${JSON.stringify(path.join(dir, 'builds'))}`,
      'mkdir -p "$1"',
      'echo built >"$1/rootfs.ext4"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  env = {
    ...process.env,
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    NVMF_KT_CACHE: path.join(dir, 'cache'),
    NVMF_KT_BUILDER: builder,
  };
  delete env.NVMF_KT_REBUILD;
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function ensureImage(): string {
  return execFileSync('bash', [script], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('ensure-image.sh', () => {
  it('prints the image path and nothing else while the build writes junk to stdout', () => {
    const out = ensureImage();
    const lines = out.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toBe('');
    const img = lines[0] as string;
    expect(path.dirname(img)).toBe(path.join(dir, 'cache'));
    expect(path.basename(img)).toMatch(/^image-[0-9a-f]{16}$/);
    expect(fs.readFileSync(path.join(img, 'rootfs.ext4'), 'utf8')).toBe('built\n');
    expect(fs.existsSync(path.join(img, 'ready'))).toBe(true);
  });

  it('prints the same path, alone, from the cache on the next run', () => {
    const first = ensureImage();
    const second = ensureImage();
    expect(second).toBe(first);
    expect(second.split('\n')).toHaveLength(2);
    expect(fs.readFileSync(path.join(dir, 'builds'), 'utf8')).toBe('run\n');
  });
});
