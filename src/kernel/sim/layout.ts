import fs from 'node:fs';
import path from 'node:path';
import { describe, invalidOption } from '../../args.js';
import type { Roots } from '../../roots.js';

/** Where everything of a simulated host lives inside its directory. */
export interface SimLayout {
  dir: string;
  sys: string;
  dev: string;
  /** The host's procfs: `self/mountinfo` and `swaps`. */
  proc: string;
  registry: string;
  meta: string;
  config: string;
  state: string;
  lock: string;
  udevLock: string;
  queue: string;
  udevLog: string;
  seqnum: string;
  /** One file per controller whose namespace scan is still queued (content: due time, ms). */
  scans: string;
  /** One file per controller being recovered after a path loss (content: when its next step is due, ms). */
  recovery: string;
}

export function simLayout(dir: string): SimLayout {
  const d = path.resolve(dir);
  const meta = path.join(d, 'sim');
  return {
    dir: d,
    sys: path.join(d, 'sys'),
    dev: path.join(d, 'dev'),
    proc: path.join(d, 'proc'),
    registry: path.join(d, 'run', 'nvme', 'registry'),
    meta,
    config: path.join(meta, 'config.json'),
    state: path.join(meta, 'state.json'),
    lock: path.join(meta, '.lock'),
    udevLock: path.join(meta, '.udev.lock'),
    queue: path.join(meta, 'udev', 'queue'),
    udevLog: path.join(meta, 'udev', 'log.jsonl'),
    seqnum: path.join(d, 'sys', 'kernel', 'uevent_seqnum'),
    scans: path.join(meta, 'scan'),
    recovery: path.join(meta, 'recovery'),
  };
}

/** The roots a process on the simulated host uses unless NVMF_*_ROOT says otherwise. */
export function simRoots(dir: string): Roots {
  if (typeof dir !== 'string' || dir === '')
    throw invalidOption('simRoots', `dir must be the simulated host's directory, got ${describe(dir)}`);
  const l = simLayout(dir);
  return { sysfs: l.sys, dev: l.dev, registry: l.registry, proc: l.proc };
}

let tmpCounter = 0;

/** Readers in other processes must never see a half-written attribute or state file. */
export function writeAtomic(file: string, data: string): void {
  const tmp = `${file}.tmp.${process.pid}.${tmpCounter++}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}
