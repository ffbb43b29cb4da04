// entry-reader.cjs BUNDLE ROOT DEVICE...: reads every DEVICE through read() and list() until told to
// stop on stdin, then prints its counts as one JSON line. A seen entry must be whole: owner
// 'killer' and a seqnum stamp; anything else is a partial entry.
const [bundle, root, ...devices] = process.argv.slice(2);
const reg = require('./open.cjs').openRegistry(bundle, root);
const c = { reads: 0, lists: 0, seen: 0, partial: 0, errors: 0, firstBad: null };
let stop = false;
process.stdin.on('data', () => (stop = true));
function check(e, how) {
  c.seen++;
  if (e.error || e.owner !== 'killer' || typeof e.seqnum !== 'number') {
    c.partial++;
    c.firstBad ??= `${how}: ${JSON.stringify(e)}`;
  }
}
function loop() {
  for (let k = 0; k < 100; k++) {
    try {
      if (k % 10 === 0) {
        c.lists++;
        const l = reg.list();
        for (const e of [...l.live, ...l.stale]) check(e, 'list');
      } else {
        c.reads++;
        const e = reg.read(devices[k % devices.length]);
        if (e) check(e, 'read');
      }
    } catch (err) {
      c.errors++;
      c.firstBad ??= `error: ${err.message}`;
    }
  }
  if (stop) process.stdout.write(`${JSON.stringify(c)}\n`, () => process.exit(0));
  else setImmediate(loop);
}
loop();
