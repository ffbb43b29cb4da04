import fs from 'node:fs';
import path from 'node:path';
import { checkRecord, describe } from '../args.js';
import { errnoOf, NvmfError } from '../errors.js';
import { type ObservedTarget, type TargetIdentity, targetMatches } from '../nvme/target.js';
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
export type ControllerLike = ObservedTarget;

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

/**
 * Could `ctrl` be the controller `intent` is connecting? The target rule's `possible` form:
 * fields compared as the kernel compares them, a field the intent leaves out or the
 * controller does not report counting as a match: a false match only makes disconnect-all
 * skip a controller for the length of a connect, a false miss could tear down a controller
 * that is about to be owned.
 */
export function intentMatches(intent: { target: ConnectTarget }, ctrl: ControllerLike): boolean {
  const target = checkRecord(intent, 'intentMatches', ['target']).target;
  return targetMatches(target as TargetIdentity, ctrl, 'possible');
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
