// kill-writer.cjs BUNDLE ROOT DEVICE: creates, re-claims and deletes DEVICE's entry in a tight loop
// until it is killed. It says 'ready' on stdout first: the loop never yields.
const [bundle, root, device] = process.argv.slice(2);
const reg = require('./open.cjs').openRegistry(bundle, root);
process.stdout.write('ready\n', () => {
  for (let i = 0; ; i++) {
    reg.create(device, { owner: 'killer', seqnum: i });
    if (i % 3 === 0) reg.claim(device, 'killer');
    if (i % 7 === 0) reg.delete(device);
  }
});
