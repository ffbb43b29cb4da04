import type { CommandDescriptor } from '../command.js';

/**
 * Every core command, in help order. Modules are imported only when their command runs
 * (or for help and usage errors, which need them all), so adding a command costs the
 * others' start-up nothing.
 */
export const coreCommands: readonly CommandDescriptor[] = [
  { name: 'connect', load: () => import('./connect.js') },
  { name: 'discover', load: () => import('./discover.js') },
  { name: 'connect-all', load: () => import('./connect-all.js') },
  { name: 'disconnect', load: () => import('./disconnect.js') },
  { name: 'disconnect-all', load: () => import('./disconnect-all.js') },
  { name: 'list', load: () => import('./list.js') },
  { name: 'nbft', load: () => import('./nbft.js') },
  { name: 'exclusion', load: () => import('./exclusion.js') },
  { name: 'monitor', load: () => import('./monitor.js') },
  { name: 'sim', load: () => import('./sim.js') },
  { name: 'demo', load: () => import('./demo.js') },
  { name: 'udev', load: () => import('./udev.js') },
  { name: 'systemd', load: () => import('./systemd.js') },
];
