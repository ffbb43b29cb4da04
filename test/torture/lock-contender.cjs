'use strict';
// node lock-contender.cjs BUNDLE REGISTRY DEVICE SHARED sync|async
// One contender of the lock-takeover torture that takes the lock through the library (a
// bundle of src/registry). For each "go" line on stdin: take the lock (printing "busy" when
// the first attempt finds it held), make SHARED/inside (mkdir is exclusive: failing means
// another contender is inside too), hold a moment, remove it, release, and print "won",
// "double" or "error MESSAGE".
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const [bundle, root, device, shared, mode] = process.argv.slice(2);
const { withDeviceLock, withDeviceLockAsync } = require(bundle);
const inside = path.join(shared, 'inside');
const TIMEOUT_MS = 30_000;
const hooks = { onBusy: () => process.stdout.write('busy\n') };

function enter() {
  try {
    fs.mkdirSync(inside);
  } catch (e) {
    if (e.code === 'EEXIST') return false;
    throw e;
  }
  return true;
}

async function round() {
  let alone;
  if (mode === 'async') {
    alone = await withDeviceLockAsync(
      root,
      device,
      async () => {
        const mine = enter();
        await new Promise((r) => setImmediate(r));
        if (mine) fs.rmdirSync(inside);
        return mine;
      },
      TIMEOUT_MS,
      hooks,
    );
  } else {
    alone = withDeviceLock(
      root,
      device,
      () => {
        const mine = enter();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Math.random());
        if (mine) fs.rmdirSync(inside);
        return mine;
      },
      TIMEOUT_MS,
      hooks,
    );
  }
  return alone ? 'won' : 'double';
}

let queue = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line !== 'go') return;
  queue = queue.then(async () => {
    let out;
    try {
      out = await round();
    } catch (e) {
      out = `error ${String(e && e.message).replace(/\n/g, ' ')}`;
    }
    process.stdout.write(`${out}\n`);
  });
});
