import type { CommandModule } from '../command.js';
import * as connect from './connect.js';
import * as connectAll from './connect-all.js';
import * as disconnect from './disconnect.js';
import * as disconnectAll from './disconnect-all.js';
import * as discover from './discover.js';
import * as list from './list.js';
import * as monitor from './monitor.js';
import * as sim from './sim.js';
import * as udev from './udev.js';

/** Every core command module, in help order; each exports `register(program, ctx)`. */
export const commandModules: readonly CommandModule[] = [
  connect,
  discover,
  connectAll,
  disconnect,
  disconnectAll,
  list,
  monitor,
  sim,
  udev,
];
