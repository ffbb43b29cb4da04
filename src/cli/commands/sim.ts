import { type Command, InvalidArgumentError } from 'commander';
import type { CliContext } from '../context.js';

function nonNegativeInt(v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw new Error(`expected a number of milliseconds, got "${v}"`);
  return Number(v);
}

function positiveInt(v: string): number {
  if (!/^[1-9]\d{0,8}$/.test(v)) throw new InvalidArgumentError(`expected a positive count, got "${v}"`);
  return Number(v);
}

/** `nvmf sim ...`: the simulated kernel of DESIGN §10, for tests and demos (docs/sim.md). */
export function register(program: Command, ctx: CliContext): void {
  const sim = program
    .command('sim')
    .description('create and drive a simulated NVMe host (NVMF_KERNEL=sim:DIR)');
  sim
    .command('init')
    .description(
      'create a simulated host in DIR (or update the configuration and targets of an existing one)',
    )
    .argument('<dir>', 'directory holding the whole simulated state')
    .option(
      '--targets <file>',
      'JSON file describing subsystems and discovery controllers to serve (docs/sim.md)',
    )
    .option(
      '--connect-latency <ms>',
      'time a controller spends in state connecting before the reply',
      nonNegativeInt,
    )
    .option('--delete-latency <ms>', 'time a delete_controller write takes', nonNegativeInt)
    .option('--udev-delay <ms>', 'delay before the simulated udevd processes an event', nonNegativeInt)
    .option('--udev-manual', 'queue udev events until `nvmf sim udev-settle` (no background processing)')
    .option('--udev-auto', 'process udev events in the background of processes using the sim (default)')
    .option('--no-multipath', 'name namespaces per controller (nvmeCnN) instead of native multipath heads')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf sim init /tmp/host --targets targets.json\n  nvmf sim init /tmp/host --delete-latency 10 --udev-manual\n  NVMF_KERNEL=sim:/tmp/host nvmf list',
    )
    .action(
      async (
        dir: string,
        opts: {
          targets?: string;
          connectLatency?: number;
          deleteLatency?: number;
          udevDelay?: number;
          udevManual?: boolean;
          udevAuto?: boolean;
          multipath?: boolean;
        },
      ) => {
        const { NvmfError } = await import('../../errors.js');
        if (opts.udevManual && opts.udevAuto) {
          throw new NvmfError('EUSAGE', '--udev-manual and --udev-auto are mutually exclusive; pick one');
        }
        const { simInit, simLayout } = await import('../../kernel/sim.js');
        const fs = await import('node:fs');
        const exists = fs.existsSync(simLayout(dir).config);
        const latency: { connectMs?: number; deleteMs?: number } = {};
        if (opts.connectLatency !== undefined) latency.connectMs = opts.connectLatency;
        if (opts.deleteLatency !== undefined) latency.deleteMs = opts.deleteLatency;
        const udev: { delayMs?: number; mode?: 'auto' | 'manual' } = {};
        if (opts.udevDelay !== undefined) udev.delayMs = opts.udevDelay;
        if (opts.udevManual) udev.mode = 'manual';
        if (opts.udevAuto) udev.mode = 'auto';
        const config = {
          ...(Object.keys(latency).length > 0 ? { latency } : {}),
          ...(Object.keys(udev).length > 0 ? { udev } : {}),
          // commander sets multipath=true by default; only a given --no-multipath (or a new host) changes it
          ...(opts.multipath === false || !exists ? { multipath: opts.multipath !== false } : {}),
        };
        const cfg = await simInit(dir, {
          ...(opts.targets !== undefined ? { targets: opts.targets } : {}),
          config: config as never,
        });
        ctx.result(
          {
            dir,
            hostnqn: cfg.hostnqn,
            latency: cfg.latency,
            udev: { mode: cfg.udev.mode, delayMs: cfg.udev.delayMs },
          },
          () => `simulated host ready in ${dir}; use NVMF_KERNEL=sim:${dir}\n`,
        );
      },
    );
  sim
    .command('udev-settle')
    .description("run the simulated host's queued udev events (the real rule file's commands)")
    .argument('<dir>', 'directory of the simulated host')
    .option('--now', "ignore the events' configured delay")
    .action(async (dir: string, opts: { now?: boolean }) => {
      const { simUdevSettle, simRoots } = await import('../../kernel/sim.js');
      const { rootsFromEnv } = await import('../../roots.js');
      const roots = rootsFromEnv(ctx.env, simRoots(dir));
      const processed = await simUdevSettle(dir, { now: opts.now === true, roots });
      ctx.result({ processed }, () => `${processed} udev event${processed === 1 ? '' : 's'} processed\n`);
    });
  sim
    .command('fail')
    .description(
      'make a kernel operation on a controller fail in every process using the simulated host (fault injection)',
    )
    .argument('<dir>', 'directory of the simulated host')
    .argument('[device]', 'nvmeN (optional with --clear: all devices)')
    .option(
      '--delete <errno>',
      'the delete_controller write fails with this errno (EBUSY, EIO, ENOMEM, EINVAL, EACCES, EPERM)',
    )
    .option('--count <n>', 'fail this many times, then work again (default: until --clear)', positiveInt)
    .option('--clear', "remove the device's injected faults (every device's without DEVICE)")
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf sim fail /tmp/host nvme1 --delete EBUSY\n  nvmf sim fail /tmp/host nvme1 --delete EIO --count 1\n  nvmf sim fail /tmp/host --clear',
    )
    .action(
      async (
        dir: string,
        device: string | undefined,
        opts: { delete?: string; count?: number; clear?: boolean },
      ) => {
        const { NvmfError } = await import('../../errors.js');
        const { simFail, simClearFaults } = await import('../../kernel/sim.js');
        const dev = device?.replace(/^\/dev\//, '');
        let faults: Awaited<ReturnType<typeof simClearFaults>>;
        if (opts.clear) {
          if (opts.delete !== undefined || opts.count !== undefined) {
            throw new NvmfError(
              'EUSAGE',
              '--clear takes no --delete or --count; clear first, then set the new fault',
              {},
            );
          }
          faults = await simClearFaults(dir, dev);
        } else {
          if (dev === undefined || opts.delete === undefined) {
            throw new NvmfError(
              'EUSAGE',
              'sim fail needs DEVICE and --delete ERRNO (or --clear); e.g. nvmf sim fail DIR nvme1 --delete EBUSY',
              {},
            );
          }
          faults = await simFail(dir, dev, {
            op: 'delete',
            errno: opts.delete.toUpperCase(),
            ...(opts.count !== undefined ? { count: opts.count } : {}),
          });
        }
        ctx.result({ faults }, () =>
          faults.length === 0
            ? 'no injected faults\n'
            : faults
                .map(
                  (f) =>
                    `${f.device}: ${f.op} fails with ${f.errno} ${f.remaining === null ? 'until cleared' : `${f.remaining} more time${f.remaining === 1 ? '' : 's'}`}\n`,
                )
                .join(''),
        );
      },
    );
  for (const [name, down] of [
    ['target-down', true],
    ['target-up', false],
  ] as const) {
    sim
      .command(name)
      .description(
        down
          ? "take a target subsystem away from its port(s), as removing nvmet's port link does: controllers there lose their path, reconnect every reconnect-delay and are removed when ctrl-loss-tmo runs out"
          : 'serve a target subsystem on its port(s) again: reconnecting controllers come back live at their next attempt',
      )
      .argument('<dir>', 'directory of the simulated host')
      .argument('<nqn>', 'subsystem NQN of the targets file')
      .option('-t, --transport <transport>', 'only the port of this transport (with --traddr/--trsvcid)')
      .option('-a, --traddr <addr>', 'only the port at this address')
      .option('-s, --trsvcid <svc>', 'only the port at this service id')
      .action(
        async (dir: string, nqn: string, opts: { transport?: string; traddr?: string; trsvcid?: string }) => {
          const { NvmfError } = await import('../../errors.js');
          const { simTargetDown, simTargetUp } = await import('../../kernel/sim.js');
          const given =
            opts.transport !== undefined || opts.traddr !== undefined || opts.trsvcid !== undefined;
          if (given && opts.transport === undefined) {
            throw new NvmfError('EUSAGE', '--traddr/--trsvcid need --transport to name a port', {});
          }
          const port =
            opts.transport !== undefined
              ? {
                  transport: opts.transport,
                  ...(opts.traddr !== undefined ? { traddr: opts.traddr } : {}),
                  ...(opts.trsvcid !== undefined ? { trsvcid: opts.trsvcid } : {}),
                }
              : undefined;
          const o = port !== undefined ? { port } : {};
          const links = down ? await simTargetDown(dir, nqn, o) : await simTargetUp(dir, nqn, o);
          ctx.result({ down: links }, () =>
            links.length === 0
              ? 'every target link is up\n'
              : links
                  .map(
                    (k) =>
                      `down: ${k.nqn} on ${k.transport} ${k.traddr ?? ''}${k.trsvcid !== undefined ? `:${k.trsvcid}` : ''}\n`,
                  )
                  .join(''),
          );
        },
      );
  }
  sim
    .command('mount')
    .description(
      'mount a filesystem on a block device of the simulated host (its proc/self/mountinfo); deleting the controller does not unmount it, as on Linux',
    )
    .argument('<dir>', 'directory of the simulated host')
    .argument('<dev>', 'block device: a namespace disk (nvme0n1), a partition (nvme0n1p1) or a holder (dm-0)')
    .argument('<mountpoint>', 'absolute path; / makes it the root filesystem')
    .action(async (dir: string, dev: string, mountPoint: string) => {
      const { simMount } = await import('../../kernel/sim.js');
      const mounts = await simMount(dir, dev, mountPoint);
      ctx.result({ mounts }, () => renderMounts(mounts));
    });
  sim
    .command('umount')
    .description('unmount the filesystem mounted last at a mount point of the simulated host')
    .argument('<dir>', 'directory of the simulated host')
    .argument('<mountpoint>', 'absolute path')
    .action(async (dir: string, mountPoint: string) => {
      const { simUmount } = await import('../../kernel/sim.js');
      const mounts = await simUmount(dir, mountPoint);
      ctx.result({ mounts }, () => renderMounts(mounts));
    });
  sim
    .command('swapon')
    .description('activate swap on a block device of the simulated host (its proc/swaps)')
    .argument('<dir>', 'directory of the simulated host')
    .argument('<dev>', 'block device: nvme0n1, nvme0n1p2, dm-1, ...')
    .action(async (dir: string, dev: string) => {
      const { simSwapon } = await import('../../kernel/sim.js');
      const swaps = await simSwapon(dir, dev);
      ctx.result({ swaps }, () => swaps.map((w) => `swap: /dev/${w.device} (${w.dev})\n`).join(''));
    });
  sim
    .command('hold')
    .description(
      'stack a device-mapper (dm-N) or md (mdN) device on a block device, as LVM, dm or md do (holders/ and slaves/)',
    )
    .argument('<dir>', 'directory of the simulated host')
    .argument('<dev>', 'block device held: nvme0n1, nvme0n1p1, or another holder')
    .argument('<holder>', 'dm-N or mdN; created when new, itself mountable')
    .addHelpText(
      'after',
      '\nExamples:\n  nvmf sim hold /tmp/host nvme0n1p1 dm-0\n  nvmf sim mount /tmp/host dm-0 /srv',
    )
    .action(async (dir: string, dev: string, holder: string) => {
      const { simHold } = await import('../../kernel/sim.js');
      const holders = await simHold(dir, dev, holder);
      ctx.result({ holders }, () =>
        Object.entries(holders)
          .map(([h, v]) => `${h} (${v.dev}) holds ${v.slaves.length > 0 ? v.slaves.join(', ') : 'nothing'}\n`)
          .join(''),
      );
    });
  sim
    .command('expire')
    .description(
      'remove a controller the way the kernel does when ctrl-loss-tmo expires (no delete_controller write)',
    )
    .argument('<dir>', 'directory of the simulated host')
    .argument('<device>', 'nvmeN')
    .action(async (dir: string, device: string) => {
      const { simExpireController } = await import('../../kernel/sim.js');
      const dev = device.replace(/^\/dev\//, '');
      await simExpireController(dir, dev);
      ctx.result(
        { device: dev, expired: true },
        () => `${dev} removed by the simulated kernel (ctrl-loss-tmo expired)\n`,
      );
    });
}

function renderMounts(mounts: readonly { device: string; dev: string; mountPoint: string }[]): string {
  if (mounts.length === 0) return 'nothing mounted from the simulated disks\n';
  return mounts.map((m) => `/dev/${m.device} (${m.dev}) on ${m.mountPoint}\n`).join('');
}
