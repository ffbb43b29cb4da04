// The registry as every torture worker opens it: root ROOT (dev root too, so no node ever
// exists), every device live, seqnum 1, no audit. BUNDLE: the one-file CommonJS registry.
module.exports.openRegistry = (bundle, root) =>
  require(bundle).Registry.open({
    roots: { registry: root, dev: root },
    env: {},
    audit: { record() {} },
    deviceNodeExists: () => true,
    readSeqnum: () => 1,
  });
