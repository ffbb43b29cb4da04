import type { Command } from 'commander';
import type { Registry } from '../registry/registry.js';
import type { CliContext } from './context.js';

/** Core commands a plugin may add options to. */
export type CoreCommandName =
  'connect' | 'connect-all' | 'discover' | 'disconnect' | 'disconnect-all' | 'list';

/** A connect-like operation as the core command sees it, before it calls the engine. */
export interface ConnectOperation {
  readonly command: 'connect' | 'connect-all' | 'discover';
  /** The parsed commander options of the command, plugins' own options included. */
  readonly cliOptions: Readonly<Record<string, unknown>>;
  /**
   * Owner to record: `undefined` = leave the registry alone (plain connect, or reuse without
   * claim), `null` = disown on reuse (`--owner=`), a string = claim. Plugins set it. For
   * discover and connect-all it is also the identity the engine checks discovery
   * controllers against: one owned by someone else is not used (skipped with a reason).
   */
  owner: string | null | undefined;
}

export interface ConnectOutcome {
  device: string;
  owner: string | null;
  reused: boolean;
}

/**
 * A plugin: a directory under `plugins/` whose `index.ts` default-exports one of these.
 * Every member is optional. Hooks run in plugin order; a hook throws `NvmfError` to veto
 * the operation (the command fails with that error and touches nothing).
 */
export interface NvmfPlugin {
  readonly name: string;
  /** Add top-level commands (`nvmf registry ...`). Same rules as `register` in command.ts. */
  commands?(program: Command, ctx: CliContext): void;
  /**
   * The top-level names `commands` adds. With them the CLI skips `commands` when another
   * command runs; without them it always calls it.
   */
  readonly commandNames?: readonly string[];
  /** Add options to a core command (`--owner`, `--nbft`). Called once per core command. */
  extendCommand?(name: CoreCommandName, command: Command, ctx: CliContext): void;
  /** Before the engine connects: decide `op.owner`, validate, or veto. */
  beforeConnect?(op: ConnectOperation, ctx: CliContext): Promise<void> | void;
  /** After each successful connect (one call per controller in connect-all). */
  afterConnect?(op: ConnectOperation, outcome: ConnectOutcome, ctx: CliContext): Promise<void> | void;
  /**
   * The discovery-controller check: called for each existing discovery controller that
   * discover or connect-all is about to read (the first service and every referral), after
   * the engine's own owner check passed. Return a reason to skip that controller, or
   * undefined to allow it. The first plugin that gives a reason wins.
   */
  checkDiscoveryController?(
    controller: DiscoveryControllerView,
    op: ConnectOperation,
    ctx: CliContext,
  ): Promise<string | undefined> | string | undefined;
  /**
   * The registry that guards disconnect-all: the core plans and executes through the
   * engine's one route (planFromHost, executeDisconnectAll) with it. The first plugin that
   * returns one wins. When none does, the core refuses to run without `--force` (fail safe:
   * without the registry nobody can tell a boot-critical controller from a throwaway one).
   */
  disconnectAllRegistry?(ctx: CliContext): Promise<Registry | undefined>;
}

/** What a plugin sees of a discovery controller the engine is about to use. */
export interface DiscoveryControllerView {
  device: string;
  transport: string;
  traddr?: string;
  trsvcid?: string;
  /** Its registry owner (null = unowned); the engine already refused one owned by someone else. */
  owner: string | null;
}

/** What commands see of the enabled plugins. */
export interface PluginHost {
  readonly enabled: readonly NvmfPlugin[];
  isEnabled(name: string): boolean;
  beforeConnect(op: ConnectOperation, ctx: CliContext): Promise<void>;
  afterConnect(op: ConnectOperation, outcome: ConnectOutcome, ctx: CliContext): Promise<void>;
  checkDiscoveryController(
    controller: DiscoveryControllerView,
    op: ConnectOperation,
    ctx: CliContext,
  ): Promise<string | undefined>;
  disconnectAllRegistry(ctx: CliContext): Promise<Registry | undefined>;
}
