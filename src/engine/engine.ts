import { checkOptionalBoolean, checkOptionalNumber, checkOptions } from '../args.js';
import type { Auditor } from '../audit/event.js';
import type { Kernel } from '../kernel/port.js';
import { checkDevice } from '../registry/names.js';
import type { Registry } from '../registry/registry.js';
import { type ConnectRequest, type ConnectResult, connect } from './connect.js';
import { checkContext, type EngineContext } from './context.js';
import {
  type DisconnectAllOptions,
  type DisconnectAllResult,
  disconnect,
  disconnectAll,
} from './disconnect.js';
import {
  type ConnectAllRequest,
  type ConnectAllResult,
  connectAll,
  type DiscoverRequest,
  type DiscoverResult,
  discover,
} from './discover.js';
import { connectNbft, type NbftConnectResult } from './nbft-connect.js';
import type { ConnectInput, ConnectOptions } from './options.js';
import { checkPolicy, type DisconnectAllPolicy, type PlanItem } from './plan.js';

export interface EngineOptions {
  kernel: Kernel;
  registry: Registry;
  audit: Auditor;
}

/** The engine flows bound to one kernel, registry and auditor. */
export class Engine {
  readonly ctx: EngineContext;

  constructor(opts: EngineOptions) {
    const { kernel, registry, audit } = checkContext(opts, 'Engine');
    this.ctx = { kernel, registry, audit };
  }

  connect(input: ConnectInput | ConnectOptions, req?: ConnectRequest): Promise<ConnectResult> {
    return connect(this.ctx, input, req);
  }

  discover(input: ConnectInput, req?: DiscoverRequest): Promise<DiscoverResult> {
    return discover(this.ctx, input, req);
  }

  connectAll(input: ConnectInput, req?: ConnectAllRequest): Promise<ConnectAllResult> {
    return connectAll(this.ctx, input, req);
  }

  /** `connect-all --nbft`: connect what the firmware's NBFT tables describe (engine/nbft-connect.ts). */
  connectNbft(req?: ConnectAllRequest): Promise<NbftConnectResult> {
    return connectNbft(this.ctx, req);
  }

  /** Refuses a controller in use (`EIN_USE`, the facts in `details.inUse`) unless `ignoreInUse`. */
  async disconnect(
    device: string,
    opts: { ignoreInUse?: boolean } = {},
  ): Promise<{ device: string; owner: string | null }> {
    checkDevice(device);
    return disconnect(this.ctx, device, opts);
  }

  async disconnectAll(
    policy: DisconnectAllPolicy,
    opts?: DisconnectAllOptions,
  ): Promise<{ plan: PlanItem[]; results?: DisconnectAllResult[] }> {
    const checked = checkPolicy(policy);
    const o = checkOptions(opts, 'disconnectAll', ['concurrency', 'dryRun']);
    const concurrency = checkOptionalNumber(o.concurrency, 'disconnectAll', 'concurrency', {
      min: 1,
      integer: true,
    });
    const dryRun = checkOptionalBoolean(o.dryRun, 'disconnectAll', 'dryRun');
    return disconnectAll(this.ctx, checked, {
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(dryRun !== undefined ? { dryRun } : {}),
    });
  }
}
