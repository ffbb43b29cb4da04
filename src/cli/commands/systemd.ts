import type { Command } from 'commander';
import type { SystemctlReport, SystemdOptions } from '../../systemd/install.js';
import type { CliContext } from '../context.js';

const ENV_HELP = `
The units run this node and this package's nvmf with the registry root, the
textfile and the variables NVMF_REGISTRY_ROOT, NVMF_SYSFS_ROOT, NVMF_DEV_ROOT,
NVMF_PROC_ROOT, NVMF_ETC_ROOT, NVMF_KERNEL, NVMF_CONFIG and NVMF_PLUGINS (those
set here) baked in.

Environment (staged installs and tests):
  NVMF_SYSTEMD_UNIT_DIR  unit directory (default /etc/systemd/system); systemctl
                         is run only for a directory on systemd's search path
  NVMF_SYSTEMCTL         systemctl executable (default: systemctl on PATH)
See docs/operations.md ("Fleet view with systemd") for what each unit does.`;

interface Opts {
  textfile?: string;
  systemctl: boolean;
}

async function options(ctx: CliContext, o: Opts): Promise<SystemdOptions> {
  const roots = await ctx.roots();
  return {
    env: ctx.env,
    registryRoot: roots.registry,
    ...(o.textfile !== undefined ? { textfile: o.textfile } : {}),
    ...(o.systemctl ? {} : { systemctl: false as const }),
  };
}

function common(cmd: Command): Command {
  return cmd
    .option(
      '--textfile <file>',
      'the textfile the export service writes (default: the installed one, else /var/lib/prometheus/node-exporter/nvmf_registry.prom)',
    )
    .option('--no-systemctl', 'write or check the files only: run no systemctl (containers, tests)');
}

function systemctlText(s: SystemctlReport): string {
  switch (s.state) {
    case 'done':
      return s.ran.length === 0
        ? 'nothing to do'
        : `${s.ran.map((c) => c.replace(/^systemctl /, '')).join('; ')}: done`;
    case 'skipped':
      return `not run: ${s.reason ?? ''}`;
    case 'failed':
      return `FAILED: ${s.error ?? ''}`;
  }
}

/** `nvmf systemd install | uninstall | status`. */
export function register(program: Command, ctx: CliContext): void {
  const systemd = program
    .command('systemd')
    .description('install, remove or check the textfile export and gc systemd units');

  common(
    systemd
      .command('install')
      .description('install the units, then enable and start the path unit and the timers'),
  )
    .addHelpText(
      'after',
      `
Writes nvmf-registry-export.{service,path,timer} and
nvmf-registry-gc.{service,timer} atomically (units already current are left
alone), makes the textfile's directory, then runs systemctl daemon-reload,
enable and restart (or start) of the path unit and the two timers.
${ENV_HELP}

Examples:
  nvmf systemd install
  nvmf systemd install --textfile /var/lib/node_exporter/textfile/nvmf.prom`,
    )
    .action(async (o: Opts) => {
      if (!ctx.plugins.isEnabled('registry')) {
        const { NvmfError } = await import('../../errors.js');
        throw new NvmfError(
          'ECONFIG',
          "the registry plugin is turned off (NVMF_PLUGINS or nvmf.json): the units run 'nvmf registry export' and 'nvmf registry gc', which it provides",
          {},
        );
      }
      const { installSystemd } = await import('../../systemd/install.js');
      const r = installSystemd(await options(ctx, o));
      for (const w of r.warnings) ctx.note(`warning: ${w}`, true);
      if (r.systemctl.state === 'failed') {
        ctx.note(`nvmf: ${r.systemctl.error ?? 'systemctl failed'}; the unit files are in place`, true);
        ctx.setExitCode(1);
      }
      ctx.result(r, () =>
        [
          ...r.units.map((u) => `${u.changed ? 'installed      ' : 'already current'}  ${u.path}`),
          `textfile: ${r.textfile.path}${r.textfile.directoryCreated ? ' (directory created)' : ''}`,
          `runs: ${r.exec}`,
          ...Object.entries(r.environment).map(([k, v]) => `  with ${k}=${v}`),
          `systemctl: ${systemctlText(r.systemctl)}`,
          '',
        ].join('\n'),
      );
    });

  common(systemd.command('uninstall').description('stop and disable the units, remove them and the textfile'))
    .addHelpText(
      'after',
      `
Runs systemctl disable --now of the path unit and the timers and stop of the
services, then removes the unit files and the textfile and runs daemon-reload.
If stopping fails nothing is removed.
${ENV_HELP}

Examples:
  nvmf systemd uninstall`,
    )
    .action(async (o: Opts) => {
      const { uninstallSystemd } = await import('../../systemd/install.js');
      const r = uninstallSystemd(await options(ctx, o));
      if (r.systemctl.state === 'failed') {
        ctx.note(`nvmf: ${r.systemctl.error ?? 'systemctl failed'}`, true);
        ctx.setExitCode(1);
      }
      ctx.result(r, () =>
        [
          ...r.units.map((u) => `${u.removed ? 'removed      ' : 'not installed'}  ${u.path}`),
          `${r.textfile.removed ? 'removed      ' : 'not there    '}  ${r.textfile.path}`,
          `systemctl: ${systemctlText(r.systemctl)}`,
          '',
        ].join('\n'),
      );
    });

  common(
    systemd
      .command('status')
      .description('say whether the units are installed and current, enabled and active'),
  )
    .addHelpText(
      'after',
      `
"current" means identical to what 'nvmf systemd install' would write now, with
this nvmf, these roots and this textfile.
${ENV_HELP}

Examples:
  nvmf systemd status
  nvmf systemd status -o json`,
    )
    .action(async (o: Opts) => {
      const { systemdStatus } = await import('../../systemd/install.js');
      const { renderTable } = await import('../output.js');
      const s = systemdStatus(await options(ctx, o));
      for (const w of s.warnings) ctx.note(`warning: ${w}`);
      if (s.systemctl.error !== undefined) ctx.note(`warning: ${s.systemctl.error}`, true);
      const file = (f: { installed: boolean; current: boolean }): string =>
        !f.installed ? 'not installed' : f.current ? 'current' : 'NOT current';
      ctx.result(s, () => {
        let text = renderTable(
          ['Unit', 'File', 'Enabled', 'Active'],
          s.units.map((u) => [u.name, file(u), u.enabled ?? '-', u.active ?? '-']),
        );
        text += `units in ${s.unitDir}\n`;
        text += `textfile: ${s.textfile.path}${s.textfile.exists ? '' : ' (not written yet)'}\n`;
        if (!s.systemctl.queried && s.systemctl.reason !== undefined)
          text += `systemctl not asked: ${s.systemctl.reason}\n`;
        if (!s.upToDate) text += "run 'nvmf systemd install' to install the current units\n";
        return text;
      });
    });
}
