import fs from 'node:fs';
import path from 'node:path';
import { checkRecord, describe, invalidOption } from '../args.js';
import { errnoOf, NvmfError } from '../errors.js';
import { readAttrFile, removeQuietly, uniqueSuffix, writeNewFile } from './fsx.js';
import { checkOwner, isOwner, quote } from './names.js';

/**
 * Connect intents (DESIGN §4.2): the kernel creates a controller a moment before its
 * entry exists. A connector with an owner announces the connect first, so a concurrent
 * disconnect-all can tell "connect in progress" from "unowned".
 */
export interface ConnectTarget {
  transport: string;
  traddr?: string;
  trsvcid?: string;
  subsysnqn: string;
  hostnqn?: string;
  host_traddr?: string;
  host_iface?: string;
}

export interface ConnectIntentRecord {
  pid: number;
  owner: string;
  target: ConnectTarget;
  /** ms since the epoch */
  startedAt: number;
  /** The intent file, for diagnostics. */
  path: string;
}

export interface ConnectIntent {
  readonly record: ConnectIntentRecord;
  /** Remove the intent; call after the entry is written (or the connect failed). Idempotent. */
  end(): void;
}

/** What intentMatches needs of a controller (the kernel's ControllerInfo fits). */
export interface ControllerLike {
  transport: string;
  subsysnqn: string;
  hostnqn?: string | null;
  address: { traddr?: string; trsvcid?: string; host_traddr?: string; host_iface?: string };
}

export const INTENT_RE = /^\.intent\.([1-9][0-9]*)\.([0-9a-f]+)$/;

const TARGET_KEYS = [
  'transport',
  'traddr',
  'trsvcid',
  'subsysnqn',
  'hostnqn',
  'host_traddr',
  'host_iface',
] as const;

const ADDRESS_KEYS = ['traddr', 'trsvcid', 'host_traddr', 'host_iface'] as const;

function sameText(a: string, b: string, foldCase: boolean): boolean {
  return foldCase ? a.toLowerCase() === b.toLowerCase() : a === b;
}

/**
 * Could `ctrl` be the controller `intent` is connecting? Fields the intent leaves out, or
 * the controller does not report, do not count against a match: a false match only makes
 * disconnect-all skip a controller for the length of a connect, a false miss could tear
 * down a controller that is about to be owned.
 */
export function intentMatches(intent: { target: ConnectTarget }, ctrl: ControllerLike): boolean {
  const what = 'intentMatches';
  const t = checkRecord(checkRecord(intent, what, ['target']).target, `${what} target`, TARGET_KEYS);
  const c = checkRecord(ctrl, `${what} controller`, ['transport', 'subsysnqn', 'hostnqn', 'address']);
  const a = checkRecord(c.address, `${what} controller address`, ADDRESS_KEYS);
  const text = (v: unknown, name: string): string | undefined => {
    if (v === undefined || v === null || typeof v === 'string') return v ?? undefined;
    throw invalidOption(what, `${name} must be a string, got ${describe(v)}`);
  };
  const want = (k: (typeof TARGET_KEYS)[number]): string | undefined => text(t[k], `target.${k}`);
  const have = (v: unknown, name: string): string | undefined => text(v, `controller.${name}`);
  if (!sameText(want('transport') ?? '', have(c.transport, 'transport') ?? '', true)) return false;
  if (want('subsysnqn') !== have(c.subsysnqn, 'subsysnqn')) return false;
  const pairs: [string | undefined, string | undefined, boolean][] = [
    [want('traddr'), have(a.traddr, 'address.traddr'), true],
    [want('trsvcid'), have(a.trsvcid, 'address.trsvcid'), false],
    [want('host_traddr'), have(a.host_traddr, 'address.host_traddr'), true],
    [want('host_iface'), have(a.host_iface, 'address.host_iface'), false],
    [want('hostnqn'), have(c.hostnqn, 'hostnqn'), false],
  ];
  for (const [w, h, fold] of pairs) {
    if (w !== undefined && w !== '' && h !== undefined && h !== '') {
      if (!sameText(w, h, fold)) return false;
    }
  }
  return true;
}

export function pidAlive(pid: number): boolean {
  // 0 and negative numbers name process groups for kill(2), not a process
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0)
    throw new NvmfError('EINVALID_VALUE', `invalid pid ${describe(pid)}: expected a positive integer`, {});
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoOf(e) === 'EPERM';
  }
}

function checkTarget(target: ConnectTarget): ConnectTarget {
  const fields = checkRecord(target, 'connect target', TARGET_KEYS);
  const out: Record<string, string> = {};
  for (const key of TARGET_KEYS) {
    const v = fields[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v.length > 512 || /[\u0000-\u001f]/.test(v)) {
      throw new NvmfError('EINVALID_VALUE', `invalid connect target field ${key}=${quote(v)}`, {
        field: key,
      });
    }
    out[key] = v;
  }
  if (!out['transport'] || !out['subsysnqn']) {
    throw new NvmfError('EINVALID_VALUE', 'a connect target needs at least transport and subsysnqn', {});
  }
  return out as unknown as ConnectTarget;
}

/** Write the intent atomically (temp + rename) in an existing root. */
export function writeIntent(root: string, target: ConnectTarget, owner: string, now: number): ConnectIntent {
  checkOwner(owner);
  const t = checkTarget(target);
  const suffix = uniqueSuffix();
  const file = path.join(root, `.intent.${suffix}`);
  const tmp = path.join(root, `.intent.tmp.${suffix}`);
  const record: ConnectIntentRecord = { pid: process.pid, owner, target: t, startedAt: now, path: file };
  const { path: _p, ...onDisk } = record;
  try {
    writeNewFile(tmp, JSON.stringify(onDisk));
    fs.renameSync(tmp, file);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
  let ended = false;
  return {
    record,
    end(): void {
      if (ended) return;
      ended = true;
      try {
        fs.unlinkSync(file);
      } catch (e) {
        if (errnoOf(e) !== 'ENOENT') throw e;
      }
    },
  };
}

/** Parse one intent file; null when it is not a well-formed intent. */
export function readIntent(file: string): ConnectIntentRecord | null {
  const m = INTENT_RE.exec(path.basename(file));
  if (!m) return null;
  let text: string | null;
  try {
    text = readAttrFile(file, {});
  } catch {
    return null;
  }
  if (text === null) return null;
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const pid = raw['pid'];
    const owner = raw['owner'];
    const startedAt = raw['startedAt'];
    if (pid !== Number(m[1]) || !isOwner(owner) || typeof startedAt !== 'number') return null;
    const target = checkTarget(raw['target'] as ConnectTarget);
    return { pid: pid as number, owner, target, startedAt, path: file };
  } catch {
    return null;
  }
}

/** Intents in `root` (missing root = none). `alive` filters to those whose writer still runs. */
export function listIntents(root: string, alive: boolean): ConnectIntentRecord[] {
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return [];
    throw e;
  }
  const out: ConnectIntentRecord[] = [];
  for (const name of names) {
    if (!INTENT_RE.test(name)) continue;
    const rec = readIntent(path.join(root, name));
    if (rec && (!alive || pidAlive(rec.pid))) out.push(rec);
  }
  return out.sort((a, b) => a.startedAt - b.startedAt || a.pid - b.pid);
}
