import fs from 'node:fs';
import path from 'node:path';
import { NvmfError } from '../errors.js';

/**
 * The registry as node_exporter textfile-collector metrics. Pure formatting from a snapshot
 * of controllers (the kernel's view) and registry entries; the caller reads both.
 */

export interface ExportController {
  device: string;
  fabrics: boolean;
  transport: string;
}

export interface ExportEntry {
  device: string;
  owner: string | null;
  /** The entry could not be read (owner unknown). */
  unreadable?: boolean;
}

/** Label value escaping of the text exposition format: backslash, double quote, newline. */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function metric(
  lines: string[],
  name: string,
  help: string,
  samples: [Record<string, string>, number][],
): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
  for (const [labels, value] of samples) {
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    lines.push(l ? `${name}{${l}} ${value}` : `${name} ${value}`);
  }
}

const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * - `nvmf_registry_owned_controllers{owner}`: existing controllers whose entry names an owner;
 * - `nvmf_registry_unowned_fabrics_controllers{transport}`: fabrics controllers with no owner
 *   (what a plain disconnect-all would take down);
 * - `nvmf_registry_unreadable_entries`: entries of existing controllers that could not be read;
 * - `nvmf_registry_stale_entries`: entries whose controller no longer exists (gc removes them);
 * - `nvmf_registry_controller_owner_info{device,transport,owner}`: 1 per owned controller.
 */
export function formatPrometheus(
  controllers: readonly ExportController[],
  entries: readonly ExportEntry[],
): string {
  const entryOf = new Map(entries.map((e) => [e.device, e]));
  const present = new Set(controllers.map((c) => c.device));
  const owned = new Map<string, number>();
  const unowned = new Map<string, number>();
  const info: [Record<string, string>, number][] = [];
  let unreadable = 0;
  for (const c of [...controllers].sort((a, b) => byName(a.device, b.device))) {
    const e = entryOf.get(c.device);
    if (e?.unreadable) {
      unreadable++;
      continue;
    }
    if (e?.owner) {
      owned.set(e.owner, (owned.get(e.owner) ?? 0) + 1);
      info.push([{ device: c.device, transport: c.transport, owner: e.owner }, 1]);
    } else if (c.fabrics) {
      unowned.set(c.transport, (unowned.get(c.transport) ?? 0) + 1);
    }
  }
  const stale = entries.filter((e) => !present.has(e.device)).length;
  const lines: string[] = [];
  metric(
    lines,
    'nvmf_registry_owned_controllers',
    'NVMe controllers whose registry entry names an owner, by owner.',
    [...owned.entries()].sort(([a], [b]) => byName(a, b)).map(([owner, n]) => [{ owner }, n]),
  );
  const unownedSamples: [Record<string, string>, number][] = [...unowned.entries()]
    .sort(([a], [b]) => byName(a, b))
    .map(([transport, n]) => [{ transport }, n]);
  metric(
    lines,
    'nvmf_registry_unowned_fabrics_controllers',
    'NVMe over Fabrics controllers with no registry owner, by transport.',
    unownedSamples.length > 0 ? unownedSamples : [[{}, 0]],
  );
  metric(
    lines,
    'nvmf_registry_unreadable_entries',
    'Registry entries of existing controllers that could not be read.',
    [[{}, unreadable]],
  );
  metric(lines, 'nvmf_registry_stale_entries', 'Registry entries whose controller no longer exists.', [
    [{}, stale],
  ]);
  metric(lines, 'nvmf_registry_controller_owner_info', 'One per owned controller, with its owner.', info);
  return `${lines.join('\n')}\n`;
}

/**
 * Write `text` to `file` atomically: a temp file in the same directory, then rename, so the
 * collector never reads half a file. The temp name ends in neither `.prom` (the collector
 * reads only those) nor anything it would pick up.
 */
export function writeFileAtomic(file: string, text: string): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(
    dir,
    `.${path.basename(file)}.tmp.${process.pid}.${Math.random().toString(16).slice(2)}`,
  );
  try {
    fs.writeFileSync(tmp, text, { mode: 0o644, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // not created
    }
    throw new NvmfError(
      'EIO',
      `cannot write ${file}: ${(e as Error).message} (is the directory there and writable?)`,
      {
        path: file,
      },
    );
  }
}
