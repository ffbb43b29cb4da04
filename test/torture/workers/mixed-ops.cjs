// mixed-ops.cjs BUNDLE ROOT DEVICES OPS: OPS random registry operations (create, claim, disown, delete,
// read) on nvme0..nvme(DEVICES-1), each timed with the monotonic clock (shared by every process
// on the host) just before its call and just after its return. Prints the history as one JSON
// line: [device, op, argument, result, start ns, end ns] per operation.
const [bundle, root] = process.argv.slice(2);
const [devices, ops] = process.argv.slice(4).map(Number);
const reg = require('./open.cjs').openRegistry(bundle, root);
const OWNERS = ['a', 'b', 'c'];
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
const expectOf = () => pick([undefined, null, ...OWNERS]);
const now = () => Number(process.hrtime.bigint());
const history = [];
for (let i = 0; i < ops; i++) {
  const dev = `nvme${Math.floor(Math.random() * devices)}`;
  const r = Math.random();
  let op, arg, call;
  if (r < 0.2) {
    op = 'create';
    arg = { owner: pick([null, ...OWNERS]), seqnum: process.pid * 100000 + i };
    call = () => (reg.create(dev, arg), 'ok');
  } else if (r < 0.45) {
    op = 'claim';
    arg = { owner: pick(OWNERS), expect: expectOf() };
    call = () => reg.claim(dev, arg.owner, arg.expect === undefined ? {} : { expect: arg.expect }).prevOwner;
  } else if (r < 0.55) {
    op = 'disown';
    arg = { expect: expectOf() };
    call = () => reg.disown(dev, arg.expect === undefined ? {} : { expect: arg.expect }).prevOwner;
  } else if (r < 0.65) {
    op = 'delete';
    call = () => reg.delete(dev);
  } else {
    op = 'read';
    call = () => {
      const e = reg.read(dev);
      return e === null ? null : { owner: e.owner, seqnum: e.seqnum, error: e.error ?? null };
    };
  }
  const s = now();
  let res;
  try {
    res = { ok: call() };
  } catch (e) {
    res = { err: e.code ?? String(e), message: e.message };
  }
  history.push([dev, op, arg ?? null, res, s, now()]);
}
process.stdout.write(`${JSON.stringify(history)}\n`);
