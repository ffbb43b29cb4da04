/**
 * `node --import tsx test/kernel/nbft-table.ts FILE`: writes the test VM's NBFT table
 * (lib/nbft-boot.ts) to FILE, for vm.sh to hand to QEMU. Runs on the host.
 */
import { writeFileSync } from 'node:fs';
import { nbftBootTable } from './lib/nbft-boot.js';

const file = process.argv[2];
if (file === undefined) {
  console.error('usage: nbft-table.ts FILE');
  process.exit(2);
}
writeFileSync(file, nbftBootTable());
