import type { Command } from 'commander';
import type { CliContext } from '../../../src/cli/context.js';

export function register(parent: Command, ctx: CliContext): void {
  parent
    .command('log')
    .argument('[device]', 'only this controller (nvmeN)')
    .description('the audit trail from the journal: every claim, disown, removal and disconnect decision')
    .option('-n, --lines <n>', 'only the last N records')
    .option('--since <time>', 'records since this time (journalctl --since syntax)')
    .addHelpText(
      'after',
      '\nReads `journalctl -o json SYSLOG_IDENTIFIER=nvmf-registry [NVMF_DEVICE=nvmeN]`.\n' +
        '\nExamples:\n  nvmf registry log nvme4\n  nvmf registry log --since today -o json',
    )
    .action(async (device: string | undefined, opts: { lines?: string; since?: string }) => {
      const { NvmfError } = await import('../../../src/errors.js');
      const { checkDevice } = await import('../../../src/registry/names.js');
      const { readAuditLog, formatAuditLogLine } = await import('../../../src/audit/journal-read.js');
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
      const records = await readAuditLog({
        ...(device !== undefined ? { device } : {}),
        ...(lines !== undefined ? { lines } : {}),
        ...(opts.since !== undefined ? { since: opts.since } : {}),
      });
      ctx.result({ records }, () =>
        records.length === 0 ? '' : `${records.map(formatAuditLogLine).join('\n')}\n`,
      );
      if (records.length === 0) ctx.note(`no audit records${device ? ` for ${device}` : ''} in the journal`);
    });
}
