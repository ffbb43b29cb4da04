// kill-writer.cjs BUNDLE ROOT DEVICE: creates, re-claims and deletes DEVICE's entry in a tight loop
// until it is killed. It says 'ready' on stdout first: the loop never yields.
const [bundle, root, device] = process.argv.slice(2);
const { Registry } = require(bundle);
const reg = Registry.open({
  roots: { registry: root, dev: root },
  env: {},
  audit: { record() {} },
  deviceNodeExists: () => true,
  readSeqnum: () => 1,
});
process.stdout.write('ready\n', () => {
  for (let i = 0; ; i++) {
    reg.create(device, { owner: 'killer', seqnum: i });
    if (i % 3 === 0) reg.claim(device, 'killer');
    if (i % 7 === 0) reg.delete(device);
  }
});
