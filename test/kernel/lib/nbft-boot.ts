/**
 * The NBFT table the test VM boots with (vm.sh builds it on the host with test/nbft/build.ts's
 * encoder and hands it to QEMU as `-acpitable file=...`): one boot subsystem on the guest's
 * own nvmet port, on an NQN no other scenario uses, so only scenario 13 ever connects it and
 * the table changes nothing for the others. Host identity of its own (the kernel refuses one
 * host ID under two host NQNs, so it must not be the guest's default one).
 */
import { buildNbft, type NbftInput, sampleInput } from '../../nbft/build.js';

export const NBFT_BOOT = {
  nqn: 'nqn.2014-08.org.nvmf-registry:kt-nbft-boot',
  traddr: '127.0.0.1',
  trsvcid: '4420',
  hostId: '4b7a6c1e-3f0d-4a52-9e88-2d6f1c0b9a31',
  hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:4b7a6c1e-3f0d-4a52-9e88-2d6f1c0b9a31',
} as const;

export function nbftBootInput(): NbftInput {
  const t = sampleInput();
  t.oemId = 'NVMFKT';
  t.host = { ...t.host, hostNqn: NBFT_BOOT.hostNqn, hostId: NBFT_BOOT.hostId };
  const hfi = t.hfis[0]!;
  t.hfis = [{ ...hfi, tcp: { ...hfi.tcp!, ipAddress: '127.0.0.1', subnetMaskPrefix: 8, gateway: null } }];
  t.subsystems = [
    {
      ...t.subsystems[0]!,
      traddr: NBFT_BOOT.traddr,
      trsvcid: NBFT_BOOT.trsvcid,
      subsysNqn: NBFT_BOOT.nqn,
      nsid: 1,
      discoveryIndex: null,
    },
  ];
  t.discovery = [];
  return t;
}

export function nbftBootTable(): Uint8Array {
  return buildNbft(nbftBootInput());
}
