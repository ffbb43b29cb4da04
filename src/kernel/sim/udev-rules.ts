import { NvmfError } from '../../errors.js';

/**
 * The part of udev's rule language the sim needs to run our rule file the way udevd would:
 * match keys (ACTION, SUBSYSTEM, KERNEL, DEVPATH, ENV{...}) with `==`/`!=` and shell-glob
 * patterns (`*`, `?`, `[...]`, `|` alternatives), RUN assignments, and udevd's format
 * substitution. A rule with a key we do not model never matches, so an unexpected rule file
 * cannot make the sim run something udevd would not.
 */
export interface UdevEvent {
  action: string;
  subsystem: string;
  kernel: string;
  devpath: string;
  seqnum: number;
  env?: Record<string, string>;
}

interface Match {
  key: string;
  attr?: string;
  op: '==' | '!=';
  value: string;
}

export interface UdevRule {
  line: number;
  matches: Match[];
  run: string[];
  /** `RUN=`/`RUN:=` in this rule: earlier rules' commands are dropped. */
  runReset: boolean;
  /** Keys present that the sim does not model (the rule is then never applied). */
  unsupported: string[];
}

const TOKEN = /\s*([A-Z_]+)(?:\{([^}]*)\})?\s*(==|!=|\+=|-=|:=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const MATCH_KEYS = new Set(['ACTION', 'SUBSYSTEM', 'KERNEL', 'DEVPATH', 'ENV']);

export function parseRules(text: string, file = 'rules'): UdevRule[] {
  const rules: UdevRule[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] as string;
    const start = i + 1;
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + (lines[++i] as string);
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const rule: UdevRule = { line: start, matches: [], run: [], runReset: false, unsupported: [] };
    TOKEN.lastIndex = 0;
    let pos = 0;
    while (pos < t.length) {
      TOKEN.lastIndex = pos;
      const m = TOKEN.exec(t);
      if (!m)
        throw new NvmfError(
          'EINVALID_VALUE',
          `${file}:${start}: cannot parse rule at "${t.slice(pos, pos + 30)}"`,
          { file, line: start },
        );
      pos = TOKEN.lastIndex;
      const [, key, attr, op, value] = m as unknown as [string, string, string | undefined, string, string];
      const v = value.replace(/\\(.)/g, '$1');
      if (op === '==' || op === '!=') {
        if (MATCH_KEYS.has(key))
          rule.matches.push({ key, op, value: v, ...(attr !== undefined ? { attr } : {}) });
        else rule.unsupported.push(key);
      } else if (key === 'RUN' && (attr === undefined || attr === 'program')) {
        if (op === '=' || op === ':=') {
          rule.run = [v];
          rule.runReset = true;
        } else if (op === '+=') rule.run.push(v);
        else rule.unsupported.push(`RUN${op}`);
      } else {
        rule.unsupported.push(key);
      }
    }
    rules.push(rule);
  }
  return rules;
}

function globToRegExp(glob: string): RegExp {
  const alts = glob.split('|').map((g) => {
    let re = '';
    for (let i = 0; i < g.length; i++) {
      const c = g[i] as string;
      if (c === '*') re += '.*';
      else if (c === '?') re += '.';
      else if (c === '[') {
        const end = g.indexOf(']', i + 1);
        if (end < 0) re += '\\[';
        else {
          let cls = g.slice(i + 1, end);
          if (cls.startsWith('!')) cls = '^' + cls.slice(1);
          re += `[${cls.replace(/\\/g, '\\\\')}]`;
          i = end;
        }
      } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
    }
    return re;
  });
  return new RegExp(`^(?:${alts.join('|')})$`);
}

function keyValue(m: Match, ev: UdevEvent): string | undefined {
  switch (m.key) {
    case 'ACTION':
      return ev.action;
    case 'SUBSYSTEM':
      return ev.subsystem;
    case 'KERNEL':
      return ev.kernel;
    case 'DEVPATH':
      return ev.devpath;
    case 'ENV':
      return eventEnv(ev)[m.attr ?? ''];
    default:
      return undefined;
  }
}

export function ruleMatches(rule: UdevRule, ev: UdevEvent): boolean {
  if (rule.unsupported.length > 0) return false;
  return rule.matches.every((m) => {
    const v = keyValue(m, ev) ?? '';
    const hit = globToRegExp(m.value).test(v);
    return m.op === '==' ? hit : !hit;
  });
}

/** The properties udevd exports for an event (and that `$env{}` reads). */
export function eventEnv(ev: UdevEvent): Record<string, string> {
  return {
    ACTION: ev.action,
    DEVPATH: ev.devpath,
    SUBSYSTEM: ev.subsystem,
    SEQNUM: String(ev.seqnum),
    ...(ev.env ?? {}),
  };
}

/**
 * udevd's format substitution: `%k`/`$kernel`, `%n`/`$number`, `%p`/`$devpath`,
 * `%E{KEY}`/`$env{KEY}`, `$$` -> `$`, `%%` -> `%`. Unknown formats stay as written.
 */
export function substitute(fmt: string, ev: UdevEvent): string {
  const env = eventEnv(ev);
  const number = /(\d+)$/.exec(ev.kernel)?.[1] ?? '';
  return fmt.replace(
    /\$\$|%%|\$env\{([^}]*)\}|%E\{([^}]*)\}|\$kernel|\$number|\$devpath|%k|%n|%p/g,
    (tok, a, b) => {
      if (tok === '$$') return '$';
      if (tok === '%%') return '%';
      if (a !== undefined || b !== undefined) return env[(a ?? b) as string] ?? '';
      if (tok === '$kernel' || tok === '%k') return ev.kernel;
      if (tok === '$number' || tok === '%n') return number;
      return ev.devpath;
    },
  );
}

/** Split a RUN value into argv the way udevd does (whitespace, quotes removed). */
export function splitArgv(cmd: string): string[] {
  const out: string[] = [];
  const re = /\s*(?:'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+))/g;
  let m: RegExpExecArray | null;
  // the classic exec loop: assign and test in one expression
  while ((m = re.exec(cmd)) !== null) {
    if (m[0].trim() === '') break;
    out.push(m[1] ?? (m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] as string)));
  }
  return out;
}

/** RUN commands for an event after all rules, substituted. */
export function commandsFor(rules: UdevRule[], ev: UdevEvent): string[][] {
  const runs: string[] = [];
  for (const r of rules) {
    if (!ruleMatches(r, ev)) continue;
    if (r.runReset) runs.length = 0;
    runs.push(...r.run);
  }
  return runs.map((f) => splitArgv(substitute(f, ev)));
}
