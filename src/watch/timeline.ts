import fs from 'node:fs';
import { NvmfError } from '../errors.js';
import { escapeText } from '../text.js';
import type { RegistryEvent } from './registry-diff.js';
import type { UdevEvent } from './udev-parse.js';

/** One line of `nvmf monitor`: a udev event or a registry change, in arrival order. */
export type TimelineItem =
  | {
      source: 'udev';
      time: string;
      action: string;
      device: string;
      seqnum: number | null;
      devpath: string;
      transport: string | null;
      traddr: string | null;
    }
  | ({ source: 'registry' } & RegistryEvent);

export function udevItem(e: UdevEvent, time: string): TimelineItem {
  return {
    source: 'udev',
    time,
    action: e.action,
    device: e.device,
    seqnum: e.seqnum,
    devpath: e.devpath,
    transport: e.properties.NVME_TRTYPE ?? null,
    traddr: e.properties.NVME_TRADDR ?? null,
  };
}

export function registryItem(e: RegistryEvent): TimelineItem {
  return { source: 'registry', ...e };
}

const own = (o: string | null): string => o ?? '(none)';

/** The text form: `TIME udev     remove nvme4 seqnum=5131` / `TIME registry owner-changed nvme4 k8s -> stas`. */
export function formatTimelineText(item: TimelineItem): string {
  if (item.source === 'udev') {
    const extra = [
      item.seqnum !== null ? `seqnum=${item.seqnum}` : '',
      item.transport ? `transport=${item.transport}` : '',
      item.traddr ? `traddr=${item.traddr}` : '',
    ].filter((s) => s !== '');
    return escapeText([item.time, 'udev    ', item.action, item.device, ...extra].join(' '));
  }
  let what: string;
  switch (item.type) {
    case 'owner-changed':
      what = `${own(item.prevOwner)} -> ${own(item.owner)}`;
      break;
    case 'claimed':
      what = `owner=${own(item.owner)}${item.created ? ' (new entry)' : ''}`;
      break;
    case 'released':
      what = `was ${own(item.prevOwner)}`;
      break;
    case 'removed':
      what = `owner was ${own(item.prevOwner)}`;
      break;
    default:
      what = 'unowned';
  }
  return escapeText(`${item.time} registry ${item.type} ${item.device} ${what}`);
}

/** The registry root must exist to be watched; say how it comes to be when it does not. */
export function requireRegistryRoot(root: string): void {
  let ok: boolean;
  try {
    ok = fs.statSync(root).isDirectory();
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new NvmfError(
      'EROOT',
      `registry root ${root} does not exist yet or is not a directory; it is created by the first registry write (a connect with an owner). Set NVMF_REGISTRY_ROOT to watch another one`,
      { root },
    );
  }
}

/** How often a missing registry root is looked for. */
const ROOT_POLL_MS = 250;

/**
 * Wait until the registry root exists, so a daemon (`registry watch`, `monitor`) can start
 * before the first registry write creates it. 'present' when it already existed, 'appeared'
 * when it came while we waited (said once through `note`), 'stopped' when `stop` resolved
 * first. Something that is not a directory where the root should be is an error at once.
 */
export async function waitForRegistryRoot(
  root: string,
  stop: Promise<unknown>,
  note: (message: string) => void,
): Promise<'present' | 'appeared' | 'stopped'> {
  const present = (): boolean => {
    const st = fs.statSync(root, { throwIfNoEntry: false });
    if (st === undefined) return false;
    if (!st.isDirectory()) requireRegistryRoot(root);
    return true;
  };
  if (present()) return 'present';
  note(
    `waiting for the registry root ${root} to appear (the first registry write, a connect with an owner, creates it; NVMF_REGISTRY_ROOT names another)`,
  );
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  for (;;) {
    await new Promise((r) => setTimeout(r, ROOT_POLL_MS));
    if (stopped) return 'stopped';
    if (present()) return 'appeared';
  }
}

/** Resolve on the first of `signals`; the handlers are removed afterwards. */
export function untilSignal(
  signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'],
): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (s: NodeJS.Signals): void => {
      for (const sig of signals) process.off(sig, handler);
      resolve(s);
    };
    for (const sig of signals) process.on(sig, handler);
  });
}
