import type { Auditor } from '../audit/event.js';
import type { Kernel } from '../kernel/port.js';
import type { Registry } from '../registry/registry.js';
import { type ConnectRequest, type ConnectResult, connect } from './connect.js';
import type { EngineContext } from './context.js';
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
import type { ConnectInput, ConnectOptions } from './options.js';
import type { DisconnectAllPolicy, PlanItem } from './plan.js';

export interface EngineOptions {
  kernel: Kernel;
  registry: Registry;
  audit: Auditor;
}

/** The engine flows bound to one kernel, registry and auditor. */
export class Engine {
  readonly ctx: EngineContext;

  constructor(opts: EngineOptions) {
    this.ctx = { kernel: opts.kernel, registry: opts.registry, audit: opts.audit };
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

  disconnect(device: string): Promise<{ device: string; owner: string | null }> {
    return disconnect(this.ctx, device);
  }

  disconnectAll(
    policy: DisconnectAllPolicy,
    opts?: DisconnectAllOptions,
  ): Promise<{ plan: PlanItem[]; results?: DisconnectAllResult[] }> {
    return disconnectAll(this.ctx, policy, opts);
  }
}
