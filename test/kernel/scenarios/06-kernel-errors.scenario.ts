/**
 * Scenario 6: the kernel's EALREADY, ECONNREFUSED, EIO and EINVAL come out of our linux
 * adapter as NvmfError EKERNEL with the errno and a message that says what to do, and the CLI
 * prints it and exits 1.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type * as ErrorsModule from '../../../src/errors.js';
import { nvmf, requireModule, resetHost, target, tcpArgs, tcpOptions } from '../lib/guest.js';
import { openLibrary } from '../lib/library.js';

const { isNvmfError } = await requireModule<typeof ErrorsModule>('build/src/errors.js', 'NvmfError');

before(resetHost);
after(resetHost);

async function kernelError(options: string): Promise<{ errno: unknown; message: string }> {
  const { kernel } = await openLibrary();
  try {
    await kernel.connect(options);
  } catch (e) {
    assert.ok(isNvmfError(e, 'EKERNEL'), `EKERNEL, got ${String(e)}`);
    return { errno: e.details['errno'], message: e.message };
  }
  assert.fail(`connect ${options} succeeded`);
}

test('EALREADY: same host, subsystem and address twice', async () => {
  const { kernel } = await openLibrary();
  await kernel.connect(tcpOptions(target.nqn2));
  const e = await kernelError(tcpOptions(target.nqn2));
  assert.equal(e.errno, 'EALREADY');
  assert.match(e.message, /already connected/);
  assert.match(e.message, /duplicate_connect/);
});

test('ECONNREFUSED: nothing listens on the port', async () => {
  const e = await kernelError(`transport=tcp,traddr=${target.traddr},trsvcid=4421,nqn=${target.nqn1}`);
  assert.equal(e.errno, 'ECONNREFUSED');
  assert.match(e.message, /connection refused/);
  assert.match(e.message, /127\.0\.0\.1:4421/);
  const cli = nvmf(['connect', '-t', 'tcp', '-a', target.traddr, '-s', '4421', '-n', target.nqn1]);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /connection refused/);
});

test('EIO: the target does not know the subsystem NQN', async () => {
  const nqn = 'nqn.2014-08.org.nvmf-registry:kt-no-such-subsystem';
  const e = await kernelError(tcpOptions(nqn));
  assert.equal(e.errno, 'EIO');
  assert.match(e.message, /rejected the connect/);
  assert.ok(e.message.includes(nqn), 'names the NQN');
  const cli = nvmf(['connect', ...tcpArgs(nqn)]);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /rejected the connect/);
});

test('EINVAL: the kernel rejects the option string', async () => {
  for (const options of [
    `transport=bogus,traddr=${target.traddr},nqn=${target.nqn1}`,
    tcpOptions(target.nqn1, 'no_such_option=1'),
  ]) {
    const e = await kernelError(options);
    assert.equal(e.errno, 'EINVAL');
    assert.match(e.message, /rejected the options/);
  }
});

test('secrets in the option string never reach the message', async () => {
  const secret = 'DHHC-1:00:kt-secret-value-that-must-not-leak:';
  const e = await kernelError(
    `transport=tcp,traddr=${target.traddr},trsvcid=4421,nqn=${target.nqn1},dhchap_secret=${secret}`,
  );
  assert.ok(!e.message.includes('kt-secret'), e.message);
});
