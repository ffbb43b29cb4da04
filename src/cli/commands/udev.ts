import type { Command } from 'commander';
import type { ReloadState } from '../../udev/install.js';
import type { CliContext } from '../context.js';

const ENV_HELP = `
Environment (staged installs and tests):
  NVMF_UDEV_RULES_DIR  rules directory (default /etc/udev/rules.d)
  NVMF_LIBEXEC_DIR     helper directory (default /usr/libexec/nvmf-registry;
                       the rule names .../nvmf-registry/nvmf-registry-cleanup)
  NVMF_UDEV_CONTROL    udevd control socket that tells udevd runs
                       (default /run/udev/control)
  NVMF_UDEVADM         udevadm executable (default: udevadm on PATH)
See docs/udev.md for what the rule does and the manual steps for packagers.`;

/** `nvmf udev install | uninstall | status` (DESIGN §6). */
export function register(program: Command, ctx: CliContext): void {
  const udev = program.command('udev').description('install, remove or check the registry cleanup udev rule');

  udev
    .command('install')
    .description('install the cleanup rule and its helper, then reload udevd if it runs')
    .addHelpText(
      'after',
      `
Copies 70-nvmf-registry.rules to the rules directory and nvmf-registry-cleanup
(mode 0755) to the helper directory, each atomically; files already current are
left alone.
${ENV_HELP}

Examples:
  nvmf udev install
  nvmf udev install -o json`,
    )
    .action(async () => {
      const { installUdev } = await import('../../udev/install.js');
      const r = installUdev({ env: ctx.env });
      for (const w of r.warnings) ctx.note(`warning: ${w}`, true);
      if (r.reload === 'failed')
        ctx.note(`warning: ${r.reloadError ?? 'udevadm control --reload failed'}`, true);
      ctx.result(r, () =>
        [
          `${r.helper.changed ? 'installed' : 'already current'}  ${r.helper.path}`,
          `${r.rule.changed ? 'installed' : 'already current'}  ${r.rule.path}`,
          `udevd: ${reloadText(r.reload)}`,
          '',
        ].join('\n'),
      );
    });

  udev
    .command('uninstall')
    .description('remove the cleanup rule and its helper, then reload udevd if it runs')
    .addHelpText(
      'after',
      `
Registry entries of controllers removed afterwards are no longer cleaned up by
udev; 'nvmf registry gc' still removes them.
${ENV_HELP}

Examples:
  nvmf udev uninstall`,
    )
    .action(async () => {
      const { uninstallUdev } = await import('../../udev/install.js');
      const r = uninstallUdev({ env: ctx.env });
      if (r.reload === 'failed')
        ctx.note(`warning: ${r.reloadError ?? 'udevadm control --reload failed'}`, true);
      ctx.result(r, () =>
        [
          `${r.rule.removed ? 'removed' : 'not installed'}  ${r.rule.path}`,
          `${r.helper.removed ? 'removed' : 'not installed'}  ${r.helper.path}`,
          `udevd: ${reloadText(r.reload)}`,
          '',
        ].join('\n'),
      );
    });

  udev
    .command('status')
    .description('say whether the rule and helper are installed and current, and whether udevd runs')
    .addHelpText(
      'after',
      `
"current" means byte-identical to the copies this nvmf-registry ships (and the
helper executable); run 'nvmf udev install' to bring them up to date.
${ENV_HELP}

Examples:
  nvmf udev status
  nvmf udev status -o json`,
    )
    .action(async () => {
      const { udevStatus } = await import('../../udev/install.js');
      const { renderTable } = await import('../output.js');
      const s = udevStatus({ env: ctx.env });
      for (const w of s.warnings) ctx.note(`warning: ${w}`);
      const state = (f: { installed: boolean; current: boolean }): string =>
        !f.installed ? 'not installed' : f.current ? 'installed, current' : 'installed, NOT current';
      ctx.result(s, () => {
        let text = renderTable(
          ['Item', 'State', 'Path'],
          [
            ['rule', state(s.rule), s.rule.path],
            ['helper', state(s.helper), s.helper.path],
            ['udevd', s.udevd.running ? 'running' : 'not running', s.udevd.control],
          ],
        );
        if (!s.upToDate) text += "run 'nvmf udev install' to install the current rule and helper\n";
        return text;
      });
    });
}

function reloadText(reload: ReloadState): string {
  switch (reload) {
    case 'done':
      return 'rules reloaded';
    case 'not-running':
      return 'not running (it reads the rules when it starts)';
    case 'unchanged':
      return 'nothing changed, no reload needed';
    case 'failed':
      return 'reload failed (udevd still picks up changed rules files, a little later)';
  }
}
