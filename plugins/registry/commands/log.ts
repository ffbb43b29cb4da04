import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/plugin-api.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('log')
    .argument('[device]', 'only this controller (nvmeN)')
    .description('the audit trail: every claim, disown, removal and disconnect decision')
    .option('-n, --lines <n>', 'only the last N records')
    .option(
      '--since <time>',
      'records since this time (journalctl --since syntax; for the file: ISO time, today, -2h)',
    )
    .addHelpText(
      'after',
      '\nReads where records go (NVMF_AUDIT_SINK): the journal through\n' +
        '`journalctl -o json SYSLOG_IDENTIFIER=nvmf-registry [NVMF_DEVICE=nvmeN]`,\n' +
        'or, where journald is not running, the audit file (NVMF_AUDIT_FILE, with its\n' +
        'rotated copies).\n' +
        'It says on stderr which one it read.\n' +
        '\nExamples:\n  nvmf registry log nvme4\n  nvmf registry log --since today -o json',
    )
    .action(async (device: string | undefined, opts: { lines?: string; since?: string }) => {
      const { NvmfError } = await import('../../../src/index.js');
      const { checkDevice } = await import('../../../src/index.js');
      const { auditTarget, sinkChainOptionsFromEnv } = await import('../../../src/cli/plugin-api.js');
      const { readAuditLog, readAuditFile, formatAuditLogLine, foldLine } =
        await import('../../../src/cli/plugin-api.js');
      const fs = await import('node:fs');
      if (device !== undefined) checkDevice(device);
      let lines: number | undefined;
      if (opts.lines !== undefined) {
        if (!/^[1-9][0-9]{0,8}$/.test(opts.lines)) {
          throw new NvmfError('EUSAGE', `--lines ${JSON.stringify(opts.lines)} is not a positive number`, {
            value: opts.lines,
          });
        }
        lines = Number(opts.lines);
      }
      const filter = {
        ...(device !== undefined ? { device } : {}),
        ...(lines !== undefined ? { lines } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
      };
      const chainOpts = sinkChainOptionsFromEnv(ctx.env);
      const target = auditTarget(chainOpts);
      const of = device ? ` for ${device}` : '';
      if (target.sink === 'stderr' || target.sink === 'off') {
        throw new NvmfError(
          'ECONFIG',
          target.sink === 'off'
            ? 'auditing is off (NVMF_AUDIT_SINK=off): there are no records to read'
            : "NVMF_AUDIT_SINK=stderr: records went to each command's stderr and were not kept; there is nothing to read",
          { sink: target.sink },
        );
      }
      if (target.sink === 'file') {
        const records = readAuditFile(target.path, filter);
        ctx.result({ sink: 'file', path: target.path, records }, () =>
          records.length === 0 ? '' : `${records.map((r) => foldLine(formatAuditLogLine(r))).join('\n')}\n`,
        );
        const why = target.why !== undefined ? ` (${target.why})` : '';
        if (!fs.existsSync(target.path)) ctx.note(`no audit file ${target.path} yet${why}: nothing recorded`);
        else {
          ctx.note(`audit records from ${target.path}${why}`);
          if (records.length === 0) ctx.note(`no audit records${of} in it`);
        }
        return;
      }
      const records = await readAuditLog(filter);
      ctx.result({ sink: 'journald', records }, () =>
        records.length === 0 ? '' : `${records.map((r) => foldLine(formatAuditLogLine(r))).join('\n')}\n`,
      );
      ctx.note('audit records from the systemd journal');
      if (records.length === 0) ctx.note(`no audit records${of} in the journal`);
      const file = chainOpts.filePath;
      if (file !== undefined && fs.existsSync(file)) {
        ctx.note(
          `${file} holds records written while journald could not be reached (NVMF_AUDIT_SINK=file nvmf registry log reads it)`,
        );
      }
    });
}
