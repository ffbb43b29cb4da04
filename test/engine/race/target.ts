export const RACE_NQN = 'nqn.2024-01.io.example:race';
export const RACE_OWNER = 'orch';
export const RACE_TARGET = { transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420', nqn: RACE_NQN } as const;
export const RACE_TARGETS = {
  subsystems: [
    { nqn: RACE_NQN, ports: [{ transport: 'tcp', traddr: '10.0.0.1', trsvcid: '4420' }], namespaces: 0 },
  ],
  discovery: [],
};
