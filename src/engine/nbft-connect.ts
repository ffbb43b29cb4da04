import type { ExclusionTarget } from '../exclusions/entry.js';
import { bootEntriesOf, type NbftBootEntry } from '../nbft/boot.js';
import type { NbftTable } from '../nbft/decode.js';
import { parseNbftUri } from '../nbft/uri.js';
import { type ConnectResult, connect } from './connect.js';
import { audit, checkContext, type EngineContext, errorMessage } from './context.js';
import {
  type ConnectAllRequest,
  type ConnectAllResult,
  checkConnectAllRequest,
  connectAll,
  exclusionTargetOf,
} from './discover.js';
import { type ConnectInput, parseConnectOptions } from './options.js';
import { mapPool } from './pool.js';
import { DISCOVERY_NQN } from '../nvme/nqn.js';

/**
 * `connect-all --nbft`: connect what the firmware's boot table describes, as the initramfs
 * does. Every subsystem entry is connected with the table's host NQN and host ID (several
 * namespace entries of one subsystem share one connect); then every discovery descriptor's
 * discovery controller is read and its entries connected, as `connect-all` does (referrals
 * included). Existing controllers are reused exactly as `connect` reuses them.
 */

/** Where an entry comes from: the table's name and the SSNS descriptor's index. */
export interface NbftEntryRef {
  table: string;
  index: number;
}

export interface NbftTarget {
  transport: string | null;
  traddr: string;
  trsvcid: string | null;
  subnqn: string;
}

export type NbftConnectItem =
  | { entry: NbftEntryRef; target: NbftTarget; ok: true; result: ConnectResult }
  | { entry: NbftEntryRef; target: NbftTarget; ok: false; error: string };

export interface NbftDiscoveryOutcome {
  /** The table and discovery descriptor index. */
  table: string;
  index: number;
  /** The descriptor's URI as the table gives it. */
  uri: string | null;
  /** connect-all's result for that discovery controller; null when it failed as a whole. */
  result: ConnectAllResult | null;
  error: string | null;
  /** The exclusion that names the discovery controller (it was not used). */
  excluded?: string;
}

export interface NbftConnectResult {
  /** Tables that could not be read or decoded (their entries are unknown, so not connected). */
  tableErrors: { table: string; message: string }[];
  results: NbftConnectItem[];
  /** Entries an exclusion list names (only an entry that names the target, docs/exclusions.md). */
  excluded: { entry: NbftEntryRef; target: NbftTarget; reason: string }[];
  discovery: NbftDiscoveryOutcome[];
}

/** Whether anything of the result failed (for exit 3). */
export function nbftConnectFailed(r: NbftConnectResult): boolean {
  return (
    r.tableErrors.length > 0 ||
    r.results.some((i) => !i.ok) ||
    r.discovery.some(
      (d) =>
        d.error !== null ||
        d.result?.results.some((i) => !i.ok) === true ||
        (d.result?.discovery.failures.length ?? 0) > 0,
    )
  );
}

function targetOf(e: NbftBootEntry): NbftTarget {
  return { transport: e.transport, traddr: e.traddr, trsvcid: e.trsvcid, subnqn: e.subsysNqn };
}

/** The connect options of a subsystem entry: its target, the table's host identity and digests. */
function entryOptions(e: NbftBootEntry, extra: ConnectInput): ConnectInput {
  return {
    ...extra,
    transport: e.transport as string,
    traddr: e.traddr,
    ...(e.trsvcid !== null ? { trsvcid: e.trsvcid } : {}),
    nqn: e.subsysNqn,
    hostnqn: e.hostNqn,
    ...(e.hostId !== null ? { hostid: e.hostId } : {}),
    ...(e.subsystem.headerDigest ? { hdr_digest: true } : {}),
    ...(e.subsystem.dataDigest ? { data_digest: true } : {}),
  };
}

export async function connectNbft(
  ctx: EngineContext,
  request: ConnectAllRequest = {},
): Promise<NbftConnectResult> {
  ctx = checkContext(ctx, 'connectNbft');
  const req = checkConnectAllRequest(request, 'connectNbft');
  const extra: ConnectInput = req.connectOptions ?? {};
  const reads = await ctx.kernel.nbftTables();
  const out: NbftConnectResult = { tableErrors: [], results: [], excluded: [], discovery: [] };
  const tables: NbftTable[] = [];
  for (const r of reads) {
    if (r.table !== null) tables.push(r.table);
    else
      out.tableErrors.push({
        table: r.name,
        message: r.error?.message ?? `NBFT table ${r.name}: unreadable`,
      });
  }
  const entries = tables.flatMap(bootEntriesOf);

  // One connect per target; each entry gets its target's outcome.
  type Job = { key: string; options: ConnectInput; entries: NbftBootEntry[] };
  const jobs = new Map<string, Job>();
  const refused: NbftConnectItem[] = [];
  for (const e of entries) {
    const entry = { table: e.table, index: e.index };
    if (e.transport === null) {
      refused.push({
        entry,
        target: targetOf(e),
        ok: false,
        error: `transport type ${e.trtype} is not one the NBFT specification defines; not connected`,
      });
      continue;
    }
    const options = entryOptions(e, extra);
    let exTarget: ExclusionTarget;
    try {
      exTarget = { ...exclusionTargetOf(parseConnectOptions(options)), nbft: true };
    } catch (err) {
      refused.push({ entry, target: targetOf(e), ok: false, error: errorMessage(err) });
      continue;
    }
    const why = req.excluded?.(exTarget) ?? null;
    if (why !== null) {
      out.excluded.push({ entry, target: targetOf(e), reason: why });
      audit(ctx, {
        action: 'connect-skip',
        owner: req.owner ?? null,
        reason: why,
        extra: { table: e.table, ssns: e.index, nqn: e.subsysNqn, traddr: e.traddr },
      });
      continue;
    }
    const key = JSON.stringify([e.transport, e.traddr, e.trsvcid, e.subsysNqn, e.hostNqn, e.hostId]);
    const job = jobs.get(key);
    if (job === undefined) jobs.set(key, { key, options, entries: [e] });
    else job.entries.push(e);
  }
  const todo = [...jobs.values()];
  const connectRequest = {
    ...(req.owner !== undefined ? { owner: req.owner } : {}),
    ...(req.force !== undefined ? { force: req.force } : {}),
    ...(req.wait !== undefined ? { wait: req.wait } : {}),
    ...(req.waitTimeoutMs !== undefined ? { waitTimeoutMs: req.waitTimeoutMs } : {}),
  };
  const outcomes = await mapPool(todo, req.concurrency ?? 8, (j) => connect(ctx, j.options, connectRequest));
  outcomes.forEach((o, i) => {
    for (const e of (todo[i] as Job).entries) {
      const base = { entry: { table: e.table, index: e.index }, target: targetOf(e) };
      out.results.push(
        o.ok ? { ...base, ok: true, result: o.value } : { ...base, ok: false, error: errorMessage(o.error) },
      );
    }
  });
  out.results.push(...refused);
  out.results.sort((a, b) =>
    a.entry.table === b.entry.table ? a.entry.index - b.entry.index : a.entry.table < b.entry.table ? -1 : 1,
  );

  // Discovery descriptors: their controllers' log pages, connected like connect-all.
  for (const t of tables) {
    for (const d of t.discovery) {
      const outcome: NbftDiscoveryOutcome = {
        table: t.name,
        index: d.index,
        uri: d.uri,
        result: null,
        error: null,
      };
      out.discovery.push(outcome);
      const target = d.uri === null ? null : parseNbftUri(d.uri);
      if (target === null) {
        outcome.error = `discovery descriptor ${d.index}: URI ${JSON.stringify(d.uri)} names no discovery controller to connect to`;
        continue;
      }
      const input: ConnectInput = {
        ...extra,
        transport: target.transport,
        traddr: target.traddr,
        ...(target.trsvcid !== null ? { trsvcid: target.trsvcid } : {}),
        ...(d.nqn !== null ? { nqn: d.nqn } : {}),
        hostnqn: t.host.hostNqn,
        ...(t.host.hostId !== null ? { hostid: t.host.hostId } : {}),
      };
      try {
        const dc = {
          ...exclusionTargetOf(parseConnectOptions({ nqn: DISCOVERY_NQN, ...input })),
          nbft: true,
        };
        const why = req.excluded?.(dc) ?? null;
        if (why !== null) {
          outcome.error = null;
          outcome.excluded = why;
          continue;
        }
        outcome.result = await connectAll(ctx, input, req);
      } catch (e) {
        outcome.error = errorMessage(e);
      }
    }
  }
  return out;
}
