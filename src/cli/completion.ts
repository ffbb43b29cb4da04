import fs from 'node:fs';
import path from 'node:path';
import type { Argument, Command, Option } from 'commander';
import { isDevice, naturalCompare } from '../nvme/names.js';
import { TRANSPORTS } from '../nvme/options.js';
import type { Roots } from '../roots.js';

/**
 * Shell completion computed from the program itself: the commands, subcommands, options and
 * choices commander was given are the only list, so a new option completes without anyone
 * writing it down twice. `nvmf __complete -- WORDS...` prints the candidates for the last
 * word, one a line; completion/nvmf.bash is only the shell's side of that call.
 */

/** What a value placeholder or argument name asks for. */
type ValueKind = 'device' | 'transport' | 'path' | 'other';

function kindOfName(name: string): ValueKind {
  if (name === 'device' || name === 'dev') return 'device';
  if (name === 'trtype' || name === 'transport') return 'transport';
  if (name === 'dir' || name === 'file' || name === 'path') return 'path';
  return 'other';
}

/** The placeholder of an option that takes a value (`<dev>` of `-d, --device <dev>`), or null for a flag. */
function placeholder(o: Option): string | null {
  if (!o.required && !o.optional) return null;
  return /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? '';
}

/** The options in force on `cmd`: its own, then its ancestors' (the global -o and -v), help included. */
function optionsOf(cmd: Command): Option[] {
  const out: Option[] = [];
  for (let c: Command | null = cmd; c !== null; c = c.parent) {
    out.push(...c.options.filter((o) => !o.hidden));
  }
  return out;
}

function findOption(cmd: Command, word: string): Option | undefined {
  const flag = word.includes('=') ? word.slice(0, word.indexOf('=')) : word;
  return optionsOf(cmd).find((o) => o.long === flag || o.short === flag);
}

function visibleCommands(cmd: Command): Command[] {
  return cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

/** Where the words before the current one leave us: the command, and how many operands it has. */
interface Position {
  cmd: Command;
  operands: number;
  /** The option whose value the current word is, if any. */
  valueOf: Option | undefined;
}

function walk(program: Command, words: readonly string[]): Position {
  let cmd = program;
  let operands = 0;
  let valueOf: Option | undefined;
  let afterDashes = false;
  for (const word of words) {
    if (valueOf !== undefined) {
      valueOf = undefined;
      continue;
    }
    if (!afterDashes && word === '--') {
      afterDashes = true;
      continue;
    }
    if (!afterDashes && word.startsWith('-') && word !== '-') {
      const o = findOption(cmd, word);
      if (o !== undefined && o.required && !word.includes('=')) valueOf = o;
      continue;
    }
    const sub =
      operands === 0
        ? visibleCommands(cmd).find((c) => c.name() === word || c.aliases().includes(word))
        : undefined;
    if (sub !== undefined) cmd = sub;
    else operands++;
  }
  return { cmd, operands, valueOf };
}

function valuesOf(kind: ValueKind, devices: () => readonly string[]): readonly string[] {
  if (kind === 'device') return devices();
  if (kind === 'transport') return TRANSPORTS;
  return [];
}

/**
 * The candidates for the last of `words` (the words after `nvmf`, the last one being typed,
 * possibly empty), given the program with every command registered. `devices` lists the
 * controller names to offer where a device is asked for. Paths are left to the shell (an
 * empty answer: the script falls back to file names).
 */
export function completions(
  program: Command,
  words: readonly string[],
  devices: () => readonly string[],
): string[] {
  const cur = words.length === 0 ? '' : words[words.length - 1]!;
  const matching = (list: readonly string[]): string[] => [...new Set(list.filter((w) => w.startsWith(cur)))];
  const { cmd, operands, valueOf } = walk(program, words.slice(0, -1));
  // `nvmf help registry l<TAB>`: the command path after `help`, commands only
  if (cmd.name() === 'help' && cmd.parent === program) {
    const at = words.indexOf('help');
    const path = walk(program, words.slice(at + 1, -1));
    return path.operands === 0 ? matching(visibleCommands(path.cmd).map((c) => c.name())) : [];
  }

  if (valueOf !== undefined) {
    const choices = (valueOf as Option & { argChoices?: string[] }).argChoices;
    if (choices !== undefined) return matching(choices);
    return matching(valuesOf(kindOfName(placeholder(valueOf) ?? ''), devices));
  }
  if (cur.startsWith('-')) {
    const flags = optionsOf(cmd).flatMap((o) =>
      [o.long, o.short].filter((f): f is string => f !== undefined),
    );
    return matching([...flags, '--help']);
  }
  const subs = visibleCommands(cmd);
  if (subs.length > 0 && operands === 0) return matching(subs.map((c) => c.name()));
  const args = (cmd as Command & { registeredArguments: readonly Argument[] }).registeredArguments;
  const arg = args[Math.min(operands, args.length - 1)];
  if (arg === undefined || (operands >= args.length && !arg.variadic)) return [];
  return matching(valuesOf(kindOfName(arg.name()), devices));
}

/**
 * Controller names a device argument may take on this host: the registry's entries (stale
 * ones included: `registry delete` takes them) and the controllers sysfs shows. Under
 * NVMF_KERNEL=sim:DIR the roots are the sim host's, so its devices complete too.
 */
export function deviceNames(roots: Pick<Roots, 'registry' | 'sysfs'>): string[] {
  const names = new Set<string>();
  for (const dir of [roots.registry, path.join(roots.sysfs, 'class', 'nvme')]) {
    let list: string[];
    try {
      list = fs.readdirSync(dir);
    } catch {
      continue; // no registry yet, no NVMe at all: nothing to offer from there
    }
    for (const n of list) if (isDevice(n)) names.add(n);
  }
  return [...names].sort(naturalCompare);
}
