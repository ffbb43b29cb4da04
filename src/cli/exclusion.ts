import { NvmfError } from '../errors.js';
import { parseExclusionEntry } from '../exclusions/entry.js';
import { addExclusion, readExclusions, removeExclusion } from '../exclusions/files.js';
import { etcRoot } from '../host-identity.js';
import type { CliContext } from './context.js';
import { EXIT } from './exit.js';
import { renderTable } from './output.js';

export async function runExclusionList(ctx: CliContext): Promise<void> {
  const ex = await readExclusions({ etc: etcRoot(ctx.env) });
  ctx.result(
    {
      lists: ex.lists,
      entries: ex.records.map((r) => ({ list: r.list, file: r.file, line: r.line, entry: r.entry })),
      problems: ex.problems,
    },
    () => {
      let out =
        ex.records.length === 0
          ? 'no exclusion entries\n'
          : renderTable(
              ['List', 'Line', 'Entry'],
              ex.records.map((r) => [r.list ?? '(default)', String(r.line), r.text]),
            );
      for (const p of ex.problems)
        out += `skipped ${p.file}${p.line > 0 ? `:${p.line}` : ''}: ${p.message}\n`;
      return out;
    },
  );
  if (ex.problems.length > 0) ctx.setExitCode(EXIT.ERROR);
}

export async function runExclusionEdit(
  ctx: CliContext,
  verb: 'add' | 'remove',
  text: string,
  list: string | null,
): Promise<void> {
  const parsed = parseExclusionEntry(text);
  if (!parsed.ok)
    throw new NvmfError('EINVALID_VALUE', `not an exclusion entry: ${parsed.reason}`, { entry: text });
  const etc = etcRoot(ctx.env);
  if (verb === 'add') {
    const r = await addExclusion(etc, list, parsed.entry);
    ctx.result({ file: r.file, added: r.added }, () =>
      r.added ? `added to ${r.file}\n` : `already in ${r.file}; not added again\n`,
    );
    return;
  }
  const r = await removeExclusion(etc, list, parsed.entry);
  if (r.removed === 0)
    throw new NvmfError('EINVALID_VALUE', `no such entry in ${r.file}; see 'nvmf exclusion list'`, {
      file: r.file,
    });
  ctx.result(
    { file: r.file, removed: r.removed },
    () => `removed ${r.removed} line${r.removed === 1 ? '' : 's'} from ${r.file}\n`,
  );
}
