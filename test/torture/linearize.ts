/**
 * A linearizability checker for one registry entry's history (Wing and Gong's search with
 * Lowe's memoisation): is there an order of the operations, each taking effect at one instant
 * between its call and its return, under which every result is what the sequential model
 * gives? The model of one entry is null (absent) or { owner, seqnum }.
 */

export type Arg = { owner?: string | null; seqnum?: number; expect?: string | null } | null;
export type Result = { ok: unknown } | { err: string; message?: string };
export interface Op {
  op: 'create' | 'claim' | 'disown' | 'delete' | 'read';
  arg: Arg;
  res: Result;
  start: number;
  end: number;
}

type State = { owner: string | null; seqnum: number } | null;

/** The sequential model: the state after `o`, or undefined when `o`'s result is impossible here. */
export function step(s: State, o: Op): State | undefined {
  const r = o.res;
  // A lock that could not be taken changed nothing.
  if ('err' in r && r.err === 'ELOCKED') return s;
  const conflict = 'err' in r && r.err === 'EOWNER_CONFLICT';
  switch (o.op) {
    case 'create':
      return 'ok' in r ? { owner: o.arg?.owner ?? null, seqnum: o.arg?.seqnum as number } : undefined;
    case 'claim': {
      const expect = o.arg?.expect;
      if (s === null) return 'err' in r && r.err === 'ENOT_REGISTERED' ? s : undefined;
      if (expect !== undefined && s.owner !== expect) return conflict ? s : undefined;
      return 'ok' in r && r.ok === s.owner ? { ...s, owner: o.arg?.owner as string } : undefined;
    }
    case 'disown': {
      const expect = o.arg?.expect;
      if (s === null) {
        if (typeof expect === 'string') return conflict ? s : undefined;
        return 'ok' in r && r.ok === null ? s : undefined;
      }
      if (expect !== undefined && s.owner !== expect) return conflict ? s : undefined;
      return 'ok' in r && r.ok === s.owner ? { ...s, owner: null } : undefined;
    }
    case 'delete':
      return 'ok' in r && r.ok === (s !== null) ? null : undefined;
    case 'read': {
      if (!('ok' in r)) return undefined;
      const e = r.ok as { owner: string | null; seqnum: number | null; error: unknown } | null;
      if (s === null) return e === null ? s : undefined;
      return e !== null && e.error === null && e.owner === s.owner && e.seqnum === s.seqnum ? s : undefined;
    }
  }
}

interface Node {
  call: boolean;
  id: number;
  match: Node | null;
  prev: Node | null;
  next: Node | null;
}

/** True when `ops` (one entry's whole history, starting from `init`) is linearizable. */
export function linearizable(ops: readonly Op[], init: State): boolean {
  const evs: { t: number; call: boolean; id: number }[] = [];
  ops.forEach((o, id) => {
    evs.push({ t: o.start, call: true, id }, { t: o.end, call: false, id });
  });
  // At equal times calls come first: the two operations may then overlap.
  evs.sort((a, b) => a.t - b.t || Number(b.call) - Number(a.call));
  const head: Node = { call: false, id: -1, match: null, prev: null, next: null };
  let tail = head;
  const calls = new Map<number, Node>();
  for (const e of evs) {
    const n: Node = { call: e.call, id: e.id, match: null, prev: tail, next: null };
    tail.next = n;
    tail = n;
    if (e.call) calls.set(e.id, n);
    else {
      const c = calls.get(e.id) as Node;
      c.match = n;
    }
  }
  const lift = (c: Node): void => {
    (c.prev as Node).next = c.next;
    if (c.next) c.next.prev = c.prev;
    const r = c.match as Node;
    (r.prev as Node).next = r.next;
    if (r.next) r.next.prev = r.prev;
  };
  const unlift = (c: Node): void => {
    const r = c.match as Node;
    (r.prev as Node).next = r;
    if (r.next) r.next.prev = r;
    (c.prev as Node).next = c;
    if (c.next) c.next.prev = c;
  };
  let state: State = init;
  let done = 0n;
  const seen = new Set<string>();
  const stack: { node: Node; state: State }[] = [];
  let entry = head.next;
  while (head.next !== null) {
    if (entry === null) return false;
    if (entry.call) {
      const next = step(state, ops[entry.id] as Op);
      if (next !== undefined) {
        const lin = done | (1n << BigInt(entry.id));
        const key = `${lin.toString(36)}|${JSON.stringify(next)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ node: entry, state });
          state = next;
          done = lin;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // The earliest pending return: its operation must have taken effect by now. Backtrack.
      const top = stack.pop();
      if (top === undefined) return false;
      state = top.state;
      done &= ~(1n << BigInt(top.node.id));
      unlift(top.node);
      entry = top.node.next;
    }
  }
  return true;
}
